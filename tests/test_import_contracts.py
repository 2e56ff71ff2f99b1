"""Import boundaries, checked with import-linter on every run of the suite (``./test``):

- the host (``latentdeck``) imports no plugin package;
- a plugin imports only the public API: ``latentdeck`` (records, ``hookimpl``), ``latentdeck.kit``
  (helpers) and ``latentdeck.hookspecs``/``latentdeck.types`` (what ``latentdeck`` re-exports);
- plugins never import each other.

The contracts are built here from the source tree, so a new host module or plugin is covered without
editing a list. Plugin packages are every ``plugins/<kind>/<name>/src/latentdeck_<name>`` and the examples.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOST = ROOT / "platform" / "src" / "latentdeck"
PUBLIC = {"latentdeck", "latentdeck.kit", "latentdeck.hookspecs", "latentdeck.types"}


def plugin_packages() -> list[str]:
    found = [p.name for p in sorted(ROOT.glob("plugins/*/*/src/latentdeck_*")) if (p / "__init__.py").is_file()]
    found += [p.name for p in sorted(ROOT.glob("examples/*/src/latentdeck_*")) if (p / "__init__.py").is_file()]
    return found


def host_modules() -> list[str]:
    names = []
    for path in sorted(HOST.rglob("*.py")):
        parts = path.relative_to(HOST.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _list(values) -> str:
    return "\n    " + "\n    ".join(values)


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    import sys

    examples = [str(p.parent) for p in sorted(ROOT.glob("examples/*/src/latentdeck_*"))]
    sys.path[:0] = examples  # the examples are not installed: import-linter finds packages on sys.path
    try:
        yield _write_config(tmp_path_factory)
    finally:
        for path in examples:
            sys.path.remove(path)


def _write_config(tmp_path_factory) -> Path:
    plugins = plugin_packages()
    private = [m for m in host_modules() if m not in PUBLIC]
    text = f"""[importlinter]
root_packages ={_list(["latentdeck", *plugins])}

[importlinter:contract:host-imports-no-plugin]
name = The host imports no plugin
type = forbidden
source_modules =
    latentdeck
forbidden_modules ={_list(plugins)}

[importlinter:contract:plugins-use-the-public-api]
name = Plugins import only latentdeck, latentdeck.kit (and what latentdeck re-exports)
type = forbidden
source_modules ={_list(plugins)}
forbidden_modules ={_list(private)}
allow_indirect_imports = True

[importlinter:contract:plugins-are-independent]
name = Plugins never import each other
type = independence
modules ={_list(plugins)}
"""
    path = tmp_path_factory.mktemp("importlinter") / "contracts.ini"
    path.write_text(text)
    return path


def test_the_tree_has_plugins_and_private_host_modules():
    assert {"latentdeck_ae", "latentdeck_sampling", "latentdeck_latent_stats"} <= set(plugin_packages())
    assert "latentdeck.engine.training" in host_modules() and "latentdeck.kit" in host_modules()


@pytest.mark.parametrize("contract", ["host-imports-no-plugin", "plugins-use-the-public-api", "plugins-are-independent"])
def test_import_contract_is_kept(config, contract, capsys):
    from importlinter.cli import lint_imports

    code = lint_imports(config_filename=str(config), limit_to_contracts=(contract,), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out


def test_a_plugin_importing_a_host_module_is_caught(config, tmp_path, monkeypatch, capsys):
    """The contract is not vacuous: a plugin that imports latentdeck.engine.training directly is reported."""
    from importlinter.cli import lint_imports

    package = tmp_path / "latentdeck_rogue_xyz"
    package.mkdir()
    (package / "__init__.py").write_text("from latentdeck.engine.training import execute_run  # private\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = config.read_text()
    text = re.sub(r"(root_packages =)", r"\1\n    latentdeck_rogue_xyz", text, count=1)
    text = text.replace("source_modules =\n    latentdeck_", "source_modules =\n    latentdeck_rogue_xyz\n    latentdeck_", 1)
    rogue = tmp_path / "rogue.ini"
    rogue.write_text(text)
    code = lint_imports(config_filename=str(rogue), limit_to_contracts=("plugins-use-the-public-api",),
                        no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert code != 0 and "latentdeck_rogue_xyz" in out and "latentdeck.engine.training" in out


def test_every_kit_name_resolves_and_is_documented():
    import latentdeck.kit as kit

    for name in kit.__all__:
        assert getattr(kit, name) is not None, name
        assert name in kit.__doc__, f"latentdeck.kit's docstring does not list {name}"
