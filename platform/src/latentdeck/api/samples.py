"""On-demand decoded samples and the per-epoch listing of model-based overlays (density, distortion, samples).

``POST /api/runs/{id}/samples`` computes a grid (or serves it from disk) through
:func:`latentdeck.samples.sample`, the function ``latentdeck sample`` calls; the files exist before
the response is sent. ``GET /api/runs/{id}/overlays`` lists, per epoch, which density, distortion
and sample files the run has (:func:`latentdeck.overlays.list_overlays`, also ``latentdeck overlays``).
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ..ondemand import EpochModels
from ..overlays import list_overlays, overlay_specs
from ..samples import MAX_M, SampleRequest, sample

router = APIRouter(prefix="/api/runs", tags=["samples"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such run, or the epoch has no checkpoint (the message lists those that do)"},
    409: {"description": "the run has no checkpoint yet"},
}


class SamplesRequest(BaseModel):
    """Which grid to decode. Exactly one of ``idx`` (posterior_local) or ``component`` (prior_component)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Literal["posterior_local", "prior_component"] = Field(
        "posterior_local", description="posterior_local: z ~ q(z|x_idx) (an isotropic neighbourhood for deterministic "
                                       "encoders); prior_component: z ~ p(z|c) (mixture models)")
    idx: int | None = Field(None, description="held-out index of the example (posterior_local)",
                            json_schema_extra={"minimum": 0})
    component: int | None = Field(None, description="mixture component c (prior_component)",
                                  json_schema_extra={"minimum": 0})
    m: int = Field(16, description=f"number of samples, 1..{MAX_M}", json_schema_extra={"minimum": 1, "maximum": MAX_M})
    epoch: int | None = Field(None, description="epoch with a checkpoint (default: the newest)")
    seed: int | None = Field(None, description="explicit seed (0..2^32-1); default: derived from the run seed, "
                                               "epoch, kind and key. Override files carry _seed_<s> and no latest mirror",
                             json_schema_extra={"minimum": 0, "maximum": 2**32 - 1})


class ComponentWeight(BaseModel):
    p: float = Field(description="mean q(c|x) of the component on the visualization subset")
    argmax_share: float = Field(description="share of the subset whose most likely component it is")
    n: int
    components: int
    source: str
    note: str | None = Field(None, description="present when the component holds almost no data (p < 0.1 / K)")


class SamplesResult(BaseModel):
    """The grid's JSON payload (``samples/<...>.json``) plus where its files are and how it was served."""

    model_config = ConfigDict(extra="allow")

    kind: str
    epoch: int
    idx: int | None = None
    component: int | None = None
    m: int
    seed: int
    seed_source: Literal["derived", "override"]
    distribution: str = Field(description="q(z|x), isotropic_neighbourhood or p(z|c)")
    description: str
    compute_ms: float = Field(description="time it took to compute the grid when it was made")
    png: str
    json_name: str = Field(alias="json", description="the JSON file's relative name")
    latest: str | None = Field(description="the *_latest PNG mirror when it shows this grid's epoch")
    cached: bool = Field(description="true when served from disk (an earlier request or the per-epoch set made it)")
    served_ms: float
    png_url: str
    json_url: str
    component_weight: ComponentWeight | None = Field(
        None, description="prior_component of a mixture model: how much data the component holds at this epoch")


def _epoch_models(request: Request) -> EpochModels:
    models = getattr(request.app.state, "epoch_models", None)
    if models is None:
        models = request.app.state.epoch_models = EpochModels()
    return models


def _url(run_id: str, name: str) -> str:
    return f"/api/runs/{quote(run_id)}/artifacts/{quote(name)}"


@router.post("/{run_id}/samples", response_model=SamplesResult, response_model_by_alias=True, responses={
    **_ERRORS, 422: {"description": "idx outside the held-out split, component >= K, m <= 0 or above the cap, "
                                    "prior sampling on a model without a prior, a bad seed"}})
def request_samples(run_id: str, body: SamplesRequest, request: Request) -> dict[str, Any]:
    """Decode ``m`` samples for one example or one component at one epoch, persisted under ``samples/``
    before the answer; a repeated request is served from disk (``cached: true``)."""
    from ..ondemand import OnDemandError

    run_dir = request.app.state.store.run_dir(run_id)
    key_name = "idx" if body.kind == "posterior_local" else "component"
    other = "component" if key_name == "idx" else "idx"
    key = getattr(body, key_name)
    if key is None:
        raise OnDemandError(f"kind {body.kind} needs {key_name!r} (the "
                            f"{'held-out index of an example' if key_name == 'idx' else 'mixture component'})", 422)
    if getattr(body, other) is not None:
        raise OnDemandError(f"kind {body.kind} takes {key_name!r}, not {other!r}", 422)
    result = sample(run_dir, SampleRequest(body.kind, key, body.m, body.epoch, body.seed),
                    request.app.state.pm, _epoch_models(request))
    return {**result, "png_url": _url(run_id, result["png"]), "json_url": _url(run_id, result["json"])}


class OverlayFile(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    url: str


class OverlayEpoch(BaseModel):
    """One epoch: ``checkpoint`` and, for every overlay folder in ``kinds``, a list of its files."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {
        "type": "array", "items": {"$ref": "#/components/schemas/OverlayFile"}}})

    epoch: int
    checkpoint: bool = Field(description="whether the epoch has a checkpoint (on-demand samples need one)")


class OverlayListing(BaseModel):
    run_id: str
    kinds: list[str] = Field(description="the overlay folders the installed plugins declare (density, distortion, samples ...)")
    epochs: list[OverlayEpoch]
    latest: dict[str, list[OverlayFile]] = Field(description="the *_latest mirrors, by kind")


@router.get("/{run_id}/overlays", response_model=OverlayListing, responses={404: {"description": "no such run"}})
def get_overlays(run_id: str, request: Request,
                 epoch: int | None = Query(None, description="only this epoch")) -> dict[str, Any]:
    """Which overlay artifacts (density, distortion, samples, any generator declaring ``overlay``) exist, per
    epoch, parsed from the file names with the generators' declared patterns."""
    run_dir = request.app.state.store.run_dir(run_id)
    listing = list_overlays(run_dir, overlay_specs(request.app.state.pm), epoch)
    for group in [*listing["epochs"], listing["latest"]]:
        for kind in listing["kinds"]:
            for row in group[kind]:
                row["url"] = _url(run_id, row["name"])
    return {"run_id": run_id, **listing}
