"""Computations asked for by people (``POST /api/runs/{id}/compute/<name>``, ``latentdeck compute``): the server's
budget for them and which ones run for which run.

:func:`compute_budget_s` is the server's budget (``LATENTDECK_COMPUTE_BUDGET_S``, see
:mod:`latentdeck.engine.budget`); :data:`COMPUTATIONS` knows which computations run for which run, so a DELETE can
stop them first. The path itself is :func:`latentdeck.engine.computations.run`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..kit.errors import OnDemandError  # noqa: F401  (re-exported: the API and the CLI catch it here)
from .budget import DEFAULT_BUDGET_S, MAX_BUDGET_S, Fence


BUDGET_SETTING = "LATENTDECK_COMPUTE_BUDGET_S"
log = logging.getLogger(__name__)


def compute_budget_s() -> float:
    """Seconds an on-demand computation may take: ``$LATENTDECK_COMPUTE_BUDGET_S`` (0.1..3600), default 120."""
    raw = os.environ.get(BUDGET_SETTING, "").strip()
    if not raw:
        return DEFAULT_BUDGET_S
    try:
        value = float(raw)
        if 0.1 <= value <= MAX_BUDGET_S:
            return value
    except ValueError:
        pass
    log.warning("%s=%r is not a number of seconds in 0.1..%g; using %g", BUDGET_SETTING, raw, MAX_BUDGET_S,
                DEFAULT_BUDGET_S)
    return DEFAULT_BUDGET_S


@dataclass
class _Running:
    name: str
    fence: Fence | None  # None: it runs elsewhere (an executor's call), where nothing here can fence it
    started: float = field(default_factory=time.time)
    done: threading.Event = field(default_factory=threading.Event)


class Computations:
    """The on-demand computations this process runs, per run folder, so that a DELETE stops them first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, list[_Running]] = {}
        self._closed: dict[str, str] = {}  # run folder -> why it takes no new computation

    @contextmanager
    def track(self, run_dir: Path, name: str, fence: Fence | None) -> Iterator[_Running]:
        key = str(run_dir)
        with self._lock:
            if key in self._closed:
                raise OnDemandError(f"{name}: {self._closed[key]}", 409)
            item = _Running(name, fence)
            self._running.setdefault(key, []).append(item)
        try:
            yield item
        finally:
            with self._lock:
                self._running[key].remove(item)
                if not self._running[key]:
                    del self._running[key]
            item.done.set()

    def running(self, run_dir: Path) -> list[str]:
        with self._lock:
            return [item.name for item in self._running.get(str(run_dir), [])]

    @contextmanager
    def closed(self, run_dir: Path, reason: str, wait_s: float) -> Iterator[list[str]]:
        """While inside: ``run_dir`` takes no new computation, the running ones are stopped (their fences
        revoked: nothing more is written) and waited for up to ``wait_s``. Yields the names of those still
        running that nothing here can fence (computed by an executor elsewhere)."""
        key = str(run_dir)
        with self._lock:
            self._closed[key] = reason
            items = list(self._running.get(key, []))
        try:
            for item in items:
                if item.fence is not None:
                    item.fence.revoke(reason)
            deadline = time.monotonic() + wait_s
            for item in items:
                item.done.wait(max(0.0, deadline - time.monotonic()))
            yield [f"{item.name} (running for {time.time() - item.started:.0f} s)"
                   for item in items if item.fence is None and not item.done.is_set()]
        finally:
            with self._lock:
                self._closed.pop(key, None)


COMPUTATIONS = Computations()
