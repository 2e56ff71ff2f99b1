"""Runs training at once share the cores: each takes max(1, cores // active runs) torch threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from latentdeck.kit import threads


def test_fair_share_counts_live_runs_and_drops_dead_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTDECK_ACTIVE_DIR", str(tmp_path / "active"))
    assert threads.active_runs() == 0 and threads.fair_share(cores=4) == 4
    mine = threads.register("run-a")
    assert threads.fair_share(cores=4) == 4
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "active" / "run-b").write_text(json.dumps({"pid": other.pid, "proc_start": None}))
        assert threads.active_runs() == 2 and threads.fair_share(cores=4) == 2 and threads.fair_share(cores=3) == 1
    finally:
        other.kill()
        other.wait()
    assert threads.active_runs() == 1  # the dead process no longer counts, and its entry is gone
    assert not (tmp_path / "active" / "run-b").exists()
    (tmp_path / "active" / "junk").write_text("not json")
    assert threads.active_runs() == 1
    threads.unregister(mine)
    threads.unregister(mine)  # twice is fine
    assert threads.active_runs() == 0


def test_a_run_reports_its_threads_each_epoch(plugin_manager, runs_dir, tiny_config, monkeypatch, tmp_path):
    from latentdeck.store.events import read_events
    from latentdeck.launch import prepare_run
    from latentdeck.store.runs import RunStore
    from latentdeck.engine.training import execute_run

    monkeypatch.setenv("LATENTDECK_ACTIVE_DIR", str(tmp_path / "active"))
    blocker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "active").mkdir()
        (tmp_path / "active" / "other").write_text(json.dumps({"pid": blocker.pid}))
        stored = prepare_run(plugin_manager, {**tiny_config, "num_threads": None, "projections": [], "artifacts": []})
        store = RunStore(runs_dir)
        store.create(stored)
        assert execute_run(store.run_dir(stored["run_id"]), pm=plugin_manager) == "completed"
    finally:
        blocker.kill()
        blocker.wait()
    events = list(read_events(store.run_dir(stored["run_id"]) / "events.jsonl"))
    expected = max(1, len(os.sched_getaffinity(0)) // 2)  # two runs training: half the cores each
    assert [e["data"]["threads"] for e in events if e["type"] == "train.metrics"] == [expected, expected]
    assert not any((tmp_path / "active").glob("*run*"))  # unregistered when the run ended
