"""The ``neighbors/knn_<method>_<tag>.json`` file format as pydantic models (validation and JSON schema).

Two formats, both read by :func:`latentdeck.kit.read_artifact`:

* **2** (written now): the JSON is a small header (:class:`KNNHeader`) whose ``arrays`` field names the array
  file beside it (``knn_<method>_<tag>.safetensors``: ``neighbors`` U16 (n, k) when n <= 65,536 else I32,
  ``distances`` F32 (n, k), ``d_k`` F32 (n), ``radius_2d`` / ``radius_3d`` F32 (n) for each projection
  dimension present, ``indices`` I32 (n), ``labels`` U8 (U16 above 255)). Edge lengths are not stored: a
  reader computes them from the projection of the same method and epoch (``latentdeck_knn.plugin.edge_lengths``).
* **1** (runs written before): every field inline (:class:`KNNArtifactV1`), edge lengths included.

:func:`check` validates what ``read_artifact`` returns in either format: ``n`` rows of ``k`` distinct other
neighbours with ascending latent distances, ``d_k`` = the last distance of each row, one radius per point for
every projection dimension present.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 2
EDGE_MODES = ("extent_gated", "top_k")


class ExtentV1(BaseModel):
    """Format 1: extent radii and edge lengths of one projection dimension, in that projection's units."""

    model_config = ConfigDict(extra="forbid")

    dims: Literal[2, 3]
    scale: float = Field(ge=0, description="s: the median projected length of all latent-neighbour edges")
    radius: list[float] = Field(description="per point: s * d_k[i] / d_k_median (monotone in d_k)")
    edge_lengths: list[list[float]] = Field(
        description="per point, per neighbour (same order as neighbors): Euclidean length of the edge in "
                    "this projection (sqrt(dx²+dy²) in 2-D, sqrt(dx²+dy²+dz²) in 3-D)")


class Gating(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["exponential"] = "exponential"
    softness: float = Field(gt=0, description="decay length beyond the radius, as a fraction of the radius")
    formula: str


class EdgeMode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Literal["extent_gated", "top_k"]
    description: str


class Edges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    directed: Literal[True] = True
    count: int = Field(ge=0, description="n * k directed edges")
    build: str = Field(description="how to build the edge list from neighbors/distances")


class IndexInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["kd_tree", "nndescent"]
    exact: bool
    params: dict = Field(default_factory=dict)


class KNNArtifactV1(BaseModel):
    """Format 1 (inline JSON): one epoch's latent-space kNN graph with extent radii for one projection method."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    epoch: int = Field(ge=1)
    method: str = Field(description="the projection method this file is drawn over (pca, umap, ...)")
    space: Literal["latent"] = Field("latent", description="neighbours and distances are latent-space")
    metric: Literal["euclidean"] = "euclidean"
    latent: str = Field(description="what the latents are (the model's latent_name)")
    latent_dim: int = Field(ge=1)
    n: int = Field(ge=2)
    k: int = Field(ge=1, description="neighbours per point (the requested k, capped at n - 1)")
    k_requested: int = Field(ge=1)
    indices: list[int] = Field(description="held-out dataset indices of the subset (config.json viz_indices)")
    labels: list[int]
    neighbors: list[list[int]] = Field(description="per point, k positions in the subset, nearest first")
    distances: list[list[float]] = Field(description="per point, the k latent distances, ascending")
    d_k: list[float] = Field(description="per point, latent distance to its k-th neighbour")
    d_k_median: float = Field(gt=0, description="the normaliser of the radii")
    extent: dict[Literal["2d", "3d"], ExtentV1] = Field(description="per projection dimension present")
    radius_rule: str
    edges: Edges
    edge_modes: list[EdgeMode]
    default_edge_mode: Literal["extent_gated", "top_k"]
    gating: Gating
    index: IndexInfo
    index_ms: float = Field(ge=0, description="building and querying the latent index (shared by all methods)")
    compute_ms: float = Field(ge=0, description="index_ms plus this method's radii and edge lengths")

    @model_validator(mode="after")
    def _consistent(self) -> "KNNArtifactV1":
        n, k = self.n, self.k
        assert len(self.indices) == n and len(self.labels) == n, "indices/labels must have n entries"
        assert len(self.neighbors) == n and len(self.distances) == n and len(self.d_k) == n, "n rows expected"
        for i, (row, dist) in enumerate(zip(self.neighbors, self.distances)):
            assert len(row) == k and len(dist) == k, f"point {i}: expected {k} neighbours"
            assert len(set(row)) == k and i not in row, f"point {i}: neighbours must be distinct others"
            assert all(0 <= j < n for j in row), f"point {i}: neighbour out of range"
            assert all(a <= b for a, b in zip(dist, dist[1:])), f"point {i}: distances not ascending"
            assert dist[-1] == self.d_k[i], f"point {i}: d_k is not the k-th distance"
        for key, extent in self.extent.items():
            assert key == f"{extent.dims}d", f"extent key {key} does not match dims {extent.dims}"
            assert len(extent.radius) == n and len(extent.edge_lengths) == n, f"{key}: n entries expected"
            assert all(len(row) == k for row in extent.edge_lengths), f"{key}: k edge lengths per point"
        assert self.edges.count == n * k
        return self


class Extent(BaseModel):
    """The constant of one projection dimension's radii (the radii are the array ``radius_<dims>d``)."""

    model_config = ConfigDict(extra="forbid")

    dims: Literal[2, 3]
    scale: float = Field(ge=0, description="s: the median projected length of all latent-neighbour edges")


class ArrayInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dtype: str = Field(description="numpy dtype name: float32, int32, uint16, uint8")
    shape: list[int]


class ArraysPointer(BaseModel):
    """The array file beside the header (written by the host: ``latentdeck.kit.arrays``)."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="the array file's name, beside this JSON (knn_<method>_epoch_<N>.safetensors)")
    format: Literal["safetensors"] = "safetensors"
    names: dict[str, ArrayInfo]


ARRAY_DTYPES = {"neighbors": ("uint16", "int32"), "distances": ("float32",), "d_k": ("float32",),
                "radius_2d": ("float32",), "radius_3d": ("float32",), "indices": ("int32",),
                "labels": ("uint8", "uint16")}


class KNNHeader(BaseModel):
    """Format 2: the JSON header of one epoch's latent-space kNN graph for one projection method; the
    per-point arrays are in the array file ``arrays.file`` (dtypes and shapes in ``arrays.names``)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1, 2] = Field(SCHEMA_VERSION, description="2 as written; 1 in a header that "
                                                                    "`latentdeck migrate` made from an old file")
    epoch: int = Field(ge=1)
    method: str = Field(description="the projection method this file is drawn over (pca, umap, ...)")
    space: Literal["latent"] = Field("latent", description="neighbours and distances are latent-space")
    metric: Literal["euclidean"] = "euclidean"
    latent: str = Field(description="what the latents are (the model's latent_name)")
    latent_dim: int = Field(ge=1)
    n: int = Field(ge=2)
    k: int = Field(ge=1, description="neighbours per point (the requested k, capped at n - 1)")
    k_requested: int = Field(ge=1)
    d_k_median: float = Field(gt=0, description="the normaliser of the radii")
    extent: dict[Literal["2d", "3d"], Extent] = Field(description="per projection dimension present; its radii "
                                                                  "are the array radius_<dims>d")
    edge_lengths: Literal["computed by readers from the projection coordinates (same method and epoch)"]
    radius_rule: str
    edges: Edges
    edge_modes: list[EdgeMode]
    default_edge_mode: Literal["extent_gated", "top_k"]
    gating: Gating
    index: IndexInfo
    index_ms: float = Field(ge=0, description="building and querying the latent index (shared by all methods)")
    compute_ms: float = Field(ge=0, description="index_ms plus this method's radii")
    arrays: ArraysPointer

    @model_validator(mode="after")
    def _consistent(self) -> "KNNHeader":
        n, k, names = self.n, self.k, self.arrays.names
        shapes = {"neighbors": [n, k], "distances": [n, k], "d_k": [n], "indices": [n], "labels": [n],
                  **{f"radius_{e.dims}d": [n] for e in self.extent.values()}}
        assert set(names) == set(shapes), f"arrays {sorted(names)} expected {sorted(shapes)}"
        for name, shape in shapes.items():
            assert names[name].shape == shape, f"{name}: shape {names[name].shape}, expected {shape}"
            assert names[name].dtype in ARRAY_DTYPES[name], f"{name}: dtype {names[name].dtype}"
        wide = "uint16" if n <= 65_536 else "int32"
        assert names["neighbors"].dtype == wide, f"neighbors: {wide} expected for n = {n}"
        for key, extent in self.extent.items():
            assert key == f"{extent.dims}d", f"extent key {key} does not match dims {extent.dims}"
        assert self.edges.count == n * k
        return self


KNNArtifact = KNNHeader  # the format written now


def validate(document: dict[str, Any]) -> KNNHeader | KNNArtifactV1:
    """The JSON file as stored (``read_json``): a format-2 header, or a format-1 inline file."""
    return (KNNHeader if isinstance(document.get("arrays"), dict) else KNNArtifactV1).model_validate(document)


def check(doc: dict[str, Any]) -> None:
    """What ``latentdeck.kit.read_artifact`` returns for a kNN file of either format: ``n`` rows of ``k``
    distinct other neighbours in range, ascending distances, ``d_k`` the last one, a radius per point for
    each extent. Raises ``ValueError`` naming the first thing wrong."""
    import numpy as np

    n, k = int(doc["n"]), int(doc["k"])
    nb, dist, d_k = (np.asarray(doc[name]) for name in ("neighbors", "distances", "d_k"))
    if nb.shape != (n, k) or dist.shape != (n, k) or d_k.shape != (n,):
        raise ValueError(f"neighbors {nb.shape}, distances {dist.shape}, d_k {d_k.shape}: expected ({n}, {k})")
    if len(doc["indices"]) != n or len(doc["labels"]) != n:
        raise ValueError("indices/labels must have n entries")
    nb = nb.astype(np.int64)
    if ((nb < 0) | (nb >= n)).any():
        raise ValueError("a neighbour is out of range")
    ordered = np.sort(nb, axis=1)
    if (ordered[:, 1:] == ordered[:, :-1]).any() or (nb == np.arange(n)[:, None]).any():
        raise ValueError("neighbours must be distinct others")
    if (np.diff(dist, axis=1) < 0).any():
        raise ValueError("distances not ascending")
    if (dist[:, -1] != d_k).any():
        raise ValueError("d_k is not the k-th distance")
    for key, extent in doc["extent"].items():
        radius = extent["radius"] if "radius" in extent else doc.get(f"radius_{key}")
        if radius is None or len(radius) != n:
            raise ValueError(f"{key}: n radii expected")
