"""Carrying a PCA basis across epochs: the orthonormal map that best keeps the previous epoch's points in
place, and the lineage of each map (how many projections ago its basis was an epoch's own principal axes).

A network keeps training between epochs, so its latent codes move, and the epoch's own top principal
axes can turn to other latent directions even when the clusters barely moved: a fresh PCA per epoch
then reshuffles the map (re-orientation that reads as learning). A carried basis keeps showing the
directions the previous map showed, re-fitted to this epoch's codes:

    W = U V^T  from the SVD of  (z - mean)^T (previous - mean(previous))     (latent_dim x dims)

is the map with orthonormal columns (a projection onto ``dims`` orthonormal latent directions, no
scaling) whose coordinates have the largest inner product with the previous epoch's coordinates of the
same points (the orthogonal Procrustes solution). If this epoch's codes are an orthogonal transform
``Q`` of the previous ones and the previous axes were principal axes, ``W`` is exactly ``Q`` applied to
the previous basis: the previous basis, aligned to the moved codes. Otherwise ``W`` is also pulled a
little toward this epoch's principal axes (when the codes barely moved, ``(z - mean)^T previous`` is about
the covariance times the previous basis: one step of a power iteration), so a carried basis follows slow
changes of the principal plane instead of drifting away from it. When those axes keep less than
``min_variance_share`` of the variance this epoch's own axes keep, the map is turned further toward the
own axes by the least ``pull`` (see ``carried_map``) that keeps enough, instead of jumping to them: a
gradual refresh. It needs only the previous coordinates (the host's ``init``), never a stored basis, so
it is the same in a live run, after a reload and in backfill, and deterministic.

Which epoch a carried basis comes from (``from_epoch``) and how many projections it has been carried
(``carried_for``) are read from the previous projection's own record (the host's ``init_params``), so a
file names its basis without any state in the plugin, also in backfill (the host reads the previous
file's params back). They label the basis; they never change coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

def lineage(init_params: dict[str, Any] | None, epoch: int | None) -> tuple[int | None, int | None]:
    """``(carried_for, from_epoch)`` of a basis carried from the projection whose ``params`` are
    ``init_params``: one more projection than it, from the same epoch's own axes (None when unknown: a
    previous file without a basis record is taken as its own axes of the epoch before)."""
    if not init_params:
        return None, None
    before = init_params.get("basis")
    if not isinstance(before, dict):  # written before bases were recorded: that file showed its own axes
        return 1, (epoch - 1 if epoch is not None else None)
    count, origin = before.get("carried_for"), before.get("from_epoch")
    return (None if count is None else int(count) + 1), origin


PULLS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)  # tried in order: the least pull that keeps enough


@dataclass
class Carry:
    """The carried map (None when no pull kept enough variance), the share of the latent variance it keeps,
    its pull, and the share the plain carried map (pull 0) keeps."""

    w: Any
    share: float
    pull: float | None
    plain_share: float


def _polar(m):
    import numpy as np

    u, _, vt = np.linalg.svd(m, full_matrices=False)
    return u @ vt


def carried_map(centred, init, pull: float = 0.0, start=None, steps: int = 500):
    """``W`` (latent_dim x dims, orthonormal columns) maximising ``tr(W^T centred^T previous) + pull/2 *
    ||centred @ W||^2``: agreement with the previous coordinates (centred), plus ``pull`` times the spread
    the axes keep. ``pull`` 0 is the orthogonal Procrustes solution ``U V^T``; a larger pull turns the map
    toward this epoch's principal axes (as pull grows it tends to the own axes, Procrustes-turned). Solved
    by the minorise-maximise steps ``W <- polar(A + pull C W)`` from ``start`` (each step raises the
    objective; deterministic). None when the latents have fewer dimensions than the map."""
    import numpy as np

    previous = np.asarray(init, dtype=np.float64)
    previous = previous - previous.mean(0)
    if centred.shape[1] < previous.shape[1]:
        return None
    a = centred.T @ previous
    w = _polar(a) if start is None else start
    if pull > 0:
        c = centred.T @ centred
        for _ in range(steps):
            step = _polar(a + pull * c @ w)
            done = np.abs(step - w).max() < 1e-10
            w = step
            if done:
                break
    return w


def carry(centred, init, total: float, floor: float) -> Carry | None:
    """The carried map with the least pull (``PULLS``) whose axes keep at least ``floor`` of the total
    latent variance; ``Carry.w`` None when even the largest pull keeps less (the own axes take over).
    None when no map can be carried (fewer latent dimensions than axes)."""
    w = carried_map(centred, init)
    if w is None:
        return None
    plain = shown_variance(centred @ w, total)[1]
    for pull in PULLS:
        if pull > 0:
            w = carried_map(centred, init, pull, start=w)
        share = plain if pull == 0 else shown_variance(centred @ w, total)[1]
        if share >= floor:
            return Carry(w, share, pull, plain)
    return Carry(None, plain, None, plain)


def shown_variance(coords, total: float) -> tuple[list[float], float]:
    """Share of the total latent variance along each displayed axis, and their sum (n - 1 denominator)."""
    import numpy as np

    if total <= 0 or len(coords) < 2:
        return [0.0] * coords.shape[1], 0.0
    per_axis = coords.var(0, ddof=1) / total
    return [round(float(v), 6) for v in per_axis], round(float(per_axis.sum()), 6)


def basis_record(source: str, shown: float, own: float, min_share: float | None, carried: int | None,
                 pull: float | None = None, carried_share: float | None = None,
                 from_epoch: int | None = None) -> dict[str, Any]:
    """``params.basis``: which axes the file shows, whose principal axes they were, and how much of the
    latent variance they keep."""
    record: dict[str, Any] = {"source": source, "carried_for": carried, "from_epoch": from_epoch,
                              "variance_ratio": shown,
                              "own_variance_ratio": round(own, 6), "min_variance_share": min_share, "pull": pull}
    if carried_share is not None:  # the plain carried axes fell short: pulled toward, or replaced by, the own axes
        record["carried_variance_ratio"] = round(carried_share, 6)
    return record
