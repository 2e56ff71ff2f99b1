"""Turning a request into a run: validate the config against the plugins, persist it, start it.

The API, the CLI and the UI all go through :func:`prepare_run`; the API and the UI then hand the run
to an executor (:func:`start_run`), the CLI runs the same worker code in its own process.
"""

from __future__ import annotations

import difflib
import logging
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import __version__
from .config import DEFAULT_DATASET, RunConfig, default_data_dir
from ..engine.devices import DeviceUnavailable, check_requested
from ..kit.errors import short_repr
from ..registry import collect, default_name, per_epoch
from .limits import check_viz_subset_size, disk_refusal, estimate_run_bytes, run_computations
from .presets import PresetError, apply_preset
from ..store.resolved import component_options, load_config, moved_field_problems, validation_message
from ..store.runs import RunStore, RunStoreError, disk_full_error, free_bytes, new_run_id, read_worker_info
from ..types import ResolvedRun, Schedule
from .deferred import end_cancelled_before_start, record_worker, start_worker  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)


class ConfigError(RunStoreError):
    """The run config names something that does not exist or cannot work; nothing was written."""

    status = 422


def _unknown(kind: str, name: str, known: dict[str, Any], hint: str) -> ConfigError:
    close = difflib.get_close_matches(name, known, n=1)
    suggestion = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown {kind} {name!r}.{suggestion} Available: {', '.join(sorted(known)) or 'none'}. {hint}")


def resolve_dataset(pm, requested: str, data_dir: Path) -> tuple[str, str | None]:
    """(dataset name to use, a note saying why when it differs from the request)."""
    datasets = collect(pm, "datasets")
    if requested == DEFAULT_DATASET:
        ranked = sorted((spec.default_rank, name) for name, spec in datasets.items() if spec.default_rank is not None)
        passed_over = []
        for rank, name in ranked:
            availability = datasets[name].availability(data_dir)
            if availability.ok:
                if not passed_over:
                    return name, f"default dataset: {name} ({datasets[name].description or 'available'})"
                return name, (f"default dataset: {'; '.join(passed_over)}; so this run uses {name} "
                              f"({datasets[name].description or 'available'}). Choose a dataset to use another.")
            passed_over.append(f"{name} is not available ({availability.reason})")
        raise ConfigError("no dataset is available as the default (no installed dataset declares a default_rank"
                          + (f"; {'; '.join(passed_over)}" if passed_over else "") + "); choose a dataset explicitly")
    spec = datasets.get(requested)
    if spec is None:
        raise _unknown("dataset", requested, datasets, "List them with `latentdeck plugins --all` or GET /api/components.")
    availability = spec.availability(data_dir)
    if not availability.ok:
        raise ConfigError(f"dataset {requested!r} is not available: {availability.reason}")
    return requested, None


def prepare_run(pm, request: RunConfig | dict[str, Any], check_executor: bool = True) -> ResolvedRun:
    """Validate ``request`` against the installed plugins and resolve it into the run to persist: the config
    with every default filled plus each component's parsed options (:class:`~latentdeck.types.ResolvedRun`;
    ``run.config`` is what ``config.json`` stores). Raises :class:`ConfigError` (422) naming the problem.

    ``check_executor=False`` (listing presets) validates the executor's options but asks no executor
    anything: no ``check_config`` (which may contact a cluster) and no device check."""
    if not isinstance(request, RunConfig):
        moved = moved_field_problems(pm, request) if isinstance(request, dict) else []
        if moved:
            raise ConfigError(f"invalid run config: {'; '.join(moved)}")
        try:
            request = RunConfig.model_validate(request)
        except ValidationError as exc:
            raise ConfigError(f"invalid run config: {validation_message(exc)}") from None
    try:
        request = apply_preset(pm, request)
    except PresetError as exc:
        raise ConfigError(str(exc)) from None
    defaults = {field: request.__dict__[field] or default_name(pm, kind)
                for field, kind in (("model", "models"), ("executor", "executors"))}
    for field, value in defaults.items():
        if value is None:
            raise ConfigError(f"no {field} given and no installed plugin declares a default one; name the {field}")
    request = request.model_copy(update=defaults)
    models = collect(pm, "models")
    model = models.get(request.model)
    if model is None:
        raise _unknown("model", request.model, models, "List them with `latentdeck plugins --all` or GET /api/components.")
    try:
        options = model.options.model_validate(request.model_options)
    except ValidationError as exc:
        raise ConfigError(f"invalid options for model {request.model!r}: {validation_message(exc, 'model_options.')}") from None
    if model.check_config is not None:
        try:
            model.check_config(options, request)
        except ValueError as exc:
            raise ConfigError(f"invalid options for model {request.model!r}: {exc}") from None
    losses = collect(pm, "loss_components")
    missing = [n for n in model.loss_weights(options, Schedule(1, request.epochs)) if n not in losses]
    if missing:
        raise ConfigError(f"model {request.model!r} needs loss components {missing} that no plugin provides")
    executors = collect(pm, "executors")
    if request.executor not in executors:
        raise _unknown("executor", request.executor, executors, "List them with `latentdeck plugins --all`.")
    executor_options = _check_executor(executors[request.executor], request, check_executor)
    generators = per_epoch(pm)
    for name in request.artifacts or []:
        if name not in generators:
            raise _unknown("artifact generator", name, generators, "Leave 'artifacts' empty to run every supported one.")
    artifact_options = {}
    for name, raw in request.artifact_options.items():
        if name not in generators:
            raise _unknown("artifact generator", name, generators, "artifact_options keys are generator names.")
        try:
            artifact_options[name] = generators[name].options.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"invalid options for artifact {name!r}: {validation_message(exc, f'artifact_options.{name}.')}") from None
    projection_options = _validate_projections(pm, request)
    data_dir = Path(request.data_dir).expanduser() if request.data_dir else default_data_dir()
    dataset, note = resolve_dataset(pm, request.dataset, data_dir)
    spec = collect(pm, "datasets")[dataset]
    for field, split in (("viz_indices", "heldout"), ("viz_train_indices", "train")):
        if getattr(request, field, None):
            _check_viz_indices(spec, data_dir, getattr(request, field), field, split)
    too_many = check_viz_subset_size(request, dataset, lambda split: len(spec.load(data_dir, split).labels))
    if too_many:
        raise ConfigError(too_many)
    settings = request.model_copy(update={
        "model_options": options.model_dump(mode="json"), "dataset": dataset, "data_dir": str(data_dir),
        "artifact_options": {n: o.model_dump(mode="json") for n, o in artifact_options.items()},
        "projection_options": {n: o.model_dump(mode="json") for n, o in projection_options.items()},
        "executor_options": executor_options.model_dump(mode="json")})
    stored = settings.model_dump(mode="json")
    stored.update(run_id=new_run_id(), dataset_requested=request.dataset, dataset_note=note,
                  created_at=round(time.time(), 3), latentdeck_version=__version__)
    return ResolvedRun(run_id=stored["run_id"], settings=settings, model_options=options,
                       executor_options=executor_options, data_dir=data_dir, config=stored,
                       artifact_options=component_options(generators, artifact_options),
                       projection_options=component_options(collect(pm, "projections"), projection_options))


def _check_executor(executor, request: RunConfig, ask: bool = True) -> dict[str, Any]:
    """The executor's options, validated by its plugin; then (``ask``) where the run will train can take it:
    a worker on this machine (an executor with a ``capacity``) needs ``device`` here, others check with
    ``check_config``."""
    try:
        options = executor.options.model_validate(request.executor_options)
    except ValidationError as exc:
        raise ConfigError(f"invalid options for executor {executor.name!r}: "
                          f"{validation_message(exc, 'executor_options.')}") from None
    if not ask:
        return options
    if executor.capacity is not None or executor.check_config is None:
        try:
            check_requested(request.device)
        except DeviceUnavailable as exc:
            raise ConfigError(str(exc)) from None
    if executor.check_config is not None:
        try:
            executor.check_config({**request.model_dump(mode="json"),
                                   "executor_options": options.model_dump(mode="json")})
        except ValueError as exc:
            raise ConfigError(f"executor {executor.name!r}: {exc}") from None
    return options


def _check_viz_indices(spec, data_dir: Path, indices: list[int], field: str = "viz_indices",
                       split: str = "heldout") -> None:
    """Explicit visualization indices must exist in their split (loaded only for this check)."""
    size = len(spec.load(data_dir, split).labels)
    outside = [i for i in indices if i >= size]
    if outside:
        where = "held-out" if split == "heldout" else "training"
        raise ConfigError(f"{field}: {short_repr(outside[:5])} {'is' if len(outside) == 1 else 'are'} outside the "
                          f"{where} split of {spec.name!r} ({size} examples): use indices 0..{size - 1}")


def _validate_projections(pm, request: RunConfig) -> dict[str, Any]:
    projections = collect(pm, "projections")
    hint = "List them with `latentdeck plugins --all` or GET /api/components."
    for name in list(request.projections or []) + list(request.projection_every) + list(request.projection_options):
        if name not in projections:
            raise _unknown("projection", name, projections, hint)
    for name, every in request.projection_every.items():
        if not isinstance(every, int) or every < 0:
            raise ConfigError(f"projection_every.{name}: must be an integer >= 0 (0 = only on demand with backfill), got {every!r}")
    parsed = {}
    for name, raw in request.projection_options.items():
        try:
            parsed[name] = projections[name].options.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"invalid options for projection {name!r}: {validation_message(exc, f'projection_options.{name}.')}") from None
    return parsed


def check_disk(pm, stored: ResolvedRun | list[ResolvedRun], root: Path) -> None:
    """Refuse (:class:`ConfigError`, 422) a run, or a sweep's runs together, whose estimated folders do not fit
    in the free space of the runs folder ``root`` (:func:`latentdeck.launch.limits.estimate_run_bytes`), before
    anything is written; a disk with less than ``LOW_DISK_BYTES`` free is full (:class:`DiskFull`, 507)."""
    runs = stored if isinstance(stored, list) else [stored]
    free = free_bytes(Path(root))
    if 0 <= free < LOW_DISK_BYTES:
        raise disk_full_error(Path(root))  # full already: 507, as when a write finds it full
    estimate = sum(estimate_bytes(pm, run) for run in runs)
    epochs = sum(run.settings.epochs for run in runs)
    refusal = disk_refusal(estimate, free, Path(root), epochs)
    if refusal:
        raise ConfigError(refusal if len(runs) == 1 else f"{refusal} (the sweep's {len(runs)} runs together)")


def estimate_bytes(pm, stored: ResolvedRun) -> int:
    """The run's folder size estimated from its config (points shown, epochs, computations on, checkpoints)."""
    settings = stored.settings
    computations = run_computations(stored.config, per_epoch(pm), collect(pm, "projections"))
    points = settings.viz_subset_size
    if settings.viz_indices or settings.viz_train_indices:
        points = len(settings.viz_indices or []) + len(settings.viz_train_indices or [])
    checkpoints = -(-settings.epochs // settings.checkpoint_every)  # every N epochs, and the last one
    return estimate_run_bytes(points, settings.epochs, computations, _parameters(pm, stored), checkpoints)


def _parameters(pm, stored: ResolvedRun) -> int:
    """The model's parameter count (0 when the model cannot be built here: the estimate then leaves out
    checkpoints)."""
    try:
        model = collect(pm, "models")[stored.model].build(stored.model_options, collect(pm, "datasets")[stored.dataset])
        return int(sum(p.numel() for p in model.parameters()))
    except Exception:
        log.debug("cannot build %s to size its checkpoints", stored.model, exc_info=True)
        return 0


def start_run(store: RunStore, pm, stored: ResolvedRun | dict[str, Any], deferred=None) -> dict[str, Any]:
    """Persist a prepared run and hand it to its executor; a failed start marks the run failed.

    With ``deferred`` (the server's :class:`latentdeck.launch.deferred.DeferredStarts`), the executor gets the
    server's runner: an executor that queues its runs (the local one) may keep it waiting as ``created``
    (in its run queue, or until it is ready), announced by ``run.stage`` ``waiting`` events.
    """
    if isinstance(stored, ResolvedRun):
        check_disk(pm, stored, store.root)
    summary = store.create(stored)
    executor = collect(pm, "executors")[stored["executor"]]
    if deferred is not None:
        deferred.submit(stored["run_id"], executor)
        try:
            return store.summary(stored["run_id"])
        except RunStoreError:
            return summary
    return start_worker(store, stored["run_id"], executor) or summary


def resume_waiting_runs(store: RunStore, pm, deferred) -> tuple[list[str], list[str]]:
    """At server start: (runs resumed, runs failed as ``interrupted``).

    ``created`` runs without a worker whose executor queues its runs (it has a ``capacity``: a previous
    server left them in its queue) are submitted to it again, oldest first; other active runs whose worker
    is gone fail as ``interrupted``. The executor's queue counts its runs still training (their worker
    outlived the last server) against the cap (``QueueHost.training``).
    """
    executors = collect(pm, "executors")
    waiting = []
    for summary in sorted(store.list(), key=lambda s: (s.get("created_at") or 0, s["run_id"])):
        run_dir = store.root / summary["run_id"]
        if summary["status"] != "created" or read_worker_info(run_dir) is not None:
            continue
        try:
            name = load_config(run_dir).get("executor")
        except (OSError, ValueError):
            continue
        executor = executors.get(name or "")
        if executor is not None and executor.capacity is not None:
            waiting.append((summary["run_id"], executor))
    interrupted = reap_dead_workers(store, pm, "interrupted", True, keep={run_id for run_id, _ in waiting})
    for run_id, executor in waiting:
        deferred.submit(run_id, executor)
    return [run_id for run_id, _ in waiting], interrupted


def worker_alive(pm, run_dir: Path) -> bool | None:
    """Whether the run's worker still runs; None when no worker was recorded."""
    info = read_worker_info(run_dir)
    if info is None:
        return None
    state = poll_worker(pm, info)
    return None if state is None else bool(state.get("alive"))


def poll_worker(pm, info: dict[str, Any] | None) -> dict[str, Any] | None:
    """The run's executor's ``poll`` of its recorded handle; None when no worker or executor is known."""
    executor = collect(pm, "executors").get((info or {}).get("executor", ""))
    if executor is None:
        return None
    return dict(executor.poll(info) or {})


def _exit_reason(pm, run_dir: Path) -> dict[str, str] | None:
    """What the run's executor says about a worker that ended (``reason``/``error`` of its poll), if anything."""
    try:
        state = poll_worker(pm, read_worker_info(run_dir)) or {}
    except Exception:
        log.exception("polling the executor of %s raised", run_dir.name)
        return None
    told = {key: str(state[key]) for key in ("reason", "error") if state.get(key)}
    return told or None


def cancel_worker(store: RunStore, pm, run_id: str) -> dict[str, Any] | None:
    """Tell the run's executor that its cancel flag is set (``ExecutorSpec.cancel``); when the executor
    says the worker will never start, end the run ``cancelled`` now and return its summary."""
    info = read_worker_info(store.run_dir(run_id))
    executor = collect(pm, "executors").get((info or {}).get("executor", ""))
    if executor is None or executor.cancel is None:
        return None
    try:
        withdrawn = executor.cancel(info)
    except Exception:
        log.exception("executor %s: cancel raised for run %s (the cancel flag still stops it)", executor.name, run_id)
        return None
    return end_cancelled_before_start(store, run_id) if withdrawn else None


def reap_dead_workers(store: RunStore, pm, reason: str, include_unstarted: bool = False,
                      keep: frozenset[str] | set[str] = frozenset(), only: set[str] | None = None) -> list[str]:
    """Mark active runs whose worker is gone as ``failed``; returns the run ids it failed.

    ``include_unstarted`` also fails runs that never recorded a worker (used at server start, when
    nothing can start them any more), except those in ``keep`` (resumed by the run queue). ``only``
    limits the check to those runs (a CLI following its own runs).
    """
    failed = []
    for run_id in store.active_run_ids():
        if run_id in keep or (only is not None and run_id not in only):
            continue
        run_dir = store.root / run_id
        try:
            alive = worker_alive(pm, run_dir)
            if alive is None and not include_unstarted or alive:
                continue
            why, error = reason, "the worker process is gone; epochs completed before it stopped are kept"
            told = _exit_reason(pm, run_dir) if alive is False else None
            if told:
                why, error = told.get("reason") or why, told.get("error") or error
            free = free_bytes(store.root)
            if 0 <= free < LOW_DISK_BYTES:  # its writes failed for want of space, most likely
                why, error = "disk_full", (f"the worker stopped while the disk holding {store.root} was full "
                                           f"({free:,} bytes free); epochs completed before it stopped are kept")
            if store.mark_failed(run_id, why, error):
                failed.append(run_id)
        except Exception as exc:  # one broken run must not stop the others; said once, not every pass
            key = (run_id, type(exc).__name__, getattr(exc, "errno", None))
            if key not in _REPORTED:
                _REPORTED.add(key)
                log.warning("cannot check or fail run %s (will retry): %s: %s", run_id, type(exc).__name__, exc)
    return failed


LOW_DISK_BYTES = 1 << 20
_REPORTED: set[tuple] = set()
