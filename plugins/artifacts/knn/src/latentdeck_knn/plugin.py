"""kNN artifacts: the latent-space neighbour graph of the visualization subset, drawn over each projection.

For every projection method the run computed this epoch (``ctx.projections``), writes
``neighbors/knn_<method>_epoch_<N>.json`` and its ``knn_<method>_latest.json`` mirror (format:
:mod:`latentdeck_knn.schema`). Neighbours and distances are found in LATENT space (``ctx.latents``),
never in the projection; the index is built once per epoch and shared by all methods:

* ``kd_tree`` — scikit-learn's exact KD-tree, used by ``index="auto"`` up to ``exact_max_n`` points
  (the default subset of 512 takes a few milliseconds, with no numba compilation);
* ``nndescent`` — pynndescent's approximate graph (shipped with umap-learn), above that size.
  Neither builds an n x n distance matrix.

The per-point arrays (``neighbors``, ``distances``, ``d_k``, ``radius_2d``, ``radius_3d``, ``indices``,
``labels``) are numpy arrays in the payload, so the host stores them in ``knn_<method>_epoch_<N>.safetensors``
beside a small JSON header (``latentdeck.kit.arrays``; read both formats with ``latentdeck.kit.read_artifact``).
Per projection dimension the file carries an extent radius per point: ``radius_i = s * d_k_i / median(d_k)``
where ``s`` is the median projected length of all latent-neighbour edges. The edge lengths themselves are not
stored (they were 11 MB of a 10,000-point file): a reader computes them from the projection of the same method
and epoch (:func:`edge_lengths`). ``s`` and ``median(d_k)`` are positive constants of the file, so the radius is
monotone in ``d_k``. Edge modes: ``extent_gated`` (edge i->j at full opacity while its projected length
``L`` is within ``radius_i``, then ``exp(-(L - radius_i) / (softness * radius_i))``: a smooth fade, no
popping) and ``top_k`` (all k edges).

On demand, ``nearest-train`` (:mod:`latentdeck_knn.nearest`) answers "which training digits is this one
closest to?": one digit's k nearest training digits in the same latent, written once under
``neighbors/train/``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, ViewSpec, hookimpl

from .schema import EDGE_MODES, SCHEMA_VERSION

RADIUS_RULE = ("radius_i = scale * d_k_i / d_k_median; scale = median projected length of all latent-neighbour "
               "edges in this projection; d_k = latent distance to the k-th neighbour")
GATING_FORMULA = "opacity(i->j) = 1 if L_ij <= radius_i else exp(-(L_ij - radius_i) / (softness * radius_i))"
EDGE_LENGTHS = "computed by readers from the projection coordinates (same method and epoch)"
EDGE_MODE_TEXT = {
    "extent_gated": "draw edge i->j faded by the gating formula applied to its projected length and radius_i",
    "top_k": "draw all k edges of every (focused) point at full opacity",
}


class KNNOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k: int = Field(15, ge=1, le=100, description="neighbours per point (capped at subset size - 1)")
    index: Literal["auto", "kd_tree", "nndescent"] = Field(
        "auto", description="latent index: exact KD-tree up to exact_max_n points then NNDescent ('auto'), "
                            "or force one")
    exact_max_n: int = Field(4096, ge=2, le=100_000, description="'auto' uses the exact KD-tree up to this many "
                                                                 "points (at most 100,000: the subset holds at most "
                                                                 "10,000, so the maximum means 'always exact')")
    gate_softness: float = Field(
        0.5, gt=0.0, le=10.0, allow_inf_nan=False, description="fuzzy gating: decay length beyond the extent radius, as a fraction "
                                          "of the radius (smaller = sharper fade)")
    default_edge_mode: Literal["extent_gated", "top_k"] = Field(
        "extent_gated", description="edge mode a renderer starts in")


def _exact(x, k: int):
    from sklearn.neighbors import KDTree

    return KDTree(x).query(x, k=min(k + 1, len(x)))[1]


NNDESCENT_PARAMS = {"n_trees": 4, "n_jobs": 1}  # bench/knn.py: recall 0.999 at 10k x 16; one thread is
# about twice as fast on two busy cores (the worker's other thread trains) and keeps results seeded


def _nndescent(x, k: int, seed: int):
    from latentdeck.kit import enable_kernel_cache

    enable_kernel_cache()  # pynndescent's kernels from the disk cache set-up filled, not compiled in every process
    from pynndescent import NNDescent

    index = NNDescent(x, n_neighbors=k + 1, metric="euclidean", random_state=seed, **NNDESCENT_PARAMS)
    return index.neighbor_graph[0]


def latent_neighbors(latents, k: int, index: str = "auto", exact_max_n: int = 4096, seed: int = 0):
    """k distinct other neighbours per point in latent space, nearest first.

    Returns ``(neighbors (n, k) int64, distances (n, k) float64, info)``. Distances are recomputed
    exactly from the latents (so they are latent Euclidean distances whatever the index) and each row
    is sorted by (distance, index). A row the approximate index left short is redone exactly.
    """
    import numpy as np

    x = np.ascontiguousarray(latents, dtype=np.float32)
    n = len(x)
    k = min(k, n - 1)
    kind = index if index != "auto" else ("kd_tree" if n <= exact_max_n else "nndescent")
    raw = _exact(x, k) if kind == "kd_tree" else _nndescent(x, k, seed)
    valid = (raw != np.arange(n)[:, None]) & (raw >= 0) & (raw < n)
    first = np.argsort(~valid, axis=1, kind="stable")  # valid entries first, in the index's order
    neighbors = np.take_along_axis(raw, first, axis=1)[:, :k].astype(np.int64)
    ordered = np.sort(neighbors, axis=1)
    short = (valid.sum(1) < k) | (ordered[:, 1:] == ordered[:, :-1]).any(1)
    redone = int(short.sum())
    if redone:
        from sklearn.neighbors import KDTree

        tree = KDTree(x)
        found = tree.query(x[short], k=min(k + 1, n))[1]
        for row_i, i in enumerate(np.flatnonzero(short)):
            neighbors[i] = [j for j in found[row_i] if j != i][:k]
    xd = x.astype(np.float64)
    diff = xd[neighbors]  # (n, k, d): one float64 temporary, squared in place (the same values, 70,000 x 15 x 16)
    diff -= xd[:, None, :]
    np.multiply(diff, diff, out=diff)
    distances = np.sqrt(diff.sum(-1))
    order = np.lexsort((neighbors, distances), axis=1)
    neighbors = np.take_along_axis(neighbors, order, axis=1)
    distances = np.take_along_axis(distances, order, axis=1)
    info = {"kind": kind, "exact": kind == "kd_tree", "params": {"rows_redone_exactly": redone}}
    if kind == "nndescent":
        info["params"].update(n_neighbors=k + 1, random_state=seed, **NNDESCENT_PARAMS)
    return neighbors, distances, info


def edge_lengths(coords, neighbors):
    """(n, k) float64: the Euclidean length of edge ``i -> neighbors[i][r]`` in a projection's ``coords``
    (what a reader computes: the files store no edge lengths)."""
    import numpy as np

    c = np.asarray(coords, dtype=np.float64)
    nb = np.asarray(neighbors, dtype=np.int64)
    return np.sqrt(((c[nb] - c[:, None, :]) ** 2).sum(-1))


def extent(coords, neighbors, d_k, d_k_median: float) -> dict[str, Any]:
    """Edge lengths in a projection and the extent radius per point (monotone in ``d_k``)."""
    import numpy as np

    lengths = edge_lengths(coords, neighbors)
    scale = float(np.median(lengths)) if lengths.size else 0.0
    radius = scale * np.asarray(d_k, dtype=np.float64) / d_k_median
    return {"dims": int(np.shape(coords)[1]), "scale": scale, "radius": radius, "edge_lengths": lengths}


def index_dtype(n: int):
    """``uint16`` for neighbour positions when every position fits (n <= 65,536), else ``int32``."""
    import numpy as np

    return np.uint16 if n <= 65_536 else np.int32


def label_array(values):
    """Labels as ``uint8`` (``uint16`` when a value exceeds 255)."""
    import numpy as np

    a = np.asarray(values, dtype=np.int64).reshape(-1)
    return a.astype(np.uint16 if a.size and a.max() > 255 else np.uint8)


def payloads(ctx) -> dict[str, dict[str, Any]]:
    """{method: file payload} for every method in ``ctx.projections`` (the graph is computed once); the
    per-point values are numpy arrays (stored in the array file beside the JSON header)."""
    import numpy as np

    options = ctx.options or KNNOptions()
    methods = {m: dims for m, dims in sorted((ctx.projections or {}).items()) if dims}
    latents = ctx.latents
    if not methods or latents is None or len(latents) < 2:
        return {}
    started = time.perf_counter()
    neighbors, distances, info = latent_neighbors(
        latents, options.k, options.index, options.exact_max_n, int(ctx.config.get("seed", 0)))
    distances = np.round(distances, 6)
    index_ms = (time.perf_counter() - started) * 1000
    d_k = distances[:, -1]
    positive = d_k[d_k > 0]
    d_k_median = float(np.median(d_k))
    if d_k_median <= 0:  # more than half the points duplicated: any positive constant keeps monotonicity
        d_k_median = float(positive.max()) if len(positive) else 1.0
    n, k = neighbors.shape
    common = {
        "schema_version": SCHEMA_VERSION, "epoch": ctx.epoch, "space": "latent", "metric": "euclidean",
        "latent": getattr(ctx.model_spec, "latent_name", "z"), "latent_dim": int(latents.shape[1]),
        "n": int(n), "k": int(k), "k_requested": options.k,
        "indices": np.asarray(ctx.viz.indices, dtype=np.int64).astype(np.int32), "labels": label_array(
            ctx.viz.y.numpy() if hasattr(ctx.viz.y, "numpy") else ctx.viz.y),
        "neighbors": neighbors.astype(index_dtype(n)), "distances": distances.astype(np.float32),
        "d_k": d_k.astype(np.float32), "d_k_median": d_k_median, "radius_rule": RADIUS_RULE,
        "edge_lengths": EDGE_LENGTHS,
        "edges": {"directed": True, "count": int(n * k),
                  "build": "for each point i and rank r: (i, neighbors[i][r], distances[i][r])"},
        "edge_modes": [{"name": m, "description": EDGE_MODE_TEXT[m]} for m in EDGE_MODES],
        "default_edge_mode": options.default_edge_mode,
        "gating": {"kind": "exponential", "softness": options.gate_softness, "formula": GATING_FORMULA},
        "index": info, "index_ms": round(index_ms, 2),
    }
    out = {}
    for method, by_dims in methods.items():
        began = time.perf_counter()
        extents, radii = {}, {}
        for dims, projection in sorted(by_dims.items()):
            if int(dims) not in (2, 3):
                continue
            e = extent(projection.coords, neighbors, d_k, d_k_median)
            extents[f"{e['dims']}d"] = {"dims": e["dims"], "scale": round(e["scale"], 6)}
            radii[f"radius_{e['dims']}d"] = e["radius"].astype(np.float32)
        ms = index_ms + (time.perf_counter() - began) * 1000
        out[method] = {**common, "method": method, "extent": extents, **radii, "compute_ms": round(ms, 2)}
    return out


def generate(ctx, request=None) -> None:
    for method, payload in payloads(ctx).items():
        ctx.save_json("neighbors", f"knn_{method}_{{tag}}.json", payload)


@hookimpl
def register_computations():
    return [nearest_train_spec(), ComputationSpec(
        name="knn", compute=generate, requires=frozenset({"latents"}), options=KNNOptions,
        folder="neighbors", files=("knn_{method}_{tag}.json",), provides={"knn_{method}_{tag}.json": "neighbours"},
        description="latent-space k nearest neighbours per point, with extent radii for each projection "
                    "(neighbors/knn_<method>_<tag>.json header + .safetensors arrays)")]


def compute_nearest_train(ctx, request) -> Any:
    from .nearest import compute

    return compute(ctx, request)


def nearest_train_spec() -> ComputationSpec:
    from .nearest import FILES, FOLDER, KEY, MAX_K, NearestTrainRequest

    return ComputationSpec(
        name="nearest-train", compute=compute_nearest_train, runs="on_demand", request=NearestTrainRequest, key=KEY,
        folder=FOLDER, files=FILES, requires=frozenset({"latents"}),
        description=f"the k (at most {MAX_K}) training digits nearest to one digit in latent space, with labels, "
                    "distances, predictions or components and their images in a strip "
                    "(neighbors/train/epoch_<N>/<split>_<idx>_k_<k>/...)")


@hookimpl
def register_views():
    return [ViewSpec(name="why-neighbours", module=str(Path(__file__).parent / "views" / "why-neighbours.js"),
                     mount="explorer-layer", title="Why is this digit here?", computations=("nearest-train",), order=10,
                     description="the focused digit's latent neighbours, the model's reading of it, its nearest training "
                                 "digits and a walk to its class or component centre")]
