"""2-D grids over a projection's bounds, for overlays computed in Python and drawn by the browser.

A :class:`Grid` covers ``bounds = [[x_min, x_max], [y_min, y_max]]`` (the projection file's own
``bounds``, so an overlay lines up with the points it is drawn under) with ``nx`` x ``ny`` equal cells.
Values are evaluated at cell centres ``x_c = x_min + (c + 0.5) * cell_width`` and stored row-major:
``values[r * nx + c]`` is the cell in column ``c`` and row ``r``, row 0 at ``y_min`` (the bottom of
the plot; a renderer drawing rows from the top flips them).

Three evaluations, all without an n x cells matrix in memory at once:

* :func:`gaussian_mixture` — the exact density of ``sum_i w_i N(m_i, S_i)`` (full 2x2 covariances),
  each component evaluated inside the bounding box of its ``TRUNCATION_SIGMA`` ellipse (the mass it
  leaves out is below ``exp(-TRUNCATION_SIGMA**2 / 2)`` of that component);
* :func:`kde` — a weighted Gaussian kernel density estimate with an axis-aligned bandwidth
  (separable: two small matrix products);
* :func:`kernel_average` — a Gaussian-weighted average of per-point values (Nadaraya–Watson), with
  the kernel weight per cell so sparse cells can be left empty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Heavy imports (numpy) sit inside the functions that use them, on purpose: importing this module stays cheap.

ROW_ORDER = "row-major: values[r * nx + c], row 0 at y = bounds[1][0] (bottom), column 0 at x = bounds[0][0]"
TRUNCATION_SIGMA = 4.5
CHUNK_CELLS = 1 << 21  # component x cell evaluations held in memory at once (~16 MiB per float64 array)


@dataclass(frozen=True)
class Grid:
    """``nx`` x ``ny`` cells over ``bounds`` ((x_min, x_max), (y_min, y_max))."""

    bounds: tuple[tuple[float, float], tuple[float, float]]
    nx: int
    ny: int

    @classmethod
    def over(cls, bounds, nx: int, ny: int | None = None) -> "Grid":
        """A grid over ``bounds``; an empty extent (all points on a line) is widened to ±0.5."""
        fixed = []
        for low, high in bounds[:2]:
            low, high = float(low), float(high)
            if not high > low:
                low, high = low - 0.5, high + 0.5
            fixed.append((low, high))
        return cls((fixed[0], fixed[1]), int(nx), int(ny or nx))

    @property
    def cell_width(self) -> float:
        return (self.bounds[0][1] - self.bounds[0][0]) / self.nx

    @property
    def cell_height(self) -> float:
        return (self.bounds[1][1] - self.bounds[1][0]) / self.ny

    @property
    def cell_area(self) -> float:
        return self.cell_width * self.cell_height

    def centres(self):
        """(x centres (nx,), y centres (ny,)) as float64 arrays."""
        import numpy as np

        x = self.bounds[0][0] + (np.arange(self.nx) + 0.5) * self.cell_width
        y = self.bounds[1][0] + (np.arange(self.ny) + 0.5) * self.cell_height
        return x, y

    def describe(self) -> dict[str, Any]:
        """The ``grid`` field of an overlay file."""
        return {"nx": self.nx, "ny": self.ny, "cell_width": self.cell_width, "cell_height": self.cell_height,
                "cell_area": self.cell_area, "order": ROW_ORDER}

    def bounds_list(self) -> list[list[float]]:
        return [list(self.bounds[0]), list(self.bounds[1])]


def projection_bounds(coords) -> list[list[float]]:
    """``[[x_min, x_max], [y_min, y_max]]`` of 2-D coordinates, as the projection file records them."""
    import numpy as np

    c = np.asarray(coords, dtype=np.float64)
    return [[float(c[:, a].min()), float(c[:, a].max())] for a in range(2)]


def gaussian_mixture(grid: Grid, means, covariances, weights, chunk: int = 512):
    """Density (ny, nx) of ``sum_i weights[i] * N(means[i], covariances[i])`` at the cell centres.

    ``means`` (m, 2), ``covariances`` (m, 2, 2) symmetric positive definite, ``weights`` (m,).
    Components are evaluated on the cells inside their ``TRUNCATION_SIGMA`` bounding box, in chunks
    of similar box size (at most ``chunk`` components and about ``CHUNK_CELLS`` evaluations), and
    summed with ``bincount``.
    """
    import numpy as np

    means = np.asarray(means, dtype=np.float64).reshape(-1, 2)
    cov = np.asarray(covariances, dtype=np.float64).reshape(-1, 2, 2)
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] * cov[:, 1, 0]
    assert (det > 0).all() and (cov[:, 0, 0] > 0).all(), "covariances must be positive definite"
    inv_a, inv_b, inv_c = cov[:, 1, 1] / det, -cov[:, 0, 1] / det, cov[:, 0, 0] / det
    norm = weights / (2 * math.pi * np.sqrt(det))
    xs, ys = grid.centres()
    (x0, _), (y0, _) = grid.bounds
    half_w = TRUNCATION_SIGMA * np.sqrt(cov[:, 0, 0])  # the ellipse's extent along x and y
    half_h = TRUNCATION_SIGMA * np.sqrt(cov[:, 1, 1])
    c_lo = np.clip(np.floor((means[:, 0] - half_w - x0) / grid.cell_width), 0, grid.nx).astype(np.int64)
    c_hi = np.clip(np.ceil((means[:, 0] + half_w - x0) / grid.cell_width), 0, grid.nx).astype(np.int64)
    r_lo = np.clip(np.floor((means[:, 1] - half_h - y0) / grid.cell_height), 0, grid.ny).astype(np.int64)
    r_hi = np.clip(np.ceil((means[:, 1] + half_h - y0) / grid.cell_height), 0, grid.ny).astype(np.int64)
    wide, high = c_hi - c_lo, r_hi - r_lo
    keep = np.flatnonzero((wide > 0) & (high > 0) & (weights != 0))  # boxes wholly outside add nothing
    total = np.zeros(grid.nx * grid.ny)
    area = wide * high
    order = keep[np.argsort(area[keep], kind="stable")]
    start = 0
    while start < len(order):
        # boxes ascend in size: the chunk's last one is its largest; keep each chunk near CHUNK_CELLS
        take = min(chunk, len(order) - start)
        take = max(1, min(take, CHUNK_CELLS // int(area[order[start + take - 1]])))
        ids = order[start:start + take]
        start += take
        bw, bh = int(wide[ids].max()), int(high[ids].max())
        cols = c_lo[ids, None] + np.arange(bw)[None, :]                  # (k, bw)
        rows = r_lo[ids, None] + np.arange(bh)[None, :]                  # (k, bh)
        in_x, in_y = cols < c_hi[ids, None], rows < r_hi[ids, None]     # cells beyond a smaller box weigh 0
        cols, rows = np.minimum(cols, grid.nx - 1), np.minimum(rows, grid.ny - 1)
        # float32 for the bulk (relative error ~1e-6 of the peak); the quadratic form stays whole (q >= 0),
        # so exp never overflows however correlated a component is
        dx = (xs[cols] - means[ids, 0, None]).astype(np.float32)         # (k, bw)
        dy = (ys[rows] - means[ids, 1, None]).astype(np.float32)         # (k, bh)
        qx = inv_a[ids, None].astype(np.float32) * dx * dx               # (k, bw)
        qy = inv_c[ids, None].astype(np.float32) * dy * dy               # (k, bh)
        q = (2 * inv_b[ids, None, None]).astype(np.float32) * dy[:, :, None] * dx[:, None, :]
        q += qy[:, :, None]
        q += qx[:, None, :]                                              # (k, bh, bw)
        values = np.exp(-0.5 * q)
        values *= (in_y[:, :, None] & in_x[:, None, :]) * norm[ids, None, None].astype(np.float32)
        flat = rows[:, :, None] * grid.nx + cols[:, None, :]
        total += np.bincount(flat.ravel(), weights=values.ravel(), minlength=total.size)
    return total.reshape(grid.ny, grid.nx)


def scott_bandwidth(points, weights=None):
    """Scott's rule per axis: ``sigma_axis * n_eff ** (-1/6)`` (2-D), ``n_eff`` = Kish's effective size."""
    import numpy as np

    p = np.asarray(points, dtype=np.float64)
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mean = (w[:, None] * p).sum(0)
    sigma = np.sqrt((w[:, None] * (p - mean) ** 2).sum(0))
    n_eff = 1.0 / float((w ** 2).sum())
    sigma = np.where(sigma > 0, sigma, 1e-3 * max(float(sigma.max()), 1.0))
    return sigma * n_eff ** (-1.0 / 6.0)


def _kernel_rows(centres, positions, h: float):
    """(cells, points) Gaussian kernel of one axis, normalised to integrate to 1."""
    import numpy as np

    d = (centres[:, None] - positions[None, :]) / h
    return np.exp(-0.5 * d * d) / (math.sqrt(2 * math.pi) * h)


def kde(grid: Grid, points, weights=None, bandwidth=None):
    """Weighted Gaussian KDE (ny, nx) at the cell centres; weights are normalised to sum to 1, so the
    estimate integrates to 1 over the plane. ``bandwidth`` (2,) defaults to :func:`scott_bandwidth`."""
    import numpy as np

    p = np.asarray(points, dtype=np.float64)
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    h = scott_bandwidth(p, w) if bandwidth is None else np.asarray(bandwidth, dtype=np.float64)
    xs, ys = grid.centres()
    kx, ky = _kernel_rows(xs, p[:, 0], float(h[0])), _kernel_rows(ys, p[:, 1], float(h[1]))
    return (ky * w[None, :]) @ kx.T


def kernel_average(grid: Grid, points, values, bandwidth):
    """(average (ny, nx), support (ny, nx)): Gaussian-weighted mean of ``values`` per cell and the
    summed kernel weight there (in points; a renderer leaves low-support cells empty)."""
    import numpy as np

    p = np.asarray(points, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    h = np.asarray(bandwidth, dtype=np.float64)
    xs, ys = grid.centres()
    kx = np.exp(-0.5 * ((xs[:, None] - p[None, :, 0]) / h[0]) ** 2)
    ky = np.exp(-0.5 * ((ys[:, None] - p[None, :, 1]) / h[1]) ** 2)
    support = ky @ kx.T
    weighted = (ky * v[None, :]) @ kx.T
    with np.errstate(invalid="ignore", divide="ignore"):
        average = np.where(support > 0, weighted / np.where(support > 0, support, 1.0), np.nan)
    return average, support


def rounded(values, significant: int = 6) -> list[float | None]:
    """Row-major flat list rounded to ``significant`` digits of the largest |value|; NaN -> None."""
    import numpy as np

    a = np.asarray(values, dtype=np.float64).reshape(-1)
    finite = np.isfinite(a)
    top = float(np.abs(a[finite]).max()) if finite.any() else 0.0
    decimals = significant - 1 - math.floor(math.log10(top)) if top > 0 else 0
    out = np.round(a, decimals)
    return [None if not ok else float(x) for x, ok in zip(out.tolist(), finite.tolist())]
