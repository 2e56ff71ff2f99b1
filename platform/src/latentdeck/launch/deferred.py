"""The server's capacity wait: runs that wait, as ``created``, before their job is submitted.

Only runs of an executor that declares a ``capacity`` (its jobs share this machine's cores: the local
executor) wait here; an executor that schedules its own work (a cluster) gets its runs at once. The
executor owns what its capacity is (its warm-up, its own workers); the server owns the order, the cap
and what a waiting run's page says. A run waits for two reasons, both announced in its event log as
``run.stage`` ``waiting`` events written by the server:

- **The run queue.** The server trains at most ``max_concurrent_runs`` of such runs at once
  (``latentdeck serve --max-concurrent-runs``, ``create_app(max_concurrent_runs=)``, default
  ``$LATENTDECK_MAX_CONCURRENT_RUNS`` or the core count; fewer when the executor's ``capacity()``
  gives fewer ``slots``). Further runs wait in creation order (FIFO) with ``queue_position`` (1 = next) and
  ``queue_length`` in their event and in the API's run summary; each position change is a new
  event. A slot frees when a run it started ends (its summary leaves ``created``/``running``).
- **No slot yet** (``capacity()`` gives ``slots`` 0, with a reason): the local executor while its fork
  server runs the projections' warm-ups, when a worker started now would train several times slower. Such a run
  starts as soon as the executor is ready, or when it has waited ``max_wait_s`` (counted from its
  creation). A queued run checks this only once it has a slot.

A cancel ends a waiting run at once as ``cancelled`` (the server writes ``run.cancelled``; no
worker ever starts). A stopping server starts the runs that were only waiting for readiness (none
is left behind without a worker) and leaves the runs held by the queue ``created`` on disk; the next
server resumes them in creation order (:func:`latentdeck.launch.resume_waiting_runs`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from ..store.events import EventLog
from ..store.runs import cancel_requested, now, read_summary, release_space, update_summary
from ..store.lifecycle import ACTIVE

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


@dataclass
class Waiting:
    run_id: str
    executor: Any
    queued: bool  # held by the run queue (its executor has a capacity: it shares this machine's cores)
    since: float = field(default_factory=time.monotonic)
    shown: tuple | None = None  # what its last waiting event said: ("ready",) or ("queue", position, length)


class DeferredStarts:
    """A background thread that starts waiting runs.

    ``start(run_id, executor)`` starts a worker; ``store`` (:class:`latentdeck.store.runs.RunStore`)
    is read for cancels and slot holders and written for waiting events and cancels before start.
    """

    def __init__(self, start: Callable[[str, Any], Any], store, max_wait_s: float = 120.0, poll_s: float = 0.25,
                 max_concurrent_runs: int | None = None):
        self._start, self.store = start, store
        self.max_wait_s, self.poll_s = max_wait_s, poll_s
        self.max_concurrent_runs = (check_max_concurrent_runs(max_concurrent_runs) if max_concurrent_runs is not None
                                    else default_max_concurrent_runs())
        self._waiting: dict[str, Waiting] = {}  # insertion order is the queue's order
        self._holding: set[str] = set()  # queued runs started here that may still train
        self._positions: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()  # guards the dicts above
        self._pass_lock = threading.Lock()  # one scheduling pass at a time (request threads and the loop)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    # --- what the API and the lifespan call -------------------------------------------------------

    def waiting(self) -> list[str]:
        with self._lock:
            return list(self._waiting)

    def queue_position(self, run_id: str) -> dict[str, int] | None:
        """``{"queue_position": k, "queue_length": n}`` for a run held by the queue, else None."""
        with self._lock:
            place = self._positions.get(run_id)
        return None if place is None else {"queue_position": place[0], "queue_length": place[1]}

    def hold(self, run_id: str) -> None:
        """Count a queued run that is already training (found at server start) against the cap."""
        with self._lock:
            self._holding.add(run_id)

    def submit(self, run_id: str, executor: Any) -> None:
        """Start the ``created`` run now when it may, else keep it waiting (and say why in its log)."""
        with self._lock:
            if run_id in self._waiting:
                return
            self._stopped = False
            self._waiting[run_id] = Waiting(run_id, executor, getattr(executor, "capacity", None) is not None)
        self._pass()
        with self._lock:
            if self._waiting and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._loop, name="latentdeck-deferred-starts", daemon=True)
                self._thread.start()
        self._wake.set()

    def withdraw(self, run_id: str) -> dict[str, Any] | None:
        """A cancel of a waiting run: end it ``cancelled`` now; its summary, or None when it was not waiting."""
        with self._pass_lock:
            with self._lock:
                item = self._waiting.pop(run_id, None)
                self._positions.pop(run_id, None)
            if item is None:
                return None
            summary = end_cancelled_before_start(self.store, run_id)
        self._wake.set()  # the runs behind it move up
        return summary

    def flush(self) -> None:
        """The server is stopping: start the runs that wait only for readiness, leave the queue on disk."""
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(30)
        if thread is None or not thread.is_alive():
            self._pass()  # a pass of our own when no loop ran (or it ended before seeing the flag)

    # --- scheduling ------------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            self._pass()
            with self._lock:
                if not self._waiting or self._stopped:
                    self._thread = None
                    return
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _holds_slot(self, run_id: str) -> bool:
        try:
            return read_summary(self.store.root / run_id)["status"] in ACTIVE
        except (OSError, ValueError, KeyError):  # deleted or unreadable: it trains no more
            return False

    def _pass(self) -> None:
        with self._pass_lock:
            with self._lock:
                items = list(self._waiting.values())
                before = set(self._holding)
            holding = {run_id for run_id in before if self._holds_slot(run_id)}
            used = len(holding)
            held: list[Waiting] = []
            for item in items:
                if self._cancelled(item.run_id):
                    self._drop(item)
                    end_cancelled_before_start(self.store, item.run_id)
                    continue
                state = self._state(item)
                if item.queued and used >= min(self.max_concurrent_runs, state.get("slots") or self.max_concurrent_runs):
                    held.append(item)
                    continue
                why = self._due(item, state)
                if why is None:
                    used += item.queued  # next in line: it keeps its slot while the executor gets ready
                    self._announce_not_ready(item, state)
                    continue
                self._drop(item)
                log.info("starting run %s (%s, after %.1f s waiting)", item.run_id, why, time.monotonic() - item.since)
                try:
                    self._start(item.run_id, item.executor)
                except Exception:
                    log.exception("starting the waiting run %s failed", item.run_id)
                if item.queued:
                    holding.add(item.run_id)
                    used += 1
            positions = {item.run_id: (k, len(held)) for k, item in enumerate(held, 1)}
            with self._lock:
                self._holding = holding | (self._holding - before)  # hold() may have added some meanwhile
                self._positions = positions
                if self._stopped:  # the queue stays on disk (created); the next server resumes it
                    for item in held:
                        self._waiting.pop(item.run_id, None)
                    self._positions = {}
            if not self._stopped:
                for item in held:
                    self._announce_position(item, *positions[item.run_id])
            elif held:
                log.info("the server stops with %d queued run(s) left created; the next server starts them", len(held))

    def _drop(self, item: Waiting) -> None:
        with self._lock:
            self._waiting.pop(item.run_id, None)

    def _cancelled(self, run_id: str) -> bool:
        return cancel_requested(self.store.root / run_id)

    def _state(self, item: Waiting) -> dict[str, Any]:
        try:
            return capacity_state(item.executor)
        except Exception:  # an executor whose capacity check breaks must not keep runs waiting
            log.exception("executor %s: capacity() raised; starting the run", item.executor.name)
            return {"ready": True, "slots": None, "reason": None, "expected_s": None, "broken": True}

    def _due(self, item: Waiting, state: dict[str, Any]) -> str | None:
        if self._stopped:
            return "the server is stopping"
        if time.monotonic() - item.since >= self.max_wait_s:
            return f"waited {self.max_wait_s:.0f} s"
        if state.get("broken"):
            return "the executor's capacity() check failed"
        if state["ready"]:
            return "the executor has a slot"
        return None

    # --- what the run's log says -----------------------------------------------------------------

    def _announce_not_ready(self, item: Waiting, state: dict[str, Any]) -> None:
        if item.shown == ("ready",):
            return
        item.shown = ("ready",)
        self._emit(item.run_id, {"text": state["reason"], "expected_s": state["expected_s"], "max_wait_s": self.max_wait_s})

    def _announce_position(self, item: Waiting, position: int, length: int) -> None:
        if item.shown == ("queue", position, length):
            return
        item.shown = ("queue", position, length)
        cap = self.max_concurrent_runs
        ahead = "it is next" if position == 1 else f"{position - 1} queued run{'s' if position > 2 else ''} ahead of it"
        self._emit(item.run_id, {
            "text": f"queued: position {position} of {length}. At most {cap} run{'s' if cap != 1 else ''} train at once "
                    f"on this lab; {ahead}, and it starts by itself when a training run ends. Cancelling it removes it "
                    "from the queue.",
            "queue_position": position, "queue_length": length, "max_concurrent_runs": cap})

    def _emit(self, run_id: str, data: dict[str, Any]) -> None:
        announce_waiting(self.store.root / run_id, run_id, data)


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


def capacity_state(executor: Any) -> dict[str, Any]:
    """``executor.capacity()`` normalised: ``{"ready": bool, "slots": int | None, "reason", "expected_s"}``;
    ``ready`` is False while it gives 0 slots (an executor without ``capacity`` is always ready)."""
    check = getattr(executor, "capacity", None)
    if check is None:
        return {"ready": True, "slots": None, "reason": None, "expected_s": None}
    state = dict(check() or {})
    slots = state.get("slots")
    slots = None if slots is None or isinstance(slots, bool) else int(slots)
    return {"ready": slots != 0, "slots": slots if slots else None, "reason": state.get("reason"),
            "expected_s": state.get("expected_s")}
