"""A run trained before the clusters plugin was installed gets both artifacts from `latentdeck backfill`."""

from __future__ import annotations

import sys

from latentdeck.kit.atomic import read_json
from latentdeck.engine.backfill import backfill, plan
from latentdeck.launch import prepare_run
from latentdeck.registry import collect, make_plugin_manager
from latentdeck.store.runs import RunStore
from latentdeck.testing import TINY_GMVAE_OPTIONS
from latentdeck.engine.training import execute_run

CLUSTER_FILES = ["cluster_quality_epoch_1.json", "cluster_quality_epoch_2.json", "cluster_quality_latest.json",
                 "prior_means_epoch_1.json", "prior_means_epoch_1.png", "prior_means_epoch_2.json",
                 "prior_means_epoch_2.png", "prior_means_latest.json", "prior_means_latest.png"]


def test_a_run_trained_without_the_plugin_gets_its_files_by_backfill(plugin_manager, runs_dir, tiny_config):
    without = make_plugin_manager(plugins=[sys.modules["latentdeck.testing"]])
    without.unregister(name="latentdeck.clusters")
    assert "cluster_quality" not in collect(without, "computations")
    stored = prepare_run(without, {**tiny_config, "model": "gmvae", "model_options": dict(TINY_GMVAE_OPTIONS),
                                   "epochs": 2})
    RunStore(runs_dir).create(stored)
    run_dir = RunStore(runs_dir).run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=without) == "completed"
    assert not (run_dir / "clusters").exists()
    health = read_json(run_dir / "mixture/mixture_health_epoch_2.json")

    missing = plan(run_dir, plugin_manager)["missing"]
    assert {epoch: sorted(names) for epoch, names in missing.items()} == {
        epoch: ["generator cluster_quality", "generator component_prototypes"] for epoch in (1, 2)}
    result = backfill(run_dir, plugin_manager)
    assert result["epochs"] == [1, 2]
    assert sorted(p.name for p in (run_dir / "clusters").iterdir()) == CLUSTER_FILES
    latest = read_json(run_dir / "clusters/cluster_quality_latest.json")
    assert latest == read_json(run_dir / "clusters/cluster_quality_epoch_2.json") and latest["epoch"] == 2
    assert [row["count"] for row in latest["mixture"]["matching"]] == health["argmax_counts"]  # the same model's q(c|x)
    assert backfill(run_dir, plugin_manager)["nothing_missing"] is True
