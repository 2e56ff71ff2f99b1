"""Runs that wait for their executor to be ready before their worker starts.

An executor may say it is not ready to start a worker at full speed yet (``ExecutorSpec.ready``):
the local executor while its warm-up compiles umap-learn's kernels, when a worker started now would
train several times slower (the two compete for the cores) and then pay the compilation again on
its first projection. Such a run stays ``created`` and waits here, with a ``run.stage`` event
(``stage: "waiting"``, the executor's reason and expected seconds) so its page says why. Its worker
starts as soon as the executor is ready, when it has waited ``max_wait_s``, when a cancel is asked
for (the worker then ends it at once as ``cancelled``), or when the server stops (no run is left
behind without a worker).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass
class Waiting:
    run_id: str
    executor: Any
    since: float = field(default_factory=time.monotonic)


class DeferredStarts:
    """A background thread that starts waiting runs; ``start(run_id, executor)`` does the starting."""

    def __init__(self, start: Callable[[str, Any], Any], cancelled: Callable[[str], bool],
                 max_wait_s: float = 120.0, poll_s: float = 0.25):
        self._start, self._cancelled = start, cancelled
        self.max_wait_s, self.poll_s = max_wait_s, poll_s
        self._waiting: dict[str, Waiting] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def waiting(self) -> list[str]:
        with self._lock:
            return list(self._waiting)

    def add(self, run_id: str, executor: Any) -> None:
        with self._lock:
            self._waiting[run_id] = Waiting(run_id, executor)
            if self._thread is None or not self._thread.is_alive():
                self._stopped = False
                self._thread = threading.Thread(target=self._loop, name="latentdeck-deferred-starts", daemon=True)
                self._thread.start()
        self._wake.set()

    def _due(self, item: Waiting) -> str | None:
        if self._stopped:
            return "the server is stopping"
        if self._cancelled(item.run_id):
            return "a cancel was requested"
        if time.monotonic() - item.since >= self.max_wait_s:
            return f"waited {self.max_wait_s:.0f} s"
        try:
            if ready_state(item.executor)["ready"]:
                return "the executor is ready"
        except Exception:  # an executor whose readiness check breaks must not keep runs waiting
            log.exception("executor %s: ready() raised; starting the run", item.executor.name)
            return "the executor's ready() check failed"
        return None

    def _loop(self) -> None:
        while True:
            with self._lock:
                items = list(self._waiting.values())
                if not items:
                    self._thread = None
                    return
            for item in items:
                why = self._due(item)
                if why is None:
                    continue
                with self._lock:
                    self._waiting.pop(item.run_id, None)
                log.info("starting run %s (%s, after %.1f s waiting)", item.run_id, why, time.monotonic() - item.since)
                try:
                    self._start(item.run_id, item.executor)
                except Exception:
                    log.exception("starting the waiting run %s failed", item.run_id)
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def flush(self) -> None:
        """Start every waiting run now (the server is stopping) and stop the thread."""
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(30)


def ready_state(executor: Any) -> dict[str, Any]:
    """``executor.ready()`` normalised: ``{"ready": bool, "reason": str | None, "expected_s": float | None}``
    (an executor without ``ready`` is always ready)."""
    check = getattr(executor, "ready", None)
    if check is None:
        return {"ready": True, "reason": None, "expected_s": None}
    state = dict(check() or {})
    return {"ready": bool(state.get("ready", True)), "reason": state.get("reason"),
            "expected_s": state.get("expected_s")}
