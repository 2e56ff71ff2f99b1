"""The web UI in a real browser against a real server: launch from `/`, watch epochs arrive live,
cancel, reload; open a finished run cold; forced SSE reconnects and a server restart lose and
duplicate nothing; bad ids and missing artifacts are explained on the page."""

from __future__ import annotations

import re
import socket
import time

import pytest
from playwright.sync_api import expect

from latentdeck.api import create_app

pytestmark = pytest.mark.slow

FAST_MODEL = {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}


def run_config(tiny_config, epochs: int) -> dict:
    return {**tiny_config, "epochs": epochs, "model_options": FAST_MODEL}


def epochs_listed(page) -> list[int]:
    return [int(x) for x in page.locator("[data-testid=epoch-list] tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.epoch)")]


def events_counter(page) -> tuple[int, int]:
    text = page.get_by_test_id("events-seen").inner_text()
    seen, last = re.search(r"\((\d+) received, last seq (\d+)\)", text).groups()
    return int(seen), int(last)


def event_count(live, run_id: str) -> int:
    return sum(1 for line in (live.store.run_dir(run_id) / "events.jsonl").read_text().splitlines() if line.strip())


def wait_status(live, run_id: str, statuses: tuple[str, ...], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"]
        if status in statuses:
            return status
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not reach {statuses} in {timeout}s (last: {status})")


def test_launch_from_the_form_watch_live_cancel_and_reload(serve_api, page, shot):
    live = serve_api()
    page.goto(live.url + "/")
    expect(page.get_by_test_id("dataset-note")).to_contain_text("works offline")
    page.select_option("#f-dataset", "tiny-digits")
    page.locator("summary").click()  # the advanced options
    for field, value in {"epochs": "0", "batch_size": "64", "model_options-latent_dim": "4", "model_options-channels": "8, 8",
                         "model_options-head_hidden": "16", "projections": "first-dims", "viz_subset_size": "32",
                         "num_threads": "1"}.items():
        page.fill(f"#f-{field}", value)
    page.get_by_test_id("launch").click()
    # the API's 422 is shown next to the field, and nothing was started
    expect(page.get_by_test_id("error-epochs")).to_contain_text("greater than or equal to 1")
    assert live.client.get("/api/runs").json() == []
    page.fill("#f-epochs", "40")
    datasets = {d["name"]: d for d in live.client.get("/api/components").json()["datasets"]}
    if not datasets["mnist"]["availability"]["ok"]:  # an unavailable dataset says why, and what works instead
        page.select_option("#f-dataset", "mnist")
        expect(page.get_by_test_id("dataset-unavailable")).to_contain_text("mnist-5k")
    page.select_option("#f-dataset", "tiny-digits")
    shot(page, "launch")
    page.get_by_test_id("launch").click()

    page.wait_for_url(re.compile(r"/runs/[^/]+/$"))
    run_id = page.url.rstrip("/").rsplit("/", 1)[1]
    expect(page.get_by_test_id("run-title")).to_have_text(run_id)
    page.wait_for_function("document.querySelectorAll('[data-testid=epoch-list] tbody tr').length >= 2", timeout=120_000)
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("chart-loss")).to_be_visible()
    shot(page, "run-live")

    page.get_by_test_id("cancel-run").click()
    page.get_by_test_id("cancel-run-confirm").click()
    expect(page.get_by_test_id("status")).to_have_text("cancelled", timeout=60_000)
    expect(page.get_by_test_id("end-note")).to_contain_text("Cancelled")
    final = epochs_listed(page)
    summary = live.client.get(f"/api/runs/{run_id}").json()["summary"]
    assert summary["status"] == "cancelled" and final == list(range(summary["epochs_completed"], 0, -1))
    page.wait_for_function(f"document.querySelector('[data-testid=events-seen]').textContent.includes('last seq {event_count(live, run_id)})')")

    page.reload()
    expect(page.get_by_test_id("status")).to_have_text("cancelled")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "replay")
    page.wait_for_function(f"document.querySelectorAll('[data-testid=epoch-list] tbody tr').length === {len(final)}")
    assert epochs_listed(page) == final
    n = event_count(live, run_id)
    page.wait_for_function(f"document.querySelector('[data-testid=events-seen]').textContent.includes('({n} received, last seq {n})')")


def test_a_finished_run_opens_cold_and_problems_are_explained(serve_api, page, shot, tiny_config):
    live = serve_api()
    run_id = live.client.post("/api/runs", json={**run_config(tiny_config, 4), "name": "tiny ae"}).json()["summary"]["run_id"]
    wait_status(live, run_id, ("completed",))
    n = event_count(live, run_id)

    page.goto(f"{live.url}/runs/{run_id}/")  # a deep link, loaded cold
    expect(page.get_by_test_id("status")).to_have_text("completed")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "replay")
    page.wait_for_function("document.querySelectorAll('[data-testid=epoch-list] tbody tr').length === 4")
    assert epochs_listed(page) == [4, 3, 2, 1]
    expect(page.locator("[data-testid=chart-loss] path").first).to_be_visible()
    expect(page.get_by_test_id("recon-epoch")).to_have_text("epoch 4 (latest)")
    page.wait_for_function("(() => { const i = document.querySelector('[data-testid=recon] img'); return i && i.complete && i.naturalWidth > 0 })()")
    page.wait_for_function(f"document.querySelector('[data-testid=events-seen]').textContent.includes('({n} received, last seq {n})')")
    shot(page, "run-finished")
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    shot(page, "run-finished-dark")
    page.evaluate("document.documentElement.dataset.theme = 'light'")

    # an artifact that fails to load is explained, and the other epochs still show
    (live.store.run_dir(run_id) / "reconstructions" / "recon_grid_epoch_2.png").unlink()
    page.get_by_test_id("recon-scrubber").fill("1")
    expect(page.get_by_test_id("recon-epoch")).to_have_text("epoch 2")
    expect(page.get_by_text("The reconstruction grid of epoch 2 could not be loaded.")).to_be_visible()

    page.goto(f"{live.url}/runs/{run_id}/latent/")
    expect(page.get_by_test_id("run-title")).to_have_text("tiny ae")
    expect(page.get_by_test_id("latent-projections")).to_contain_text("first-dims 2-D")
    shot(page, "latent")

    page.goto(f"{live.url}/runs/")
    row = page.locator(f"tr[data-run-id='{run_id}']")
    expect(row).to_contain_text("4/4")
    expect(row).to_contain_text("completed")
    shot(page, "runs")
    page.select_option("[data-testid=filter-status]", "failed")
    expect(page.get_by_text("No run matches these filters.")).to_be_visible()
    page.select_option("[data-testid=filter-status]", "")
    row.get_by_test_id("delete").click()
    row.get_by_test_id("delete-confirm").click()
    expect(page.get_by_text("No runs yet.")).to_be_visible()

    page.goto(f"{live.url}/runs/{run_id}/")  # now deleted: explained, not a blank page
    expect(page.locator(".callout.error")).to_contain_text(f"There is no run “{run_id}”")
    shot(page, "run-not-found", full_page=False)

    page.goto(f"{live.url}/plugins/")
    expect(page.locator("[data-plugin='latentdeck.ae']")).to_contain_text("built-in")
    expect(page.locator("[data-plugin='latentdeck.ae']")).to_contain_text("register_models")
    shot(page, "plugins")


def test_forced_reconnects_lose_and_duplicate_nothing(serve_api, page, tiny_config):
    live = serve_api(max_stream_s=0.7)  # every stream ends after 0.7 s; EventSource resumes with Last-Event-ID
    run_id = live.client.post("/api/runs", json=run_config(tiny_config, 8)).json()["summary"]["run_id"]
    page.goto(f"{live.url}/runs/{run_id}/")
    expect(page.get_by_test_id("status")).to_have_text("completed", timeout=180_000)
    page.wait_for_function("document.querySelectorAll('[data-testid=epoch-list] tbody tr').length === 8")
    assert epochs_listed(page) == list(range(8, 0, -1))
    n = event_count(live, run_id)
    page.wait_for_function(f"document.querySelector('[data-testid=events-seen]').textContent.includes('({n} received, last seq {n})')")


def _listen_on(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def test_server_restart_mid_run_shows_reconnecting_and_resumes(serve_api, plugin_manager, runs_dir, page, tiny_config):
    import threading

    import uvicorn

    from latentdeck.api.server import Server

    first = serve_api()
    port = int(first.url.rsplit(":", 1)[1])
    run_id = first.client.post("/api/runs", json=run_config(tiny_config, 14)).json()["summary"]["run_id"]
    page.goto(f"{first.url}/runs/{run_id}/")
    page.wait_for_function("document.querySelectorAll('[data-testid=epoch-list] tbody tr').length >= 1", timeout=120_000)
    first.stop()  # the worker goes on training; the page loses its stream
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", "reconnecting")
    time.sleep(1.5)

    app = create_app(plugin_manager, runs_dir, monitor_s=0.2)
    server = Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1), app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [_listen_on(port)]}, daemon=True)
    thread.start()
    try:
        expect(page.get_by_test_id("status")).to_have_text("completed", timeout=180_000)
        page.wait_for_function("document.querySelectorAll('[data-testid=epoch-list] tbody tr').length === 14")
        assert epochs_listed(page) == list(range(14, 0, -1))
        n = sum(1 for line in (runs_dir / run_id / "events.jsonl").read_text().splitlines() if line.strip())
        page.wait_for_function(f"document.querySelector('[data-testid=events-seen]').textContent.includes('({n} received, last seq {n})')")
    finally:
        server.should_exit = True
        thread.join(15)
