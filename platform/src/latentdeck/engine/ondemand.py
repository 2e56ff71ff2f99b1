"""Shared pieces for on-demand computations (``OnDemandSpec``): the context, the model cache, held-out examples.

- :class:`EpochModels` keeps the most recently used ``(run, epoch)`` models in memory, so a second
  request for the same epoch does not rebuild the model or re-read its checkpoint.
- :func:`heldout_example` returns one example of a run's held-out split by its index, with a 4xx
  error naming the valid range; the split is loaded once per dataset and data folder.
- :class:`OnDemandContext` is what an ``OnDemandSpec``'s ``compute`` gets: the run, its models, and the
  shared writer (:mod:`latentdeck.engine.writer`: files persisted before the answer, announced once).

Errors are :class:`OnDemandError` (a ``RunStoreError``), which the API answers with ``status``.

:func:`run_computation` runs ``compute`` under the server's budget (``LATENTDECK_COMPUTE_BUDGET_S``, see
:mod:`latentdeck.engine.budget`) behind a fence, and :data:`COMPUTATIONS` knows which ones run for which run, so
a DELETE can stop them first.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from ..kit.atomic import json_safe, read_json
from ..kit.images import to_float_images
from .budget import DEFAULT_BUDGET_S, MAX_BUDGET_S, Budget, Fence, FencedWriter, run_within_budget, timeout_message
from .checkpoints import checkpoint_epochs, checkpoint_units, CheckpointError, load_model
from ..kit.errors import OnDemandError  # noqa: F401  (re-exported: the API and the CLI catch it here)
from ..registry.health import note_failure
from .writer import AppendingLog, ArtifactWriter, persist_once  # noqa: F401  (re-exported)
from ..kit.phases import run_phases
from .vizsubset import load as load_viz_subset
from .. import registry as plugin_registry  # get_plugin_manager is looked up when called: tests swap it
from ..registry import collect


def resolve_epoch(run_dir: Path, epoch: int | str | None) -> int:
    """An epoch that has a complete checkpoint: ``None`` or ``"latest"`` means the newest one.

    A ``.pt`` without valid metadata (see :mod:`latentdeck.engine.checkpoints`) is not a checkpoint: "latest"
    passes over it, and asking for its epoch, or for "latest" when no other exists, is a 409 naming it."""
    epochs, incomplete = checkpoint_units(run_dir)
    if not epochs and not incomplete:
        raise OnDemandError("this run has no checkpoint yet: wait for its first epoch to finish", 409)
    if epoch is None or epoch == "latest":
        if not epochs:
            raise OnDemandError("this run has no complete checkpoint: " + "; ".join(incomplete.values()), 409)
        return epochs[-1]
    try:
        number = int(epoch)
    except (TypeError, ValueError):
        raise OnDemandError(f"epoch must be a whole number or 'latest', got {epoch!r}", 422) from None
    if number in incomplete:
        raise OnDemandError(f"{incomplete[number]}. " + _others(epochs), 409)
    if number not in epochs:
        raise OnDemandError(
            f"epoch {number} has no checkpoint; epochs with checkpoints: {_ranges(epochs) or 'none'} "
            "(checkpoint_every in the run's config sets the cadence)", 404)
    return number


def _others(epochs: list[int]) -> str:
    return f"Other epochs with checkpoints: {_ranges(epochs)}." if epochs else "The run has no other checkpoint."


def _ranges(values: list[int]) -> str:
    return ", ".join(str(v) for v in values) if len(values) <= 12 else f"{values[0]}..{values[-1]} ({len(values)} epochs)"


@dataclass(frozen=True)
class LoadedEpoch:
    """A run's model at one epoch, in eval mode, with what built it: what a computation needs from the run and
    the registry comes from here (its subset, its checkpoints, the installed projections), not from the host."""

    model: Any
    epoch: int
    config: dict[str, Any]
    model_spec: Any
    dataset_spec: Any
    checkpoint_meta: dict[str, Any]
    run_dir: Path | None = None
    projections: dict[str, Any] = field(default_factory=dict)  # the installed ProjectionSpecs by name

    def viz_subset(self):
        """The run's visualization subset (``x``, ``y``, ``indices``), the examples every per-epoch artifact used."""
        return load_viz_subset(self.config, self.dataset_spec)

    def epochs(self) -> list[int]:
        """The run's epochs with a complete checkpoint, ascending."""
        return checkpoint_epochs(self.run_dir)

    @property
    def phases(self) -> list[dict[str, Any]]:
        """The run's training phases (:mod:`latentdeck.kit.phases`), e.g. to say that prior samples of a
        pretraining epoch come from a prior that is not initialised yet."""
        return run_phases(self.model_spec, self.config)


class EpochModels:
    """A small LRU of loaded models keyed by (run folder, epoch, checkpoint mtime)."""

    def __init__(self, capacity: int = 4):
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int, float], LoadedEpoch] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_dir: Path, epoch: int | str | None, pm=None) -> LoadedEpoch:
        run_dir = Path(run_dir)
        number = resolve_epoch(run_dir, epoch)
        checkpoint = run_dir / "checkpoints" / f"epoch_{number}.pt"
        key = (str(run_dir.resolve()), number, checkpoint.stat().st_mtime)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        pm = pm or plugin_registry.get_plugin_manager()
        config = read_json(run_dir / "config.json")
        try:
            model, meta = load_model(run_dir, pm, number)
        except CheckpointError as exc:
            others = [e for e in checkpoint_epochs(run_dir) if e != number]
            raise OnDemandError(f"{exc}. " + _others(others), 409) from exc
        loaded = LoadedEpoch(model, number, config, collect(pm, "models")[config["model"]],
                             collect(pm, "datasets")[config["dataset"]], meta, run_dir, collect(pm, "projections"))
        with self._lock:
            self._items[key] = loaded
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return loaded


_HELDOUT: dict[tuple[str, str], Any] = {}
_HELDOUT_LOCK = threading.Lock()


def heldout_split(config: dict[str, Any], dataset_spec) -> tuple[Any, Any]:
    """The run's held-out split as float images (n, c, h, w) in [0, 1] and int64 labels (cached)."""
    key = (config["dataset"], str(config["data_dir"]))
    with _HELDOUT_LOCK:
        if key not in _HELDOUT:
            split = dataset_spec.load(Path(config["data_dir"]), "heldout")
            _HELDOUT[key] = (to_float_images(split.images, tuple(dataset_spec.image_shape)), split.labels.long())
        return _HELDOUT[key]


def heldout_example(config: dict[str, Any], dataset_spec, index: int) -> tuple[Any, int]:
    """Example ``index`` of the held-out split: an image (1, c, h, w) and its label."""
    images, labels = heldout_split(config, dataset_spec)
    n = len(images)
    if not 0 <= index < n:
        raise OnDemandError(f"index {index} is outside the held-out split of {config['dataset']}: "
                            f"use 0..{n - 1}", 422)
    return images[index:index + 1], int(labels[index])


_SHARED_MODELS = EpochModels(capacity=4)


@dataclass
class OnDemandContext:
    """What an :class:`latentdeck.types.OnDemandSpec`'s ``compute`` sees: the run, the plugins, a cache of
    loaded epochs (:meth:`load`), and :meth:`announce` for the files it wrote (``artifact.created`` with
    ``kind`` = the spec's folder, ``generator`` = ``<spec name>:on_demand``, ``latest: null``)."""

    run_id: str
    run_dir: Path
    spec: Any
    pm: Any = None
    models: EpochModels = _SHARED_MODELS
    fence: Fence | None = None  # set by run_computation: closed when it is stopped or out of budget

    def load(self, epoch: int | str | None) -> LoadedEpoch:
        """The run's model at ``epoch`` (None or "latest": the newest checkpoint), in eval mode; 404/409 otherwise."""
        loaded = self.models.get(self.run_dir, epoch, self.pm)
        missing = sorted(set(self.spec.requires) - set(loaded.model_spec.capabilities))
        if missing:
            raise OnDemandError(f"{self.spec.name} needs a model with {', '.join(missing)}; model "
                                f"{loaded.config['model']!r} has {', '.join(sorted(loaded.model_spec.capabilities))}", 422)
        return loaded

    def writer(self, epoch: int) -> ArtifactWriter:
        """The shared writer for this request: only the spec's folder, mirrors never moved back to an older
        epoch, every new file announced (the event log takes appends while a worker or backfill writes it)."""
        return FencedWriter(run_dir=Path(self.run_dir), epoch=epoch, generator=f"{self.spec.name}:on_demand",
                            events=AppendingLog(self.run_dir, self.run_id), folders=frozenset({self.spec.folder}),
                            keep_newer_latest=True, fence=self.fence)

    def persist(self, relative: str, produce, epoch: int) -> tuple[list[str], bool]:
        """``<spec folder>/<relative>/`` produced once (see :meth:`ArtifactWriter.persist_folder`)."""
        return self.writer(epoch).persist_folder(self.spec.folder, relative, produce)

    def announce(self, names: list[str], epoch: int) -> None:
        writer = self.writer(epoch)
        for name in names:
            writer.announce(name, None, self.spec.folder)


def compute_here(run_dir: Path, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """On-demand computation ``name`` of the run in ``run_dir``, in this process: what an executor's
    ``call`` runs where it runs work (the answer is JSON-safe: ``{"folder", "files", "created", "payload"}``)."""
    pm = plugin_registry.get_plugin_manager()
    spec = collect(pm, "ondemand").get(name)
    if spec is None:
        raise OnDemandError(f"no on-demand computation {name!r} is installed where this run's executor runs it", 404)
    try:
        request = spec.request.model_validate(body)
    except ValidationError as exc:
        raise OnDemandError(f"invalid request for {name}: {exc.errors()[0]['msg']}", 422) from None
    run_dir = Path(run_dir)
    ctx = OnDemandContext(run_id=read_json(run_dir / "config.json")["run_id"], run_dir=run_dir, spec=spec, pm=pm)

    return json_safe(run_computation(ctx, request))


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


def count_failure(ctx: OnDemandContext, message: str, reason: str) -> None:
    """Count a computation that raised or ran past its budget for ``/plugins`` (:mod:`latentdeck.registry.health`)."""
    try:
        note_failure(Path(ctx.run_dir).parent, "ondemand", ctx.spec.name, message, ctx.run_id, reason=reason)
    except OSError as exc:
        log.warning("could not count the failure of %s: %s", ctx.spec.name, exc)


def run_computation(ctx: OnDemandContext, request: Any, budget_s: float | None = None,
                    registry: Computations = COMPUTATIONS) -> dict[str, Any]:
    """``ctx.spec.compute(ctx, request)`` under the budget, tracked in ``registry``: 504 when it takes
    longer (it is given up and writes nothing more), 409 when a DELETE of the run stops it."""
    fence = ctx.fence = Fence()
    name = ctx.spec.name
    budget = Budget(compute_budget_s() if budget_s is None else budget_s, lambda: fence.reason,
                    f"{BUDGET_SETTING} (the server's setting)")
    with registry.track(Path(ctx.run_dir), name, fence):
        outcome = run_within_budget(lambda: ctx.spec.compute(ctx, request), budget, fence, f"compute-{name}")
    if outcome.timed_out:
        message = timeout_message(f"the computation {name!r}", budget, "files it finished before are "
                                  "kept, nothing it writes later is; ask again once the budget is raised")
        count_failure(ctx, message, "timeout")
        raise OnDemandError(message, 504)
    if outcome.stopped:
        raise OnDemandError(f"the computation {name!r} was stopped: {outcome.stopped}", 409)
    if outcome.error is not None:
        if not isinstance(outcome.error, OnDemandError):  # a refusal of the request is not the plugin failing
            count_failure(ctx, f"{type(outcome.error).__name__}: {outcome.error}", "error")
        raise outcome.error
    return outcome.value

