"""The visualization subset: which examples every per-epoch artifact (projections, kNN, overlays,
atlas, reconstructions) is computed on, fixed at run start and persisted in ``config.json``.

``viz_split`` says where they come from:

- ``heldout`` (default): ``viz_subset_size`` held-out examples (``viz_indices``), never trained on;
- ``train``: training-split examples (``viz_train_indices``) — the model has seen them;
- ``all``: held-out first (all of them when the size allows), then training examples to fill
  ``viz_subset_size`` — e.g. mnist-5k with size 5,000 shows all 5,000 digits (500 held out + 4,500).

Both lists are chosen with :func:`latentdeck.engine.subsets.interleaved_by_class` (seeded, class-balanced,
interleaved). Each point records its split and whether the run trained on it (``trained``): a training
point outside the examples the run optimised on (``limit``) is marked ``false``.
"""

from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Any

from ..kit.images import to_float_images
from .subsets import interleaved_by_class as choose_viz_indices


@dataclass(frozen=True)
class VizSubset:
    """The examples fixed at run start for the per-epoch artifacts: held-out ones (``config.json:
    viz_indices``) and, with ``viz_split`` ``train`` or ``all``, training ones (``viz_train_indices``),
    held-out first. ``indices`` are dataset indices within each point's split."""

    indices: list[int]
    x: Any  # (n, c, h, w) float in [0, 1]
    y: Any  # (n,) int64
    split: list[str] | None = None  # per point "heldout" | "train"; None: all held out
    trained: list[bool] | None = None  # per point: was it in the training set the run optimised on

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.

SPLITS = ("heldout", "train", "all")


def trained_train_indices(config: dict[str, Any], n_train: int) -> set[int] | None:
    """The training-split indices the run optimises on; None means every one of them.

    ``config.json: train_subset`` records them when ``limit`` chose a subset (``Trainer.load_data``); a run
    made before that record existed trained on the first ``limit``. The test
    ``test_trained_flags_match_the_examples_trained_on`` fails when this and the trainer disagree.
    """
    subset = config.get("train_subset") or {}
    if subset.get("indices") is not None:
        return {int(i) for i in subset["indices"]}
    limit = config.get("limit")
    return None if not limit or limit >= n_train else set(range(int(limit)))


def choose(config: dict[str, Any], heldout_labels, train_labels) -> bool:
    """Fill ``viz_indices`` / ``viz_train_indices`` in ``config`` when neither was given; True when it chose."""
    if config.get("viz_indices") or config.get("viz_train_indices"):
        config.setdefault("viz_train_indices", [])
        return False
    split, size, seed = config.get("viz_split") or "heldout", int(config["viz_subset_size"]), int(config["seed"])
    held = choose_viz_indices(heldout_labels, size, seed) if split in ("heldout", "all") else []
    rest = size - len(held)
    train = choose_viz_indices(train_labels, rest, seed) if split in ("train", "all") and rest > 0 else []
    config["viz_indices"], config["viz_train_indices"] = held, train
    return True


def build(config: dict[str, Any], x_held, y_held, train_images, train_labels, image_shape) -> VizSubset:
    """The subset's images and labels (held-out points first), with each point's split and trained flag.
    ``train_images`` / ``train_labels`` are the full training split (uint8 images)."""
    import torch

    held = [int(i) for i in config.get("viz_indices") or []]
    train = [int(i) for i in config.get("viz_train_indices") or []]
    if held and max(held) >= len(x_held):
        raise ValueError(f"viz_indices go up to {max(held)} but the held-out split has {len(x_held)} examples")
    if train and max(train) >= len(train_labels):
        raise ValueError(f"viz_train_indices go up to {max(train)} but the training split has {len(train_labels)} examples")
    hi = torch.tensor(held, dtype=torch.long)
    x, y = x_held[hi], y_held[hi]
    if not train:
        return VizSubset(held, x, y)
    ti = torch.tensor(train, dtype=torch.long)
    x = torch.cat([x, to_float_images(train_images[ti], tuple(image_shape))])
    y = torch.cat([y, train_labels[ti].long()])
    used = trained_train_indices(config, len(train_labels))
    return VizSubset(held + train, x, y, split=["heldout"] * len(held) + ["train"] * len(train),
                     trained=[False] * len(held) + [used is None or i in used for i in train])


def load(config: dict[str, Any], dataset_spec) -> VizSubset:
    """A run's persisted subset rebuilt from its dataset (backfill, on-demand requests)."""
    data_dir = Path(config["data_dir"])
    heldout = dataset_spec.load(data_dir, "heldout")
    x_held = to_float_images(heldout.images, tuple(dataset_spec.image_shape))
    if config.get("viz_train_indices"):
        train = dataset_spec.load(data_dir, "train")
        return build(config, x_held, heldout.labels.long(), train.images, train.labels, dataset_spec.image_shape)
    return build(config, x_held, heldout.labels.long(), None, [], dataset_spec.image_shape)
