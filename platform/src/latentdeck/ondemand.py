"""Shared pieces for artifacts computed on demand through the API (samples, network inspection).

- :class:`EpochModels` keeps the most recently used ``(run, epoch)`` models in memory, so a second
  request for the same epoch does not rebuild the model or re-read its checkpoint.
- :func:`heldout_example` returns one example of a run's held-out split by its index, with a 4xx
  error naming the valid range; the split is loaded once per dataset and data folder.
- :func:`persist_once` produces a set of files exactly once: into a hidden temporary folder, renamed
  into place when complete, so a failure leaves nothing half-written and a repeat is served from disk.

Errors are :class:`OnDemandError` (a ``RunStoreError``), which the API answers with ``status``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .atomic import read_json
from .checkpoints import CheckpointError, checkpoint_epochs
from .runs.store import RunStoreError


class OnDemandError(RunStoreError):
    """A request for an on-demand artifact the run cannot serve (``status`` 400, 404 or 422)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def resolve_epoch(run_dir: Path, epoch: int | str | None) -> int:
    """An epoch that has a checkpoint: ``None`` or ``"latest"`` means the newest one."""
    epochs = checkpoint_epochs(run_dir)
    if not epochs:
        raise OnDemandError("this run has no checkpoint yet: wait for its first epoch to finish", 409)
    if epoch is None or epoch == "latest":
        return epochs[-1]
    try:
        number = int(epoch)
    except (TypeError, ValueError):
        raise OnDemandError(f"epoch must be a whole number or 'latest', got {epoch!r}", 422) from None
    if number not in epochs:
        raise OnDemandError(
            f"epoch {number} has no checkpoint; epochs with checkpoints: {_ranges(epochs)} "
            "(checkpoint_every in the run's config sets the cadence)", 404)
    return number


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
            raise OnDemandError(f"{exc}. " + (f"Other epochs with checkpoints: {_ranges(others)}." if others
                                              else "The run has no other checkpoint."), 409) from exc
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


_PATH_LOCKS: dict[str, threading.Lock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


def persist_once(folder: Path, produce: Callable[[Path], None]) -> bool:
    """Create ``folder`` by calling ``produce(tmp_folder)`` unless it already exists.

    ``produce`` writes every file into the temporary folder it is given (beside ``folder``, hidden);
    the folder is renamed into place only when ``produce`` returns. On an exception the temporary
    folder is removed and the exception propagates. Returns True when it produced the files, False
    when they were already on disk. Concurrent callers for the same folder wait for one another.
    """
    folder = Path(folder)
    with _PATH_LOCKS_GUARD:
        lock = _PATH_LOCKS.setdefault(str(folder), threading.Lock())
    with lock:
        if folder.is_dir():
            return False
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        try:
            produce(tmp)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return True


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

    def announce(self, names: list[str], epoch: int) -> None:
        from .events import EventLog

        # EventLog appends under an exclusive lock and re-reads the last seq when another writer (the
        # run's worker, a backfill) appended meanwhile, so this is safe while the run still trains.
        with EventLog(Path(self.run_dir) / "events.jsonl", self.run_id) as log:
            for name in names:
                log.emit("artifact.created", {"name": name, "latest": None, "kind": self.spec.folder, "epoch": epoch,
                                              "generator": f"{self.spec.name}:on_demand"})
