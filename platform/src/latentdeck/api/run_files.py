"""``GET /api/runs/{id}/files``: the one listing of a run's files, each with the keys its name carries
(:mod:`latentdeck.engine.run_files`). Clients filter these rows; none parses a file name."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from ..engine.run_files import list_run_files
from .params import CanonicalInt

router = APIRouter(prefix="/api/runs", tags=["files"])


def artifact_url(run_id: str, name: str) -> str:
    return f"/api/runs/{quote(run_id)}/artifacts/{quote(name)}"


class RunFile(BaseModel):
    name: str = Field(description="relative name (GET /api/runs/{run_id}/artifacts/{name} serves it)")
    url: str
    folder: str
    artifact: str | None = Field(description="the computation whose declared pattern the name matches; the method "
                                             "for projections; null when none does")
    kind: str = Field(description="computations | projections | checkpoints | undeclared")
    epoch: int | None = Field(description="the epoch (null: a *_latest mirror or a file of no epoch)")
    latest: bool = Field(description="a *_latest mirror (the pattern's {tag} is 'latest')")
    method: str | None = Field(description="the projection method the file belongs to, when its pattern names one")
    dims: int | None = Field(description="the projection's dimensions, when its pattern names them")
    fields: dict[str, str | int | None] = Field(description="the pattern's other placeholders (idx, family ...)")
    role: str | None = Field(None, description="what the latent explorer reads it as (ComputationSpec.provides: "
                                               "neighbours, overlay, input-thumbnails, reconstruction-thumbnails, "
                                               "cluster-scores), null for none")
    size: int
    mtime: float


class ArtifactType(BaseModel):
    name: str = Field(description="the computation")
    kind: str = Field(description="computations")
    provider: str | None
    runs: str | int = Field(description="every_epoch | N (every N epochs and the last) | on_demand")
    askable: bool = Field(description="whether a person can ask for it (POST /api/runs/{run_id}/compute/{name})")
    folder: str
    view: str = Field(description="how to show its files without a view of its own: image, image_grid, "
                                  "metric_series, table, grid2d_overlay or json")
    description: str
    overlay: bool = Field(description="its JSON files are overlays of the latent map")
    roles: list[str] = Field(description="the explorer roles its files provide (ComputationSpec."
                             "provides, and overlay): neighbours, overlay, input-thumbnails ...")


class RunFiles(BaseModel):
    run_id: str
    checkpoints: list[int] = Field(description="epochs with a complete checkpoint (on-demand computations need one)")
    artifacts: list[ArtifactType] = Field(description="every installed artifact type, whether or not it has files")
    files: list[RunFile]


@router.get("/{run_id}/files", response_model=RunFiles, responses={
    404: {"description": "no such run"}, 422: {"description": "a malformed epoch or folder"}})
def get_files(run_id: str, request: Request,
              folder: str | None = Query(None, max_length=255, description="only the files of this folder"),
              epoch: CanonicalInt | None = Query(None, description="only the files of this epoch")) -> dict[str, Any]:
    """Every file of the run's artifact folders with its parsed keys (artifact, kind, epoch, latest,
    method, dims, the pattern's other fields), size and time, the epochs with a checkpoint and the
    installed artifact types with their view hints."""
    listing = list_run_files(request.app.state.store, run_id, request.app.state.pm, folder=folder, epoch=epoch)
    for row in listing["files"]:
        row["url"] = artifact_url(run_id, row["name"])
    return listing
