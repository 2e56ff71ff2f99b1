"""Latent walks on demand: ``POST /api/runs/{id}/walks`` decodes a path through the latent space (along a
dimension, or from one digit to another) and places it on a 2-D projection of that epoch.

The route is thin: the work is the ``latentdeck.walk`` plugin's :class:`latentdeck_walk.walk.Walker`
(validation naming the field, the folder persisted before the answer, repeats from disk, one
``artifact.created`` per new file); ``latentdeck walk`` calls the same method.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ..events import EventLog
from ..ondemand import EpochModels, OnDemandError

router = APIRouter(prefix="/api/runs/{run_id}", tags=["walks"])

_MODELS = EpochModels(capacity=4)


class WalkBody(BaseModel):
    """The request (fields as in ``latentdeck_walk.walk.WalkRequest``, which validates them)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    from_idx: int = Field(description="dataset index of the start digit (in from_split)")
    from_split: str = Field("heldout", description="heldout or train")
    mode: str = Field("interpolate", description="dimension (move along dim) or interpolate (toward to_idx)")
    dim: int | None = Field(None, description="dimension mode: the latent dimension")
    span: float | None = Field(None, description="dimension mode: latent units each way (default 2 std of the dimension)")
    to_idx: int | None = Field(None, description="interpolate mode: dataset index of the end digit")
    to_split: str = Field("heldout", description="heldout or train")
    steps: int = Field(9, description="decoded steps, 2..33")
    method: str = Field("pca", description="projection whose 2-D map the path is placed on")
    epoch: int | None = Field(None, description="an epoch with a checkpoint (default: the newest)")


class WalkResult(BaseModel):
    folder: str = Field(description="the walk's folder, relative to the run")
    files: list[str] = Field(description="walk.json and strip.png, by artifact name")
    created: bool = Field(description="true when this request computed the walk, false when read from disk")
    payload: dict[str, Any] = Field(description="walk.json: steps, latents, placement {exact, estimator, coords, text}, strip")


def walker(run_dir: Path, run_id: str, pm=None):
    """The walk plugin's walker for one run, announcing new files as ``artifact.created`` events."""
    try:
        from latentdeck_walk.walk import Walker
    except ImportError:
        raise OnDemandError("latent walks need the latentdeck.walk plugin, which is not installed", 501) from None

    def announce(names: list[str], epoch: int) -> None:
        with EventLog(Path(run_dir) / "events.jsonl", run_id) as log:
            for name in names:
                log.emit("artifact.created", {"name": name, "latest": None, "kind": "walks", "epoch": epoch,
                                              "generator": "walk:on_demand"})

    return Walker(run_dir, _MODELS, pm, announce)


def parse_request(body: dict[str, Any]):
    """The plugin's request model; a field it refuses is a 422 naming the field."""
    from pydantic import ValidationError

    from latentdeck_walk.walk import WalkRequest

    try:
        return WalkRequest.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise OnDemandError(f"{where}: {first['msg']}", 422) from None


@router.post("/walks", response_model=WalkResult, responses={
    404: {"description": "no such run, epoch checkpoint or 2-D projection of that method"},
    409: {"description": "the run has no checkpoint yet"},
    422: {"description": "an index, dimension, span or step count out of range (the message names the field)"},
    501: {"description": "the walk plugin is not installed"}})
def request_walk(run_id: str, body: WalkBody, request: Request) -> dict[str, Any]:
    """Decode a latent path and place it on a 2-D map (exact for linear projections such as PCA, an estimate
    from latent neighbours otherwise); persisted under ``walks/`` before the answer."""
    run_dir = request.app.state.store.run_dir(run_id)
    result = walker(run_dir, run_id, request.app.state.pm).walk(parse_request(body.model_dump(exclude_unset=True)))
    return {"folder": result.folder, "files": result.files, "created": result.created, "payload": result.payload}
