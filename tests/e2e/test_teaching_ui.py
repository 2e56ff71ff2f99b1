"""What the lab teaches, in a real browser: presets in the launch form, a collapsed GM-VAE explained
on its run page (and a preset run that is not), and the stage the run is in between epochs."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from latentdeck import PresetSpec, hookimpl

pytestmark = pytest.mark.slow

HELPERS = Path(__file__).resolve().parent / "helpers"
TINY_GMVAE = {"latent_dim": 4, "channels": [8, 8]}
TINY_RUN = {"dataset": "tiny-digits", "batch_size": 32, "projections": ["first-dims"], "viz_subset_size": 32,
            "artifact_options": {"recon_grid": {"grid_size": 8}}, "num_threads": 1}


def wait_status(live, run_id: str, statuses: tuple[str, ...], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        status = live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"]
        if status in statuses:
            return status
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not reach {statuses} in {timeout}s (last: {status})")


class TinyPreset:
    @staticmethod
    @hookimpl
    def register_presets():
        return [PresetSpec(name="tiny-quick", title="Tiny — quick look", order=1,
                           config={**TINY_RUN, "epochs": 1, "model_options": {"latent_dim": 4, "channels": [8, 8],
                                                                                 "head_hidden": 16}},
                           description="a tiny AE run for the browser test", why={"epochs": "one is enough here"})]


def test_presets_fill_the_launch_form_and_the_run_records_its_preset(plugin_manager, serve_api, page, shot):
    plugin_manager.register(TinyPreset, name="tiny_preset")
    live = serve_api()
    page.goto(live.url + "/")
    for name in ("ae-quick", "gmvae-spec", "gmvae-clusters", "tiny-quick"):
        expect(page.get_by_test_id(f"preset-{name}")).to_be_visible()
    page.get_by_test_id("preset-gmvae-clusters").click()
    changes = page.get_by_test_id("preset-changes")
    expect(changes).to_contain_text("model_options.prior_init")
    expect(changes).to_contain_text("umap_gmm")
    expect(changes).to_contain_text("random")  # the default it changes, shown beside it
    expect(page.locator("#f-model")).to_have_value("gmvae")
    expect(page.locator("#f-model_options-pretrain_epochs")).to_have_value("8")
    expect(page.locator("#f-epochs")).to_have_value("15")
    shot(page, "launch-presets")

    page.get_by_test_id("preset-tiny-quick").click()
    expect(page.locator("#f-model")).to_have_value("ae")
    expect(page.locator("#f-epochs")).to_have_value("1")
    page.fill("#f-seed", "4")  # a field the person sets wins over the preset
    page.get_by_test_id("launch").click()
    page.wait_for_url(re.compile(r"/runs/[^/]+/$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    expect(page.get_by_test_id("run-preset")).to_contain_text("tiny-quick")
    config = live.client.get(f"/api/runs/{run_id}").json()["config"]
    assert config["preset"] == "tiny-quick" and config["seed"] == 4 and config["epochs"] == 1
    assert config["dataset"] == "tiny-digits" and config["model_options"]["latent_dim"] == 4
    assert wait_status(live, run_id, ("completed", "failed")) == "completed"


def test_a_collapsed_gmvae_is_explained_and_a_preset_run_is_not(serve_api, page, shot):
    live = serve_api()
    collapsed = live.client.post("/api/runs", json={
        **TINY_RUN, "model": "gmvae", "epochs": 3, "name": "spec defaults, tiny",
        "model_options": {**TINY_GMVAE, "num_components": 10}}).json()["summary"]["run_id"]
    clusters = live.client.post("/api/runs", json={
        **TINY_RUN, "preset": "gmvae-clusters", "epochs": 4, "name": "clusters preset, tiny",
        "model_options": {**TINY_GMVAE, "pretrain_epochs": 2, "prior_init": "gmm",
                          "prior_init_subset": 256}}).json()["summary"]["run_id"]
    assert wait_status(live, collapsed, ("completed", "failed")) == "completed"

    page.goto(f"{live.url}/runs/{collapsed}/")
    warning = page.get_by_test_id("run-warning")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("q(c|x) ignores the input")
    expect(warning).to_contain_text("of 10 components in use")
    expect(warning).to_contain_text("ln K = 2.303")
    expect(warning).to_contain_text("What to try")
    expect(warning).to_contain_text("GM-VAE — clusters digits")
    expect(page.get_by_test_id("chart-components_in_use")).to_be_visible()  # diagnostics charted without any control on
    shot(page, "run-collapsed")
    page.goto(f"{live.url}/runs/")
    expect(page.locator(f"tr[data-run-id='{collapsed}'] [data-testid=run-warning-badge]")).to_contain_text("q(c|x) ignores the input")

    assert wait_status(live, clusters, ("completed", "failed"), timeout=180) == "completed"
    page.goto(f"{live.url}/runs/{clusters}/")
    expect(page.get_by_test_id("status")).to_have_text("completed")
    expect(page.get_by_test_id("run-preset")).to_contain_text("gmvae-clusters")
    page.wait_for_function("document.querySelectorAll('[data-testid=epoch-list] tbody tr').length === 4")
    expect(page.get_by_test_id("chart-components_in_use")).to_be_visible()
    expect(page.get_by_test_id("run-warning")).to_have_count(0)
    steps = page.get_by_test_id("model-steps")  # the model's own sentence for its prior init and hold
    expect(steps).to_contain_text("Before epoch 3: after 2 autoencoder epochs, each p(z|c) starts at one of 10 clusters")
    expect(steps).to_contain_text("q(c|x) is held from here to the last epoch")
    shot(page, "run-model-steps")


def test_the_stage_between_epochs_is_shown_and_the_bar_waits_for_it(plugin_manager, serve_api, page, monkeypatch, shot):
    sys.path.insert(0, str(HELPERS))
    try:
        import slow_stage_plugin
    finally:
        sys.path.remove(str(HELPERS))
    monkeypatch.setenv("PYTHONPATH", f"{HELPERS}:{__import__('os').environ.get('PYTHONPATH', '')}".rstrip(":"))
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing,slow_stage_plugin")
    plugin_manager.register(slow_stage_plugin, name="slow_stage_plugin")
    live = serve_api()
    run_id = live.client.post("/api/runs", json={
        **TINY_RUN, "model": "ae", "epochs": 2, "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16},
        "artifacts": ["recon_grid", "slow-stage"], "artifact_options": {"slow-stage": {"seconds": 4}}}).json()["summary"]["run_id"]
    page.goto(f"{live.url}/runs/{run_id}/")
    stage = page.get_by_test_id("stage")
    expect(stage).to_contain_text("epoch 1: writing artifacts: slow-stage", timeout=60_000)
    expect(stage).to_contain_text("step 4 of 4")  # two projections (2-D, 3-D), recon_grid, then the slow one
    # the epoch is trained but not done: the counter and the bar wait for its artifacts
    expect(page.get_by_test_id("epochs-done")).to_have_text("0/2 epochs")
    assert page.get_by_test_id("epoch-list").locator("tbody tr").count() == 1
    shot(page, "run-stage", full_page=False)
    expect(page.get_by_test_id("epochs-done")).to_have_text("1/2 epochs", timeout=30_000)
    expect(page.get_by_test_id("status")).to_have_text("completed", timeout=60_000)
    expect(page.get_by_test_id("epochs-done")).to_have_text("2/2 epochs")
    expect(page.get_by_test_id("stage")).to_have_count(0)


def test_a_run_waiting_for_its_executor_says_why_then_starts(plugin_manager, serve_api, page):
    import threading

    sys.path.insert(0, str(HELPERS))
    try:
        from gated_executor import REASON, gated_executor
    finally:
        sys.path.remove(str(HELPERS))
    gate, started = threading.Event(), []
    plugin_manager.register(gated_executor(gate, started), name="gated_executor")
    live = serve_api()
    try:
        run_id = live.client.post("/api/runs", json={
            **TINY_RUN, "model": "ae", "epochs": 1, "executor": "gated",
            "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}}).json()["summary"]["run_id"]
        page.goto(f"{live.url}/runs/{run_id}/")
        note = page.get_by_test_id("waiting-note")
        expect(note).to_contain_text(re.compile(r"Waiting to start: \d+:\d\d so far"))
        expect(note).to_contain_text("usually takes about 3 s")
        expect(note).to_contain_text(re.compile(r"Waiting to start: 0:(0[4-9]|[1-5]\d) so far.*longer while the machine is busy"),
                                     timeout=20_000)  # the clock ticks past the estimate
        expect(note).to_contain_text(REASON)
        expect(note).to_contain_text("after 120 s at the latest")
        expect(page.get_by_test_id("status")).to_have_text("created")
        gate.set()
        expect(page.get_by_test_id("status")).to_have_text("completed", timeout=120_000)
        expect(note).to_have_count(0)
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


def test_a_queued_run_shows_its_place_in_the_queue_live(plugin_manager, serve_api, page):
    sys.path.insert(0, str(HELPERS))
    try:
        from sleeper_executor import finish, sleeper_executor
    finally:
        sys.path.remove(str(HELPERS))
    started: list = []
    plugin_manager.register(sleeper_executor(started), name="sleeper_executor")
    live = serve_api(max_concurrent_runs=1)
    try:
        body = {**TINY_RUN, "model": "ae", "epochs": 1, "executor": "sleeper",
                "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}}
        first, second, third = (live.client.post("/api/runs", json=body).json()["summary"]["run_id"] for _ in range(3))
        page.goto(f"{live.url}/runs/{third}/")
        note = page.get_by_test_id("waiting-note")
        expect(note).to_contain_text("Queued: position 2 of 2")
        expect(note).to_contain_text("At most 1 run train at once")
        expect(page.get_by_test_id("stage")).to_have_text("queued: position 2 of 2")
        expect(page.get_by_test_id("status")).to_have_text("created")
        finish(live.store, first)  # the second run takes the slot; the third moves up, live
        expect(note).to_contain_text("Queued: position 1 of 1", timeout=20_000)
        expect(note).to_contain_text("It is next")

        page.goto(f"{live.url}/runs/")
        row = page.locator(f"tr[data-run-id='{third}']")
        expect(row.get_by_test_id("queue-position")).to_have_text("queued: position 1 of 1")
        expect(page.locator(f"tr[data-run-id='{second}']").get_by_test_id("queue-position")).to_have_count(0)

        assert live.client.post(f"/api/runs/{third}/cancel").json()["summary"]["status"] == "cancelled"
        page.goto(f"{live.url}/runs/{third}/")
        expect(page.get_by_test_id("status")).to_have_text("cancelled")
        expect(note).to_have_count(0)
        assert [run_id for run_id, _ in started] == [first, second]  # the cancelled one never started
    finally:
        for _, proc in started:
            proc.kill()
            proc.wait()
