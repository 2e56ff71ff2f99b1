"""The fields the host writes in every projection file, as a pydantic schema a projection plugin subclasses.

A projection file is a small JSON header whose ``arrays`` field names the array file beside it
(:mod:`latentdeck.kit.arrays`), which holds the per-point fields: ``coords`` float32 (n, dims), ``indices``
int32, ``labels`` / ``predicted`` / ``component`` uint8 (uint16 when a value is above 255), ``split`` uint8
codes into the header's ``split_values`` and ``trained`` bool. Runs written before the array files hold
every field inline as JSON lists; the same schema validates both, and the dict
:func:`latentdeck.kit.read_artifact` returns (header plus numpy arrays) too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The per-point fields: the numpy dtypes an array file may give each (old files hold JSON lists).
POINT_DTYPES = {"coords": ("float32",), "indices": ("int32",), "labels": ("uint8", "uint16", "int32"),
                "predicted": ("uint8", "uint16", "int32"), "component": ("uint8", "uint16", "int32"),
                "split": ("uint8",), "trained": ("bool",)}


class Trustworthiness(BaseModel):
    k: int
    n: int
    value: float | None = Field(description="1 = every projected neighbourhood is a latent one")


class ArrayInfo(BaseModel):
    dtype: str = Field(description="numpy dtype name: float32, int32, uint8, uint16, bool")
    shape: list[int]


class ArraysPointer(BaseModel):
    """The ``arrays`` field of a header: the array file beside the JSON and what it holds."""

    file: str = Field(description="the array file's name, in the JSON file's folder (a *_latest mirror names "
                                  "its epoch's file)")
    format: str = Field("safetensors", description="safetensors layout (latentdeck.kit.arrays)")
    names: dict[str, ArrayInfo]


class ProjectionFile(BaseModel):
    """The fields the host writes in every projection file; a plugin's schema subclasses it and adds
    its ``params`` model and extra fields. New host fields may appear (``extra="allow"``). The per-point
    fields are in the array file named by ``arrays`` (new format) or inline lists (runs written before it)."""

    model_config = ConfigDict(extra="allow")

    epoch: int = Field(ge=1)
    method: str
    dims: int = Field(ge=1)
    n: int = Field(ge=0)
    latent: str = Field(description="what the coordinates project: z, or mu of q(z|x)")
    latent_dim: int = Field(ge=1)
    arrays: ArraysPointer | None = Field(None, description="the array file holding the per-point fields (absent "
                                         "in runs written before array files, which hold them inline)")
    indices: list[int] | None = Field(None, description="dataset index of each point (held-out split unless "
                                      "`split` says otherwise); int32 array")
    labels: list[int] | None = Field(None, description="class label per point; uint8 array (uint16 above 255)")
    split: list[str] | list[int] | None = Field(None, description="per point 'heldout' or 'train' (only when "
                                                "config viz_split is train or all); uint8 codes into split_values")
    split_values: list[str] | None = Field(None, description="what the split codes mean: ['heldout', 'train']")
    trained: list[bool] | None = Field(None, description="per point: whether the run trained on it (with split)")
    predicted: list[int] | None = None
    component: list[int] | None = None
    coords: list[list[float]] | None = Field(None, description="(n, dims) coordinates; float32 array")
    bounds: list[list[float]] = Field(description="[min, max] per axis")
    params: dict[str, Any]
    compute_ms: float
    trustworthiness: Trustworthiness

    @model_validator(mode="before")
    @classmethod
    def _arrays_as_lists(cls, data: Any) -> Any:
        """What read_artifact returns holds numpy arrays: validate them as the lists they stand for."""
        if isinstance(data, dict):
            return {k: v.tolist() if type(v).__module__ == "numpy" and hasattr(v, "tolist") else v
                    for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _points_agree(self) -> "ProjectionFile":
        expected = {"coords": [self.n, self.dims], **{k: [self.n] for k in POINT_DTYPES if k != "coords"}}
        stored = dict(self.arrays.names) if self.arrays is not None else {}
        for name, info in stored.items():
            if name in POINT_DTYPES:
                assert info.dtype in POINT_DTYPES[name], f"array {name} is {info.dtype}, expected {POINT_DTYPES[name]}"
                assert info.shape == expected[name], f"array {name} has shape {info.shape}, expected {expected[name]}"
        for name in ("coords", "indices", "labels"):
            assert name in stored or getattr(self, name) is not None, f"{name} is neither inline nor in the array file"
        if "split" in stored:
            assert self.split_values, "a split array needs split_values (what its codes mean)"
        for name in POINT_DTYPES:
            value = getattr(self, name)
            if value is not None:
                assert len(value) == self.n, f"{name} has {len(value)} points, n is {self.n}"
        if self.coords is not None:
            assert all(len(c) == self.dims for c in self.coords), "a point has the wrong number of coordinates"
        assert len(self.bounds) == self.dims
        return self
