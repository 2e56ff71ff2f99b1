"""The local executor: a real worker process trains a prepared run to its end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from latentdeck.store.events import read_events
from latentdeck.launch import prepare_run, start_run, worker_alive
from latentdeck.registry import collect, providers
from latentdeck.store.runs import RunStore, read_summary, read_worker_info
from latentdeck.launch.jobs import submit as submit_job
from latentdeck.worker import RUNNER
from latentdeck import Job
from latentdeck_local import plugin as local


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def prepared(plugin_manager, runs_dir, tiny_config):
    """A ``created`` run (1 epoch on tiny-digits), and a guard that kills its worker if a test fails."""
    stored = prepare_run(plugin_manager, {**tiny_config, "epochs": 1})
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    started: list[dict] = []
    yield store, run_dir, started
    for info in started:
        if local.is_alive(info):
            os.kill(info["pid"], signal.SIGKILL)
        local.wait(info["pid"], 10)


def test_registered(plugin_manager):
    spec = collect(plugin_manager, "executors")["local"]
    assert providers(plugin_manager, "executors")["local"] == "latentdeck.local"
    assert spec.submit is local.submit and spec.poll is local.poll and spec.capacity is local.capacity
    assert spec.cancel is local.cancel  # withdraws a run from the queue; a started worker stops at its cancel flag


def test_start_spawns_a_worker_that_completes_the_run(plugin_manager, prepared):
    store, run_dir, started = prepared
    executor = collect(plugin_manager, "executors")["local"]
    assert os.environ["LATENTDECK_EXTRA_PLUGINS"] == "latentdeck.testing"  # the worker needs tiny-digits

    info = submit_job(executor, Job("run", str(run_dir)))
    started.append(info)
    assert {"pid", "log", "start"} <= set(info) and info["log"] == "worker.log"
    assert info["start"] in (local.START_WARM, local.START_SUBPROCESS)  # warm once the fork server is
    assert isinstance(info["pid"], int) and info["pid"] != os.getpid()
    assert executor.poll(info) == {"alive": True}  # python + torch take seconds to start

    wait_until(lambda: not executor.poll(info)["alive"], timeout=120, what="the worker to exit")
    summary = read_summary(run_dir)
    log = (run_dir / "worker.log").read_text()
    assert summary["status"] == "completed", log
    assert summary["epochs_completed"] == 1
    kinds = [e["type"] for e in read_events(run_dir / "events.jsonl")]
    assert kinds[:2] == ["run.created", "run.started"] and kinds[-1] == "run.completed"
    assert "train.metrics" in kinds
    assert (run_dir / "worker.log").is_file()
    assert (run_dir / "checkpoints" / "latest.pt").is_file()
    assert (run_dir / "reconstructions" / "recon_grid_latest.png").is_file()
    assert info["pid"] not in local._children  # reaped: no zombie left behind
    assert executor.poll(info) == {"alive": False}


def test_start_run_records_the_worker(plugin_manager, runs_dir, tiny_config):
    store = RunStore(runs_dir)
    stored = prepare_run(plugin_manager, {**tiny_config, "epochs": 1})
    summary = start_run(store, plugin_manager, stored)
    run_dir = store.run_dir(stored["run_id"])
    info = read_worker_info(run_dir)
    try:
        assert summary["status"] == "created"
        assert info["executor"] == "local" and info["log"] == "worker.log"
        assert info["proc_start"] is not None
        assert worker_alive(plugin_manager, run_dir) is True
        wait_until(lambda: not worker_alive(plugin_manager, run_dir), timeout=120, what="the worker to exit")
        assert read_summary(run_dir)["status"] == "completed", (run_dir / "worker.log").read_text()
    finally:
        if local.is_alive(info):
            os.kill(info["pid"], signal.SIGKILL)


def test_is_alive_for_processes_it_did_not_start():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert local.is_alive({"pid": proc.pid})
        assert not local.is_alive({"pid": proc.pid, "proc_start": -1})  # a recycled pid
    finally:
        proc.kill()
        proc.wait()
    assert not local.is_alive({"pid": proc.pid})


def test_worker_failure_is_reported_in_its_log(plugin_manager, prepared):
    store, run_dir, started = prepared
    (run_dir / "config.json").write_text("{not json")  # the worker cannot even read its config
    info = local.start(run_dir, RUNNER)
    started.append(info)
    wait_until(lambda: not local.is_alive(info), timeout=60, what="the worker to exit")
    assert "JSONDecodeError" in (run_dir / "worker.log").read_text()
    assert read_summary(run_dir)["status"] == "created"  # the host's reaper marks such runs failed
