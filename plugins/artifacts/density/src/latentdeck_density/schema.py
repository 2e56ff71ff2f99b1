"""The ``density/<family>_2d_<tag>_<method>.json`` file format as pydantic models (validation and JSON schema)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GridInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nx: int = Field(ge=1)
    ny: int = Field(ge=1)
    cell_width: float = Field(gt=0)
    cell_height: float = Field(gt=0)
    cell_area: float = Field(gt=0)
    order: str = Field(description="row-major, row 0 at the bottom (y = bounds[1][0])")


class PriorWeights(BaseModel):
    model_config = ConfigDict(extra="allow")

    kind: Literal["uniform", "empirical"]
    components: int = Field(ge=1)
    weights: list[float] = Field(description="p(c) used for the grid: 1/K, or mean q(c|x) over the subset")
    rule: str


class DensityMeta(BaseModel):
    model_config = ConfigDict(extra="allow")

    subset_n: int = Field(ge=1, description="points of the visualization subset")
    compute_ms: float = Field(ge=0)
    estimator: Literal["exact_pushforward", "kde_transform", "kde_codes"]
    prior_weights: PriorWeights | None = None


class DensityStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float
    max: float
    mass_in_bounds: float = Field(ge=0, description="sum(values) * grid.cell_area")


class DensityGrid(BaseModel):
    """One epoch's density grid over one 2-D projection."""

    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(ge=1)
    method: str
    dims: Literal[2] = 2
    family: Literal["posterior", "prior", "prior_empirical"]
    source: Literal["posterior", "prior"]
    prior_kind: Literal["uniform", "empirical"] | None = None
    latent: str
    latent_dim: int = Field(ge=0)
    estimator: Literal["exact_pushforward", "kde_transform", "kde_codes"]
    estimator_text: str
    normalisation: str
    grid: GridInfo
    bounds: list[list[float]] = Field(description="[[x_min, x_max], [y_min, y_max]]: the projection's bounds")
    values: list[float] = Field(description="ny * nx densities, row-major (grid.order)")
    stats: DensityStats
    meta: DensityMeta

    @model_validator(mode="after")
    def _consistent(self) -> "DensityGrid":
        assert len(self.values) == self.grid.nx * self.grid.ny, "values must have nx * ny entries"
        assert len(self.bounds) == 2 and all(len(b) == 2 and b[0] < b[1] for b in self.bounds), "bad bounds"
        assert (self.source == "prior") == (self.prior_kind is not None), "prior_kind is for priors only"
        assert (self.family == "posterior") == (self.source == "posterior")
        if self.prior_kind is not None:
            assert self.meta.prior_weights is not None and self.meta.prior_weights.kind == self.prior_kind
        assert min(self.values) >= 0, "densities are non-negative"
        return self


def validate(doc: dict[str, Any]) -> DensityGrid:
    return DensityGrid.model_validate(doc)
