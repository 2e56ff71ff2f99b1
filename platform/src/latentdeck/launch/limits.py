"""Limits a run is checked against when it is posted, before anything is written.

- :func:`viz_subset_maximum` / :func:`check_viz_subset_size`: ``viz_subset_size`` above what the dataset's
  split holds (``heldout``, ``train``, or both with ``all``) is refused, naming the maximum. The default (512)
  is never refused: a smaller split (mnist-5k holds 500 held-out digits) simply gives fewer points.
- :func:`estimate_run_bytes` / :func:`disk_refusal`: a run whose estimated folder (points shown x epochs x
  bytes per point of the artifacts and projections it computes, plus its checkpoints) does not fit in the
  free space of the runs folder is refused, naming the estimate, the free space and the fix.
  The sizes are two constants, :data:`BYTES_PER_POINT` and :data:`BYTES_PER_EPOCH`, to retune when a format changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..types.run import RunConfig

# Bytes one shown point adds to one epoch's files, and bytes per epoch whatever the points, for each per-epoch
# computation on: the same for every computation (the host names none), sized on the built-in ones in the array
# format (a projection's 2-D and 3-D files about 14 + 18 bytes a point; neighbours a uint16 and a float32 per
# neighbour and map; per-point values a float32 or two; grids (float32) and small images about 100 kB). Retune here.
BYTES_PER_POINT = 48.0
BYTES_PER_EPOCH = 100_000
RUN_BYTES_PER_EPOCH = 20_000  # events, metrics, summary
CHECKPOINT_OVERHEAD = 3  # an Adam checkpoint holds the weights and two moments (float32 each)
LATEST_COPY = 1  # latest.pt: one more checkpoint, whatever the number of epochs
HEADROOM = 1.1  # 10 % more than the estimate must be free


def viz_subset_maximum(viz_split: str, sizes: Mapping[str, int]) -> int:
    """How many points ``viz_split`` can show: the held-out split, the training split, or both (``all``)."""
    if viz_split == "heldout":
        return int(sizes["heldout"])
    if viz_split == "train":
        return int(sizes["train"])
    return int(sizes["heldout"]) + int(sizes["train"])


def check_viz_subset_size(request: RunConfig, dataset: str, split_size: Callable[[str], int]) -> str | None:
    """The refusal for a ``viz_subset_size`` the request set above what ``dataset`` holds (None when it fits).
    ``split_size(split)``: how many examples a split holds (loaded only when the request set the size)."""
    if "viz_subset_size" not in request.model_fields_set:
        return None  # the default: a smaller split gives fewer points
    needed = ("heldout", "train") if request.viz_split == "all" else (request.viz_split,)
    sizes = {split: split_size(split) for split in needed}
    maximum = viz_subset_maximum(request.viz_split, sizes)
    if request.viz_subset_size <= maximum:
        return None
    held = f"{sizes['heldout']:,} held-out" if "heldout" in sizes else ""
    train = f"{sizes['train']:,} training" if "train" in sizes else ""
    has = " + ".join(part for part in (held, train) if part)
    hint = " or viz_split 'all' (held-out plus training examples)" if request.viz_split != "all" else ""
    return (f"viz_subset_size: {request.viz_subset_size:,} is more than dataset {dataset!r} has for viz_split "
            f"{request.viz_split!r} ({has} examples): at most {maximum:,}. Use viz_subset_size {maximum:,} or "
            f"less{hint}")


def estimate_run_bytes(points: int, epochs: int, computations: Iterable[str], parameters: int,
                       checkpoints: int | None = None) -> int:
    """The run folder's size, estimated from its config: ``points`` shown x ``epochs`` x the bytes per point of
    each computation on (:data:`BYTES_PER_POINT`), plus each one's part per epoch (:data:`BYTES_PER_EPOCH`: grids,
    images) and the events', plus ``checkpoints`` checkpoints
    (default: one per epoch) of ``parameters`` float32 weights with Adam's two moments, and ``latest``."""
    names = set(computations)
    per_point = BYTES_PER_POINT * len(names)
    fixed = BYTES_PER_EPOCH * len(names)
    per_epoch = points * per_point + fixed + RUN_BYTES_PER_EPOCH
    count = epochs if checkpoints is None else checkpoints
    checkpoint = 4 * parameters * CHECKPOINT_OVERHEAD
    return int(epochs * per_epoch + (count + LATEST_COPY) * checkpoint)


def disk_refusal(estimate: int, free: int, folder: Path, epochs: int) -> str | None:
    """The refusal when ``estimate`` (times :data:`HEADROOM`) does not fit in ``free`` bytes (None when it fits
    or the free space is unknown, ``free < 0``)."""
    if free < 0 or estimate * HEADROOM <= free:
        return None
    per_epoch = estimate / max(1, epochs)
    fits = int(free / HEADROOM // per_epoch) if per_epoch else 0
    return (f"not enough disk for this run: it needs about {_mb(estimate)} ({_mb(per_epoch)} per epoch x {epochs} "
            f"epochs, estimated from the config: points shown x epochs x bytes per point of its artifacts, plus "
            f"checkpoints) but the disk holding {folder} has {_mb(free)} free. Free some space (delete old runs), "
            f"or ask for fewer epochs (about {fits} fit), a smaller viz_subset_size, fewer artifacts or "
            f"projections, or a larger checkpoint_every; nothing was written")


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def run_computations(stored: Mapping[str, Any], generators: Iterable[str], projections: Iterable[str]) -> list[str]:
    """The per-epoch computations a stored config turns on: its ``artifacts`` (default: every generator) and
    ``projections`` (default: every installed one) less those projected never (``projection_every`` 0)."""
    every = stored.get("projection_every") or {}
    chosen = stored.get("projections")
    projected = [p for p in (projections if chosen is None else chosen) if every.get(p, 1) != 0]
    artifacts = stored.get("artifacts")
    return list(generators if artifacts is None else artifacts) + projected
