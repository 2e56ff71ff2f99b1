"""Runs each job (:class:`latentdeck.Job`) on this machine: forked from a warm fork server, or as a fresh process.

Fresh process: ``python -m latentdeck.worker RUN_DIR [--job JSON]`` (``subprocess.Popen``), a child of the
server, in a session of its own, output appended to the job's log in the run folder.

Warm fork: the server's first :func:`capacity` ask passes the installed projections' warm-ups
(``ProjectionSpec.warm_up``: umap's numba compile, ~40 s); :func:`capacity` then starts, in a background
thread, a ``multiprocessing`` forkserver whose preload module :mod:`latentdeck_local.warmup` runs them once.
Once it is warm, a ``run`` job is forked from it: its first UMAP projection then takes seconds instead of
~40 s. Until then (or when no projection declares a warm-up, the warm-up failed, ``LATENTDECK_WARMUP=off``,
or the fork server died) runs start as fresh processes. ``worker.json`` records which way: ``"start":
"forkserver-warm"`` or ``"subprocess"`` (with ``"start_note"`` saying why not warm). :func:`submit` never
waits; while the warm-up runs, :func:`capacity` gives 0 slots with the reason, and the executor's run queue
(:class:`latentdeck.kit.RunQueue`, in a server) keeps a new run waiting (``created``) until the fork server is
warm: a worker started meanwhile would train several times slower (it and the compiler compete for the cores)
and pay the compilation again at its first UMAP. The same queue holds runs beyond the server's
``--max-concurrent-runs`` in creation order (``runner.queue``: the server's settings and run store).

A ``backfill`` job is a fresh process too; a ``computation`` job runs in a thread of this process (the
server's: ``runner.here``), and :func:`poll` hands back its answer. Every way runs the worker entry the host
lends with each job (:class:`latentdeck.JobRunner`): ``runner.argv`` (fresh), ``runner.forked`` (warm fork),
``runner.here`` (a computation).

Forked workers are children of the fork server, not of the server: the fork server reaps them (no
zombies) and liveness comes from the process table (:func:`latentdeck.kit.procs.pid_alive`), which also
holds if the fork server itself is gone (its orphans are then reaped by init).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from latentdeck import ExecutorSpec, Job, JobRunner, hookimpl
from latentdeck.kit import RunQueue

log = logging.getLogger(__name__)

# Handles of the workers this process started (Popen or multiprocessing.Process), so they are reaped
# (Popen: no zombies) or their sentinels closed (forked workers, which the fork server reaps).
_children: dict[int, Any] = {}

START_WARM = "forkserver-warm"
START_SUBPROCESS = "subprocess"
PROBE_TIMEOUT_S = 600  # a warm-up that takes longer than this is given up (workers stay fresh processes)


class _Warm:
    """The fork server's state in this process (one fork server per process: multiprocessing's)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "cold"  # cold | warming | warm | failed | off
        self.reason = "the warm-up has not started"
        self.status: dict[str, Any] = {}
        self.ctx = None
        self.done = threading.Event()
        self.started_at = 0.0  # time.monotonic() when warming began
        self.warm_ups: dict[str, Any] = {}  # projection name -> its warm_up, as the server passed them


TYPICAL_WARM_UP_S = 8.0  # two idle cores, kernels cached by set-up (~70 s to compile); the last one's time is used


def _timing_file() -> Path:
    return Path.home() / ".cache" / "latentdeck" / "warmup.json"


def _typical_warm_up_s() -> float:
    try:
        return float(json.loads(_timing_file().read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return TYPICAL_WARM_UP_S


def _remember_warm_up_s(seconds: float) -> None:
    try:
        _timing_file().parent.mkdir(parents=True, exist_ok=True)
        _timing_file().write_text(json.dumps({"seconds": round(seconds, 1)}))
    except OSError:
        pass


def ready() -> dict[str, Any]:
    """Whether a worker started now runs at full speed: not while the warm-up is compiling."""
    if _warm.phase != "warming":
        return {"ready": True, "reason": None, "expected_s": None}
    left = max(5.0, _typical_warm_up_s() - (time.monotonic() - _warm.started_at))
    names = ", ".join(sorted(_warm.warm_ups)) or "the projections"
    return {"ready": False, "expected_s": round(left),
            "reason": f"The lab is warming up {names} once after it starts (e.g. loading UMAP's compiled kernels: "
                      "seconds when set-up cached them, a minute or more when they must be compiled). Waiting for it "
                      "lets this run train at full speed and compute its first map at once; it starts by itself as "
                      "soon as the warm-up ends."}


def capacity(warm_ups: dict[str, Any] | None = None) -> dict[str, Any]:
    """How many runs may train now (``ExecutorSpec.capacity``): the server's cap, or 0 while warming.

    The server's first ask passes ``warm_ups`` (projection name -> warm-up); with any, the fork server
    starts warming in a background thread (unless ``LATENTDECK_WARMUP=off``)."""
    if warm_ups is not None and _warm.phase == "cold":
        from . import warmup

        _warm.warm_ups = dict(warm_ups)
        if warmup.mode() != "off" and _begin():
            threading.Thread(target=_warm_now, name="latentdeck-warm-up", daemon=True).start()
    state = ready()
    return {"slots": None if state["ready"] else 0, "reason": state["reason"], "expected_s": state["expected_s"]}


_warm = _Warm()


def warm_state() -> dict[str, Any]:
    """``{"phase", "reason", "status"}`` of the warm fork server (for logs, tests and benchmarks)."""
    return {"phase": _warm.phase, "reason": _warm.reason, "status": dict(_warm.status)}


def _set(phase: str, reason: str, status: dict[str, Any] | None = None) -> None:
    _warm.phase, _warm.reason = phase, reason
    if status is not None:
        _warm.status = status
    if phase != "warming":
        _warm.done.set()


def _begin() -> bool:
    """Move a cold fork server to ``warming``; True for the one caller that did."""
    with _warm.lock:
        first = _warm.phase == "cold"
        if first:
            _warm.phase, _warm.reason = "warming", "the warm-up is still running"
            _warm.started_at = time.monotonic()
            _warm.done.clear()
    return first


def warm_up(timeout: float | None = None, warm_ups: dict[str, Any] | None = None) -> str:
    """Start the warm fork server and block until it is warm (or failed); returns the phase.

    ``warm_ups`` (projection name -> ``ProjectionSpec.warm_up``) replaces those the server passed before.
    Idempotent and thread-safe: a second call waits for the first one's outcome (up to ``timeout``).
    Never raises: on any problem workers simply stay fresh processes, and the reason is logged.
    """
    if warm_ups is not None:
        _warm.warm_ups = dict(warm_ups)
    if not _begin():
        _warm.done.wait(timeout)
        return _warm.phase
    return _warm_now()


def _warm_now() -> str:
    try:
        from . import warmup

        mode = warmup.mode()
        if mode == "off":
            # Not latched: this process may call warm_up again later with the knob on.
            _set("cold", "LATENTDECK_WARMUP=off")
            log.info("warm workers are off (LATENTDECK_WARMUP=off): runs start as fresh processes")
            return "off"
        if not _warm.warm_ups:
            _set("failed", "no installed projection declares a warm-up (nothing to warm)")
            log.info("no warm workers: no installed projection declares a warm-up; runs start as fresh processes")
            return _warm.phase
        import multiprocessing

        started = time.monotonic()
        os.environ[warmup.WARM_UPS_SETTING] = warmup.encode(_warm.warm_ups)  # the fork server inherits it
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["latentdeck_local.warmup"])
        receive, send = ctx.Pipe(duplex=False)
        probe = ctx.Process(target=warmup.report, args=(send,), name="latentdeck-warmup-probe")
        probe.start()  # returns once the fork server has imported (= run) its preload: the warm-up
        send.close()
        status = receive.recv() if receive.poll(PROBE_TIMEOUT_S) else {"ok": False, "error": "the probe sent nothing"}
        receive.close()
        probe.join(30)
        probe.close()
        if not status.get("ok"):
            _set("failed", f"the warm-up failed: {status.get('error')}", status)
            log.warning("no warm workers: the warm-up failed (%s); runs start as fresh processes\n%s",
                        status.get("error"), status.get("traceback", ""))
            return _warm.phase
        if status.get("torch_imported"):
            log.warning("the warm fork server imported torch; forked workers may misbehave")
        _warm.ctx = ctx
        _set("warm", "warm", status)
        if mode == "full":
            _remember_warm_up_s(time.monotonic() - started)
        log.info("warm workers ready after %.1f s (warm-up %s of %s, %.1f s in the fork server)",
                 time.monotonic() - started, status.get("mode"), ", ".join(status.get("warmed") or []) or "nothing",
                 status.get("seconds") or 0)
    except Exception as exc:  # never break training over an optimisation
        _set("failed", f"the warm-up failed: {type(exc).__name__}: {exc}")
        log.warning("no warm workers: %s: %s; runs start as fresh processes", type(exc).__name__, exc, exc_info=True)
    return _warm.phase


def _fork_server_alive() -> bool:
    from multiprocessing import forkserver

    from latentdeck.kit import pid_alive

    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)  # private, checked defensively
    return isinstance(pid, int) and pid_alive(pid)


def _start_forked(run_dir: Path, runner: JobRunner) -> dict:
    """A ``run`` job forked from the warm fork server (its child runs ``runner.forked``)."""
    from multiprocessing import process

    try:
        nice_target = os.nice(0) + int(os.environ.get("LATENTDECK_WORKER_NICE", "5"))
    except (OSError, ValueError):
        nice_target = None
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NUMBA_THREADING_LAYER": "workqueue"}
    proc = _warm.ctx.Process(target=runner.forked, args=(Job("run", str(run_dir)).to_json(), env, nice_target),
                             name=f"latentdeck-worker-{run_dir.name}")
    proc.start()
    # multiprocessing joins its non-daemon children when this process exits: a server that stops
    # must not wait for training (fresh-process workers outlive it too), so we keep the handle alone.
    process._children.discard(proc)
    _children[proc.pid] = proc
    return {"pid": proc.pid, "log": "worker.log", "start": START_WARM}


def _start_subprocess(job: Job, runner: JobRunner, note: str | None = None) -> dict:
    """``runner.argv(job)`` (``python -m latentdeck.worker RUN_DIR [--job JSON]``) as a fresh process."""
    from latentdeck.kit import open_appender

    run_dir = Path(job.run_dir)
    command = runner.argv(job)
    log_file = open_appender(run_dir, job.log_name)  # a linked or FIFO log is refused (409), never followed
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C on the server does not kill training mid-write
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        log_file.close()
    _children[proc.pid] = proc
    info = {"pid": proc.pid, "log": job.log_name, "start": START_SUBPROCESS, "kind": job.kind}
    if note:
        info["start_note"] = note
    return info


def start(run_dir: Path, runner: JobRunner) -> dict:
    """A ``run`` job: forked warm when the fork server is, else a fresh process (never waits)."""
    run_dir = Path(run_dir)
    if _warm.phase == "warm":
        if _fork_server_alive():
            try:
                return _start_forked(run_dir, runner)
            except Exception as exc:
                _set("failed", f"forking from the warm fork server failed: {type(exc).__name__}: {exc}")
                log.warning("forking a warm worker failed (%s: %s); starting a fresh process instead",
                            type(exc).__name__, exc, exc_info=True)
        else:
            _set("failed", "the warm fork server is gone")
            log.warning("the warm fork server is gone; runs start as fresh processes")
    return _start_subprocess(Job("run", str(run_dir)), runner, None if _warm.phase == "warm" else _warm.reason)


def _finished(child: Any) -> bool:
    if isinstance(child, subprocess.Popen):
        return child.poll() is not None  # reaps the zombie
    try:
        return child.exitcode is not None  # reads the fork server's report; never blocks
    except ValueError:  # closed
        return True


def _forget(pid: int) -> None:
    child = _children.pop(pid, None)
    if child is not None and not isinstance(child, subprocess.Popen):
        try:
            child.close()  # the sentinel fd
        except ValueError:
            pass


def is_alive(info: dict) -> bool:
    from latentdeck.kit import pid_alive

    pid = int(info["pid"])
    child = _children.get(pid)
    if child is not None and _finished(child):
        _forget(pid)
        if isinstance(child, subprocess.Popen):
            return False
        # a forked worker's handle also "finishes" (code 255) when the fork server dies while the
        # worker lives on under init, so the process table decides
    alive = pid_alive(pid, info.get("proc_start"))
    if not alive and child is not None and pid in _children:
        # It exited between the two checks, or its main thread has exited while its other threads
        # (torch's) still wind down: the kernel shows a zombie that waitpid cannot reap yet. Wait
        # for it briefly rather than leave a zombie and a stale handle behind.
        wait(pid, timeout=5)
    return alive


def wait(pid: int, timeout: float | None = None) -> int | None:
    """Wait for a worker this process started; its exit code (None: still running or unknown)."""
    child = _children.get(pid)
    if child is None:
        return None
    if isinstance(child, subprocess.Popen):
        try:
            code = child.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
    else:
        child.join(timeout)
        code = child.exitcode
    if code is not None:
        _forget(pid)
    return code


# computation jobs of this process: job id -> {"thread", "answer" | "error" + "status"}
_computations: dict[str, dict[str, Any]] = {}


def _compute(job_id: str, job: Job, runner: JobRunner) -> None:
    from latentdeck.kit import OnDemandError

    record = _computations[job_id]
    try:
        record["answer"] = runner.here(job)
    except OnDemandError as exc:
        record.update(error=str(exc), status=exc.status)
    except Exception as exc:  # noqa: BLE001 - said in the answer, never lost in a thread
        log.exception("computation %s of %s failed", job.args.get("name"), job.run_dir)
        record.update(error=f"{type(exc).__name__}: {exc}", status=500)


# The run queue: in a server (runner.queue) a run starts when the server's cap and capacity() allow.
_queue = RunQueue("local", start=lambda job, runner: start(Path(job.run_dir), runner), capacity=capacity)


def submit(job: Job, runner: JobRunner) -> dict:
    """Start ``job`` and return its handle at once: a run forked warm or as a fresh process (in a server,
    through the run queue: a waiting handle while it waits its turn or the warm-up), a backfill as a fresh
    process (a daemon thread reaps it), a computation in a thread of this process."""
    if job.kind == "run":
        return _queue.submit(job, runner)
    if job.kind == "backfill":
        info = _start_subprocess(job, runner)
        threading.Thread(target=wait, args=(info["pid"],), daemon=True, name=f"latentdeck-backfill-{info['pid']}").start()
        return info
    job_id = uuid.uuid4().hex
    thread = threading.Thread(target=_compute, args=(job_id, job, runner), daemon=True, name=f"latentdeck-compute-{job_id[:8]}")
    _computations[job_id] = {"thread": thread}
    thread.start()
    return {"job": job_id, "kind": "computation", "server_pid": os.getpid()}


def poll(handle: dict) -> dict:
    """``{"alive": bool}``; a computation that ended adds its ``answer`` (or ``error`` and ``status``); a run
    waiting in the queue adds ``waiting`` and its place (``queue_position``, ``queue_length``)."""
    queued = _queue.poll(handle)
    if queued is not None:
        return queued
    if handle.get("kind") != "computation":
        return {"alive": is_alive(handle)}
    record = _computations.get(str(handle.get("job")))
    if record is None:
        return {"alive": False, "error": "this computation ran in a server that has stopped", "status": 503}
    if record["thread"].is_alive():
        return {"alive": True}
    _computations.pop(str(handle.get("job")), None)
    return {"alive": False, **{k: v for k, v in record.items() if k != "thread"}}


def cancel(handle: dict) -> bool:
    """A run waiting in the queue leaves it, never to start (True); a started worker stops at its cancel flag."""
    return bool(_queue.cancel(handle))


@hookimpl
def register_executors():
    return [ExecutorSpec(
        name="local", submit=submit, poll=poll, capacity=capacity, cancel=cancel, default_rank=0,
        description="one worker process per run on this machine (python -m latentdeck.worker, or forked "
                    "from a fork server where the projections' warm-ups, e.g. umap's JIT, already ran)")]
