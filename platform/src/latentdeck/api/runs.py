"""Runs: create (validate, persist, hand to an executor), list, read, cancel, delete, artifacts.

Endpoints are plain ``def`` on purpose: they read and write files, and FastAPI runs them in the
threadpool, so the event loop (and every open event stream) never waits on the disk.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from .. import launch
from ..launch.config import RunConfig
from ..launch.jobs import submit as submit_job
from ..kit.phases import Phase, run_phases
from ..registry import collect
from ..store.resolved import RunRecordError, load_config, load_run
from ..store.runs import RunConflict, RunNotFound, RunStore
from ..types import Job, ResolvedRun
from .files import MEDIA_TYPES, FileSnapshot
from ..engine.backfill import backfill_active, plan, request_cancel, stop_backfill
from ..engine.ondemand import COMPUTATIONS

router = APIRouter(prefix="/api/runs", tags=["runs"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such run", "content": {"application/json": {"example": {"detail": "no run 'x' in runs/"}}}},
}


class RunSummary(BaseModel):
    """``summary.json``: the run's lifecycle status and latest numbers (extra fields pass through)."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    status: Literal["created", "running", "completed", "cancelled", "failed"]
    name: str | None = None
    preset: str | None = Field(None, description="the preset the run started from (null: none), shown with the name "
                                                 "so two runs of one model can be told apart")
    model: str | None = None
    dataset: str | None = None
    epochs: int | None = None
    epochs_completed: int = 0
    created_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    reason: str | None = Field(None, description="why the run ended as it did (cancel, error, non_finite_loss, disk_full, worker_died, interrupted, executor_failed)")
    error: str | None = None
    metrics: dict[str, Any] | None = Field(None, description="the last epoch's train.metrics")
    last_checkpoint: str | None = None
    device: str | None = Field(None, description="the device the run trains on (cpu or cuda), resolved from "
                                                 "config.device when the run starts")
    queue_position: int | None = Field(None, description="a created run waiting in the server's run queue: its place, "
                                                         "1 = next to start (null when it is not queued)")
    queue_length: int | None = Field(None, description="how many runs wait in the run queue (with queue_position)")


class RunDetail(BaseModel):
    summary: RunSummary
    config: dict[str, Any] = Field(description="the resolved config persisted as config.json")
    phases: list[Phase] = Field(default_factory=list, description="the training phases the run's model declares "
                                "(pretraining, prior initialisation, ...); empty when it declares none or is not installed")


class CancelAccepted(BaseModel):
    summary: RunSummary
    detail: str


def _store(request: Request) -> RunStore:
    return request.app.state.store


def _with_queue(request: Request, summary: dict[str, Any]) -> dict[str, Any]:
    """The summary with its place in the run queue (known to this server only, never on disk)."""
    deferred = getattr(request.app.state, "deferred", None)
    place = deferred.queue_position(summary.get("run_id", "")) if deferred is not None else None
    return {**summary, **place} if place else summary


@router.post("", status_code=201, response_model=RunDetail, responses={
    422: {"description": "the config is invalid or names a component that does not exist or cannot work"},
    507: {"description": "the disk holding the runs folder is full; nothing was written"}})
def create_run(config: RunConfig, request: Request) -> dict[str, Any]:
    """Validate the config against the installed plugins, persist the run and start its worker."""
    pm = request.app.state.pm
    stored = launch.prepare_run(pm, config)  # ConfigError (422) before anything is written
    summary = launch.start_run(_store(request), pm, stored, getattr(request.app.state, "deferred", None))
    return {"summary": _with_queue(request, summary), "config": dict(stored.config)}


@router.get("", response_model=list[RunSummary])
def list_runs(request: Request) -> list[dict[str, Any]]:
    """Every run's summary, newest first (a queued run with its ``queue_position``)."""
    return [_with_queue(request, summary) for summary in _store(request).list()]


@router.get("/{run_id}", response_model=RunDetail, responses=ERRORS)
def get_run(run_id: str, request: Request) -> dict[str, Any]:
    store = _store(request)
    config = store.read_config(run_id)  # as stored: the page shows config.json itself
    pm = request.app.state.pm
    model_spec = collect(pm, "models").get(str(config.get("model")))
    phases = run_phases(model_spec, _resolved(store, run_id, pm) or config) if model_spec else []
    summary = store.summary(run_id)
    summary.setdefault("preset", config.get("preset"))  # a summary written before it named the preset
    return {"summary": _with_queue(request, summary), "config": config, "phases": phases}


def _resolved(store: RunStore, run_id: str, pm) -> ResolvedRun | None:
    """The run as this process resolved it (parsed once per version of its config.json); None when this
    installation cannot resolve it (the page still shows the stored config)."""
    try:
        return load_run(store.run_dir(run_id), pm)
    except RunRecordError:
        return None


@router.post("/{run_id}/cancel", status_code=202, response_model=CancelAccepted, responses={
    **ERRORS, 409: {"description": "the run already ended (and no backfill of it is running)"}})
def cancel_run(run_id: str, request: Request) -> dict[str, Any]:
    """Ask the worker to stop; it does at its next check (within a fraction of a second while it writes
    artifacts), emits ``run.cancelled`` and keeps finished epochs. A run still waiting to start (queued, or
    waiting for its executor) ends ``cancelled`` at once. A finished run whose backfill is running: the
    backfill is cancelled (as ``POST /api/runs/{run_id}/backfill/cancel``)."""
    store = _store(request)
    try:
        summary = store.request_cancel(run_id)
    except RunConflict:
        if not backfill_active(store.run_dir(run_id)):
            raise
        return {"summary": store.summary(run_id), **cancel_backfill(run_id, request)}
    deferred = getattr(request.app.state, "deferred", None)
    ended = deferred.withdraw(run_id) if deferred is not None else None
    if ended is None and deferred is not None:  # a scheduling pass may have seen the flag first
        fresh = store.summary(run_id)
        ended = fresh if fresh.get("reason") == "cancel requested before start" else None
    if ended is None:  # a worker an executor holds elsewhere (e.g. waiting for a cluster's resources)
        ended = launch.cancel_worker(store, request.app.state.pm, run_id)
    if ended is not None:
        return {"summary": ended, "detail": "cancelled before it started: it left the queue and never trains"}
    return {"summary": summary, "detail": "cancel requested; the run stops at its next check and "
                                          "emits run.cancelled (follow GET /api/runs/{run_id}/events)"}


DELETE_WAIT_S = 10.0  # how long a DELETE waits for the run's backfill and computations to stop


@router.delete("/{run_id}", status_code=204, response_class=Response, responses={
    **ERRORS, 409: {"description": "the run is still active (cancel it first), or its backfill or a computation "
                                   "of it did not stop within 10 s (the message names it); nothing was deleted"}})
def delete_run(run_id: str, request: Request) -> Response:
    """Delete a finished run. Its running backfill and on-demand computations are stopped first and waited
    for (up to 10 s), so nothing writes into the folder once it is gone; one that does not stop is a 409."""
    store = _store(request)

    def stop_work(run_dir) -> None:
        with COMPUTATIONS.closed(run_dir, "the run is being deleted", DELETE_WAIT_S) as elsewhere:
            if elsewhere:
                raise RunConflict(f"run {run_id!r} has on-demand computations running on its executor that cannot "
                                  f"be stopped from here: {', '.join(elsewhere)}; nothing was deleted: retry when they "
                                  "have answered")
            stop_backfill(run_dir, DELETE_WAIT_S)

    store.delete(run_id, stop_work)
    return Response(status_code=204)


@router.get("/{run_id}/artifacts/{name:path}", response_class=FileSnapshot, responses={
    **ERRORS, 400: {"description": "not a valid artifact name (absolute, '..', hidden or private files)"},
    200: {"description": "the file: JSON, PNG, the event log (JSON lines) or other bytes (checkpoints)",
          "content": {media: {} for media in (*MEDIA_TYPES.values(), "application/octet-stream")}}})
def get_artifact(run_id: str, name: str, request: Request) -> FileSnapshot:
    """One file of the run by its relative name (from GET /api/runs/{id}/files, or config.json/summary.json/events.jsonl),
    as it is at the moment of the request (``events.jsonl`` up to its last complete line)."""
    path = _store(request).artifact_path(run_id, name)
    try:  # opened from the run folder down without following links (a 409 naming one swapped in since)
        return FileSnapshot(path, headers={"Cache-Control": "no-cache"}, lines=name == "events.jsonl",
                            root=path.parents[name.count("/")])
    except FileNotFoundError:  # removed between the check and the open (a delete in progress)
        raise RunNotFound(f"run {run_id!r} has no artifact {name!r} any more") from None


class BackfillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    epochs: list[int] | None = Field(None, description="epochs to backfill (default: every epoch with a checkpoint)")
    projections: list[str] | None = Field(None, description="projection methods (default: the run's own selection, else every installed one)")
    artifacts: list[str] | None = Field(None, description="artifact generators (default: the run's own selection)")


class BackfillAccepted(BaseModel):
    started: bool = Field(description="false when nothing was missing (re-running a backfill is a no-op)")
    plan: dict[str, Any] = Field(description="epochs, projections, artifacts, and what is missing per epoch")
    detail: str


@router.post("/{run_id}/backfill", status_code=202, response_model=BackfillAccepted, responses={
    **ERRORS, 409: {"description": "the run is still active, or a backfill of it is already running"},
    422: {"description": "no checkpoints, an epoch without a checkpoint, or an unknown projection/generator"}})
def start_backfill(run_id: str, body: BackfillRequest, request: Request) -> dict[str, Any]:
    """Compute a finished run's missing projection and neighbour artifacts from its checkpoints, as a
    ``backfill`` job of the run's executor; progress arrives as events (``backfill.started``, ``projection.progress``,
    ``artifact.created``, ``backfill.completed``) on ``GET /api/runs/{run_id}/events``."""
    run_dir = _store(request).run_dir(run_id)
    chosen = plan(run_dir, request.app.state.pm, body.epochs, body.projections, body.artifacts)
    if not chosen["missing"]:
        return {"started": False, "plan": chosen, "detail": "nothing is missing: every requested artifact exists"}
    name = load_config(run_dir)["executor"]
    executor = collect(request.app.state.pm, "executors").get(name)
    if executor is None:
        raise RunConflict(f"the run's executor {name!r} is not installed; backfill it from a shell with "
                          f"`latentdeck backfill {run_id}` instead")
    args = ["--epochs", ",".join(map(str, chosen["epochs"])), "--projections", ",".join(chosen["projections"])]
    if chosen["artifacts"]:
        args += ["--artifacts", ",".join(chosen["artifacts"])]
    info = submit_job(executor, Job("backfill", str(run_dir), {"argv": args}))
    return {"started": True, "plan": chosen,
            "detail": f"backfill started by the {name!r} executor ({info}); follow GET /api/runs/{run_id}/events; "
                      f"cancel it with POST /api/runs/{run_id}/backfill/cancel"}


class BackfillCancelAccepted(BaseModel):
    detail: str
    backfill: dict[str, Any] = Field(description="the running backfill's lock: pid, proc_start, started_at")


@router.post("/{run_id}/backfill/cancel", status_code=202, response_model=BackfillCancelAccepted, responses={
    **ERRORS, 409: {"description": "no backfill of the run is running"}})
def cancel_backfill(run_id: str, request: Request) -> dict[str, Any]:
    """Ask the run's running backfill to stop. It does at its next step, or within a fraction of a second
    inside a generator or projection (which then writes nothing more), and ends with ``backfill.failed``
    (``reason: "cancelled"``); the files it finished before are kept. ``latentdeck backfill --cancel RUN_ID``
    does the same."""
    info = request_cancel(_store(request).run_dir(run_id))
    return {"backfill": info, "detail": "cancel requested: the backfill stops at its next step and ends with "
                                        f"backfill.failed (reason cancelled); follow GET /api/runs/{run_id}/events"}
