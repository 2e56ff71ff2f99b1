"""Forms from schemas in a real browser: the run page's "Actions" (one generated form per on-demand
computation, there before it has ever run; a refusal shows the server's message, a good request its
result) and the launch form's fields for artifact and projection options (their values reach the run)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def finished_run(live, config) -> str:
    run_id = live.client.post("/api/runs", json=config).json()["summary"]["run_id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"] == "completed":
            return run_id
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not complete")


def test_a_computation_has_a_form_before_it_ever_ran(serve_api, page, shot, tiny_config, runs_dir):
    live = serve_api()
    run_id = finished_run(live, {**tiny_config, "artifacts": ["recon_grid"]})
    assert not (runs_dir / run_id / "samples").exists()  # never run, from anywhere
    page.goto(f"{live.url}/runs/{run_id}/")
    action = page.get_by_test_id("action-sampling")
    expect(action).to_be_visible()
    action.locator("summary").click()
    expect(page.locator("#f-sampling-idx")).to_be_visible()

    page.fill("#f-sampling-idx", "64")  # the tiny held-out split has 64 examples: 0..63
    page.get_by_test_id("action-run-sampling").click()
    # the server's first answer imports torch and loads the checkpoint: seconds on busy cores
    expect(page.get_by_test_id("action-error-sampling")).to_contain_text("outside the held-out split", timeout=60_000)
    assert not (runs_dir / run_id / "samples").exists()  # a refusal writes nothing

    page.fill("#f-sampling-idx", "3")
    page.fill("#f-sampling-m", "4")
    page.get_by_test_id("action-run-sampling").click()
    result = page.get_by_test_id("action-result-sampling")
    expect(result).to_contain_text("computed", timeout=60_000)
    expect(page.get_by_test_id("action-error-sampling")).to_have_count(0)
    expect(result).to_contain_text("samples/posterior_local_epoch_2_idx_3_m_4.png")
    assert (runs_dir / run_id / "samples/posterior_local_epoch_2_idx_3_m_4.png").is_file()
    shot(page, "actions-sampling")

    page.get_by_test_id("action-run-sampling").click()  # the same values again: read from disk
    expect(result).to_have_attribute("data-created", "false")
    expect(result).to_contain_text("read from disk")


def test_launch_form_fields_for_artifact_and_projection_options(serve_api, page):
    live = serve_api()
    page.goto(live.url + "/")
    page.select_option("#f-dataset", "tiny-digits")
    page.locator("summary").click()  # the advanced options, where the components' option fields are
    expect(page.get_by_test_id("options-artifacts-density")).to_be_visible()
    expect(page.get_by_test_id("options-projections-umap")).to_be_visible()
    for field, value in {"epochs": "1", "batch_size": "64", "model_options-latent_dim": "4", "model_options-channels": "8, 8",
                         "model_options-head_hidden": "16", "projections": "first-dims", "artifacts": "recon_grid",
                         "viz_subset_size": "32", "num_threads": "1",
                         "artifact_options-density-grid_size": "4", "projection_options-umap-n_neighbors": "5"}.items():
        page.fill(f"#f-{field}", value)
    page.get_by_test_id("launch").click()
    # the plugin's own validation, shown at its field; nothing started
    expect(page.get_by_test_id("error-artifact_options.density.grid_size")).to_contain_text("greater than or equal to 8")
    assert live.client.get("/api/runs").json() == []

    page.fill("#f-artifact_options-density-grid_size", "24")
    page.get_by_test_id("launch").click()
    page.wait_for_url(re.compile(r"/runs/[^/]+/$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    config = live.client.get(f"/api/runs/{run_id}").json()["config"]
    assert config["artifact_options"]["density"]["grid_size"] == 24
    assert config["projection_options"]["umap"]["n_neighbors"] == 5
    finished_run_status = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # let the tiny run end before the server stops
        finished_run_status = live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"]
        if finished_run_status in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.2)
    assert finished_run_status == "completed"
