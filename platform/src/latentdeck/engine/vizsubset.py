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
from typing import Any, Mapping

from ..kit.images import to_float_images
from ..types import ResolvedRun
from .artifacts import VizSubset
from .subsets import interleaved_by_class as choose_viz_indices

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.

SPLITS = ("heldout", "train", "all")


def trained_train_indices(train_subset: Mapping[str, Any] | None, limit: int | None, n_train: int) -> set[int] | None:
    """The training-split indices the run optimises on; None means every one of them.

    ``config.json: train_subset`` records them when ``limit`` chose a subset (``Trainer.load_data``); a run
    made before that record existed trained on the first ``limit``. The test
    ``test_trained_flags_match_the_examples_trained_on`` fails when this and the trainer disagree.
    """
    if train_subset and train_subset.get("indices") is not None:
        return {int(i) for i in train_subset["indices"]}
    return None if not limit or limit >= n_train else set(range(int(limit)))


def choose(split: str, size: int, seed: int, heldout_labels, train_labels) -> tuple[list[int], list[int]]:
    """``(viz_indices, viz_train_indices)`` for a run that gave neither: ``size`` examples from ``split``."""
    held = choose_viz_indices(heldout_labels, size, seed) if split in ("heldout", "all") else []
    rest = size - len(held)
    train = choose_viz_indices(train_labels, rest, seed) if split in ("train", "all") and rest > 0 else []
    return held, train


def build(held: list[int], train: list[int], trained: set[int] | None, x_held, y_held, train_images, train_labels,
          image_shape) -> VizSubset:
    """The subset's images and labels (held-out points first), with each point's split and trained flag.
    ``train_images`` / ``train_labels`` are the full training split (uint8 images); ``trained``: the training
    indices the run optimised on (:func:`trained_train_indices`; None: all)."""
    import torch

    held, train = [int(i) for i in held], [int(i) for i in train]
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
    return VizSubset(held + train, x, y, split=["heldout"] * len(held) + ["train"] * len(train),
                     trained=[False] * len(held) + [trained is None or i in trained for i in train])


def load(run: ResolvedRun | Mapping[str, Any], dataset_spec) -> VizSubset:
    """A run's persisted subset rebuilt from its dataset (backfill, on-demand requests). ``run``: the
    :class:`~latentdeck.types.ResolvedRun`, or config.json's dict from a caller that reads it itself."""
    if isinstance(run, ResolvedRun):
        settings = run.settings
        held, train, limit = settings.viz_indices or [], settings.viz_train_indices or [], settings.limit
        data_dir, subset = run.data_dir, run.train_subset
    else:
        held, train, limit = run.get("viz_indices") or [], run.get("viz_train_indices") or [], run.get("limit")
        data_dir, subset = Path(run["data_dir"]), run.get("train_subset")
    heldout = dataset_spec.load(data_dir, "heldout")
    x_held = to_float_images(heldout.images, tuple(dataset_spec.image_shape))
    if not train:
        return build(held, [], None, x_held, heldout.labels.long(), None, [], dataset_spec.image_shape)
    split = dataset_spec.load(data_dir, "train")
    trained = trained_train_indices(subset, limit, len(split.labels))
    return build(held, train, trained, x_held, heldout.labels.long(), split.images, split.labels,
                 dataset_spec.image_shape)
