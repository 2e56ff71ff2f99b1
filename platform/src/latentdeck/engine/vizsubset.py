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
from typing import Any, Mapping

from ..kit.images import to_float_images
from ..types import ResolvedRun
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


# The subset's forward pass in one batch is what every size up to the old cap (10,000) always did; above it
# the activations of a whole 70,000-image batch take tens of GB, so larger subsets go through in chunks.
ONE_BATCH_MAX = 10_000
CHUNK = 4096


def forward(model, x):
    """``model(x)`` over the subset's images: in one batch up to :data:`ONE_BATCH_MAX` (as always), else in
    chunks of :data:`CHUNK`, per-example outputs (first dimension = the chunk's length) concatenated and
    model-level ones (a mixture prior's means) taken once. Call under ``torch.no_grad()``, model in eval mode."""
    n = len(x)
    if n <= ONE_BATCH_MAX:
        return model(x)
    import torch

    parts = [(len(x[start:start + CHUNK]), model(x[start:start + CHUNK])) for start in range(0, n, CHUNK)]
    merged = {}
    for key, first in parts[0][1].items():
        per_example = all(torch.is_tensor(out[key]) and out[key].dim() > 0 and out[key].shape[0] == size
                          for size, out in parts)
        merged[key] = torch.cat([out[key] for _, out in parts]) if per_example else first
    return merged


def encode(model, x):
    """``model.encode(x)``: in one batch up to :data:`ONE_BATCH_MAX`, else in chunks of :data:`CHUNK`."""
    if len(x) <= ONE_BATCH_MAX:
        return model.encode(x)
    import torch

    return torch.cat([model.encode(x[start:start + CHUNK]) for start in range(0, len(x), CHUNK)])
