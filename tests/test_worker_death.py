"""Workers that die: killed under a running server, or orphaned while no server ran."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import subprocess
import time

from latentdeck import launch
from latentdeck.api import create_app
from latentdeck.store.events import EventLog, read_events
from latentdeck.testing import run_async
from latentdeck.store.runs import RunStore, read_summary, read_worker_info, update_summary, write_worker_info


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_killed_worker_is_marked_failed_and_keeps_its_files(serve_api, tiny_config, runs_dir, sse, waiter):
    live = serve_api(monitor_s=0.2)
    created = live.client.post("/api/runs", json={**tiny_config, "epochs": 200})
    assert created.status_code == 201, created.text
    run_id = created.json()["summary"]["run_id"]
    run_dir = runs_dir / run_id
    events_path = run_dir / "events.jsonl"
    # epoch 1 is complete once every generator has written its files and the summary counts it
    waiter(lambda: read_summary(run_dir).get("epochs_completed", 0) >= 1, timeout=180, what="the first epoch's artifacts")
    kept = ["checkpoints/epoch_1.pt", "checkpoints/epoch_1.json", "reconstructions/recon_grid_epoch_1.png"]
    before = {name: digest(run_dir / name) for name in kept}
    pid = int(json.loads((run_dir / "worker.json").read_text())["pid"])
    assert live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"] == "running"

    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    summary = waiter(lambda: (s := live.client.get(f"/api/runs/{run_id}").json()["summary"])["status"] != "running"
                     and s, timeout=10, what="the server to notice the dead worker")
    noticed = time.monotonic() - killed_at
    assert summary["status"] == "failed" and summary["reason"] == "worker_died", summary
    assert summary["epochs_completed"] >= 1 and summary["ended_at"]
    assert noticed < 3, f"took {noticed:.1f}s to notice"

    events = list(read_events(events_path))
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["type"] == "run.failed" and events[-1]["data"]["reason"] == "worker_died"
    stream = sse.read(live.client, f"/api/runs/{run_id}/events", max_s=10)
    assert stream.closed_by_server and stream.events[-1]["type"] == "run.failed"

    assert {name: digest(run_dir / name) for name in kept} == before
    png = live.client.get(f"/api/runs/{run_id}/artifacts/reconstructions/recon_grid_epoch_1.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    import torch

    state = torch.load(run_dir / "checkpoints" / "epoch_1.pt", weights_only=True)
    assert state  # the checkpoint written before the kill still loads safely


def _dead_pid() -> int:
    proc = subprocess.Popen(["sleep", "0"])
    proc.wait()
    return proc.pid


def test_runs_orphaned_while_the_server_was_down_fail_as_interrupted(plugin_manager, runs_dir, tiny_config):
    """Running runs whose worker is gone fail; a created run that never got a worker goes back into the
    run queue (a previous server left it queued), behind the runs still training."""
    store = RunStore(runs_dir)

    def make(status: str, pid: int | None) -> str:
        stored = launch.prepare_run(plugin_manager, tiny_config)
        store.create(stored)
        run_dir = store.root / stored["run_id"]
        if status != "created":
            update_summary(run_dir, status="running", started_at=time.time())
            with EventLog(run_dir / "events.jsonl", stored["run_id"]) as log:
                log.emit("run.started", {})
                if status == "completed":
                    log.emit("run.completed", {})
            if status == "completed":
                update_summary(run_dir, status="completed", ended_at=time.time())
        if pid is not None:
            write_worker_info(run_dir, "local", pid)
        time.sleep(0.002)  # distinct created_at
        return stored["run_id"]

    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        orphan = make("running", _dead_pid())
        never_started = make("created", None)
        finished = make("completed", _dead_pid())
        alive = make("running", sleeper.pid)
        before_finished = read_summary(store.root / finished)

        app = create_app(plugin_manager, runs_dir, monitor_s=0.05, max_concurrent_runs=1)
        queued = {}

        async def start_and_stop():
            async with app.router.lifespan_context(app):
                await asyncio.sleep(0.3)  # a few monitor passes too
                queued.update(app.state.deferred.queue_position(never_started) or {})

        run_async(start_and_stop)

        assert queued == {"queue_position": 1, "queue_length": 1}  # `alive` holds the only slot
        assert read_summary(store.root / never_started)["status"] == "created"
        assert read_worker_info(store.root / never_started) is None  # still queued on disk for the next server
        for run_id in (orphan,):
            summary = read_summary(store.root / run_id)
            assert summary["status"] == "failed" and summary["reason"] == "interrupted", summary
            events = list(read_events(store.root / run_id / "events.jsonl"))
            assert events[-1]["type"] == "run.failed" and events[-1]["data"]["reason"] == "interrupted"
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        assert read_summary(store.root / finished) == before_finished
        assert read_summary(store.root / alive)["status"] == "running"
    finally:
        sleeper.kill()
        sleeper.wait()
