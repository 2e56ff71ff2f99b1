"""A newly installed artifact type appears on the run page without a frontend change: the generic
views (image with an epoch slider, metric series, table) drawn from the artifact index."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]


def test_third_party_artifacts_get_generic_views_on_the_run_page(serve_api, page, shot, tiny_config, runs_dir, monkeypatch):
    import latentdeck.testing as testing
    from latentdeck.launch import prepare_run
    from latentdeck.registry import make_plugin_manager
    from latentdeck.store import RunStore
    from latentdeck.engine.training import execute_run

    monkeypatch.syspath_prepend(str(ROOT / "tests" / "helpers"))
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "latentdeck-latent-stats" / "src"))
    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    import quality_plugin
    from latentdeck_latent_stats import plugin as latent_stats

    try:
        pm = make_plugin_manager(plugins=[testing, quality_plugin, latent_stats])
        store = RunStore(runs_dir)
        stored = prepare_run(pm, {**tiny_config, "epochs": 3, "projections": [],
                                  "artifacts": ["recon_grid", "quality", "quality-series", "latent_stats"]})
        store.create(stored)
        assert execute_run(store.run_dir(stored["run_id"]), pm=pm) == "completed"
        live = serve_api(pm=pm)
        page.goto(f"{live.url}/runs/{stored['run_id']}/")
        generic = page.get_by_test_id("generic-artifacts")
        expect(generic).to_be_visible()
        quality = page.get_by_test_id("generic-quality")
        expect(quality).to_have_attribute("data-view", "image")
        expect(quality.locator("img")).to_have_attribute("src", f"/api/runs/{stored['run_id']}/artifacts/quality/swatch_epoch_3.png")
        quality.get_by_label("epoch of quality").fill("0")  # the slider goes back to epoch 1
        expect(quality.locator("img")).to_have_attribute("src", f"/api/runs/{stored['run_id']}/artifacts/quality/swatch_epoch_1.png")
        series = page.get_by_test_id("generic-quality-series")  # a metric_series with no view: charted generically
        expect(series).to_have_attribute("data-view", "metric_series")
        expect(series.get_by_test_id("generic-series-score")).to_be_visible()
        expect(page.get_by_test_id("generic-recon_grid")).to_have_count(0)  # it has a panel of its own
        expect(page.get_by_test_id("latent-stats-panel")).to_be_visible()  # so has the example: its view, not a generic one
        expect(page.get_by_test_id("generic-latent_stats")).to_have_count(0)
        shot(page, "run-generic-artifacts")
    finally:
        sys.modules.pop("quality_plugin", None)
