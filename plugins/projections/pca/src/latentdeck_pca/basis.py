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
little toward this epoch's principal axes (it is one step of a power iteration started from the
previous basis: ``(z - mean)^T previous`` is the covariance times the previous basis), so a carried
basis follows slow changes of the principal plane instead of drifting away from it. It needs only the
previous coordinates (the host's ``init``), never a stored basis, so it is the same in a live run,
after a reload and in backfill, and deterministic.

The lineage (``carried_for``: 0 = the epoch's own axes, k = carried through k projections since the
last own ones) is the only state: a small bounded memo keyed by a fingerprint of the coordinates a fit
returned (or a restored file holds), which is what the host passes back as ``init``. It labels the
basis; it never changes coordinates.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

_LINEAGE: "OrderedDict[str, int]" = OrderedDict()
_LINEAGE_SIZE = 512


def fingerprint(coords) -> str:
    import numpy as np

    array = np.ascontiguousarray(coords, dtype=np.float64)
    return hashlib.blake2b(repr(array.shape).encode() + array.tobytes(), digest_size=16).hexdigest()


def remember(coords, carried_for: int | None) -> None:
    """Record how many projections ago the basis of the map with these coordinates was its own."""
    if carried_for is None:
        return
    key = fingerprint(coords)
    _LINEAGE[key] = int(carried_for)
    _LINEAGE.move_to_end(key)
    while len(_LINEAGE) > _LINEAGE_SIZE:
        _LINEAGE.popitem(last=False)


def carried_for(init) -> int | None:
    """How many projections ago the previous map's basis was its own (None: a map this process did not
    make or restore, e.g. coordinates from elsewhere)."""
    return _LINEAGE.get(fingerprint(init))


def carried_map(centred, init):
    """``W`` (latent_dim x dims, orthonormal columns) whose coordinates ``centred @ W`` have the largest
    inner product with ``init`` (centred); None when the latents have fewer dimensions than the map."""
    import numpy as np

    previous = np.asarray(init, dtype=np.float64)
    previous = previous - previous.mean(0)
    if centred.shape[1] < previous.shape[1]:
        return None
    u, _, vt = np.linalg.svd(centred.T @ previous, full_matrices=False)
    return u @ vt


def shown_variance(coords, total: float) -> tuple[list[float], float]:
    """Share of the total latent variance along each displayed axis, and their sum (n - 1 denominator)."""
    import numpy as np

    if total <= 0 or len(coords) < 2:
        return [0.0] * coords.shape[1], 0.0
    per_axis = coords.var(0, ddof=1) / total
    return [round(float(v), 6) for v in per_axis], round(float(per_axis.sum()), 6)


def basis_record(source: str, shown: float, own: float, refresh_below: float | None,
                 carried: int | None, carried_share: float | None = None) -> dict[str, Any]:
    """``params.basis``: which axes the file shows and how much of the latent variance they keep."""
    record: dict[str, Any] = {"source": source, "carried_for": carried, "variance_ratio": shown,
                              "own_variance_ratio": round(own, 6), "refresh_below": refresh_below}
    if carried_share is not None:  # the carried basis was tried and fell short: the own axes replace it
        record["carried_variance_ratio"] = round(carried_share, 6)
    return record
