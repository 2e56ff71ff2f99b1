"""The ``neighbors/knn_<method>_<tag>.json`` file format as pydantic models (validation and JSON schema).

``KNNArtifact.model_json_schema()`` is the machine-readable contract for renderers; the validators
enforce what the file promises: ``n`` rows of ``k`` distinct other neighbours with ascending latent
distances, ``d_k`` = the last distance of each row, one radius and one row of edge lengths per point
for every projection dimension present.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = 1
EDGE_MODES = ("extent_gated", "top_k")


class Extent(BaseModel):
    """Extent radii and edge lengths of one projection dimension, in that projection's units."""

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


class KNNArtifact(BaseModel):
    """One epoch's latent-space kNN graph with extent radii for one projection method."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
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
    extent: dict[Literal["2d", "3d"], Extent] = Field(description="per projection dimension present")
    radius_rule: str
    edges: Edges
    edge_modes: list[EdgeMode]
    default_edge_mode: Literal["extent_gated", "top_k"]
    gating: Gating
    index: IndexInfo
    index_ms: float = Field(ge=0, description="building and querying the latent index (shared by all methods)")
    compute_ms: float = Field(ge=0, description="index_ms plus this method's radii and edge lengths")

    @model_validator(mode="after")
    def _consistent(self) -> "KNNArtifact":
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
