"""Heavy per-epoch computations (``ComputationSpec.heavy``) in the background, so training goes on (with
``artifact_pipeline: inline``; the artifact pipeline process, :mod:`latentdeck.engine.pipeline`, runs them in line).

The epoch loop hands each heavy computation of an epoch to :class:`Background` with a context of its own (a
snapshot of the model, the epoch's outputs and projections, an event sink that opens the run's log for each
event). One thread runs them one at a time, in the order they came (epoch order), each through the one path
(:func:`latentdeck.engine.computations.run`) under its budget: one over its budget is stopped, reported as
``artifact.failed`` (``reason: "timeout"``) and counted for ``/plugins`` like any other. The run waits for the
queue before it ends (:meth:`Background.drain` on its last epoch); a cancel stops the one running at once
(its budget's ``should_stop``) and the rest are skipped.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable

from .budget import Stopped

log = logging.getLogger(__name__)


class Background:
    """A queue of work run one item at a time, in order, in one daemon thread (started on first use)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._fatal: BaseException | None = None  # a failure that is not the computation's own (a full disk)
        self._stopped: str | None = None
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="latentdeck-heavy")
                self._thread.start()
        self._queue.put(work)

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def drain(self) -> None:
        """Wait until every submitted item ran; re-raise a failure that should stop the run."""
        self._queue.join()
        if self._fatal is not None:
            fatal, self._fatal = self._fatal, None
            raise fatal

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            try:
                if self._stopped is None and self._fatal is None:
                    work()
            except Stopped as where:  # a cancel: what is left of the queue is skipped
                self._stopped = str(where)
            except BaseException as exc:  # computations.run reports the computation's own failures itself
                log.exception("a heavy computation could not run")
                self._fatal = exc
            finally:
                self._queue.task_done()
