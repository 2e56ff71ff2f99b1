"""Slow work for the stoppable-work battery (issue 22, item 6): a generator and an on-demand computation
that sleep, then write through their context.

Loaded into worker and backfill processes through ``LATENTDECK_EXTRA_PLUGINS`` (with this folder on
``PYTHONPATH``), and into a test's own plugin manager with ``plugin_manager_with(battery_sleepplugin)``.

- ``sleepy`` (artifact generator, folder ``sleepy/``): sleeps ``seconds`` at the epochs in ``slow_epochs``
  (every epoch when empty), then writes ``sleepy/sleepy_{tag}.json``.
- ``sleepy-compute`` (on-demand computation, folder ``sleepy/``): sleeps ``seconds``, then writes
  ``sleepy/on_demand_epoch_<N>.json``.
- ``sleepy-proj`` (projection, 2-D only): the first two latent coordinates, after sleeping ``seconds`` at the
  epochs in ``slow_epochs`` (projection_options).

Each write attempt after the sleep is appended, with what became of it (``written`` or the error), to the
file named by ``$LATENTDECK_SLEEP_LOG`` when set: a test then knows the abandoned work did try to write.
"""

from __future__ import annotations

import json
import os
import time

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, Projection, ProjectionSpec, hookimpl


class SleepyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(60.0, ge=0)
    slow_epochs: list[int] = Field(default_factory=list, description="epochs that sleep (empty: every epoch)")


class SleepyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(60.0, ge=0, le=600)
    epoch: int | None = None


def _note(what: str, outcome: str) -> None:
    path = os.environ.get("LATENTDECK_SLEEP_LOG")
    if path:
        with open(path, "a") as handle:
            handle.write(json.dumps({"what": what, "outcome": outcome, "at": time.time(), "pid": os.getpid()}) + "\n")


def _attempt(what: str, write) -> object:
    try:
        result = write()
    except Exception as exc:
        _note(what, f"{type(exc).__name__}: {exc}")
        raise
    _note(what, "written")
    return result


def generate(ctx, request=None) -> None:
    options = ctx.options
    if not options.slow_epochs or ctx.epoch in options.slow_epochs:
        time.sleep(options.seconds)
    _attempt(f"sleepy epoch {ctx.epoch}", lambda: ctx.save_json("sleepy", "sleepy_{tag}.json", {"epoch": ctx.epoch}))


def compute(ctx, request: SleepyRequest) -> dict:
    loaded = ctx.load(request.epoch)
    time.sleep(request.seconds)
    _attempt(f"sleepy-compute epoch {loaded.epoch}", lambda: loaded.save_json(
        "sleepy", "on_demand_{tag}.json", {"epoch": loaded.epoch}, mirror=False))
    return {"epoch": loaded.epoch}


def fit(latents, dims, seed, options, init=None, epoch=None):
    if not options.slow_epochs or epoch in options.slow_epochs:
        time.sleep(options.seconds)
    _note(f"sleepy-proj epoch {epoch}", "fitted")
    return Projection(latents[:, :dims].astype("float64"), {"rule": "first latent coordinates, slowly"})


@hookimpl
def register_projections():
    return [ProjectionSpec(name="sleepy-proj", fit=fit, dims=(2,), options=SleepyOptions,
                           description="test: sleeps, then the first latent coordinates")]


@hookimpl
def register_computations():
    return [ComputationSpec(name="sleepy", compute=generate, options=SleepyOptions, folder="sleepy",
                         files=("sleepy_{tag}.json",), description="test: sleeps, then writes"),
            ComputationSpec(name="sleepy-compute", runs="on_demand", request=SleepyRequest, compute=compute, folder="sleepy",
                         files=("on_demand_{tag}.json",), description="test: sleeps, then writes")]
