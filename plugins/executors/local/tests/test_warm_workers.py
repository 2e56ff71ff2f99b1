"""Warm workers: forked from the fork server that paid umap-learn's JIT (latentdeck_local.warmup).

The fork server is one per process (multiprocessing's), so these tests share it. When nothing has
started it yet, ``warm_fork_server`` warms it with ``LATENTDECK_WARMUP=import`` (imports only, a few
seconds); the suite's other servers start no warm-up (the root conftest sets ``LATENTDECK_WARMUP=off``),
and if one did, this waits for it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
import types

import pytest

from latentdeck.testing import run_async

from latentdeck import ExecutorSpec, hookimpl
from latentdeck_local import warmup
from latentdeck.launch import prepare_run, reap_dead_workers
from latentdeck.kit.procs import pid_alive
from latentdeck.store.runs import RunStore, read_summary
from latentdeck.worker import RUNNER
from latentdeck_local import plugin as local


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return value


def stat_field(pid: int, index: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        return handle.read().rsplit(b")", 1)[1].split()[index - 3].decode()


def projection_warm_ups() -> dict:
    """The installed projections' warm-ups by name, as the server passes them to ``capacity``."""
    from latentdeck.registry import collect, get_plugin_manager

    return {name: spec.warm_up for name, spec in collect(get_plugin_manager(), "projections").items()
            if spec.warm_up is not None}


@pytest.fixture(scope="module")
def warm_fork_server():
    if local._warm.phase == "cold":
        previous = os.environ.get("LATENTDECK_WARMUP")
        os.environ["LATENTDECK_WARMUP"] = "import"
        try:
            local.warm_up(warm_ups=projection_warm_ups())
        finally:
            if previous is None:
                os.environ.pop("LATENTDECK_WARMUP", None)
            else:
                os.environ["LATENTDECK_WARMUP"] = previous
    phase = local.warm_up(timeout=240)
    assert phase == "warm", local.warm_state()
    return local.warm_state()


@pytest.fixture
def new_run(plugin_manager, runs_dir, tiny_config):
    """``new_run(**overrides) -> (store, run_dir)``; kills what it started if a test fails."""
    store = RunStore(runs_dir)
    started: list[int] = []

    def make(**overrides):
        stored = prepare_run(plugin_manager, {**tiny_config, "epochs": 1, **overrides})
        store.create(stored)
        return store, store.run_dir(stored["run_id"])

    def start(run_dir):
        info = local.start(run_dir, RUNNER)
        started.append(info["pid"])
        return info

    make.start = start
    make.started_pids = started
    make.store = store
    make.config = {**tiny_config, "epochs": 1}
    yield make
    for pid in started:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        local.wait(pid, 10)


def test_the_fork_server_is_warm_and_torch_free(warm_fork_server):
    status = warm_fork_server["status"]
    assert status["ok"] and status["threading_layer"] == "workqueue"
    assert status["torch_imported"] is False  # torch is imported in the forked workers only
    assert status["mode"] in ("import", "full")
    assert "umap" in status["warmed"]  # declared by the umap projection (ProjectionSpec.warm_up), run here


def test_a_warm_started_worker_completes_a_run(warm_fork_server, new_run):
    store, run_dir = new_run()
    info = new_run.start(run_dir)
    pid = info["pid"]
    assert info["start"] == local.START_WARM and info["log"] == "worker.log" and pid != os.getpid()
    assert int(stat_field(pid, 4)) == warm_fork_server["status"]["pid"]  # a child of the fork server
    assert local.is_alive(info)
    expected_nice = os.nice(0) + int(os.environ.get("LATENTDECK_WORKER_NICE", "5"))
    # its own session (as start_new_session gives a fresh worker), then the same priority as one
    wait_until(lambda: int(stat_field(pid, 6)) == pid, 10, "the worker's own session")
    wait_until(lambda: "run.started" in (run_dir / "events.jsonl").read_text(), 60, "the run to start")
    assert int(stat_field(pid, 19)) == expected_nice

    assert local.wait(pid, 120) == 0
    assert not local.is_alive(info) and pid not in local._children
    summary = read_summary(run_dir)
    log = (run_dir / "worker.log").read_text()
    assert summary["status"] == "completed", log
    assert (run_dir / "checkpoints" / "latest.pt").is_file()
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 5, "the fork server to reap the worker (no zombie)")


def test_a_failing_warm_worker_writes_its_traceback_to_its_log_and_exits_1(warm_fork_server, new_run):
    _, run_dir = new_run()
    (run_dir / "config.json").write_text("{not json")
    info = new_run.start(run_dir)
    assert info["start"] == local.START_WARM
    assert local.wait(info["pid"], 60) == 1  # python -m latentdeck.worker's exit code for a failure
    assert "JSONDecodeError" in (run_dir / "worker.log").read_text()


def test_a_sigkilled_warm_worker_is_detected_and_cancel_still_works(warm_fork_server, new_run, plugin_manager):
    from latentdeck.launch import start_run, worker_alive
    from latentdeck.store.runs import read_worker_info

    store = new_run.store
    stored = prepare_run(plugin_manager, {**new_run.config, "epochs": 300})
    start_run(store, plugin_manager, stored)  # as the API does: worker.json with pid and proc_start
    doomed = store.run_dir(stored["run_id"])
    info = read_worker_info(doomed)
    new_run.started_pids.append(info["pid"])
    _, cancelled = new_run(epochs=300)
    cancel_info = new_run.start(cancelled)
    assert info["start"] == cancel_info["start"] == local.START_WARM and info["proc_start"] is not None
    wait_until(lambda: read_summary(doomed)["status"] == "running" and read_summary(cancelled)["status"] == "running",
               60, "both runs to start training")

    os.kill(info["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    wait_until(lambda: worker_alive(plugin_manager, doomed) is False, 3, "the SIGKILLed worker to count as dead")
    assert reap_dead_workers(store, plugin_manager, "worker_died") == [stored["run_id"]]
    assert time.monotonic() - killed_at < 3
    summary = read_summary(doomed)
    assert summary["status"] == "failed" and summary["reason"] == "worker_died"
    assert info["pid"] not in local._children  # is_alive released its handle

    (cancelled / "cancel_requested").write_text("test")
    assert local.wait(cancel_info["pid"], 60) == 0  # cancelled runs exit 0, like fresh workers
    assert read_summary(cancelled)["status"] == "cancelled"
    wait_until(lambda: not os.path.exists(f"/proc/{info['pid']}"), 5, "the killed worker to be reaped (no zombie)")


def test_runs_started_before_the_warm_up_ends_start_at_once_as_fresh_processes(new_run, monkeypatch):
    monkeypatch.setattr(local._warm, "phase", "warming")
    monkeypatch.setattr(local._warm, "reason", "the warm-up is still running")
    _, run_dir = new_run()
    started = time.monotonic()
    info = new_run.start(run_dir)
    assert time.monotonic() - started < 2  # never waits for the warm-up
    assert info["start"] == local.START_SUBPROCESS and "still running" in info["start_note"]
    assert int(stat_field(info["pid"], 4)) == os.getpid()
    assert local.wait(info["pid"], 120) == 0
    assert read_summary(run_dir)["status"] == "completed", (run_dir / "worker.log").read_text()


def _fresh_state(monkeypatch) -> None:
    monkeypatch.setattr(local, "_warm", local._Warm())


def test_no_declared_warm_up_means_plain_workers(monkeypatch, caplog):
    _fresh_state(monkeypatch)
    monkeypatch.delenv("LATENTDECK_WARMUP", raising=False)
    monkeypatch.setattr(local.log, "disabled", False)  # an earlier test's logging.config (import-linter's) may disable it
    with caplog.at_level("INFO", logger=local.log.name):
        assert local.warm_up(warm_ups={}) == "failed"
    assert "no installed projection declares a warm-up" in local.warm_state()["reason"]
    assert "no installed projection declares a warm-up" in caplog.text
    assert local.warm_up() == "failed"  # idempotent
    assert local.capacity() == {"slots": None, "reason": None, "expected_s": None}  # runs start at once


def test_warm_up_off(monkeypatch):
    _fresh_state(monkeypatch)
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")
    assert local.warm_up() == "off" and local.warm_state()["reason"] == "LATENTDECK_WARMUP=off"


def test_a_failing_warm_up_is_reported_not_raised(monkeypatch):
    monkeypatch.setenv("NUMBA_THREADING_LAYER", "omp")  # restored afterwards; warm() replaces it
    monkeypatch.setitem(sys.modules, "numba", None)  # the first import raises
    monkeypatch.setattr(warmup, "STATUS", {"ok": False, "mode": None, "seconds": None})
    status = warmup.warm("full", projection_warm_ups())
    assert status["ok"] is False and "import of numba halted" in status["error"]
    assert os.environ["NUMBA_THREADING_LAYER"] == "workqueue" and "replaced" in status["note"]


def test_the_server_asks_capacities_with_the_projections_warm_ups_in_the_background(runs_dir, monkeypatch):
    from latentdeck import ProjectionSpec
    from latentdeck.api import create_app
    from latentdeck.registry import make_plugin_manager

    release, called, given = threading.Event(), threading.Event(), {}

    def slow_capacity(warm_ups=None):
        given.update(warm_ups or {})
        called.set()
        release.wait(30)
        return {"slots": None}

    def compile_once():
        pass

    monkeypatch.setenv("LATENTDECK_WARMUP", "full")  # this server warms (its executor's capacity is a stub)
    plugin = types.ModuleType("slow_warm_executor")
    plugin.register_executors = hookimpl(lambda: [ExecutorSpec(
        name="slow-warm", submit=lambda job: {}, poll=lambda info: {"alive": False}, capacity=slow_capacity)])
    plugin.register_projections = hookimpl(lambda: [
        ProjectionSpec("jit", fit=lambda latents, dims, seed, options, init: None, warm_up=compile_once),
        ProjectionSpec("plain", fit=lambda latents, dims, seed, options, init: None)])
    pm = make_plugin_manager(entrypoints=False, plugins=[plugin])
    app = create_app(pm, runs_dir, monitor_s=0.05)

    async def start_and_stop() -> float:
        began = time.monotonic()
        async with app.router.lifespan_context(app):
            entered = time.monotonic() - began
            await asyncio.sleep(0.1)
        return entered

    try:
        entered = run_async(start_and_stop)
        assert called.wait(5) and entered < 2  # started, and neither startup nor shutdown waited for it
        assert given == {"jit": compile_once}  # the projections that declare a warm-up, by name
    finally:
        release.set()
