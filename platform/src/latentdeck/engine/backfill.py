"""Backfill: compute missing projection and neighbour artifacts of a finished run from its checkpoints.

Nothing is retrained. For each chosen epoch that has a checkpoint, the model is rebuilt from
``checkpoints/epoch_<N>.pt``, run on the persisted visualization subset, and the artifact engine
writes only what is missing (projections whose epoch file is absent, generators whose files the event
log does not list). Events go to the run's ``events.jsonl`` between ``backfill.started`` and
``backfill.completed`` (or ``backfill.failed``). A second backfill of the same selection finds nothing
missing and writes nothing. ``*_latest`` mirrors never move back to an older epoch.

Each generator and projection fit runs under the run's ``generator_budget_s`` (:mod:`latentdeck.engine.budget`).
A backfill is cancelled with :func:`request_cancel` (``POST /api/runs/{id}/backfill/cancel``,
``latentdeck backfill --cancel RUN_ID``): a flag file naming its process, which it reads between steps and
every :data:`latentdeck.engine.budget.POLL_S` within one; it then ends with ``backfill.failed`` (``reason:
"cancelled"``), keeping the files finished before. A DELETE of the run cancels it and waits
(:func:`stop_backfill`).

Run it with ``latentdeck backfill RUN_ID`` or ``POST /api/runs/{id}/backfill`` (which starts
``python -m latentdeck.engine.backfill RUN_DIR ...`` in its own process).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from ..kit.atomic import read_json, write_json
from .budget import DEFAULT_BUDGET_S, Budget, Stopped, exit_past_abandoned_work
from .checkpoints import checkpoint_units, CheckpointError, load_model
from ..store.events import EventLog
from ..kit.procs import proc_start_time
from ..store.lifecycle import TERMINAL
from ..store.runs import BACKFILL_LOCK as LOCK, RunConflict, RunStoreError, backfill_active, read_summary, running_backfill
from ..registry import collect, per_epoch
from .artifacts import ArtifactEngine
from .training import load_viz_subset
from .. import registry as plugin_registry  # get_plugin_manager is looked up when called: tests swap it

CANCEL = "backfill_cancel_requested"  # {"pid", "proc_start", "requested_at"}: the backfill asked to stop
EXIT_CANCELLED = 130


class BackfillError(RunStoreError):
    status = 422


class BackfillCancelled(RunStoreError):
    status = 409



def describe(info: dict[str, Any]) -> str:
    started = time.strftime("%H:%M:%S", time.localtime(float(info.get("started_at") or 0)))
    return f"the backfill started at {started} (process {info.get('pid')})"


def request_cancel(run_dir: Path) -> dict[str, Any]:
    """Ask this run's running backfill to stop; returns its lock. ``RunConflict`` when none runs."""
    run_dir = Path(run_dir)
    info = running_backfill(run_dir)
    if info is None:
        raise RunConflict(f"no backfill of run {run_dir.name!r} is running, so there is nothing to cancel "
                          "(a cancel of the run itself: POST /api/runs/{run_id}/cancel)")
    write_json(run_dir / CANCEL, {"pid": info.get("pid"), "proc_start": info.get("proc_start"), "requested_at": time.time()})
    return info


def wait_ended(run_dir: Path, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for the run's backfill to end; True when none runs."""
    deadline = time.monotonic() + timeout_s
    while backfill_active(run_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def stop_backfill(run_dir: Path, wait_s: float) -> None:
    """Before a DELETE: cancel the run's backfill, if one runs, and wait up to ``wait_s`` for it to end;
    ``RunConflict`` naming it when it is still running then."""
    try:
        info = request_cancel(run_dir)
    except RunConflict:
        return
    if not wait_ended(run_dir, wait_s):
        raise RunConflict(f"run {Path(run_dir).name!r} has a backfill running, {describe(info)}, which did not stop "
                          f"within {wait_s:g} s of its cancel; nothing was deleted: retry once it has ended (its "
                          f"backfill.failed event), or end process {info.get('pid')}")


def _cancel_asked(run_dir: Path, me: tuple[int, int | None]) -> str | None:
    """A cancel flag naming this process (a flag left for an earlier backfill is not for us)."""
    path = run_dir / CANCEL
    if not path.exists():
        return None
    try:
        flag = read_json(path)
    except (OSError, ValueError):
        return "cancel requested"
    return "cancel requested" if (flag.get("pid"), flag.get("proc_start")) == me else None


def plan(run_dir: Path, pm, epochs: list[int] | None = None, projections: list[str] | None = None,
         artifacts: list[str] | None = None) -> dict[str, Any]:
    """Validate a backfill request; returns ``{"epochs", "projections", "artifacts"}`` to run.

    Raises :class:`BackfillError` (422) or ``RunConflict`` (409) with a message saying what to do.
    """
    run_dir = Path(run_dir)
    summary = read_summary(run_dir)
    run_id = summary["run_id"]
    if summary["status"] not in TERMINAL:
        raise RunConflict(f"run {run_id!r} is {summary['status']}; backfill works on finished runs "
                          f"(wait for it to end, or cancel it)")
    if backfill_active(run_dir):
        raise RunConflict(f"a backfill of run {run_id!r} is already running; follow its events")
    available, incomplete = checkpoint_units(run_dir)
    # A .pt without valid metadata is not a checkpoint: asked for, it is a 409 naming it; by default it is
    # passed over, and the plan's "skipped" names it.
    asked_incomplete = [incomplete[e] for e in sorted(set(epochs or []) & set(incomplete))]
    if asked_incomplete or (incomplete and not available):
        raise RunConflict(f"run {run_id!r} cannot be backfilled from an incomplete checkpoint: "
                          + "; ".join(asked_incomplete or incomplete.values()))
    if not available:
        raise BackfillError(f"run {run_id!r} has no checkpoints, so there is no model to backfill from; "
                            "train with checkpoint_every set to keep one per epoch")
    if epochs:
        missing = sorted(set(epochs) - set(available))
        if missing:
            raise BackfillError(f"run {run_id!r} has no checkpoint for epoch(s) {missing}; "
                                f"epochs with checkpoints: {available}")
    config = read_json(run_dir / "config.json")
    known_projections = collect(pm, "projections")
    for name in projections or []:
        if name not in known_projections:
            raise BackfillError(f"unknown projection {name!r}; installed: {', '.join(sorted(known_projections)) or 'none'}")
    generators = per_epoch(pm)
    for name in artifacts or []:
        if name not in generators:
            raise BackfillError(f"unknown per-epoch computation {name!r}; installed: {', '.join(sorted(generators))}")
    models, datasets = collect(pm, "models"), collect(pm, "datasets")
    if config["model"] not in models:
        raise BackfillError(f"run {run_id!r} was trained with model {config['model']!r}, which is not installed now")
    if config["dataset"] not in datasets:
        raise BackfillError(f"run {run_id!r} was trained on dataset {config['dataset']!r}, which is not installed now")
    chosen = {"epochs": sorted(set(epochs)) if epochs else available,
              "projections": sorted(projections or config.get("projections") or known_projections),
              "artifacts": sorted(artifacts) if artifacts else None,
              "skipped": [] if epochs else list(incomplete.values())}

    engine = ArtifactEngine(pm, run_dir, config, models[config["model"]], datasets[config["dataset"]], None, None,
                            skip_existing=True, projection_names=chosen["projections"], generator_names=chosen["artifacts"])
    chosen["missing"] = {epoch: todo for epoch in chosen["epochs"] if (todo := engine.missing(epoch))}
    return chosen


def _take_lock(run_dir: Path) -> None:
    path = Path(run_dir) / LOCK
    if backfill_active(run_dir):
        raise RunConflict("a backfill of this run is already running")
    path.unlink(missing_ok=True)  # a stale lock of a dead backfill
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    with os.fdopen(fd, "w") as handle:
        json.dump({"pid": os.getpid(), "proc_start": proc_start_time(os.getpid()), "started_at": time.time()}, handle)


def backfill(run_dir: Path | str, pm=None, epochs: list[int] | None = None, projections: list[str] | None = None,
             artifacts: list[str] | None = None, listeners: tuple[Callable[[dict], None], ...] = ()) -> dict[str, Any]:
    """Backfill a finished run; returns ``{"epochs", "written", "duration_s"}`` (or ``nothing_missing``)."""
    pm = pm or plugin_registry.get_plugin_manager()
    run_dir = Path(run_dir)
    chosen = plan(run_dir, pm, epochs, projections, artifacts)
    if not chosen["missing"]:
        return {"epochs": chosen["epochs"], "written": [], "nothing_missing": True}
    config = read_json(run_dir / "config.json")
    _take_lock(run_dir)
    me = (os.getpid(), proc_start_time(os.getpid()))
    budget = Budget(float(config.get("generator_budget_s") or DEFAULT_BUDGET_S), lambda: _cancel_asked(run_dir, me))
    written: list[str] = []
    try:
        with EventLog(run_dir / "events.jsonl", config["run_id"]) as events:
            events.listeners.extend(listeners)
            events.listeners.append(lambda e: e["type"] == "artifact.created" and written.append(e["data"]["name"]))
            model_spec = collect(pm, "models")[config["model"]]
            dataset_spec = collect(pm, "datasets")[config["dataset"]]
            events.emit("backfill.started", chosen)
            started = time.perf_counter()
            try:
                viz = load_viz_subset(config, dataset_spec)
                engine = ArtifactEngine(pm, run_dir, config, model_spec, dataset_spec, viz, events, skip_existing=True,
                                        projection_names=chosen["projections"], generator_names=chosen["artifacts"],
                                        budget=budget)
                for epoch in sorted(chosen["missing"]):
                    why = budget.stop_reason()
                    if why:
                        raise Stopped(f"before epoch {epoch}: {why}")
                    model, _ = load_model(run_dir, pm, epoch=epoch)
                    engine.run_epoch(model, epoch, last=True, everything=True)
            except Stopped as where:
                events.emit("backfill.failed", {"reason": "cancelled", "error": f"cancelled ({where})",
                                                "written": written})
                raise BackfillCancelled(f"the backfill of run {config['run_id']!r} was cancelled ({where}); the "
                                        f"{len(written)} files written before are kept") from None
            except Exception as exc:
                events.emit("backfill.failed", {"reason": "error", "error": f"{type(exc).__name__}: {exc}",
                                                "traceback": traceback.format_exc(limit=6), "written": written})
                if isinstance(exc, CheckpointError):  # damaged or incomplete since the plan: a refusal naming it
                    raise RunConflict(f"backfill stopped: {exc}") from exc
                raise
            result = {"epochs": chosen["epochs"], "written": list(written),
                      "duration_s": round(time.perf_counter() - started, 3)}
            events.emit("backfill.completed", result)
    finally:
        (run_dir / CANCEL).unlink(missing_ok=True)
        (run_dir / LOCK).unlink(missing_ok=True)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m latentdeck.engine.backfill RUN_DIR [--epochs 1,2] [--projections a,b] [--artifacts x]``."""
    parser = argparse.ArgumentParser(prog="python -m latentdeck.engine.backfill")
    parser.add_argument("run_dir")
    parser.add_argument("--epochs", type=lambda v: [int(x) for x in v.split(",") if x])
    parser.add_argument("--projections", type=lambda v: [x for x in v.split(",") if x])
    parser.add_argument("--artifacts", type=lambda v: [x for x in v.split(",") if x])
    args = parser.parse_args(argv)
    code = 0
    try:
        backfill(args.run_dir, epochs=args.epochs, projections=args.projections, artifacts=args.artifacts)
    except BackfillCancelled as exc:
        print(str(exc), file=sys.stderr)
        code = EXIT_CANCELLED
    except RunStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 2
    exit_past_abandoned_work(code)  # a generator given up on (a cancel, its budget) must not keep this process
    return code


if __name__ == "__main__":
    sys.exit(main())
