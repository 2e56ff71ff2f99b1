"""An executor's run queue: :class:`RunQueue` holds the ``run`` jobs of an executor whose runs share the
server's machine (the local executor's) until they may start.

A run waits for two reasons, each announced in its log as a ``run.stage`` ``waiting`` event (through the
server's :class:`latentdeck.types.QueueHost`, ``runner.queue``):

- **The cap.** At most ``max_concurrent_runs`` runs of the executor train at once (the server's
  ``--max-concurrent-runs``; fewer while the executor's ``capacity()`` gives fewer ``slots``). Further runs
  wait in submission order (FIFO) with ``queue_position`` (1 = next) and ``queue_length``; each change of
  place is a new event. A slot frees when a run it started leaves ``created``/``running``.
- **No slot yet** (``capacity()`` gives ``slots`` 0, with a reason: the local executor while its fork server
  runs the projections' warm-ups). Such a run starts once the executor is ready, or after the server's
  ``max_wait_s``. A queued run checks this only once it has a slot (and keeps it meanwhile).

``submit(job, runner)`` starts the job when it may and returns the executor's handle; otherwise it returns
a *waiting* handle at once (``{"waiting": True, "ticket", "queue_position", "queue_length"}``; no position
while it waits for readiness) and starts the job later, handing its handle to ``runner.queue.started``.
``poll`` and ``cancel`` answer for waiting handles (None for the executor's own handles); a cancelled
waiting run never starts. Without ``runner.queue`` (outside a server) and for other job kinds, ``submit``
starts the job at once. When the server stops, the runs that only waited for readiness start and the
queued ones are forgotten: they stay ``created`` and the next server submits them again, oldest first.

Use: ``queue = RunQueue("mine", start=my_start, capacity=my_capacity)``, then ``submit=queue.submit``
and a ``poll``/``cancel`` that ask ``queue.poll(handle)``/``queue.cancel(handle)`` first.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from ..types import Job, JobRunner, QueueHost

log = logging.getLogger(__name__)

ACTIVE = ("created", "running")


def capacity_state(capacity: Callable[[], Any] | None) -> dict[str, Any]:
    """``capacity()`` normalised: ``{"ready": bool, "slots": int | None, "reason", "expected_s"}``; ``ready``
    is False while it gives 0 slots (no ``capacity``: always ready)."""
    if capacity is None:
        return {"ready": True, "slots": None, "reason": None, "expected_s": None}
    state = dict(capacity() or {})
    slots = state.get("slots")
    slots = None if slots is None or isinstance(slots, bool) else int(slots)
    return {"ready": slots != 0, "slots": slots if slots else None, "reason": state.get("reason"),
            "expected_s": state.get("expected_s")}


@dataclass(eq=False)
class _Waiting:
    job: Job
    runner: JobRunner
    ticket: str = field(default_factory=lambda: uuid.uuid4().hex)
    since: float = field(default_factory=time.monotonic)
    shown: tuple | None = None  # what its last waiting event said: ("ready",) or ("queue", position, length)
    in_submit: bool = True  # its submit call is still running: a start is handed back there, not to the host
    outcome: tuple | None = None  # ("started", handle) or ("failed", exception), for its submit call


class _Line:
    """The queue of one server (one :class:`QueueHost`): its order, its slot holders, its thread."""

    def __init__(self, owner: "RunQueue", host: QueueHost):
        self.owner, self.host = owner, host
        self.items: dict[str, _Waiting] = {}  # ticket -> item; insertion order is the queue's order
        self.positions: dict[str, tuple[int, int]] = {}
        self.holding: set[str] = set()  # run folders started here (or found training) that may hold a slot
        self.lock = threading.Lock()  # guards the dicts above
        self.pass_lock = threading.RLock()  # one scheduling pass at a time
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.stopped = False
        try:
            self.holding.update(str(d) for d in host.training(owner.name))
        except Exception:
            log.exception("executor %s: cannot list the runs already training", owner.name)
        host.on_stop(self.flush)

    # --- submit, poll, cancel, stop ------------------------------------------------------------------

    def submit(self, job: Job, runner: JobRunner) -> dict[str, Any]:
        item = _Waiting(job, runner)
        with self.pass_lock:
            with self.lock:
                self.items[item.ticket] = item
            self._pass()
            item.in_submit = False
            outcome = item.outcome
        if outcome is not None:
            if outcome[0] == "failed":
                raise outcome[1]
            return outcome[1]
        self._ensure_thread()
        self.wake.set()
        return self.handle(item)

    def handle(self, item: _Waiting) -> dict[str, Any]:
        place = self.where(item.ticket) or {}
        return {"waiting": True, "ticket": item.ticket, "run_dir": item.job.run_dir, **place}

    def where(self, ticket: str) -> dict[str, int] | None:
        with self.lock:
            place = self.positions.get(ticket)
        return None if place is None else {"queue_position": place[0], "queue_length": place[1]}

    def cancel(self, ticket: str) -> bool:
        with self.pass_lock:
            with self.lock:
                item = self.items.pop(ticket, None)
                self.positions.pop(ticket, None)
        if item is not None:
            self.wake.set()  # the runs behind it move up
        return item is not None

    def flush(self) -> None:
        """The server stops: start the runs that wait only for readiness, forget the queued ones."""
        self.stopped = True
        self.wake.set()
        thread = self.thread
        if thread is not None:
            thread.join(30)
        if thread is None or not thread.is_alive():
            self._pass()
        self.owner._forget(self)

    # --- scheduling ----------------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        with self.lock:
            if self.items and not self.stopped and (self.thread is None or not self.thread.is_alive()):
                self.thread = threading.Thread(target=self._loop, daemon=True,
                                               name=f"latentdeck-run-queue-{self.owner.name}")
                self.thread.start()

    def _loop(self) -> None:
        while True:
            self._pass()
            with self.lock:
                if not self.items or self.stopped:
                    self.thread = None
                    return
            self.wake.wait(self.owner.poll_s)
            self.wake.clear()

    def _state(self, job: Job) -> dict[str, Any]:
        try:
            return dict(self.host.state(job))
        except Exception:
            log.exception("cannot read the state of %s", job.run_dir)
            return {"status": "created", "cancel": False}

    def _active(self, run_dir: str) -> bool:
        return self._state(Job("run", run_dir)).get("status") in ACTIVE

    def _pass(self) -> None:
        with self.pass_lock:
            with self.lock:
                items = list(self.items.values())
            self.holding = {run_dir for run_dir in self.holding if self._active(run_dir)}
            used, cap = len(self.holding), self.host.max_concurrent_runs
            held: list[_Waiting] = []
            for item in items:
                state = self._state(item.job)
                if state.get("cancel") or state.get("status") != "created":
                    self._drop(item)
                    if state.get("status") == "created":
                        self._call(self.host.withdrawn, item.job)
                    continue
                ready = self.owner.ready()
                if used >= min(cap, ready.get("slots") or cap):
                    held.append(item)
                    continue
                why = self._due(item, ready)
                if why is None:
                    used += 1  # next in line: it keeps its slot while the executor gets ready
                    self._announce_not_ready(item, ready)
                    continue
                self._drop(item)
                self._start(item, why)
                self.holding.add(item.job.run_dir)
                used += 1
            positions = {item.ticket: (k, len(held)) for k, item in enumerate(held, 1)}
            with self.lock:
                self.positions = positions
                if self.stopped:  # the queued runs stay created; the next server submits them again
                    for item in held:
                        self.items.pop(item.ticket, None)
                    self.positions = {}
            if not self.stopped:
                for item in held:
                    self._announce_position(item, *positions[item.ticket])
            elif held:
                log.info("the server stops with %d queued run(s) left created; the next server starts them", len(held))

    def _drop(self, item: _Waiting) -> None:
        with self.lock:
            self.items.pop(item.ticket, None)
            self.positions.pop(item.ticket, None)

    def _start(self, item: _Waiting, why: str) -> None:
        log.info("starting run %s (%s, after %.1f s waiting)", item.job.run_dir, why, time.monotonic() - item.since)
        try:
            handle = self.owner.start(item.job, item.runner)
        except Exception as exc:
            if item.in_submit:
                item.outcome = ("failed", exc)
            else:
                log.exception("starting the waiting run %s failed", item.job.run_dir)
                self._call(self.host.started, item.job, None, f"{type(exc).__name__}: {exc}")
            return
        if item.in_submit:
            item.outcome = ("started", handle)
        else:
            self._call(self.host.started, item.job, handle)

    def _due(self, item: _Waiting, ready: dict[str, Any]) -> str | None:
        if self.stopped:
            return "the server is stopping"
        if time.monotonic() - item.since >= self.host.max_wait_s:
            return f"waited {self.host.max_wait_s:.0f} s"
        if ready.get("broken"):
            return "the executor's capacity() check failed"
        if ready["ready"]:
            return "the executor has a slot"
        return None

    def _call(self, function: Callable[..., Any], *args: Any) -> None:
        try:
            function(*args)
        except Exception:
            log.exception("the server's %s failed for %s", getattr(function, "__name__", "hook"), args[0].run_dir)

    # --- what the run's log says ---------------------------------------------------------------------

    def _announce_not_ready(self, item: _Waiting, ready: dict[str, Any]) -> None:
        if item.shown == ("ready",):
            return
        item.shown = ("ready",)
        self._call(self.host.announce, item.job, {"text": ready["reason"], "expected_s": ready["expected_s"],
                                                  "max_wait_s": self.host.max_wait_s})

    def _announce_position(self, item: _Waiting, position: int, length: int) -> None:
        if item.shown == ("queue", position, length):
            return
        item.shown = ("queue", position, length)
        cap = self.host.max_concurrent_runs
        ahead = "it is next" if position == 1 else f"{position - 1} queued run{'s' if position > 2 else ''} ahead of it"
        self._call(self.host.announce, item.job, {
            "text": f"queued: position {position} of {length}. At most {cap} run{'s' if cap != 1 else ''} train at once "
                    f"on this lab; {ahead}, and it starts by itself when a training run ends. Cancelling it removes it "
                    "from the queue.",
            "queue_position": position, "queue_length": length, "max_concurrent_runs": cap})


class RunQueue:
    """The run queue of one executor: ``start(job, runner)`` starts a job and returns its handle (never
    waiting); ``capacity`` (the executor's ``capacity``, optional) says whether a run started now gets a
    slot. One queue serves every server of the process, each with its own line (its ``runner.queue``)."""

    def __init__(self, name: str, start: Callable[[Job, JobRunner], dict[str, Any]],
                 capacity: Callable[[], Any] | None = None, poll_s: float = 0.25):
        self.name, self.start, self.capacity, self.poll_s = name, start, capacity, poll_s
        self._lines: dict[int, _Line] = {}
        self._lock = threading.Lock()

    def submit(self, job: Job, runner: JobRunner) -> dict[str, Any]:
        """Start ``job`` now when it may (its handle), else a waiting handle (module docstring)."""
        host = getattr(runner, "queue", None)
        if job.kind != "run" or host is None:
            return self.start(job, runner)
        with self._lock:
            line = self._lines.get(id(host))
            if line is None or line.host is not host:
                line = self._lines[id(host)] = _Line(self, host)
        return line.submit(job, runner)

    def poll(self, handle: dict[str, Any]) -> dict[str, Any] | None:
        """A waiting handle's state (``alive``, ``waiting``, its place); None for any other handle."""
        if not handle.get("waiting"):
            return None
        line = self._find(str(handle.get("ticket")))
        if line is None:  # started (the server recorded its own handle since) or forgotten at a stop
            return {"alive": False, "waiting": True}
        return {"alive": True, "waiting": True, **(line.where(str(handle["ticket"])) or {})}

    def cancel(self, handle: dict[str, Any]) -> bool | None:
        """A waiting run leaves the queue and never starts: True; False when it started meanwhile (its
        cancel flag stops it); None for any other handle."""
        if not handle.get("waiting"):
            return None
        line = self._find(str(handle.get("ticket")))
        return line is not None and line.cancel(str(handle["ticket"]))

    def waiting(self) -> list[str]:
        """The run folders waiting in this queue, every server's, in order."""
        with self._lock:
            lines = list(self._lines.values())
        return [item.job.run_dir for line in lines for item in list(line.items.values())]

    def ready(self) -> dict[str, Any]:
        try:
            return capacity_state(self.capacity)
        except Exception:  # a capacity check that breaks must not keep runs waiting
            log.exception("executor %s: capacity() raised; starting the run", self.name)
            return {"ready": True, "slots": None, "reason": None, "expected_s": None, "broken": True}

    def _find(self, ticket: str) -> _Line | None:
        with self._lock:
            lines = list(self._lines.values())
        return next((line for line in lines if ticket in line.items), None)

    def _forget(self, line: _Line) -> None:
        with self._lock:
            if self._lines.get(id(line.host)) is line:
                del self._lines[id(line.host)]
