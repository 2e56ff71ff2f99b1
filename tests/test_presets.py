"""Presets: named run configs from plugins, applied under a request's own fields (API, CLI, prepare_run)."""

from __future__ import annotations

import json
import types

import pytest

from latentdeck import PresetSpec, hookimpl
from latentdeck.cli import main
from latentdeck.launch import ConfigError, prepare_run
from latentdeck.registry import collect, get_plugin_manager
from latentdeck.launch.preset_list import list_presets
from latentdeck.launch.presets import deep_merge, flatten


def tiny_preset_plugin():
    plugin = types.ModuleType("tiny_presets")
    plugin.register_presets = hookimpl(lambda: [PresetSpec(
        name="tiny-quick", title="Tiny — quick",
        config={"dataset": "tiny-digits", "epochs": 1, "batch_size": 64, "viz_subset_size": 16,
                "projections": ["first-dims"], "num_threads": 1,
                "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}},
        description="a tiny run for tests", why={"epochs": "one is enough here"}, order=1)])
    return plugin


def test_builtin_presets_are_valid_and_listed_in_order():
    pm = get_plugin_manager()
    rows = list_presets(pm)
    names = [row["name"] for row in rows]
    assert names[:3] == ["ae-quick", "gmvae-spec", "gmvae-clusters"]
    for row in rows:
        assert row["error"] is None, row
        assert row["title"] and row["description"]
        stored = prepare_run(pm, {"preset": row["name"]})
        assert stored["preset"] == row["name"]
        for change in row["changes"]:
            assert change["why"], f"{row['name']}: {change['field']} has no reason"
    clusters = next(row for row in rows if row["name"] == "gmvae-clusters")
    changes = {c["field"]: c for c in clusters["changes"]}
    assert changes["model_options.prior_init"]["value"] == "umap_gmm"
    assert changes["model_options.prior_init"]["default"] == "random"  # the default stays the spec's
    assert changes["model"]["default"] == "ae"


def test_request_fields_win_key_by_key():
    pm = get_plugin_manager()
    stored = prepare_run(pm, {"preset": "gmvae-clusters", "seed": 7,
                              "model_options": {"qc_hold_to_end": False, "qc_hold_epochs": 3}})
    assert stored["seed"] == 7 and stored["model"] == "gmvae" and stored["epochs"] == 15
    assert stored["model_options"]["qc_hold_epochs"] == 3 and stored["model_options"]["qc_hold_to_end"] is False
    assert stored["model_options"]["pretrain_epochs"] == 8 and stored["model_options"]["prior_init"] == "umap_gmm"
    plain = prepare_run(pm, {"model": "gmvae"})
    assert plain["model_options"]["prior_init"] == "random" and plain["preset"] is None  # no preset, spec defaults


def test_unknown_or_conflicting_preset_is_refused_naming_it():
    pm = get_plugin_manager()
    with pytest.raises(ConfigError, match="unknown preset 'gmvae-cluster'.*Did you mean 'gmvae-clusters'"):
        prepare_run(pm, {"preset": "gmvae-cluster"})
    with pytest.raises(ConfigError, match="model_options.pretrain_epochs"):
        prepare_run(pm, {"preset": "gmvae-clusters", "epochs": 5})  # pretraining no longer fits
    with pytest.raises(ConfigError, match="model_options.qc_hold_epochs: qc_hold_to_end already holds"):
        prepare_run(pm, {"preset": "gmvae-clusters", "model_options": {"qc_hold_epochs": 3}})


def test_merge_helpers():
    assert deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}, "c": 4}) == {"a": {"x": 1, "y": 3}, "b": 1, "c": 4}
    assert flatten({"a": {"x": 1}, "b": [1, 2], "c": {}}) == {"a.x": 1, "b": [1, 2], "c": {}}


def test_third_party_preset_round_trips_through_the_api(plugin_manager, serve_api, waiter):
    plugin_manager.register(tiny_preset_plugin(), name="tiny_presets")
    assert "tiny-quick" in collect(plugin_manager, "presets")
    live = serve_api()
    rows = live.client.get("/api/presets").json()
    assert rows[0]["name"] == "tiny-quick" and rows[0]["provider"] == "tiny_presets"
    assert {"field": "epochs", "value": 1, "default": 10, "why": "one is enough here"} in rows[0]["changes"]
    response = live.client.post("/api/runs", json={"preset": "tiny-quick", "seed": 2})
    assert response.status_code == 201, response.text
    config = response.json()["config"]
    assert config["preset"] == "tiny-quick" and config["seed"] == 2 and config["dataset"] == "tiny-digits"
    assert config["model_options"]["latent_dim"] == 4
    run_id = response.json()["summary"]["run_id"]
    waiter(lambda: live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"] == "completed", timeout=90)
    bad = live.client.post("/api/runs", json={"preset": "nope"})
    assert bad.status_code == 422 and "unknown preset 'nope'" in bad.json()["detail"]


@pytest.fixture
def cli_with_tiny_preset(monkeypatch):
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    get_plugin_manager.cache_clear()
    get_plugin_manager().register(tiny_preset_plugin(), name="tiny_presets")
    yield
    get_plugin_manager.cache_clear()


def test_cli_preset_and_listing(cli_with_tiny_preset, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["presets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in listed][:1] == ["tiny-quick"]
    assert main(["presets"]) == 0
    text = capsys.readouterr().out
    assert "gmvae-clusters: GM-VAE — clusters digits" in text and "model_options.prior_init = \"umap_gmm\"" in text
    code = main(["train", "--preset", "tiny-quick", "--seed", "5", "--json", "--quiet", "--runs-dir", str(runs)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "completed"
    config = json.loads((runs / out["run_id"] / "config.json").read_text())
    assert config["preset"] == "tiny-quick" and config["seed"] == 5 and config["epochs"] == 1
    assert main(["train", "--preset", "tiny-quik", "--runs-dir", str(runs)]) == 2
    assert "Did you mean 'tiny-quick'" in capsys.readouterr().err


def test_listing_presets_contacts_no_executor(plugin_manager, serve_api):
    """Listing presets validates them from their records: no executor's check (a cluster's may contact it)."""
    from latentdeck import ExecutorSpec

    asked = []

    def check_config(config):
        asked.append(config.get("preset"))
        raise ValueError("cannot reach the cluster")

    plugin = types.ModuleType("remote_executor")
    plugin.register_executors = hookimpl(lambda: [ExecutorSpec(
        name="remote", submit=lambda job: {}, poll=lambda handle: {"alive": False}, check_config=check_config,
        default_rank=-1)])  # the default executor of every preset
    plugin_manager.register(tiny_preset_plugin(), name="tiny_presets")
    plugin_manager.register(plugin, name="remote_executor")
    listed = {p["name"]: p for p in list_presets(plugin_manager)}
    assert listed["tiny-quick"]["error"] is None and asked == []
    live = serve_api()
    assert live.client.get("/api/presets").status_code == 200 and asked == []
    with pytest.raises(ConfigError, match="executor 'remote': cannot reach the cluster"):  # a launch still asks
        prepare_run(plugin_manager, {"preset": "tiny-quick"})
    assert asked == ["tiny-quick"]
