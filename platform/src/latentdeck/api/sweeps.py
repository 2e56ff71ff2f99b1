"""Sweeps: start a named set of runs from a grid or a random search, list them, read one with its members.

Plain ``def`` endpoints: they read run files, and FastAPI runs them in the threadpool.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ..launch.sweeps import SweepRequest, SweepStore, prepare_sweep, start_sweep, sweep_detail

router = APIRouter(prefix="/api/sweeps", tags=["sweeps"])

ERRORS: dict[int | str, dict[str, Any]] = {404: {"description": "no such sweep"}}


class SweepMember(BaseModel):
    model_config = ConfigDict(extra="allow")

    run_id: str
    params: dict[str, Any] = Field(description="the values this member sets ({dotted field: value})")
    seed: int
    status: Literal["created", "running", "completed", "cancelled", "failed", "missing"]
    epochs_completed: int = 0
    epochs: int | None = None
    reason: str | None = None
    final: dict[str, float] | None = Field(None, description="the last epoch's numeric train.metrics")
    best: dict[str, float] | None = Field(None, description="per metric over the epochs: the highest accuracy, "
                                                            "the lowest of the others")
    history: list[dict[str, float]] | None = Field(None, description="each epoch's numeric train.metrics, in order")


class SweepSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    sweep_id: str
    name: str
    created_at: float
    kind: Literal["grid", "random", "seeds"]
    params: list[str] = Field(description="the fields the sweep varies")
    seeds: list[int]
    request: dict[str, Any] = Field(description="the sweep request as given")
    counts: dict[str, int] = Field(description="members per status")


class SweepDetail(SweepSummary):
    members: list[SweepMember]


def _store(request: Request):
    return request.app.state.store


@router.post("", status_code=201, response_model=SweepDetail, responses={
    422: {"description": "the sweep, or one of its member configs, is invalid; nothing was written"},
    507: {"description": "the disk holding the runs folder is full; nothing was written (no record, no member)"}})
def create_sweep(body: SweepRequest, request: Request) -> dict[str, Any]:
    """Expand the grid or random search x seeds, validate every member, write the sweep record, create
    every member (all or nothing: on a full disk or any error, no record and no member remain), then
    start them (through the run queue)."""
    pm = request.app.state.pm
    record, configs = prepare_sweep(pm, body)  # ConfigError (422) before anything is written
    start_sweep(_store(request), pm, record, configs, getattr(request.app.state, "deferred", None))
    return sweep_detail(_store(request), record)


@router.get("", response_model=list[SweepDetail])
def list_sweeps(request: Request) -> list[dict[str, Any]]:
    """Every sweep, newest first, with its members counted by status (members without their history)."""
    store = _store(request)
    return [sweep_detail(store, record, with_history=False) for record in SweepStore(store).list()]


@router.get("/{sweep_id}", response_model=SweepDetail, responses=ERRORS)
def get_sweep(sweep_id: str, request: Request) -> dict[str, Any]:
    """The sweep with each member's status, final and best metrics and per-epoch history."""
    store = _store(request)
    return sweep_detail(store, SweepStore(store).read(sweep_id))
