"""The one path every computation takes: :func:`run` (``ComputationSpec.compute(ctx, request)``).

The epoch loop, backfill (``request=None``), ``POST /api/runs/{id}/compute/<name>`` and ``latentdeck compute``
(a validated ``request``) all call :func:`run`, so each gets the same guarantees:

- **a budget**: the spec's ``budget_s``, else the run's ``generator_budget_s`` (epoch loop, backfill) or the
  server's ``LATENTDECK_COMPUTE_BUDGET_S`` (on demand), behind a fence (:mod:`latentdeck.engine.budget`);
- **one accounting**: a computation that raises or runs past its budget is announced as ``artifact.failed``
  (``reason: "timeout"`` for the budget) in the run's log, which counts it for ``/plugins``
  (:mod:`latentdeck.registry.health`). In the epoch loop the run goes on; on demand the caller gets the 4xx/5xx;
- **persisted before the answer, repeats from disk** (a ``key``): the host turns (epoch, request) into
  ``<folder>/<key>/``. When that folder is on disk it answers from it (``created: false``) with the stored
  ``result.json``; otherwise ``compute`` writes into ``ctx.folder`` (hidden, temporary), and the folder and its
  ``result.json`` are synced, renamed into place and each file (``result.json`` included) announced once.
  A per-epoch computation answers the requests of its per-epoch set through the same path
  (``ctx.answer(request)``, :mod:`latentdeck.engine.keyed`), so the epoch loop, backfill, HTTP and the CLI share one layout.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

from ..kit.atomic import read_json
from ..kit.errors import OnDemandError, is_disk_full
from .. import registry as plugin_registry  # get_plugin_manager is looked up when called: tests swap it
from ..registry import askable
from ..types import NoOptions
from .budget import Budget, Outcome, Revoked, Stopped, run_within_budget, timeout_event, timeout_message
from .context import RunContext
from .epochs import EpochModels, SHARED_MODELS
from .keyed import RESULT, Answer, answer, from_disk, key_of, keyed, result_of, takes_context
from .ondemand import BUDGET_SETTING, COMPUTATIONS, Computations, compute_budget_s
from .writer import AppendingLog

__all__ = ["RESULT", "Answer", "answer", "compute_here", "context_for", "key_of", "result_of", "run",
           "scheduled_options", "takes_context"]


def context_for(run_dir: Path, spec, pm, models: EpochModels = SHARED_MODELS) -> RunContext:
    """A context for asking ``spec`` of the run in ``run_dir`` (on demand): its options as the run chose them."""
    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json")
    chosen = (config.get("artifact_options") or {}).get(spec.name, {})
    return RunContext(run_id=config["run_id"], run_dir=run_dir, config=config, pm=pm, spec=spec,
                      options=spec.options.model_validate(chosen), events=AppendingLog(run_dir, config["run_id"]),
                      folders=frozenset({spec.folder}), keep_newer_latest=True, models=models)


def run(spec, ctx: RunContext, request: Any = None, budget: Budget | None = None,
        registry: Computations = COMPUTATIONS) -> Answer:
    """Run ``spec`` once: in the epoch loop / backfill (``request`` None: failures are announced and the run
    goes on; :class:`Stopped` when ``budget.should_stop`` asks) or asked for (a failure raises
    :class:`OnDemandError`: 504 past the budget, 409 when stopped, the computation's own 4xx as it is)."""
    asked = request is not None
    budget = _budget(spec, budget, asked)
    sink = ctx.events  # unfenced: a failure is announced even after the fence was revoked
    ctx.request = request
    key = None
    if asked:
        if "epoch" in type(request).model_fields or spec.key is not None:
            ctx.epoch = ctx.resolve_epoch(getattr(request, "epoch", None))
        if spec.key is not None:
            key = key_of(spec, request, ctx.epoch, ctx)
            found = from_disk(spec, ctx, key)
            if found is not None:
                return found
    ctx = ctx.fenced()
    fence = ctx.fence
    if asked and budget.should_stop is None:  # a DELETE of the run revokes the fence: stop waiting at once
        budget = dataclasses.replace(budget, should_stop=lambda: fence.reason)
    work = (lambda: keyed(spec, ctx, request, key)) if key is not None else (lambda: _plain(spec, ctx, request))
    if asked:
        work = _one_at_a_time(_request_key(spec, ctx, request), work)
        with registry.track(Path(ctx.run_dir), spec.name, ctx.fence):
            outcome = run_within_budget(_without_grad(work), budget, ctx.fence, f"compute-{spec.name}")
    else:
        outcome = run_within_budget(_without_grad(work), budget, ctx.fence, spec.name)
    return _ended(spec, ctx, outcome, budget, sink, asked)


_REQUEST_LOCKS = tuple(threading.Lock() for _ in range(64))  # striped: bounded, identical requests share one


def _request_key(spec, ctx: RunContext, request: Any) -> str:
    fields = request.model_dump(mode="json")
    if "epoch" in fields:
        fields["epoch"] = ctx.epoch  # "latest" and its number are one request
    return json.dumps([str(ctx.run_dir), spec.name, fields], sort_keys=True)


def _one_at_a_time(key: str, work):
    """``work`` behind a lock shared by identical requests (run, computation, resolved epoch, fields): a second
    identical request waits for the first and then finds its files, so no computation needs locks of its own."""
    lock = _REQUEST_LOCKS[int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % len(_REQUEST_LOCKS)]

    def locked():
        with lock:
            return work()
    return locked


def _budget(spec, budget: Budget | None, asked: bool) -> Budget:
    if budget is None:
        budget = Budget(compute_budget_s(), None, f"{BUDGET_SETTING} (the server's setting)") if asked else Budget()
    if spec.budget_s is not None:
        budget = dataclasses.replace(budget, seconds=float(spec.budget_s), setting=f"budget_s of computation {spec.name}")
    return budget


def _plain(spec, ctx: RunContext, request: Any) -> Answer:
    """A computation without a key: it writes through ``ctx.save_*`` (or keeps its files itself)."""
    result = result_of(spec.compute(ctx, request))
    files = list(result.files) if result.files is not None else list(ctx.written)
    created = result.created if result.created is not None else bool(ctx.written)
    folder = result.folder if result.folder is not None else (spec.folder if files else None)
    return Answer(folder, files, created, dict(result.payload), list(result.notes))


def _without_grad(work):
    def run_it():
        import torch

        with torch.no_grad():  # grad mode is per thread: the caller's no_grad does not reach the worker thread
            return work()
    return run_it


def _ended(spec, ctx: RunContext, outcome: Outcome, budget: Budget, sink: Any, asked: bool) -> Answer:
    """Turn how the work ended into an answer, announcing a failure once (the same for every caller)."""
    where = f"epoch {ctx.epoch}, computation {spec.name}" if not asked else f"the computation {spec.name!r}"
    if outcome.stopped:
        if asked:
            raise OnDemandError(f"{where} was stopped: {outcome.stopped}", 409)
        raise Stopped(f"{where}: {outcome.stopped}")
    generator = f"{spec.name}:on_demand" if asked else spec.name
    epoch = ctx.epoch
    if outcome.timed_out:
        failure = timeout_event(generator, epoch, budget, outcome)
        if asked:
            failure["error"] = timeout_message(where, budget, "files it finished before are kept, nothing it writes "
                                                              "later is; ask again once the budget is raised")
        _announce_failure(sink, failure)
        if asked:
            raise OnDemandError(failure["error"], 504)
        return Answer(seconds=outcome.seconds, failed="timeout")
    exc = outcome.error
    if isinstance(exc, Revoked) and ctx.fence is not None and ctx.fence.reason:  # stopped while it wrote
        outcome = dataclasses.replace(outcome, stopped=ctx.fence.reason)
        return _ended(spec, ctx, outcome, budget, sink, asked)
    if exc is not None:
        if is_disk_full(exc) or not isinstance(exc, Exception):
            raise exc  # not this computation's fault, and every later write would fail too
        if isinstance(exc, OnDemandError) and asked:
            raise exc  # a refusal of the request is not the plugin failing
        _announce_failure(sink, {"generator": generator, "epoch": epoch, "error": f"{type(exc).__name__}: {exc}",
                                 "traceback": outcome.traceback})
        if asked:
            raise exc
        return Answer(seconds=outcome.seconds, failed="error")
    answer: Answer = outcome.value
    answer.seconds = outcome.seconds
    return answer


def _announce_failure(sink: Any, data: dict[str, Any]) -> None:
    if sink is not None:
        sink.emit("artifact.failed", data)


def compute_here(run_dir: Path, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Computation ``name`` of the run in ``run_dir``, asked for in this process: what an executor's ``call``
    runs where it runs work (the answer is JSON-safe: ``{"folder", "files", "created", "payload", "notes"}``)."""
    from pydantic import ValidationError

    pm = plugin_registry.get_plugin_manager()
    spec = askable(pm).get(name)
    if spec is None:
        raise OnDemandError(f"no computation {name!r} that can be asked for is installed where this run's executor "
                            "runs it", 404)
    try:
        request = spec.request.model_validate(body)
    except ValidationError as exc:
        raise OnDemandError(f"invalid request for {name}: {exc.errors()[0]['msg']}", 422) from None
    return run(spec, context_for(Path(run_dir), spec, pm), request).as_json()


def scheduled_options(spec, config: dict[str, Any]) -> Any:
    """The run's options for ``spec`` (``artifact_options.<name>`` in its config), parsed."""
    options = spec.options or NoOptions
    return options.model_validate((config.get("artifact_options") or {}).get(spec.name, {}))
