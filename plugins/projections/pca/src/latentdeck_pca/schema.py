"""The PCA projection files (written by the host, filled by this plugin) as pydantic models.

``projections/latent_2d_<tag>.json`` and ``projections/latent_3d_<tag>_pca.json``. The host's common
fields are checked loosely (new ones may be added); what PCA contributes is checked strictly.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from latentdeck.kit import ProjectionFile


class PCAParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_components: Literal[2, 3]
    center: bool
    sign_reference: Literal["previous", "loadings"]
    signs_from: Literal["previous", "loadings"] = Field(
        description="which rule fixed the axis signs of this file (see the plugin README)")
    alignment: dict[str, Any] = Field(
        default_factory=lambda: {"method": "none"},
        description="how this epoch follows the previous one: {method: none} (first epoch, or 'loadings'), "
                    "{method: signs, signs} or {method: procrustes, rotation (dims x dims), reflection, angle_deg?}")
    solver: str


class PCAProjectionFile(ProjectionFile):
    method: Literal["pca"]
    dims: Literal[2, 3]
    params: PCAParams
    explained_variance: list[float] = Field(description="variance along each axis (n - 1 denominator), descending")
    explained_variance_ratio: list[float] = Field(description="explained_variance / total latent variance")
    components: list[list[float]] = Field(
        description="the (dims, latent_dim) linear map of this file: coords = (z - mean) @ components.T "
                    "(the principal directions with the alignment applied)")
    principal_components: list[list[float]] | None = Field(
        None, description="the unrotated principal directions (loadings sign rule), descending variance")
    axis_variance_ratio: list[float] | None = Field(
        None, description="share of the total latent variance along each displayed axis")
    mean: list[float] = Field(description="the subtracted mean latent")

    @model_validator(mode="after")
    def _consistent(self) -> "PCAProjectionFile":
        assert len(self.explained_variance) == self.dims == len(self.explained_variance_ratio) == len(self.components)
        assert all(a >= b for a, b in zip(self.explained_variance, self.explained_variance[1:])), "not descending"
        assert 0 <= sum(self.explained_variance_ratio) <= 1 + 1e-6
        assert all(len(row) == self.latent_dim for row in self.components) and len(self.mean) == self.latent_dim
        assert self.params.n_components == self.dims
        return self
