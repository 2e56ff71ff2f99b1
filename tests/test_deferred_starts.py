"""A run whose executor has no slot yet (``capacity()`` gives 0: the local one while it warms up) waits as
`created`, says why, and starts once the executor has one, after the wait limit, on a cancel, or when the
server stops."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from latentdeck.store.events import read_events
from latentdeck.store.runs import read_summary, read_worker_info

sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e" / "helpers"))
from gated_executor import REASON, gated_executor  # noqa: E402

sys.path.pop(0)


def waiting_events(run_dir):
    return [e["data"] for e in read_events(run_dir / "events.jsonl")
            if e["type"] == "run.stage" and e["data"]["stage"] == "waiting"]


def test_a_run_waits_for_a_ready_executor_then_starts(plugin_manager, serve_api, tiny_config, waiter):
    gate, started = threading.Event(), []
    plugin_manager.register(gated_executor(gate, started), name="gated_executor")
    live = serve_api()
    try:
        response = live.client.post("/api/runs", json={**tiny_config, "executor": "gated", "epochs": 1})
        assert response.status_code == 201, response.text
        run_id = response.json()["summary"]["run_id"]
        run_dir = live.store.run_dir(run_id)
        time.sleep(1.0)
        assert read_summary(run_dir)["status"] == "created" and not started and read_worker_info(run_dir) is None
        (waiting,) = waiting_events(run_dir)
        assert waiting["text"] == REASON and waiting["expected_s"] == 3 and waiting["max_wait_s"] == 120
        assert live.app.state.deferred.waiting() == [run_id]
        gate.set()
        waiter(lambda: read_summary(run_dir)["status"] == "completed", timeout=120, what="the run to complete")
        assert len(started) == 1 and read_worker_info(run_dir)["executor"] == "gated"
        assert live.app.state.deferred.waiting() == []
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


def test_a_cancel_or_the_wait_limit_starts_a_waiting_run(plugin_manager, serve_api, tiny_config, waiter):
    gate, started = threading.Event(), []
    plugin_manager.register(gated_executor(gate, started), name="gated_executor")
    live = serve_api(max_start_wait_s=2.0)
    try:
        body = {**tiny_config, "executor": "gated", "epochs": 1}
        cancelled = live.client.post("/api/runs", json=body).json()["summary"]["run_id"]
        assert live.client.post(f"/api/runs/{cancelled}/cancel").status_code == 202
        waiter(lambda: read_summary(live.store.run_dir(cancelled))["status"] == "cancelled", timeout=60,
               what="the waiting run to end cancelled")
        began = time.monotonic()
        late = live.client.post("/api/runs", json=body).json()["summary"]["run_id"]
        waiter(lambda: read_worker_info(live.store.run_dir(late)), timeout=30, what="the wait limit to start it")
        assert 1.5 < time.monotonic() - began < 15 and not gate.is_set()
        waiter(lambda: read_summary(live.store.run_dir(late))["status"] == "completed", timeout=120, what="completion")
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


def test_a_stopping_server_starts_its_waiting_runs(plugin_manager, serve_api, tiny_config, waiter):
    gate, started = threading.Event(), []
    plugin_manager.register(gated_executor(gate, started), name="gated_executor")
    live = serve_api()
    try:
        run_id = live.client.post("/api/runs", json={**tiny_config, "executor": "gated", "epochs": 1}).json()["summary"]["run_id"]
        run_dir = live.store.run_dir(run_id)
        live.stop()
        assert len(started) == 1 and read_worker_info(run_dir) is not None  # not left behind without a worker
        waiter(lambda: read_summary(run_dir)["status"] == "completed", timeout=120, what="completion")
    finally:
        for proc in started:
            proc.kill()
            proc.wait()


def test_the_local_executor_has_no_slot_while_it_warms_up(monkeypatch):
    from latentdeck_local import plugin as local

    monkeypatch.setattr(local, "_warm", local._Warm())
    assert local.capacity()["slots"] is None  # cold (nothing to wait for): the server's cap
    monkeypatch.setattr(local._warm, "phase", "warming")
    monkeypatch.setattr(local._warm, "started_at", time.monotonic() - 10)
    monkeypatch.setattr(local, "_typical_warm_up_s", lambda: 40.0)
    state = local.capacity()
    assert state["slots"] == 0 and state["expected_s"] == 30 and "UMAP" in state["reason"]
    monkeypatch.setattr(local._warm, "phase", "warm")
    assert local.capacity()["slots"] is None
