"""An epoch's artifact steps: the computations' order (``after``), the ``run.stage`` announcements, and
each computation run through the one path under its time budget (:mod:`latentdeck.engine.computations`)."""

from __future__ import annotations

from typing import Any, Callable

from . import computations
from .budget import Budget
from ..store.events import EventLog

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.


def selected_generators(generators: dict[str, Any], capabilities: frozenset[str],
                        wanted: list[str] | None) -> list[Any]:
    """The generators to run, by name, except that each runs after the chosen ones in its ``after``."""
    chosen = {name: spec for name, spec in sorted(generators.items())
              if spec.requires <= capabilities and (wanted is None or name in wanted)}
    ordered: list[Any] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if any(spec.name == name for spec in ordered):
            return
        if name in visiting:
            raise ValueError(f"computations depend on each other (after=) in a cycle through {name!r}")
        visiting.add(name)
        for before in sorted(chosen[name].after & chosen.keys()):
            visit(before)
        visiting.discard(name)
        ordered.append(chosen[name])

    for name in chosen:
        visit(name)
    return ordered


class StageReporter:
    """Announces each step of an epoch's artifact stage as ``run.stage`` (``stage: "artifacts"``,
    ``step``, ``text``, ``done`` steps before this one of ``total``), so a page can show what the
    run is doing between epochs and how far it is."""

    def __init__(self, events: EventLog, epoch: int, total: int, start: int = 0):
        self.events, self.epoch, self.total, self.done = events, epoch, total, start

    def step(self, step: str, text: str) -> None:
        self.events.emit("run.stage", {"stage": "artifacts", "epoch": self.epoch, "step": step, "text": text,
                                       "done": self.done, "total": self.total})
        self.done += 1


def without_grad(work: Callable[[], Any]) -> Callable[[], Any]:
    def run():
        import torch

        with torch.no_grad():  # grad mode is per thread: the engine's own no_grad does not reach the worker thread
            return work()
    return run


def run_generators(make_context: Callable[[str], Any], specs: list[Any],
                   events: EventLog, stage: StageReporter | None = None, budget: Budget | None = None) -> dict[str, float]:
    """Run each computation with its own context through the one path (:func:`latentdeck.engine.computations.run`)
    under ``budget``; returns {name: milliseconds}. Raises :class:`latentdeck.engine.budget.Stopped` when
    ``budget.should_stop`` asks to stop."""
    budget = budget or Budget()
    timings: dict[str, float] = {}
    for spec in specs:
        if stage is not None:
            stage.step(f"generator {spec.name}", f"writing artifacts: {spec.name}")
        answer = computations.run(spec, make_context(spec.name), None, budget)
        timings[spec.name] = round(answer.seconds * 1000, 2)
    return timings
