"""A run's epochs for computations asked for later: which epoch a request means, its model (cached), and the
held-out split.

- :func:`resolve_epoch` turns ``None`` / ``"latest"`` / a number into an epoch with a complete checkpoint, or a
  4xx naming the epochs that have one.
- :class:`EpochModels` keeps the most recently used ``(run, epoch)`` models in memory, so a second request for
  the same epoch neither rebuilds the model nor re-reads its checkpoint.
- :func:`heldout_split` / :func:`heldout_example`: the run's held-out images as floats, loaded once per
  dataset and data folder; an index out of range is a 422 naming the valid range.

A computation reaches all of this through its context (``ctx.load(epoch)``, ``ctx.heldout_example(idx)``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..kit.atomic import read_json
from ..kit.errors import OnDemandError
from ..kit.images import to_float_images
from ..registry import collect
from .checkpoints import CheckpointError, checkpoint_epochs, checkpoint_units, load_model
from .vizsubset import load as load_viz_subset


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
        raise OnDemandError(f"{incomplete[number]}. " + others(epochs), 409)
    if number not in epochs:
        raise OnDemandError(
            f"epoch {number} has no checkpoint; epochs with checkpoints: {_ranges(epochs) or 'none'} "
            "(checkpoint_every in the run's config sets the cadence)", 404)
    return number


def others(epochs: list[int]) -> str:
    return f"Other epochs with checkpoints: {_ranges(epochs)}." if epochs else "The run has no other checkpoint."


def _ranges(values: list[int]) -> str:
    return ", ".join(str(v) for v in values) if len(values) <= 12 else f"{values[0]}..{values[-1]} ({len(values)} epochs)"


@dataclass(frozen=True)
class Loaded:
    """A run's model at one epoch (eval mode) and what built it."""

    model: Any
    epoch: int
    config: dict[str, Any]
    model_spec: Any
    dataset_spec: Any
    checkpoint_meta: dict[str, Any]

    def viz_subset(self):
        """The run's visualization subset (the examples every per-epoch file used)."""
        return load_viz_subset(self.config, self.dataset_spec)


class EpochModels:
    """A small LRU of loaded models keyed by (run folder, epoch, checkpoint mtime)."""

    def __init__(self, capacity: int = 4):
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int, float], Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_dir: Path, epoch: int | str | None, pm) -> Loaded:
        run_dir = Path(run_dir)
        number = resolve_epoch(run_dir, epoch)
        checkpoint = run_dir / "checkpoints" / f"epoch_{number}.pt"
        key = (str(run_dir.resolve()), number, checkpoint.stat().st_mtime)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        config = read_json(run_dir / "config.json")
        try:
            model, meta = load_model(run_dir, pm, number)
        except CheckpointError as exc:
            rest = [e for e in checkpoint_epochs(run_dir) if e != number]
            raise OnDemandError(f"{exc}. " + others(rest), 409) from exc
        loaded = Loaded(model, number, config, collect(pm, "models")[config["model"]],
                        collect(pm, "datasets")[config["dataset"]], meta)
        with self._lock:
            self._items[key] = loaded
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return loaded


SHARED_MODELS = EpochModels(capacity=4)

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
