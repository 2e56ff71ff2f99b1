"""The PCA projection files (written by the host, filled by this plugin) as pydantic models.

``projections/latent_2d_<tag>.json`` and ``projections/latent_3d_<tag>_pca.json``. The host's common
fields are checked loosely (new ones may be added); what PCA contributes is checked strictly.
Each validates a file's JSON header (its per-point arrays are in the array file beside it, see
``latentdeck.kit.ProjectionFile``), an old run's inline file, and ``read_artifact``'s header plus arrays.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from latentdeck.kit import ProjectionFile


class PCABasis(BaseModel):
    """Which axes a file shows (``params.basis``; files written before it have none: their own axes)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["own", "carried"] = Field(
        description="'own': this epoch's principal axes (aligned, see alignment); 'carried': the previous map's "
                    "latent directions re-fitted to this epoch's codes, turned toward the own axes by `pull` "
                    "(alignment.method 'carried')")
    carried_for: int | None = Field(
        ge=0, description="0 for 'own'; k = the basis was an epoch's own k projections ago (the projected epoch k "
                          "steps back); null when the previous map's record is unknown")
    from_epoch: int | None = Field(
        None, ge=1, description="the epoch whose own principal axes these are (this epoch for 'own'; for 'carried' "
                                "the epoch the carried basis started from); null when unknown")
    variance_ratio: float = Field(ge=0, le=1 + 1e-6, description="share of the total latent variance the shown "
                                                                  "axes keep (sum of axis_variance_ratio)")
    own_variance_ratio: float = Field(ge=0, le=1 + 1e-6, description="what this epoch's own principal axes would "
                                                                      "keep (sum of explained_variance_ratio)")
    min_variance_share: float | None = Field(
        description="the shown axes keep at least this fraction of own_variance_ratio while carried (null: basis "
                    "'own')")
    pull: float | None = Field(
        None, ge=0, description="carried: how far the map was turned toward this epoch's own axes to keep "
                                "min_variance_share (0 = plain carry; the weight on the kept variance); null: own")
    carried_variance_ratio: float | None = Field(
        None, description="only when the plain carried axes (pull 0) keep less than min_variance_share: what they "
                          "would have kept (the map shown is pulled, or the own axes when no pull was enough)")

    @model_validator(mode="after")
    def _consistent(self) -> "PCABasis":
        assert (self.source == "own") == (self.carried_for == 0) or self.carried_for is None, "carried_for vs source"
        if self.source == "carried" and self.min_variance_share is not None:
            assert self.variance_ratio >= self.min_variance_share * self.own_variance_ratio - 1e-5, "too little kept"
        return self


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
                    "{method: signs, signs}, {method: procrustes, rotation (dims x dims), reflection, angle_deg?} (own "
                    "axes) or {method: carried, reference, fit, rms_move} (carried axes, see basis)")
    basis: PCABasis | None = Field(None, description="which axes are shown and the variance they keep")
    solver: str


class PCAProjectionFile(ProjectionFile):
    method: Literal["pca"]
    dims: Literal[2, 3]
    params: PCAParams
    explained_variance: list[float] = Field(description="variance along each axis (n - 1 denominator), descending")
    explained_variance_ratio: list[float] = Field(description="explained_variance / total latent variance")
    components: list[list[float]] = Field(
        description="the (dims, latent_dim) linear map of this file: coords = (z - mean) @ components.T "
                    "(the shown axes: the principal directions with the alignment applied, or the carried basis)")
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
        if self.params.basis is not None:
            assert (self.params.basis.source == "carried") == (self.params.alignment.get("method") == "carried")
            if self.axis_variance_ratio is not None:
                assert abs(sum(self.axis_variance_ratio) - self.params.basis.variance_ratio) < 1e-4, "shown variance"
        return self
