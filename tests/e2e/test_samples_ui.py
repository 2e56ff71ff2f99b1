"""The decoded-samples panel in a real browser: clicking a point on the latent map asks the server for
samples around it, the grid appears with its seed and timing, a repeat is served from disk, m, seed
and component are selectable, refusals show the server's reason, and the AE's grid says it is an
isotropic neighbourhood."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

GMVAE = {"latent_dim": 4, "channels": [8, 8], "num_components": 3}
IMAGE_LOADED = "(img) => img.complete && img.naturalWidth > 0"


def finished_run(live, config) -> str:
    run_id = live.client.post("/api/runs", json=config).json()["summary"]["run_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"] == "completed":
            return run_id
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not complete")


def test_samples_panel_on_the_latent_page(serve_api, page, shot, tiny_config, runs_dir, latent_map):
    live = serve_api()
    run_id = finished_run(live, {**tiny_config, "model": "gmvae", "model_options": GMVAE, "artifacts": ["recon_grid"],
                                 "name": "tiny gmvae"})
    page.goto(f"{live.url}/runs/{run_id}/latent/")
    panel = page.get_by_test_id("samples-panel")
    expect(panel).to_contain_text("Decoded samples")
    canvas = page.get_by_test_id("latent-canvas")
    expect(canvas).to_have_attribute("data-points", "32")

    # Click the first point of the map: the panel asks for samples around it at the map's epoch.
    from latentdeck.kit import read_artifact

    projection = read_artifact(runs_dir / run_id / "projections" / "latent_2d_epoch_2_first-dims.json")
    idx = int(projection["indices"][0])
    latent_map.wait_drawn(page)
    x, y = canvas.evaluate(latent_map.SCREEN)[0]
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(page.get_by_test_id("samples-idx")).to_have_value(str(idx))
    meta = page.get_by_test_id("samples-meta")
    # the server's first grid also imports torch and loads the run's checkpoint: seconds on busy cores
    expect(meta).to_contain_text(f"example {idx}", timeout=60_000)
    expect(meta).to_contain_text("16 samples · epoch 2")
    expect(meta).to_contain_text("q(z|x)")
    expect(meta).to_contain_text("(derived) · computed")
    image = page.get_by_test_id("samples-image")
    page.wait_for_function(IMAGE_LOADED, arg=image.element_handle())
    assert (runs_dir / run_id / f"samples/posterior_local_epoch_2_idx_{idx}_m_16.png").is_file()
    shot(page, "samples-posterior")

    page.get_by_test_id("samples-run").click()  # the same request again: from disk
    expect(meta).to_contain_text("(derived) · from disk")

    page.get_by_test_id("samples-m").select_option("64")
    page.get_by_test_id("samples-seed").fill("5")
    page.get_by_test_id("samples-run").click()
    expect(meta).to_contain_text("64 samples")
    expect(meta).to_contain_text("seed 5 (override)")
    expect(image).to_have_attribute("width", str(8 * 56))
    page.wait_for_function(IMAGE_LOADED, arg=image.element_handle())
    assert (runs_dir / run_id / f"samples/posterior_local_epoch_2_idx_{idx}_m_64_seed_5.png").is_file()

    page.get_by_test_id("samples-seed").fill("")
    page.get_by_test_id("samples-component").select_option("2")
    page.get_by_test_id("samples-prior-run").click()
    expect(meta).to_contain_text("component 2")
    expect(meta).to_contain_text("p(z|c)")
    page.wait_for_function(IMAGE_LOADED, arg=image.element_handle())
    shot(page, "samples-prior")

    page.get_by_test_id("samples-idx").fill("9999")
    page.get_by_test_id("samples-run").click()
    error = page.get_by_test_id("samples-error")
    expect(error).to_contain_text("422")
    expect(error).to_contain_text("index 9999 is outside the held-out split of tiny-digits: use 0..63")
    expect(image).to_have_count(0)
    shot(page, "samples-error")

    # The AE: no component picker, and the grid says what it is.
    ae_id = finished_run(live, {**tiny_config, "epochs": 1, "artifacts": ["recon_grid"], "name": "tiny ae"})
    page.goto(f"{live.url}/runs/{ae_id}/latent/")
    expect(page.get_by_test_id("samples-panel")).to_be_visible()
    expect(page.get_by_test_id("samples-component")).to_have_count(0)
    page.get_by_test_id("samples-idx").fill("3")
    page.get_by_test_id("samples-run").click()
    expect(meta).to_contain_text("isotropic_neighbourhood", timeout=30_000)
    expect(meta).to_contain_text("deterministic")
    page.wait_for_function(IMAGE_LOADED, arg=image.element_handle())
    shot(page, "samples-ae")
