"""The installed examples in the browser: the artifact example's own view (its numbers over the epochs and a bar
per latent dimension) appears on the run page; the on-demand example has an action form that computes it and its own view in the explorer's side panel (an
ES module in its wheel); and /plugins reports the broken package with its error while the rest of the lab works (see tests/test_examples_installed.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import expect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "helpers"))

from installed_lab import installed_lab  # noqa: E402


def test_installed_examples_on_the_run_page_and_plugins_page(page, shot, tmp_path, tiny_config):
    with installed_lab(tmp_path) as lab:
        run_id = lab.train({**tiny_config, "projections": ["pca"], "artifacts": ["recon_grid", "latent_stats"]})
        assert lab.client.post(f"/api/runs/{run_id}/compute/nearest", json={"idx": 1, "k": 4}).status_code == 200
        page.goto(f"{lab.url}/runs/{run_id}/")
        stats = page.get_by_test_id("latent-stats-panel")  # the wheel's own view (an ES module), not the generic one
        expect(stats.get_by_test_id("latent-stats-bars").locator(".latent-stats-row")).to_have_count(tiny_config["model_options"]["latent_dim"])
        expect(stats.get_by_test_id("latent-stats-chart")).to_be_visible()
        expect(stats).to_contain_text("Epoch 2 (latest)")
        expect(page.get_by_test_id("generic-latent_stats")).to_have_count(0)
        expect(page.get_by_test_id("generic-nearest")).to_have_count(0)  # its own view shows it (in the explorer)
        shot(page, "examples-run-page")
        action = page.get_by_test_id("action-nearest")  # the wheel's computation has a form from its request schema
        action.locator("summary").click()
        page.fill("#f-nearest-idx", "2")
        page.fill("#f-nearest-k", "3")
        page.get_by_test_id("action-run-nearest").click()
        expect(page.get_by_test_id("action-result-nearest")).to_contain_text("computed", timeout=60_000)
        expect(page.get_by_test_id("action-result-nearest")).to_contain_text("nearest/epoch_2/idx_2_k_3")
        # the wheel's view in the explorer's side panel: it follows the focus and computes through the page's compute()
        page.goto(f"{lab.url}/runs/{run_id}/latent/?focus=heldout:2")
        panel = page.get_by_test_id("nearest-panel")
        expect(panel.get_by_test_id("nearest-panel-run")).to_have_text("Find the 8 nearest training digits of #2", timeout=60_000)
        panel.get_by_test_id("nearest-panel-run").click()
        expect(panel.get_by_test_id("nearest-panel-rows").locator("tbody tr")).to_have_count(8, timeout=60_000)
        expect(panel).to_contain_text("computed")
        expect(panel.get_by_test_id("nearest-panel-strip")).to_be_visible()
        assert (lab.runs / run_id / "nearest" / "epoch_2" / "idx_2_k_8" / "nearest.json").is_file()
        shot(page, "examples-explorer-side")
        page.goto(f"{lab.url}/plugins/")
        expect(page.get_by_text("a_module_nobody_installed_xyz")).to_be_visible()
        expect(page.get_by_text("broken_example").first).to_be_visible()
        shot(page, "examples-plugins-page")
