"""The plugin loads through its entry point."""

from latentdeck.plugins import list_plugins


def test_plugin_is_loaded(plugin_manager):
    names = {entry["name"] for entry in list_plugins(plugin_manager, all=True)}
    assert "latentdeck.distortion" in names
