"""The artifact pipeline killed mid-artifact (issue 24, item 3): training goes on, the epoch's missing artifacts are
reported, nothing is half-written, and a backfill writes them.

The pipeline process (:mod:`latentdeck.engine.pipeline_worker`) is SIGKILLed while the hidden temporary file of a
large artifact (``battery_pipelineplugin``'s ``bulky``, about 30 MB of JSON) exists, i.e. in the middle of its
atomic write.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

from latentdeck.engine.backfill import backfill
from latentdeck.engine.training import execute_run
from latentdeck.launch import prepare_run
from latentdeck.store.events import read_events
from latentdeck.store.runs import RunStore, read_summary


def pipeline_pids() -> list[int]:
    """This process's pipeline children (from /proc: no extra package)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        parent = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:")), None)
        if parent == os.getpid() and b"latentdeck.engine.pipeline_worker" in command:
            found.append(int(entry.name))
    return found


def test_a_pipeline_killed_mid_artifact_leaves_nothing_half_written_and_fails_no_training(
        plugin_manager_with, runs_dir, tiny_config):
    import battery_pipelineplugin

    pm = plugin_manager_with(battery_pipelineplugin)
    stored = prepare_run(pm, {**tiny_config, "epochs": 3, "artifacts": ["bulky", "recon_grid"],
                              "artifact_pipeline": "process"})
    RunStore(runs_dir).create(stored)
    run_dir = RunStore(runs_dir).run_dir(stored["run_id"])
    ended: list[str] = []
    training = threading.Thread(target=lambda: ended.append(execute_run(run_dir, pm=pm)))
    training.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and training.is_alive():
        partial = list((run_dir / "bulky").glob(".bulky_epoch_1.json.*.tmp")) if (run_dir / "bulky").is_dir() else []
        if partial:
            (pid,) = pipeline_pids()
            os.kill(pid, signal.SIGKILL)
            killed = (pid, partial[0].name, partial[0].stat().st_size)
        time.sleep(0.002)
    training.join(120)
    assert killed is not None, "the bulky artifact's temporary file never showed up"
    assert ended == ["completed"], ended
    events = list(read_events(run_dir / "events.jsonl"))
    failed = [e["data"] for e in events if e["type"] == "artifact.failed"]
    assert [(f["generator"], f["epoch"], f["reason"]) for f in failed] == [("pipeline", 1, "pipeline_ended")], failed
    assert "backfill" in failed[0]["error"] and failed[0]["exit_code"] == -signal.SIGKILL
    done = {e["data"]["epoch"]: e["data"] for e in events if e["type"] == "run.stage"
            and e["data"].get("stage") == "epoch_done"}
    assert sorted(done) == [1, 2, 3] and "ended" in done[1]["artifacts_stopped"]
    assert "artifacts_stopped" not in done[2] and "artifacts_stopped" not in done[3]
    # nothing half-written: no temporary file, no epoch-1 bulky file; the later epochs' files are whole
    leftovers = [p.relative_to(run_dir).as_posix() for p in run_dir.rglob(".*") if p.name.endswith(".tmp")]
    assert not leftovers, (killed, leftovers)
    assert not (run_dir / "bulky" / "bulky_epoch_1.json").exists()
    assert not (run_dir / ".pipeline").exists()
    for epoch in (2, 3):
        payload = json.loads((run_dir / "bulky" / f"bulky_epoch_{epoch}.json").read_text())
        assert payload["epoch"] == epoch and len(payload["numbers"]) == payload["count"]
    assert read_summary(run_dir)["epochs_completed"] == 3
    assert events[-1]["type"] == "run.completed"
    # a backfill writes what the killed pipeline did not
    result = backfill(run_dir, pm=pm, epochs=[1])
    assert "bulky/bulky_epoch_1.json" in result["written"], result
    payload = json.loads((run_dir / "bulky" / "bulky_epoch_1.json").read_text())
    assert payload["epoch"] == 1 and len(payload["numbers"]) == payload["count"]
