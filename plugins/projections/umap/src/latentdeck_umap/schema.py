"""The UMAP projection files (written by the host, filled by this plugin) as pydantic models.

``projections/latent_<dims>d_<tag>_umap.json``. The host's common fields are checked loosely (new
ones may be added); the parameters UMAP records are checked strictly.
Each validates a file's JSON header (its per-point arrays are in the array file beside it, see
``latentdeck.kit.ProjectionFile``), an old run's inline file, and ``read_artifact``'s header plus arrays.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from latentdeck.kit import ProjectionFile


class UMAPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_components: Literal[2, 3]
    n_neighbors: int = Field(ge=1)
    min_dist: float
    metric: str
    random_state: int
    warm_start: bool = Field(description="true when this fit started from the previous epoch's embedding")
    init: Literal["previous", "spectral"] | None = None
    n_epochs: int | None = Field(None, description="optimisation epochs actually run")
    learning_rate: float | None = None
    umap_version: str | None = None
    fallback: str | None = Field(None, description="set when the subset was too small for UMAP")


class UMAPProjectionFile(ProjectionFile):
    method: Literal["umap"]
    dims: Literal[2, 3]
    params: UMAPParams

    @model_validator(mode="after")
    def _consistent(self) -> "UMAPProjectionFile":
        assert self.params.n_components == self.dims
        assert self.params.warm_start == (self.params.init == "previous")
        return self
