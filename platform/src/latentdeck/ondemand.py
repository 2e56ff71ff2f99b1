"""Shared pieces for on-demand computations (``OnDemandSpec``): the context, the model cache, held-out examples.

- :class:`EpochModels` keeps the most recently used ``(run, epoch)`` models in memory, so a second
  request for the same epoch does not rebuild the model or re-read its checkpoint.
- :func:`heldout_example` returns one example of a run's held-out split by its index, with a 4xx
  error naming the valid range; the split is loaded once per dataset and data folder.
- :class:`OnDemandContext` is what an ``OnDemandSpec``'s ``compute`` gets: the run, its models, and the
  shared writer (:mod:`latentdeck.writer`: files persisted before the answer, announced once).

Errors are :class:`OnDemandError` (a ``RunStoreError``), which the API answers with ``status``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import read_json
from .checkpoints import CheckpointError, checkpoint_epochs, checkpoint_units
from .runs.store import RunStoreError
from .writer import AppendingLog, ArtifactWriter, persist_once  # noqa: F401  (persist_once re-exported)


class OnDemandError(RunStoreError):
    """A request for an on-demand artifact the run cannot serve (``status`` 400, 404 or 422)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def resolve_epoch(run_dir: Path, epoch: int | str | None) -> int:
    """An epoch that has a complete checkpoint: ``None`` or ``"latest"`` means the newest one.

    A ``.pt`` without valid metadata (see :mod:`latentdeck.checkpoints`) is not a checkpoint: "latest"
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
    """A run's model at one epoch, in eval mode, with what built it."""

    model: Any
    epoch: int
    config: dict[str, Any]
    model_spec: Any
    dataset_spec: Any
    checkpoint_meta: dict[str, Any]

    @property
    def phases(self) -> list[dict[str, Any]]:
        """The run's training phases (:mod:`latentdeck.phases`), e.g. to say that prior samples of a
        pretraining epoch come from a prior that is not initialised yet."""
        from .phases import run_phases

        return run_phases(self.model_spec, self.config)


class EpochModels:
    """A small LRU of loaded models keyed by (run folder, epoch, checkpoint mtime)."""

    def __init__(self, capacity: int = 4):
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int, float], LoadedEpoch] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_dir: Path, epoch: int | str | None, pm=None) -> LoadedEpoch:
        from .checkpoints import load_model
        from .plugins import collect, get_plugin_manager

        run_dir = Path(run_dir)
        number = resolve_epoch(run_dir, epoch)
        checkpoint = run_dir / "checkpoints" / f"epoch_{number}.pt"
        key = (str(run_dir.resolve()), number, checkpoint.stat().st_mtime)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        pm = pm or get_plugin_manager()
        config = read_json(run_dir / "config.json")
        try:
            model, meta = load_model(run_dir, pm, number)
        except CheckpointError as exc:
            others = [e for e in checkpoint_epochs(run_dir) if e != number]
            raise OnDemandError(f"{exc}. " + _others(others), 409) from exc
        loaded = LoadedEpoch(model, number, config, collect(pm, "models")[config["model"]],
                             collect(pm, "datasets")[config["dataset"]], meta)
        with self._lock:
            self._items[key] = loaded
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return loaded


_HELDOUT: dict[tuple[str, str], Any] = {}
_HELDOUT_LOCK = threading.Lock()


def heldout_split(config: dict[str, Any], dataset_spec) -> tuple[Any, Any]:
    """The run's held-out split as float images (n, c, h, w) in [0, 1] and int64 labels (cached)."""
    from .training import to_float_images

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
        return ArtifactWriter(run_dir=Path(self.run_dir), epoch=epoch, generator=f"{self.spec.name}:on_demand",
                              events=AppendingLog(self.run_dir, self.run_id), folders=frozenset({self.spec.folder}),
                              keep_newer_latest=True)

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
    from pydantic import ValidationError

    from .plugins import collect, get_plugin_manager

    pm = get_plugin_manager()
    spec = collect(pm, "ondemand").get(name)
    if spec is None:
        raise OnDemandError(f"no on-demand computation {name!r} is installed where this run's executor runs it", 404)
    try:
        request = spec.request.model_validate(body)
    except ValidationError as exc:
        raise OnDemandError(f"invalid request for {name}: {exc.errors()[0]['msg']}", 422) from None
    run_dir = Path(run_dir)
    ctx = OnDemandContext(run_id=read_json(run_dir / "config.json")["run_id"], run_dir=run_dir, spec=spec, pm=pm)
    from .atomic import json_safe

    return json_safe(spec.compute(ctx, request))

