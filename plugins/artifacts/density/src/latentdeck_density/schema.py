"""The ``density/<family>_2d_<tag>_<method>.json`` file format as pydantic models (validation and JSON schema).

``values`` is stored as a float32 array (flat, ny * nx, row-major) in ``<stem>.safetensors`` beside the JSON,
whose ``arrays`` field names it; runs written before keep it inline as a JSON list. :func:`validate` takes
what ``latentdeck.kit.read_artifact`` returns for either.
"""

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
    mass_in_bounds: float | None = Field(None, ge=0, description="densities: sum(values) * grid.cell_area")
    max_abs: float | None = Field(None, ge=0, description="difference grids: the largest |value|")
    positive_mass: float | None = Field(None, ge=0, description="difference grids: sum of the positive part * cell_area")
    negative_mass: float | None = Field(None, ge=0, description="difference grids: sum of the negative part * cell_area")


class Difference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minuend: Literal["posterior"]
    subtrahend: Literal["prior"]
    text: str
    tv_distance: float = Field(ge=0, le=1.0001, description="0.5 * sum |posterior - prior| * cell_area on this grid")


class DensityGrid(BaseModel):
    """One epoch's density grid (or the signed posterior − prior grid) over one 2-D projection."""

    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(ge=1)
    method: str
    dims: Literal[2] = 2
    family: Literal["posterior", "prior", "prior_empirical", "posterior_minus_prior"]
    source: Literal["posterior", "prior", "difference"]
    prior_kind: Literal["uniform", "empirical"] | None = None
    latent: str
    latent_dim: int = Field(ge=0)
    estimator: Literal["exact_pushforward", "kde_transform", "kde_codes"]
    estimator_text: str
    label: str = Field(description="the grid's name: the explorer's legend heading")
    scale: Literal["sequential", "signed"] = Field(
        description="how the explorer draws it: sequential (a density, square-root green ramp from a transparent 0) "
                    "or signed (the difference: green above 0, grey below)")
    reading: str = Field(description="how to read the colours, the first sentence of the explorer's legend")
    ends: list[str] | None = Field(None, min_length=2, max_length=2,
                                   description="signed grids: what the negative and the positive end stand for")
    notes: list[str] = Field(description="how the grid was computed, shown under the explorer's legend")
    normalisation: str
    grid: GridInfo
    bounds: list[list[float]] = Field(description="[[x_min, x_max], [y_min, y_max]] of the grid: the explorer's "
                                                  "first view of the points, past their box (meta.extent)")
    points_bounds: list[list[float]] = Field(description="the projection file's bounds: the points' box")
    values: list[float] = Field(description="ny * nx densities (signed for a difference), row-major (grid.order); "
                                            "float32 in the array file beside the JSON (inline in older runs)")
    stats: DensityStats
    meta: DensityMeta
    tv_distance: dict[str, float] | None = Field(
        None, description="densities: total-variation distance in this map to each other family of the projection")
    difference: Difference | None = None
    arrays: dict[str, Any] | None = Field(None, description="the array file beside the JSON (written by the host): "
                                                            "{file, format: safetensors, names: {values: {dtype, shape}}}")

    @model_validator(mode="after")
    def _consistent(self) -> "DensityGrid":
        assert len(self.values) == self.grid.nx * self.grid.ny, "values must have nx * ny entries"
        assert len(self.bounds) == 2 and all(len(b) == 2 and b[0] < b[1] for b in self.bounds), "bad bounds"
        assert (self.source == "prior") == (self.prior_kind is not None), "prior_kind is for priors only"
        assert (self.family == "posterior") == (self.source == "posterior")
        assert (self.family == "posterior_minus_prior") == (self.source == "difference") == (self.difference is not None)
        assert (self.scale == "signed") == (self.difference is not None) == (self.ends is not None), "signed: the difference"
        if self.prior_kind is not None:
            assert self.meta.prior_weights is not None and self.meta.prior_weights.kind == self.prior_kind
        if self.difference is None:
            assert min(self.values) >= 0, "densities are non-negative"
            assert self.stats.mass_in_bounds is not None, "a density states its mass in bounds"
            assert all(0 <= v <= 1.0001 for v in (self.tv_distance or {}).values()), "TV distances lie in [0, 1]"
        else:
            assert self.stats.max_abs is not None and self.stats.positive_mass is not None
        return self


def validate(doc: dict[str, Any]) -> DensityGrid:
    """A density file as ``latentdeck.kit.read_artifact`` returns it (values a numpy array, or a list)."""
    values = doc.get("values")
    if hasattr(values, "tolist"):
        doc = {**doc, "values": values.tolist()}
    return DensityGrid.model_validate(doc)
