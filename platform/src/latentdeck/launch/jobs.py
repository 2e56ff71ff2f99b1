"""Waiting on a job the host needs the answer of: a heavy on-demand computation submitted to the run's
executor (:class:`latentdeck.types.Job` of kind ``computation``), polled until it ends."""

from __future__ import annotations

import time
from typing import Any

from ..kit.errors import OnDemandError
from ..types import Job

ANSWER_TIMEOUT_S = 600.0  # a computation job still running after this is cancelled and answered 504


def answer_of(executor, job: Job, timeout_s: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
    """Submit ``job`` to ``executor`` and poll until it ends: its ``answer``, or an :class:`OnDemandError`
    with the executor's ``error`` and ``status`` (500 when it ended without saying)."""
    handle = executor.submit(job)
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
