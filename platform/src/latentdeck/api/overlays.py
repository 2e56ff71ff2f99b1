"""``GET /api/runs/{id}/overlays``: which overlay files a run has, per epoch (:mod:`latentdeck.engine.overlays`:
the generators that declare ``overlay``, their files parsed with their own declared patterns)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ..engine.overlays import list_overlays, overlay_specs
from .params import CanonicalInt
from ..engine.artifact_index import artifact_index

router = APIRouter(prefix="/api/runs", tags=["overlays"])


def artifact_url(run_id: str, name: str) -> str:
    return f"/api/runs/{quote(run_id)}/artifacts/{quote(name)}"


class OverlayFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    url: str


class OverlayEpoch(BaseModel):
    """One epoch: ``checkpoint`` and, for every overlay folder in ``kinds``, a list of its files."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {
        "type": "array", "items": {"$ref": "#/components/schemas/OverlayFile"}}})

    epoch: int
    checkpoint: bool = Field(description="whether the epoch has a checkpoint (on-demand computations need one)")


class OverlayListing(BaseModel):
    run_id: str
    kinds: list[str] = Field(description="the overlay folders the installed plugins declare (density, distortion, samples ...)")
    epochs: list[OverlayEpoch]
    latest: dict[str, list[OverlayFile]] = Field(description="the *_latest mirrors, by kind")


class IndexEpoch(BaseModel):
    epoch: int
    files: list[str]


class IndexEntry(BaseModel):
    name: str = Field(description="the artifact generator or on-demand computation that declares these files")
    kind: str = Field(description="artifacts | ondemand")
    provider: str | None
    folder: str
    view: str = Field(description="how to show them without a dedicated panel: image, image_grid, metric_series, "
                                  "table, grid2d_overlay or json")
    description: str
    page: str | None = Field(description="the plugin's own page for this artifact type (embed with ?run=&epoch=), if any")
    epochs: list[IndexEpoch] = Field(description="files per epoch, ascending")
    latest: list[str] = Field(description="the *_latest mirrors")
    other: list[str] = Field(description="files of no epoch (run-level files)")


@router.get("/{run_id}/artifact-index", response_model=list[IndexEntry], responses={404: {"description": "no such run"}})
def get_artifact_index(run_id: str, request: Request) -> list[dict[str, Any]]:
    """A run's files grouped by the spec that declares them (found with its file patterns), per epoch,
    with its view hint: the run page shows each type that has no panel of its own with that view."""
    return artifact_index(request.app.state.store.run_dir(run_id), request.app.state.pm)


@router.get("/{run_id}/overlays", response_model=OverlayListing, responses={404: {"description": "no such run"}})
def get_overlays(run_id: str, request: Request,
                 epoch: CanonicalInt | None = Query(None, description="only this epoch")) -> dict[str, Any]:
    """Which overlay artifacts (density, distortion, samples, any generator declaring ``overlay``) exist, per
    epoch, parsed from the file names with the generators' declared patterns."""
    run_dir = request.app.state.store.run_dir(run_id)
    listing = list_overlays(run_dir, overlay_specs(request.app.state.pm), epoch)
    for group in [*listing["epochs"], listing["latest"]]:
        for kind in listing["kinds"]:
            for row in group[kind]:
                row["url"] = artifact_url(run_id, row["name"])
    return {"run_id": run_id, **listing}
