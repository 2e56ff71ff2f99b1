"""The public test helpers a plugin author uses (latentdeck.testing): run_tiny, backfill, client, and a
trained_run that registers the modules given to plugin_manager_with."""

from __future__ import annotations

import types

import pytest

from latentdeck import ComputationSpec, hookimpl
from latentdeck.testing import ConfigRefused, backfill, client, run_tiny


def _generate(ctx, request=None) -> None:
    ctx.save_json("helper_stats", "helper_{tag}.json", {"epoch": ctx.epoch})


def _plugin(name: str = "helper_test_plugin"):
    module = types.ModuleType(name)

    @hookimpl
    def register_computations():
        return [ComputationSpec(name="helper-stats", compute=_generate, folder="helper_stats",
                             files=("helper_{tag}.json",))]

    module.register_computations = register_computations
    return module


def test_trained_run_registers_the_modules_given_to_plugin_manager_with(plugin_manager_with, trained_run):
    pm = plugin_manager_with(_plugin())
    assert pm.has_plugin("helper_test_plugin")
    run_dir = trained_run(artifacts=["helper-stats"], epochs=1)
    assert (run_dir / "helper_stats" / "helper_epoch_1.json").is_file()


def test_trained_run_without_plugin_manager_with_knows_only_installed_plugins(trained_run):
    with pytest.raises(ConfigRefused, match="unknown artifact generator 'helper-stats'"):
        trained_run(artifacts=["helper-stats"])


def test_run_tiny_backfill_and_client(runs_dir):
    plugin = _plugin()
    run = run_tiny([plugin], {"artifacts": ["knn"]}, runs_dir=runs_dir)
    assert run.status == "completed" and run.failures() == [] and run.files("helper_stats") == []
    assert [e["data"]["epoch"] for e in run.events("train.metrics")] == [1, 2]

    result = backfill(run, [plugin], artifacts=["helper-stats"])
    written = ["helper_stats/helper_epoch_1.json", "helper_stats/helper_epoch_2.json", "helper_stats/helper_latest.json"]
    assert sorted(result["written"]) == written[:2] and run.files("helper_stats") == written

    with client([plugin], runs_dir) as http:
        assert http.get(f"/api/runs/{run.run_id}/artifacts/helper_stats/helper_epoch_2.json").json() == {"epoch": 2}
        names = {row["name"] for row in http.get("/api/plugins").json()}
    assert "helper_test_plugin" in names


def test_run_tiny_names_a_plugin_that_did_not_load(runs_dir):
    broken = types.ModuleType("helper_broken_plugin")

    @hookimpl
    def register_computation():  # a typo of register_computations
        return []

    broken.register_computation = register_computation
    with pytest.raises(AssertionError, match="your plugin helper_broken_plugin did not load: .*register_computations"):
        run_tiny([broken], runs_dir=runs_dir)
