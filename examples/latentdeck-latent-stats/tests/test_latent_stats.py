import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from latentdeck.testing import ConfigRefused, run_tiny, tiny_run_config  # noqa: E402
from latentdeck_latent_stats import plugin  # noqa: E402  (works whether the package is installed or not)


def test_latent_stats_written_per_epoch(runs_dir):
    config = tiny_run_config()
    run = run_tiny([plugin], {"artifacts": ["latent_stats"]}, runs_dir=runs_dir)
    assert run.failures() == []
    latest = json.loads((run.dir / "latent_stats" / "latent_stats_latest.json").read_text())
    assert latest["epoch"] == config["epochs"]
    assert len(latest["mean"]) == config["model_options"]["latent_dim"]
    assert latest["n"] == config["viz_subset_size"]
    assert sum(v["n"] for v in latest["per_class"].values()) == latest["n"]
    assert "latent_stats/latent_stats_epoch_1.json" in run.files("latent_stats")


def test_latent_stats_options_validated_and_used(runs_dir):
    with pytest.raises(ConfigRefused, match="per_class"):
        run_tiny([plugin], {"artifact_options": {"latent_stats": {"per_class": "sometimes"}}}, runs_dir=runs_dir)
    run = run_tiny([plugin], {"epochs": 1, "artifact_options": {"latent_stats": {"per_class": False}}},
                   runs_dir=runs_dir)
    latest = json.loads((run.dir / "latent_stats" / "latent_stats_latest.json").read_text())
    assert "per_class" not in latest
