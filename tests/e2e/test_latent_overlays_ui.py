"""The latent page in a real browser: a finished tiny GM-VAE run's 2-D map draws its points, each
persisted overlay (density grids, distortion map) is drawn under them from its file, hovering shows a
point's index and label, and clicking selects its held-out index."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

GMVAE = {"latent_dim": 4, "channels": [8, 8], "num_components": 3}

# Pixels of the canvas that are not transparent, and those whose colour no label colour has (the
# overlay's): a heatmap under the points changes both.
COUNT_PIXELS = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let opaque = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) opaque++;
  return opaque;
}"""


def wait_completed(live, run_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"] == "completed":
            return
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not complete")


def test_overlays_are_drawn_under_the_points_and_a_click_selects_an_example(serve_api, page, shot, tiny_config):
    live = serve_api()
    config = {**tiny_config, "model": "gmvae", "model_options": GMVAE, "epochs": 2, "viz_subset_size": 64,
              "artifacts": ["density", "knn", "distortion"], "artifact_options": {"density": {"grid_size": 64}},
              "name": "tiny gmvae"}
    run_id = live.client.post("/api/runs", json=config).json()["summary"]["run_id"]
    wait_completed(live, run_id)

    page.goto(f"{live.url}/runs/{run_id}/latent/")
    canvas = page.get_by_test_id("latent-canvas")
    expect(canvas).to_have_attribute("data-points", "64")
    expect(canvas).to_have_attribute("data-overlay", "none")
    expect(page.get_by_test_id("map-epoch")).to_have_value("2")
    expect(page.get_by_test_id("latent-projections")).to_contain_text("first-dims 2-D")
    points_only = canvas.evaluate(COUNT_PIXELS)
    assert points_only > 0

    drawn = {}
    for kind in ("posterior", "prior", "prior_empirical", "distortion"):
        page.get_by_test_id("map-overlay").select_option(kind)
        expect(canvas).to_have_attribute("data-overlay", kind)
        folder = "distortion/metric_ratio" if kind == "distortion" else f"density/{kind}"
        expect(canvas).to_have_attribute("data-overlay-name", f"{folder}_2d_epoch_2_first-dims.json")
        expect(page.get_by_test_id("overlay-stats")).to_be_visible()
        drawn[kind] = canvas.evaluate(COUNT_PIXELS)
        assert drawn[kind] > points_only * 2, f"the {kind} heatmap adds coloured pixels under the points"
        shot(page, f"latent-overlay-{kind}")
    expect(page.get_by_test_id("overlay-stats")).to_contain_text("median")

    page.get_by_test_id("map-overlay").select_option("posterior")
    expect(page.get_by_test_id("overlay-stats")).to_contain_text("mass in view")
    page.get_by_test_id("map-epoch").select_option("1")
    expect(canvas).to_have_attribute("data-overlay-name", "density/posterior_2d_epoch_1_first-dims.json")

    # hover and click the first point of the projection file
    projection = live.client.get(f"/api/runs/{run_id}/artifacts/projections/latent_2d_epoch_1_first-dims.json").json()
    x, y = (float(v) for v in canvas.get_attribute("data-first-point").split(","))
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + x * box["width"] / 620, box["y"] + y * box["height"] / 620)
    expect(page.get_by_test_id("latent-tooltip")).to_contain_text(f"#{projection['indices'][0]}")
    expect(page.get_by_test_id("latent-tooltip")).to_contain_text(f"label {projection['labels'][0]}")
    page.mouse.click(box["x"] + x * box["width"] / 620, box["y"] + y * box["height"] / 620)
    expect(canvas).to_have_attribute("data-selected", str(projection["indices"][0]))
    expect(page.get_by_test_id("map-selection")).to_contain_text(f"#{projection['indices'][0]}")
    shot(page, "latent-selected")

    # The AE has no prior: those overlays are offered as not computed, with the reason.
    ae = live.client.post("/api/runs", json={**tiny_config, "epochs": 1, "artifacts": ["density"], "name": "tiny ae"})
    ae_id = ae.json()["summary"]["run_id"]
    wait_completed(live, ae_id)
    page.goto(f"{live.url}/runs/{ae_id}/latent/")
    expect(page.get_by_test_id("latent-canvas")).to_have_attribute("data-points", "32")
    assert page.locator("[data-testid=map-overlay] option[value=prior]").is_disabled()
    page.get_by_test_id("map-overlay").select_option("posterior")
    expect(page.get_by_test_id("latent-canvas")).to_have_attribute("data-overlay", "posterior")
    expect(page.get_by_test_id("overlay-legend")).to_contain_text("kde_codes")
