"""Stoppable work: each artifact generator, projection fit and on-demand computation runs under a time
budget, can be stopped by a cancel, and can write nothing once it was given up.

How (the design, also in SPEC.md "Stoppable work"): the work runs in a daemon thread of its own while the
calling thread waits, looking every :data:`POLL_S` at the clock and at ``should_stop`` (a run's cancel
flag, a backfill's cancel flag, a DELETE). When the budget is spent or a stop is asked for, the caller
**revokes the work's fence** and goes on. A Python thread cannot be killed, so the abandoned thread may
keep computing, but every write it attempts goes through a :class:`FencedWriter` or :class:`FencedEvents`
that holds the fence's lock while it checks the fence and writes: revoking takes that lock, so a write in
progress ends complete (temp file and rename) before the revoke returns, and every later one raises
:class:`Revoked`. Nothing is half-written, and nothing is written after the caller moved on. Processes
that exist for one job (the training worker, the backfill process) end with ``os._exit`` when such a
thread is still alive (:func:`abandoned`), which ends the thread too.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import traceback
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .writer import ArtifactWriter

DEFAULT_BUDGET_S = 120.0
MAX_BUDGET_S = 3600.0
POLL_S = 0.1  # how often the waiting thread looks at the clock and at should_stop
REVOKE_WAIT_S = 10.0  # a write in progress when the work is given up may finish within this


class Revoked(RuntimeError):
    """A write by work that was stopped or ran out of its budget: refused, nothing written."""


class Stopped(Exception):
    """``should_stop`` asked the work to stop (a cancel); ``str()`` says where it was stopped."""


class Fence:
    """Lets writes through until :meth:`revoke`; a write in progress finishes before revoke returns."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.reason: str | None = None

    def enter(self) -> None:
        self._lock.acquire()
        if self.reason is not None:
            self._lock.release()
            raise Revoked(f"nothing more is written: {self.reason}")

    def exit(self) -> None:
        self._lock.release()

    @contextmanager
    def held(self) -> Iterator[None]:
        self.enter()
        try:
            yield
        finally:
            self.exit()

    def revoke(self, reason: str, wait_s: float = REVOKE_WAIT_S) -> bool:
        """Refuse every later write; True when no write was still in progress after ``wait_s``."""
        got = self._lock.acquire(timeout=wait_s)
        self.reason = reason
        if got:
            self._lock.release()
        return got


class FencedEvents:
    """An event sink whose ``emit`` goes through the fence (other attributes pass through)."""

    def __init__(self, events: Any, fence: Fence):
        self._events, self._fence = events, fence

    def emit(self, type: str, data: dict[str, Any] | None = None) -> Any:
        with self._fence.held():
            return self._events.emit(type, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._events, name)


@dataclass
class FencedWriter(ArtifactWriter):
    """The shared writer (:mod:`latentdeck.engine.writer`) with every write and announcement behind ``fence``."""

    fence: Fence | None = None

    def _held(self):
        return self.fence.held() if self.fence is not None else _nothing()

    # every write and announcement of the shared writer, whatever its arguments, behind the fence
    def emit(self, *args: Any, **kwargs: Any) -> Any:
        with self._held():
            return super().emit(*args, **kwargs)

    def announce(self, *args: Any, **kwargs: Any) -> Any:
        with self._held():
            return super().announce(*args, **kwargs)

    def save_json(self, *args: Any, **kwargs: Any) -> Any:
        with self._held():
            return super().save_json(*args, **kwargs)

    def save_png(self, *args: Any, **kwargs: Any) -> Any:
        with self._held():
            return super().save_png(*args, **kwargs)

    def save_run_file(self, *args: Any, **kwargs: Any) -> Any:
        with self._held():
            return super().save_run_file(*args, **kwargs)

    def persist_folder(self, folder: str, relative: str, produce: Callable) -> tuple[list[str], bool]:
        """The fence is held while the folder's parent and temporary folder are made and from the end of
        ``produce`` to the rename and announcements, not while ``produce`` computes (a revoke would wait)."""
        if self.fence is None:
            return super().persist_folder(folder, relative, produce)
        fence, holding = self.fence, [True]
        fence.enter()

        def fenced(tmp):
            fence.exit()
            holding[0] = False
            produce(tmp)
            fence.enter()  # raises Revoked when given up meanwhile: the temporary folder is removed
            holding[0] = True

        try:
            return super().persist_folder(folder, relative, fenced)
        finally:
            if holding[0]:
                fence.exit()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


@dataclass(frozen=True)
class Budget:
    """How long one piece of work may take, what stops it, and the setting that sets ``seconds``."""

    seconds: float = DEFAULT_BUDGET_S
    should_stop: Callable[[], str | None] | None = None  # a reason to stop now, or None
    setting: str = "generator_budget_s in the run config"

    def stop_reason(self) -> str | None:
        return self.should_stop() if self.should_stop is not None else None


@dataclass
class Outcome:
    """How work under a budget ended: ``finished`` (``value`` or ``error`` with its ``traceback``),
    ``stopped`` (the reason), or ``timed_out``; ``stack`` is where abandoned work was when given up."""

    finished: bool = False
    value: Any = None
    error: BaseException | None = None
    traceback: str | None = None
    stopped: str | None = None
    timed_out: bool = False
    stack: str | None = None
    seconds: float = 0.0


_ABANDONED: "weakref.WeakSet[threading.Thread]" = weakref.WeakSet()


def abandoned() -> list[str]:
    """Names of the given-up threads that still run in this process."""
    return sorted(t.name for t in list(_ABANDONED) if t.is_alive())


def _stack_of(thread: threading.Thread) -> str | None:
    frame = sys._current_frames().get(thread.ident or -1)
    return "".join(traceback.format_stack(frame, limit=8)) if frame is not None else None


def run_within_budget(work: Callable[[], Any], budget: Budget, fence: Fence, name: str) -> Outcome:
    """Run ``work()`` in a thread of its own; wait until it ends, ``budget.seconds`` pass, or
    ``budget.should_stop()`` gives a reason. On a timeout or a stop ``fence`` is revoked (the thread can
    no longer write) and the thread is abandoned. A stop asked for before it starts runs nothing."""
    why = budget.stop_reason()
    if why:
        return Outcome(stopped=why)
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as exc:  # handed to the caller, which decides
            result["error"], result["traceback"] = exc, traceback.format_exc(limit=6)

    thread = threading.Thread(target=target, daemon=True, name=f"latentdeck-{name}")
    started = time.monotonic()
    thread.start()
    while True:
        thread.join(POLL_S)
        elapsed = time.monotonic() - started
        if not thread.is_alive():
            return Outcome(finished=True, value=result.get("value"), error=result.get("error"),
                           traceback=result.get("traceback"), seconds=elapsed)
        why = budget.stop_reason()
        if why or elapsed >= budget.seconds:
            stack = _stack_of(thread)
            fence.revoke(why or f"{name} ran out of its budget of {budget.seconds:g} s")
            _ABANDONED.add(thread)
            return Outcome(stopped=why, timed_out=not why, stack=stack, seconds=elapsed)


def timeout_message(name: str, budget: Budget, what: str) -> str:
    return (f"{name} took longer than its budget of {budget.seconds:g} s and was stopped; {what}. Raise "
            f"{budget.setting} (up to {MAX_BUDGET_S:g} s) if it needs longer")


def timeout_event(name: str, epoch: int, budget: Budget, outcome: Outcome) -> dict[str, Any]:
    """``artifact.failed`` data for a generator or projection that ran out of its budget."""
    return {"generator": name, "epoch": epoch, "reason": "timeout", "budget_s": budget.seconds,
            "setting": budget.setting.split(" ")[0],
            "error": timeout_message(name, budget, f"epoch {epoch} has no files from it, and nothing it writes "
                                                   "later is kept"),
            "traceback": outcome.stack or ""}


def exit_past_abandoned_work(code: int) -> None:
    """End this process now when a generator given up on (a cancel, its budget) still runs in a thread:
    its writes are already refused (this module), and a thread cannot be stopped otherwise.
    The run's last events and summary are written by then."""
    left = abandoned()
    if left:
        logging.getLogger(__name__).warning("exiting past work given up on that still runs: %s", ", ".join(left))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
