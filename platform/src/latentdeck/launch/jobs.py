"""Handing jobs to executors: :func:`submit` lends the worker entry (:data:`latentdeck.worker.RUNNER`) with
each job, and :func:`answer_of` waits on a job the host needs the answer of (a heavy on-demand computation
submitted to the run's executor, :class:`latentdeck.types.Job` of kind ``computation``)."""

from __future__ import annotations

import inspect
import time
from typing import Any

from ..kit.errors import OnDemandError
from ..types import Job, JobRunner
from ..worker import RUNNER


def takes_runner(submit: Any) -> bool:
    """Whether an executor's ``submit`` names a ``runner`` parameter (else it is called with the job alone)."""
    try:
        return "runner" in inspect.signature(submit).parameters
    except (TypeError, ValueError):  # a builtin or other callable without a signature
        return False


def submit(executor: Any, job: Job, runner: JobRunner = RUNNER) -> dict[str, Any]:
    """``executor.submit(job, runner=runner)`` (default: :data:`latentdeck.worker.RUNNER`, no queue host; a
    server lends its own, :class:`latentdeck.launch.deferred.DeferredStarts`), or ``executor.submit(job)`` for a
    submit that takes no runner."""
    if takes_runner(executor.submit):
        return executor.submit(job, runner=runner)
    return executor.submit(job)

ANSWER_TIMEOUT_S = 600.0  # a computation job still running after this is cancelled and answered 504


def answer_of(executor, job: Job, timeout_s: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
    """Submit ``job`` to ``executor`` and poll until it ends: its ``answer``, or an :class:`OnDemandError`
    with the executor's ``error`` and ``status`` (500 when it ended without saying)."""
    handle = submit(executor, job)
    deadline, pause = time.monotonic() + timeout_s, 0.02
    while True:
        state = dict(executor.poll(handle) or {})
        if not state.get("alive"):
            break
        if time.monotonic() > deadline:
            if executor.cancel is not None:
                executor.cancel(handle)
            raise OnDemandError(f"{job.args.get('name')}: the {executor.name!r} executor did not answer within "
                                f"{timeout_s:.0f} s; it was cancelled", 504)
        time.sleep(pause)
        pause = min(0.5, pause * 1.5)
    if "answer" in state:
        return state["answer"]
    raise OnDemandError(state.get("error") or f"the {executor.name!r} executor ended {job.args.get('name')!r} "
                        "without an answer", int(state.get("status") or 500))
