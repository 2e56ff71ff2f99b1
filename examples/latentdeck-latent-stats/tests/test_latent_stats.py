import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from latentdeck.launch import prepare_run  # noqa: E402
from latentdeck.registry import make_plugin_manager  # noqa: E402
from latentdeck.store import RunStore  # noqa: E402
from latentdeck.engine.training import execute_run  # noqa: E402


def test_latent_stats_written_per_epoch(plugin_manager_with, runs_dir, tiny_config):
    from latentdeck_latent_stats import plugin

    pm = plugin_manager_with(plugin)  # works whether the package is installed or not
    store = RunStore(runs_dir)
    stored = prepare_run(pm, {**tiny_config, "artifacts": ["latent_stats"]})
    store.create(stored)
    assert execute_run(store.run_dir(stored["run_id"]), pm=pm) == "completed"
    run_dir = store.run_dir(stored["run_id"])
    latest = json.loads((run_dir / "latent_stats" / "latent_stats_latest.json").read_text())
    assert latest["epoch"] == tiny_config["epochs"]
    assert len(latest["mean"]) == tiny_config["model_options"]["latent_dim"]
    assert latest["n"] == tiny_config["viz_subset_size"]
    assert sum(v["n"] for v in latest["per_class"].values()) == latest["n"]
    assert (run_dir / "latent_stats" / "latent_stats_epoch_1.json").exists()


def test_latent_stats_options_validated_and_used(runs_dir, tiny_config):
    import pytest

    import latentdeck.testing as testing
    from latentdeck.launch import ConfigError
    from latentdeck_latent_stats import plugin

    pm = make_plugin_manager(plugins=[testing, plugin])
    with pytest.raises(ConfigError, match="per_class"):
        prepare_run(pm, {**tiny_config, "artifact_options": {"latent_stats": {"per_class": "sometimes"}}})
    store = RunStore(runs_dir)
    stored = prepare_run(pm, {**tiny_config, "epochs": 1, "artifact_options": {"latent_stats": {"per_class": False}}})
    store.create(stored)
    assert execute_run(store.run_dir(stored["run_id"]), pm=pm) == "completed"
    latest = json.loads((store.run_dir(stored["run_id"]) / "latent_stats" / "latent_stats_latest.json").read_text())
    assert "per_class" not in latest
