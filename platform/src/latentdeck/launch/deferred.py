"""The server's side of deferred starts: what it lends an executor that queues its runs, and what it keeps.

An executor whose runs share this machine's cores (the local one) queues its ``run`` jobs itself
(:class:`latentdeck.kit.RunQueue`): its ``submit`` returns at once, with a *waiting* handle when the run may not
start yet, and starts the worker later. The queue reaches the run store only through the
:class:`latentdeck.types.QueueHost` the server lends with each job (``runner.queue``, built here with the
server's settings): ``waiting`` events, the run's status and cancel flag, ending a run cancelled before
it started, recording the handle of a worker started later (``worker.json``), the runs already training,
and the stop. A run waits for two reasons (see :mod:`latentdeck.kit.run_queue`):

- **The run queue.** At most ``max_concurrent_runs`` runs of such an executor train at once
  (``latentdeck serve --max-concurrent-runs``, ``create_app(max_concurrent_runs=)``, default
  ``$LATENTDECK_MAX_CONCURRENT_RUNS`` or the core count); further runs wait in creation order with
  ``queue_position`` (1 = next) and ``queue_length`` in their event and in the API's run summary.
- **No slot yet** (``capacity()`` gives ``slots`` 0): the local executor while its fork server runs the
  projections' warm-ups; such a run starts when the executor is ready or after ``max_wait_s``.

A waiting run stays ``created`` without ``worker.json``: its waiting handle lives in this server only
(:class:`DeferredStarts`), which answers the API's ``queue_position`` (the executor's ``poll`` of it) and
withdraws it on a cancel (the executor's ``cancel`` says it never starts: the server ends it
``cancelled``). A stopping server lets the executors start the runs that only waited for readiness and
leaves the queued ones ``created`` on disk; the next server submits them again in creation order
(:func:`latentdeck.launch.resume_waiting_runs`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from ..store.events import EventLog
from ..kit.errors import is_disk_full
from ..store.runs import (RunStore, cancel_requested, now, read_summary, read_worker_info, release_space, update_summary,
                          write_worker_info)
from ..types import Job, QueueHost
from ..worker import RUNNER
from .jobs import submit as submit_job

log = logging.getLogger(__name__)


def default_max_concurrent_runs() -> int:
    """``$LATENTDECK_MAX_CONCURRENT_RUNS``, else the cores this process may use (one run per core)."""
    configured = os.environ.get("LATENTDECK_MAX_CONCURRENT_RUNS", "").strip()
    if configured:
        return check_max_concurrent_runs(configured, "LATENTDECK_MAX_CONCURRENT_RUNS")
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def check_max_concurrent_runs(value: Any, where: str = "max_concurrent_runs") -> int:
    """``value`` as a cap of at least 1; a ValueError that says what to give otherwise."""
    try:
        number = int(value) if not isinstance(value, (bool, float)) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < 1:
        raise ValueError(f"{where} must be a whole number of runs, at least 1 (got {value!r}): it is how many runs "
                         "train at once; further runs wait in the queue")
    return number


class DeferredStarts:
    """The server's starts: :meth:`submit` hands a ``created`` run to its executor with :attr:`runner` (the
    worker entry plus this server's :class:`QueueHost`); a waiting handle the executor returns is kept here
    until the executor says it started the worker (``QueueHost.started``) or the run is withdrawn."""

    def __init__(self, store, max_wait_s: float = 120.0, max_concurrent_runs: int | None = None):
        self.store = store
        self.max_wait_s = float(max_wait_s)
        self.max_concurrent_runs = (check_max_concurrent_runs(max_concurrent_runs) if max_concurrent_runs is not None
                                    else default_max_concurrent_runs())
        self._pending: dict[str, tuple[Any, dict[str, Any] | None]] = {}  # run id -> (executor, waiting handle)
        self._stops: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        host = QueueHost(max_concurrent_runs=self.max_concurrent_runs, max_wait_s=self.max_wait_s,
                         announce=self._announce, state=self._state, withdrawn=self._withdrawn,
                         started=self._started, training=self._training, on_stop=self._on_stop)
        self.runner = replace(RUNNER, queue=host)

    # --- what the API, the launchers and the lifespan call -------------------------------------------

    def submit(self, run_id: str, executor: Any) -> None:
        """Hand the ``created`` run to its executor (it may keep it waiting: its place is then known here)."""
        with self._lock:
            self._pending[run_id] = (executor, None)  # before submit: the queue may start it at any moment
        try:
            start_worker(self.store, run_id, executor, self)
        except BaseException:
            self.settle(run_id)
            raise

    def park(self, run_id: str, handle: dict[str, Any]) -> bool:
        """Keep the waiting handle ``submit`` returned; False when the executor started the run meanwhile."""
        with self._lock:
            entry = self._pending.get(run_id)
            if entry is None:
                return False
            self._pending[run_id] = (entry[0], dict(handle))
        return True

    def settle(self, run_id: str) -> None:
        """The run's start is decided (a worker was recorded or the start failed): nothing waits any more."""
        with self._lock:
            self._pending.pop(run_id, None)

    def waiting(self) -> list[str]:
        with self._lock:
            return [run_id for run_id, (_, handle) in self._pending.items() if handle is not None]

    def queue_position(self, run_id: str) -> dict[str, int] | None:
        """``{"queue_position": k, "queue_length": n}`` for a run its executor holds in its queue, else None."""
        with self._lock:
            executor, handle = self._pending.get(run_id, (None, None))
        if handle is None:
            return None
        try:
            state = dict(executor.poll(handle) or {})
        except Exception:
            log.exception("executor %s: poll of a waiting run raised", executor.name)
            return None
        if state.get("queue_position") is None:
            return None
        return {"queue_position": int(state["queue_position"]), "queue_length": int(state.get("queue_length") or 0)}

    def withdraw(self, run_id: str) -> dict[str, Any] | None:
        """A cancel of a waiting run: the executor drops it and it ends ``cancelled`` now; its summary, or None
        when it was not waiting (or its executor started it meanwhile: its cancel flag stops it)."""
        with self._lock:
            executor, handle = self._pending.get(run_id, (None, None))
        if handle is None or executor.cancel is None:
            return None
        try:
            dropped = executor.cancel(handle)
        except Exception:
            log.exception("executor %s: cancel of a waiting run raised", executor.name)
            return None
        if not dropped:
            return None
        self.settle(run_id)
        return end_cancelled_before_start(self.store, run_id)

    def flush(self) -> None:
        """The server is stopping: each executor queue starts what waits only for readiness and forgets the
        rest (left ``created`` on disk for the next server)."""
        with self._lock:
            stops, self._stops = self._stops, []
        for stop in stops:
            try:
                stop()
            except Exception:
                log.exception("an executor's queue failed to stop")
        with self._lock:
            self._pending.clear()

    # --- the QueueHost: what an executor's queue asks of the server ----------------------------------

    def _run_id(self, job: Job) -> str:
        return Path(job.run_dir).name

    def _announce(self, job: Job, data: dict[str, Any]) -> None:
        announce_waiting(Path(job.run_dir), self._run_id(job), data)

    def _state(self, job: Job) -> dict[str, Any]:
        run_dir = Path(job.run_dir)
        try:
            status = read_summary(run_dir)["status"]
        except (OSError, ValueError, KeyError):  # deleted or unreadable: it trains no more
            status = None
        return {"status": status, "cancel": cancel_requested(run_dir)}

    def _withdrawn(self, job: Job) -> None:
        self.settle(self._run_id(job))
        end_cancelled_before_start(self.store, self._run_id(job))

    def _started(self, job: Job, handle: dict[str, Any] | None, error: str | None = None) -> None:
        run_id = self._run_id(job)
        with self._lock:
            executor, _ = self._pending.pop(run_id, (None, None))
        if executor is None:
            log.warning("an executor started run %s, which this server did not submit", run_id)
            return
        if handle is None:
            self.store.mark_failed(run_id, "executor_failed", error or "the executor could not start the worker")
            return
        record_worker(self.store, run_id, executor, handle)

    def _training(self, executor_name: str) -> list[str]:
        found = []
        for run_id in self.store.active_run_ids():
            run_dir = self.store.root / run_id
            if (read_worker_info(run_dir) or {}).get("executor") == executor_name:
                found.append(str(run_dir))
        return found

    def _on_stop(self, callback: Callable[[], None]) -> None:
        with self._lock:
            self._stops.append(callback)


def announce_waiting(run_dir: Path, run_id: str, data: dict[str, Any]) -> None:
    """A ``run.stage`` ``waiting`` event (``text`` and what else ``data`` holds) in the run's log; a note,
    never a reason to stop: a failed write is logged."""
    try:
        with EventLog(Path(run_dir) / "events.jsonl", run_id) as events:
            events.emit("run.stage", {"stage": "waiting", "epoch": 0, **data})
    except OSError as exc:
        log.warning("cannot announce the wait of run %s: %s", run_id, exc)


def end_cancelled_before_start(store, run_id: str) -> dict[str, Any] | None:
    """End a ``created`` run that never got a worker as ``cancelled`` (as its worker would have)."""
    run_dir = store.root / run_id
    try:
        if read_summary(run_dir)["status"] != "created":
            return None
        with EventLog(run_dir / "events.jsonl", run_id) as events:
            events.emit("run.cancelled", {"epochs_completed": 0, "at": "before start"})
        summary = update_summary(run_dir, status="cancelled", reason="cancel requested before start", ended_at=now())
    except (OSError, ValueError, KeyError) as exc:
        log.warning("cannot end the waiting run %s as cancelled: %s", run_id, exc)
        return None
    release_space(run_dir)
    return summary


def start_worker(store: RunStore, run_id: str, executor, deferred=None) -> dict[str, Any] | None:
    """Submit a ``created`` run's ``run`` job to ``executor`` and record its handle (``worker.json``); with
    ``deferred`` (the server's starts) through the server's runner, and a *waiting* handle (the executor
    queued the run) is kept there instead: the executor records the worker when it starts it."""
    run_dir = store.run_dir(run_id)
    try:
        info = submit_job(executor, Job("run", str(run_dir)), deferred.runner if deferred is not None else RUNNER)
    except Exception as exc:
        log.exception("executor %s failed to start run %s", executor.name, run_id)
        if deferred is not None:
            deferred.settle(run_id)
        return store.mark_failed(run_id, "executor_failed", f"{type(exc).__name__}: {exc}")
    if info.get("waiting") and deferred is not None:
        deferred.park(run_id, info)  # False: the executor started it already (QueueHost.started recorded it)
        return None
    if deferred is not None:
        deferred.settle(run_id)
    return record_worker(store, run_id, executor, info)


def record_worker(store: RunStore, run_id: str, executor, info: dict[str, Any]) -> dict[str, Any] | None:
    """Write the started worker's handle as ``worker.json``; a handle that cannot be written is stopped (it
    could never be watched) and the run failed (its summary returned)."""
    run_dir = store.run_dir(run_id)
    pid = info.get("pid")
    try:
        write_worker_info(run_dir, executor.name, None if pid is None else int(pid),
                          **{k: v for k, v in info.items() if k != "pid"})
    except OSError as exc:  # an unrecorded worker could never be watched: stop it and say why
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(int(pid), signal.SIGKILL)
        elif executor.cancel is not None:
            with contextlib.suppress(Exception):
                executor.cancel(info)
        why = "disk_full" if is_disk_full(exc) else "executor_failed"
        return store.mark_failed(run_id, why, f"cannot record the worker: {type(exc).__name__}: {exc}")
    if info.get("waiting_note"):  # the executor places the worker itself later (a cluster): say so on the run
        announce_waiting(run_dir, run_id, {"text": str(info["waiting_note"])})
    return None
