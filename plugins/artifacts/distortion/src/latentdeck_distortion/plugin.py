"""Distortion maps: where a 2-D projection stretches or squeezes latent neighbourhoods.

For every projection method the run computed this epoch with a 2-D projection, writes
``distortion/metric_ratio_2d_epoch_<N>_<method>.json`` and ``metric_ratio_2d_latest_<method>.json``.

Metric ``knn_mean_ratio``: for each point i of the visualization subset and its k latent-space
nearest neighbours nn_j (the ``knn`` artifact's, read with ``ctx.read("knn", method=...)``;
this generator runs after ``knn`` and never recomputes them),

    ratio_i = mean_j d_proj(i, nn_j) / mean_j d_latent(i, nn_j)

with Euclidean distances in the projection's 2-D coordinates and in latent space. The per-point ratios
are splatted onto a ``grid_size`` x ``grid_size`` grid over the projection's bounds by a Gaussian
kernel average (Nadaraya–Watson, Scott's bandwidth of the points per axis); a cell whose summed kernel
weight is below ``min_support`` points is left empty. A ratio only means something relative
to the others (latent and projected units differ): above the median the map stretches that region,
below it squeezes it.

``values`` (ny * nx, row-major) and ``point_ratio`` (n, subset order) are float32 arrays in
``<stem>.safetensors`` beside the JSON (``latentdeck.kit.arrays``); an empty cell is NaN there (``null`` in the
inline JSON of runs written before). The knn file is read through ``latentdeck.kit.read_artifact`` semantics,
so both of its formats work.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, hookimpl

METRIC_TEXT = ("ratio_i = mean_j d_proj(i, nn_j) / mean_j d_latent(i, nn_j) over the k latent-space nearest "
               "neighbours nn_j of point i (Euclidean; d_proj in the projection's 2-D coordinates)")
# What the file says about itself for the explorer (SPEC.md "Explorer roles", overlay fields): the explorer
# draws any `scale: ratio` grid blue-white-red around its median and knows nothing else of this plugin.
LABEL = "distortion (kNN distance ratio)"
READING = ("Red: the map stretches — neighbours are drawn farther apart than in latent space, relative to this "
           "map's typical ratio. Blue: it squeezes them together. White: typical. Empty: too few points to say.")
ENDS = ("squeezed", "stretched")
SPLAT_TEXT = ("cell value = sum_i K(cell - p_i) ratio_i / sum_i K(cell - p_i), K a Gaussian with Scott's bandwidth "
              "per axis; empty (NaN in the array file) where sum_i K < min_support")


class DistortionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_size: int = Field(128, ge=8, le=512, description="cells per side of each grid (grid_size x grid_size)")
    min_support: float = Field(
        0.5, ge=0.0, le=100.0, allow_inf_nan=False, description="leave a cell empty when the summed kernel weight of the points "
                                           "there is below this (in points)")


def file_template(method: str) -> str:
    return f"metric_ratio_2d_{{tag}}_{method}.json"


class MissingNeighbours(RuntimeError):
    pass


def read_neighbours(ctx, method: str, indices: list[int]) -> tuple[str, dict[str, Any]]:
    """The knn artifact of this epoch and method (through ``ctx.read_artifact``: found by the patterns
    the knn generator declares), checked against the visualization subset."""
    from latentdeck.kit import read_artifact

    try:
        name, knn = ctx.read("knn", method=method)
    except (FileNotFoundError, KeyError) as exc:
        raise MissingNeighbours(f"{exc.args[0]}; the distortion map reuses the knn artifact's latent neighbours") from None
    if isinstance(knn.get("arrays"), dict) and "neighbors" not in knn:  # a header: its arrays are beside it
        knn = read_artifact(ctx.run_dir / name, root=ctx.run_dir)
    if list(knn["indices"]) != [int(i) for i in indices]:
        raise MissingNeighbours(f"{name} was computed on other points than this epoch's visualization subset")
    return name, knn


def point_ratios(coords, neighbors, latent_distances):
    """Per point: mean projected distance to its latent neighbours / mean latent distance (NaN if 0)."""
    import numpy as np

    c = np.asarray(coords, dtype=np.float64)[:, :2]
    nn = np.asarray(neighbors, dtype=np.int64)
    projected = np.sqrt(((c[nn] - c[:, None, :]) ** 2).sum(-1)).mean(1)
    latent = np.asarray(latent_distances, dtype=np.float64).mean(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(latent > 0, projected / np.where(latent > 0, latent, 1.0), np.nan)


def distortion_map(coords, ratios, grid_size: int, min_support: float):
    """(grid, values (ny, nx) with NaN for empty cells, bandwidth) of per-point ``ratios`` at ``coords``."""
    import numpy as np

    from latentdeck.kit import Grid, kernel_average, projection_bounds, scott_bandwidth

    c = np.asarray(coords, dtype=np.float64)[:, :2]
    grid = Grid.over(projection_bounds(c), grid_size)
    ok = np.isfinite(ratios)
    bandwidth = scott_bandwidth(c[ok]) if ok.sum() > 1 else np.array([grid.cell_width, grid.cell_height])
    average, support = kernel_average(grid, c[ok], np.asarray(ratios)[ok], bandwidth)
    return grid, np.where(support >= max(min_support, 1e-12), average, np.nan), bandwidth


def _stats(values) -> dict[str, float | None]:
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"min": None, "max": None, "median": None}
    return {"min": float(v.min()), "max": float(v.max()), "median": float(np.median(v))}


def as_float32(values):
    """A rounded flat list (``None`` = empty) as the float32 array the host stores beside the JSON (NaN = empty)."""
    import numpy as np

    return np.asarray(values, dtype=np.float64).astype(np.float32)


def payload(*, method: str, epoch: int, coords, knn: dict[str, Any], options: DistortionOptions,
            knn_file: str, started: float) -> dict[str, Any]:
    import numpy as np

    from latentdeck.kit import rounded

    ratios = point_ratios(coords, knn["neighbors"], knn["distances"])
    grid, values, bandwidth = distortion_map(coords, ratios, options.grid_size, options.min_support)
    defined = int(np.isfinite(values).sum())
    return {
        "epoch": epoch, "method": method, "dims": 2, "metric": "knn_mean_ratio", "metric_text": METRIC_TEXT,
        "label": LABEL, "scale": "ratio", "reading": READING, "ends": list(ENDS), "notes": [f"Formula: {METRIC_TEXT}"],
        "k": int(knn["k"]), "grid": grid.describe(), "bounds": grid.bounds_list(),
        "values": as_float32(rounded(values)), "stats": _stats(values),  # float32, NaN = empty (null before)
        "point_ratio": as_float32(rounded(ratios)), "point_stats": _stats(ratios),
        "meta": {"subset_n": int(len(ratios)), "compute_ms": round((time.perf_counter() - started) * 1000, 2),
                 "neighbours_from": knn_file, "latent": knn.get("latent"), "latent_dim": knn.get("latent_dim"),
                 "splat": SPLAT_TEXT, "bandwidth": np.asarray(bandwidth).tolist(), "min_support": options.min_support,
                 "cells_defined": defined, "cells_empty": int(values.size - defined)},
    }


def generate(ctx, request=None) -> None:
    options: DistortionOptions = ctx.options or DistortionOptions()
    missing = []
    for method, by_dims in sorted((ctx.projections or {}).items()):
        projection = by_dims.get(2)
        if projection is None:
            continue
        started = time.perf_counter()
        try:
            knn_file, knn = read_neighbours(ctx, method, list(ctx.viz.indices))
        except MissingNeighbours as exc:
            missing.append(str(exc))
            continue
        doc = payload(method=method, epoch=ctx.epoch, coords=projection.coords, knn=knn, options=options,
                      knn_file=knn_file, started=started)
        ctx.save_json("distortion", file_template(method), doc)
    if missing:
        raise RuntimeError("; ".join(missing))


@hookimpl
def register_computations():
    return [ComputationSpec(
        name="distortion", compute=generate, requires=frozenset({"latents"}), options=DistortionOptions,
        after=frozenset({"knn"}), folder="distortion", files=("{metric}_2d_{tag}_{method}.json",), overlay=True,
        view="grid2d_overlay",
        description="where each 2-D projection stretches or squeezes latent kNN neighbourhoods "
                    "(distortion/metric_ratio_2d_<tag>_<method>.json, from the knn artifact's neighbours)")]
