"""The run queue: at most N runs of a queued executor (the local one) train at once; the rest wait
``created`` in creation order with their place in the API and their log, a cancel ends a queued run
at once, and a restarted server resumes the queue."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from latentdeck.api import create_app
from latentdeck.store.events import read_events
from latentdeck.store.runs import read_summary, read_worker_info

sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e" / "helpers"))
from sleeper_executor import finish, sleeper_executor  # noqa: E402

sys.path.pop(0)


def queue_events(run_dir):
    return [e["data"] for e in read_events(run_dir / "events.jsonl")
            if e["type"] == "run.stage" and e["data"].get("queue_position") is not None]


@pytest.fixture
def sleeper(plugin_manager):
    started: list = []
    plugin_manager.register(sleeper_executor(started), name="sleeper_executor")
    yield started
    for _, proc in started:
        proc.kill()
        proc.wait()


def test_the_cap_holds_runs_in_order_with_their_place_in_the_api(sleeper, serve_api, tiny_config, waiter):
    live = serve_api(max_concurrent_runs=2)
    body = {**tiny_config, "executor": "sleeper"}
    runs = [live.client.post("/api/runs", json=body).json()["summary"] for _ in range(5)]
    ids = [r["run_id"] for r in runs]
    assert [name for name, _ in sleeper] == ids[:2]  # two start at once, three wait
    assert [r.get("queue_position") for r in runs] == [None, None, 1, 2, 3]
    listed = {s["run_id"]: s for s in live.client.get("/api/runs").json()}
    assert [(listed[i]["queue_position"], listed[i]["queue_length"]) for i in ids] == [
        (None, None), (None, None), (1, 3), (2, 3), (3, 3)]
    detail = live.client.get(f"/api/runs/{ids[4]}").json()["summary"]
    assert detail["status"] == "created" and detail["queue_position"] == 3 and detail["queue_length"] == 3
    assert queue_events(live.store.run_dir(ids[4]))[-1]["text"].startswith("queued: position 3 of 3")

    for done in range(5):  # end the oldest training run; the next queued one takes its slot
        finish(live.store, ids[done])
        expected = min(done + 3, 5)
        waiter(lambda: len(sleeper) == expected, timeout=10, what=f"{expected} runs started")
        time.sleep(0.3)
        training = [name for name, _ in sleeper if read_summary(live.store.run_dir(name))["status"] in ("created", "running")]
        assert len(training) <= 2, training
    assert [name for name, _ in sleeper] == ids  # started in creation order
    # the last one moved up 3, 2, 1 as the runs ahead of it started, each announced live
    assert [(e["queue_position"], e["queue_length"]) for e in queue_events(live.store.run_dir(ids[4]))] == [
        (3, 3), (2, 2), (1, 1)]
    assert live.client.get(f"/api/runs/{ids[4]}").json()["summary"].get("queue_position") is None


def test_a_cancelled_queued_run_ends_at_once_and_never_starts(sleeper, serve_api, tiny_config, waiter):
    live = serve_api(max_concurrent_runs=1)
    body = {**tiny_config, "executor": "sleeper"}
    first, second, third = (live.client.post("/api/runs", json=body).json()["summary"]["run_id"] for _ in range(3))
    response = live.client.post(f"/api/runs/{second}/cancel")
    assert response.status_code == 202, response.text
    summary = response.json()["summary"]
    assert summary["status"] == "cancelled" and summary["reason"] == "cancel requested before start"
    events = list(read_events(live.store.run_dir(second) / "events.jsonl"))
    assert events[-1]["type"] == "run.cancelled" and events[-1]["data"]["at"] == "before start"
    waiter(lambda: live.client.get(f"/api/runs/{third}").json()["summary"].get("queue_position") == 1,
           timeout=10, what="the run behind it to move up")
    assert live.client.get(f"/api/runs/{third}").json()["summary"]["queue_length"] == 1
    finish(live.store, first)
    waiter(lambda: len(sleeper) == 2, timeout=10, what="the next run to start")
    time.sleep(0.5)
    assert [name for name, _ in sleeper] == [first, third]  # the cancelled one never started
    assert read_worker_info(live.store.run_dir(second)) is None
    assert read_summary(live.store.run_dir(second))["status"] == "cancelled"


def test_a_restarted_server_resumes_its_queue_in_order(sleeper, plugin_manager, serve_api, tiny_config, waiter):
    live = serve_api(max_concurrent_runs=1)
    body = {**tiny_config, "executor": "sleeper"}
    ids = [live.client.post("/api/runs", json=body).json()["summary"]["run_id"] for _ in range(3)]
    live.stop()
    assert [name for name, _ in sleeper] == ids[:1]
    for run_id in ids[1:]:  # left on disk as they were: created, no worker
        assert read_summary(live.store.run_dir(run_id))["status"] == "created"
        assert read_worker_info(live.store.run_dir(run_id)) is None

    again = serve_api(max_concurrent_runs=1)  # the first run still trains: it holds the only slot
    time.sleep(0.5)
    assert len(sleeper) == 1
    assert again.client.get(f"/api/runs/{ids[2]}").json()["summary"]["queue_position"] == 2
    finish(again.store, ids[0])
    waiter(lambda: len(sleeper) == 2, timeout=10, what="the first queued run to start")
    finish(again.store, ids[1])
    waiter(lambda: len(sleeper) == 3, timeout=10, what="the second queued run to start")
    assert [name for name, _ in sleeper] == ids


def test_the_local_executor_queues_real_runs(plugin_manager, serve_api, tiny_config, waiter):
    live = serve_api(max_concurrent_runs=1)
    body = {**tiny_config, "epochs": 1}
    first, second = (live.client.post("/api/runs", json=body).json()["summary"]["run_id"] for _ in range(2))
    assert live.client.get(f"/api/runs/{second}").json()["summary"]["queue_position"] == 1
    for run_id in (first, second):
        waiter(lambda: read_summary(live.store.run_dir(run_id))["status"] == "completed", timeout=180,
               what=f"run {run_id} to complete")
    a, b = (read_summary(live.store.run_dir(r)) for r in (first, second))
    assert b["started_at"] >= a["ended_at"], (a, b)  # one at a time, in order


@pytest.mark.parametrize("cap", [0, -1, 1.5, "two", True])
def test_a_cap_below_one_is_refused_with_a_clear_error(plugin_manager, runs_dir, cap):
    with pytest.raises(ValueError, match="max_concurrent_runs must be a whole number of runs, at least 1"):
        create_app(plugin_manager, runs_dir, max_concurrent_runs=cap)


def test_serve_refuses_a_bad_cap(runs_dir):
    done = subprocess.run([sys.executable, "-m", "latentdeck.cli", "serve", "--runs-dir", str(runs_dir),
                           "--max-concurrent-runs", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done
    assert "--max-concurrent-runs must be a whole number of runs, at least 1 (got '0')" in done.stderr
