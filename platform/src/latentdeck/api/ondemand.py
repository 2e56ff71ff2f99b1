"""On-demand computations over HTTP: one typed route per installed ``OnDemandSpec``.

``POST /api/runs/{run_id}/compute/{name}`` takes the spec's request model as its JSON body (so the
OpenAPI document has each one's fields, types and ranges), validates it (422 naming the field), then
calls ``compute(ctx, request)`` with an :class:`latentdeck.engine.ondemand.OnDemandContext`: files are
persisted before the answer, repeats are read from disk, each new file is announced once. A ``heavy``
spec of a run whose executor schedules its own work (the ray executor) is a ``computation`` job there instead. The host
knows no computation by name; a name no plugin offers is a 404 listing the installed ones. Each runs
under the server's budget (``LATENTDECK_COMPUTE_BUDGET_S``, default 120 s): one that takes longer answers
504 and can write nothing afterwards; a DELETE of the run stops the running ones first (409 for them).
"""

import inspect
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ..engine.ondemand import COMPUTATIONS, EpochModels, OnDemandContext, OnDemandError, run_computation
from ..registry import collect
from ..kit.atomic import read_json
from ..launch.jobs import answer_of
from ..types import Job

_MODELS = EpochModels(capacity=4)
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such run or epoch checkpoint (the message lists the epochs that have one), or an "
                         "unknown layer / projection the request names"},
    409: {"description": "the run has no checkpoint yet, or a damaged one; or the run is being deleted"},
    422: {"description": "a field out of range or of the wrong type (the message names the field and the range)"},
    504: {"description": "the computation took longer than the server's budget (LATENTDECK_COMPUTE_BUDGET_S, default "
                         "120 s); it was stopped and writes nothing more"},
}


class OnDemandResult(BaseModel):
    """What every on-demand computation answers."""

    folder: str | None = Field(description="the folder its files are in, relative to the run (null: it wrote none)")
    files: list[str] = Field(description="its files by artifact name (GET /api/runs/{run_id}/artifacts/{name})")
    created: bool = Field(description="true when this request computed the files, false when read from disk")
    payload: dict[str, Any] = Field(description="the computation's answer (fields in its plugin's README)")
    notes: list[str] = Field(default_factory=list, description="sentences for people about this answer (e.g. "
                                                               "sampling a component that holds almost no data)")


def _executor_call(pm, run_dir):
    """A call that submits a ``computation`` job to the run's executor and waits for its answer; None when the
    server computes it itself (the executor shares this machine: it declares a ``capacity``)."""
    try:
        name = read_json(run_dir / "config.json").get("executor")
    except (OSError, ValueError):
        return None
    executor = collect(pm, "executors").get(name or "")
    if executor is None or executor.capacity is not None:
        return None
    return lambda run_dir, name, body: answer_of(executor, Job("computation", str(run_dir), {"name": name, "body": body}))


def _endpoint(spec):
    def compute(run_id: str, body, request: Request) -> dict[str, Any]:
        run_dir = request.app.state.store.run_dir(run_id)
        call = _executor_call(request.app.state.pm, run_dir) if spec.heavy else None
        if call is not None:  # heavy work runs where the run's executor runs work (a Ray node), under its budget there
            with COMPUTATIONS.track(run_dir, spec.name, None):
                return call(run_dir, spec.name, body.model_dump(mode="json"))
        ctx = OnDemandContext(run_id=run_id, run_dir=run_dir, spec=spec, pm=request.app.state.pm, models=_MODELS)
        return run_computation(ctx, body)

    compute.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter("run_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
        inspect.Parameter("body", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=spec.request),
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
    ], return_annotation=dict[str, Any])
    compute.__name__ = f"compute_{spec.name.replace('-', '_')}"
    return compute


def ondemand_router(pm) -> APIRouter:
    """The routes of every on-demand computation the plugins of ``pm`` offer."""
    router = APIRouter(prefix="/api/runs/{run_id}/compute", tags=["compute"])
    specs = collect(pm, "ondemand")
    for name, spec in specs.items():
        router.add_api_route(
            f"/{name}", _endpoint(spec), methods=["POST"], response_model=OnDemandResult, responses=ERRORS,
            summary=f"{name} (on demand)", description=spec.description or spec.request.__doc__ or "",
            operation_id=f"compute_{name.replace('-', '_')}")

    @router.post("/{name}", include_in_schema=False)
    def unknown(run_id: str, name: str) -> None:
        raise OnDemandError(f"no on-demand computation {name[:80]!r}; installed: {', '.join(specs) or 'none'} "
                            "(`latentdeck compute --list` shows their fields)", 404)

    return router
