"""The fields the host writes in every projection file, as a pydantic schema a projection plugin subclasses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Trustworthiness(BaseModel):
    k: int
    n: int
    value: float | None = Field(description="1 = every projected neighbourhood is a latent one")


class ProjectionFile(BaseModel):
    """The fields the host writes in every projection file; a plugin's schema subclasses it and adds
    its ``params`` model and extra fields. New host fields may appear (``extra="allow"``)."""

    model_config = ConfigDict(extra="allow")

    epoch: int = Field(ge=1)
    method: str
    dims: int = Field(ge=1)
    n: int = Field(ge=0)
    latent: str = Field(description="what the coordinates project: z, or mu of q(z|x)")
    latent_dim: int = Field(ge=1)
    indices: list[int] = Field(description="dataset index of each point (held-out split unless `split` says otherwise)")
    labels: list[int]
    split: list[str] | None = Field(None, description="per point 'heldout' or 'train' (only when config viz_split "
                                    "is train or all)")
    trained: list[bool] | None = Field(None, description="per point: whether the run trained on it (with split)")
    predicted: list[int] | None = None
    component: list[int] | None = None
    coords: list[list[float]]
    bounds: list[list[float]] = Field(description="[min, max] per axis")
    params: dict[str, Any]
    compute_ms: float
    trustworthiness: Trustworthiness

    @model_validator(mode="after")
    def _points_agree(self) -> "ProjectionFile":
        assert len(self.coords) == self.n == len(self.indices) == len(self.labels), "point lists differ in length"
        assert all(len(c) == self.dims for c in self.coords), "a point has the wrong number of coordinates"
        assert len(self.bounds) == self.dims
        return self
