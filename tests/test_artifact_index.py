"""An outside author's artifact types: their own folders are served, the artifact index groups their
files per epoch with the declared view, and the on-demand route serves their computation."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from latentdeck.api.app import create_app
from latentdeck.launch import prepare_run
from latentdeck.registry import make_plugin_manager
from latentdeck.store import RunStore
from latentdeck.engine.training import execute_run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def outside_pm(monkeypatch):
    import latentdeck.testing as testing

    monkeypatch.syspath_prepend(str(ROOT / "tests" / "helpers"))
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "latentdeck-latent-stats" / "src"))
    import quality_plugin
    from latentdeck_latent_stats import plugin as latent_stats

    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    yield make_plugin_manager(plugins=[testing, quality_plugin, latent_stats])
    sys.modules.pop("quality_plugin", None)


def test_outside_artifacts_are_served_indexed_and_computed(outside_pm, runs_dir, tiny_config):
    store = RunStore(runs_dir)
    stored = prepare_run(outside_pm, {**tiny_config, "epochs": 2, "artifacts": ["recon_grid", "quality", "latent_stats"]})
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=outside_pm) == "completed"
    client = TestClient(create_app(outside_pm, runs_dir))
    run_id = stored["run_id"]

    served = client.get(f"/api/runs/{run_id}/artifacts/quality/swatch_epoch_2.png")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    listing = client.get(f"/api/runs/{run_id}/files").json()
    listed = {row["name"]: row for row in listing["files"]}
    assert listed["quality/rows_epoch_1.json"]["folder"] == "quality" and "latent_stats/latent_stats_latest.json" in listed
    rows = listed["quality/rows_epoch_1.json"]
    assert (rows["artifact"], rows["kind"], rows["epoch"], rows["latest"]) == ("quality", "computations", 1, False)

    index = {row["name"]: row for row in listing["artifacts"]}
    quality = index["quality"]
    assert quality["view"] == "image" and quality["folder"] == "quality" and quality["provider"] == "quality_plugin"
    of_quality = [row for row in listing["files"] if row["artifact"] == "quality"]
    assert sorted({row["epoch"] for row in of_quality if row["epoch"]}) == [1, 2]
    assert sorted(r["name"] for r in of_quality if r["epoch"] == 2) == ["quality/rows_epoch_2.json", "quality/swatch_epoch_2.png"]
    assert sorted(r["name"] for r in of_quality if r["latest"]) == ["quality/rows_latest.json", "quality/swatch_latest.png"]
    assert index["latent_stats"]["view"] == "metric_series" and index["recon_grid"]["view"] == "image"
    assert "page" not in index["latent_stats"]  # one door for a plugin's panel: a view (the iframe page is gone)
    assert client.get("/plugin-pages/latent_stats/").status_code == 404
    views = {row["name"]: row for row in client.get("/api/components").json()["views"]}
    assert views["latent-stats"]["computations"] == ["latent_stats"] and views["latent-stats"]["mount"] == "run-panel"

    probe = client.post(f"/api/runs/{run_id}/compute/quality-probe", json={"idx": 3})
    assert probe.status_code == 200 and probe.json()["created"] is True, probe.text
    assert probe.json()["files"] == ["quality_probe/epoch_2/idx_3/probe.json", "quality_probe/epoch_2/idx_3/result.json"]
    assert client.post(f"/api/runs/{run_id}/compute/quality-probe", json={"idx": 3}).json()["created"] is False
    bad = client.post(f"/api/runs/{run_id}/compute/quality-probe", json={"idx": 10_000})
    assert bad.status_code == 422 and "outside the held-out split" in bad.json()["detail"]
    assert client.post(f"/api/runs/{run_id}/compute/quality-probe", json={"ix": 3}).status_code == 422
    probe_row = next(r for r in client.get(f"/api/runs/{run_id}/files").json()["files"] if r["artifact"] == "quality-probe")
    assert probe_row["kind"] == "computations" and probe_row["epoch"] == 2 and probe_row["fields"] == {"idx": 3}
    schema = client.get("/openapi.json").json()
    assert "/api/runs/{run_id}/compute/quality-probe" in schema["paths"]


def test_the_iframe_page_is_gone_a_view_is_the_one_door(tmp_path):
    import types
    import warnings

    from latentdeck import ArtifactSpec, ComputationSpec, hookimpl

    module = types.ModuleType("paged_plugin")
    module.register_computations = hookimpl(lambda: [ComputationSpec("q", compute=print, folder="q", files=("q_{tag}.json",),
                                                                     page=str(tmp_path))])
    pm = make_plugin_manager(entrypoints=False, plugins=[module])
    assert pm.infos["paged_plugin"].status == "failed" and "page" in pm.infos["paged_plugin"].error
    with warnings.catch_warnings(record=True) as caught:  # the deprecated constructor drops it and says why
        warnings.simplefilter("always")
        spec = ArtifactSpec("q", generate=print, folder="q", files=("q_{tag}.json",), page=str(tmp_path))
    assert not hasattr(spec, "page") and any("ship your panel as a view" in str(w.message) for w in caught)


def test_a_bad_view_hint_disables_the_plugin():
    import types

    from latentdeck import ComputationSpec, hookimpl

    module = types.ModuleType("bad_view_plugin")
    module.register_computations = hookimpl(lambda: [ComputationSpec("q", compute=print, folder="q", files=("q_{tag}.json",),
                                                               view="sparkles")])
    pm = make_plugin_manager(entrypoints=False, plugins=[module])
    assert pm.infos["bad_view_plugin"].status == "failed" and "view must be one of image" in pm.infos["bad_view_plugin"].error
