"""A run read once: ``config.json`` parsed into a :class:`~latentdeck.types.run.ResolvedRun`.

``prepare_run`` (:mod:`latentdeck.launch`) resolves a request into a ``ResolvedRun`` and the store persists
its ``config`` as ``config.json``; every later reader in the host goes through :func:`load_run` (typed) or
:func:`load_config` (the stored dict, for the API's run page), each cached per process by the file's path,
modification time, size and inode, so a worker, the server or a backfill parses a run's config once and
sees the one change a run makes (the visualization indices chosen when training starts) at once.

Fields that moved from the run config into a plugin's options are declared by the plugin's options model
(``moved_from_config: ClassVar[dict[str, str]] = {"old_run_config_field": "option"}``; SPEC.md "Run
configuration" lists the moves): a request that still sends the old field is refused naming the new place
(:func:`moved_field_problems`), and an old run's ``config.json`` loads with its value in the new place
(:func:`with_moved_fields`), so it means the same. The host names no component for this.
"""

from __future__ import annotations

import copy
import logging
import os
import weakref
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from .. import registry as plugin_registry  # get_plugin_manager is looked up when called: tests swap it
from ..kit.atomic import read_json, write_json
from ..kit.errors import RunStoreError, short_repr
from ..registry import collect, per_epoch
from ..types.run import ResolvedRun, RunConfig

log = logging.getLogger(__name__)

CONFIG = "config.json"
# (kind of component, the run-config field holding its options): where a plugin's options live
# (per_epoch: the computations the epoch loop runs, whose options a run chooses at launch)
OPTION_HOMES = (("per_epoch", "artifact_options"), ("projections", "projection_options"))
_CACHE_SIZE = 256  # runs kept parsed per process; the oldest entry goes first


class RunRecordError(RunStoreError):
    """A run's ``config.json`` that this installation cannot turn into a run (a component it names is not
    installed, or a value its plugin no longer accepts); the message names the file and the field."""

    status = 409


class UnparsedOptions(BaseModel):
    """The stored options of a component that is not installed here (kept as they are, never validated)."""

    model_config = ConfigDict(extra="allow", frozen=True)


def validation_message(exc: ValidationError, prefix: str = "") -> str:
    """One readable ``field: problem (got value)`` per error, joined by ``; ``."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "config"
        msg = err["msg"].removeprefix("Value error, ")
        shown = "input" in err and err.get("type") != "missing" and not isinstance(err["input"], dict)
        parts.append(f"{prefix}{where}: {msg}" + (f" (got {short_repr(err['input'])})" if shown else ""))
    return "; ".join(parts)


# --- fields that moved into a plugin's options -------------------------------------------------------

def _components(pm, kind: str) -> dict[str, Any]:
    return per_epoch(pm) if kind == "per_epoch" else collect(pm, kind)


def moved_fields(pm) -> dict[str, tuple[str, str, str]]:
    """``{old run-config field: (options field, component name, option name)}`` from every installed artifact
    computation's and projection's ``options.moved_from_config``."""
    moved = {}
    for kind, home in OPTION_HOMES:
        for name, spec in sorted(_components(pm, kind).items()):
            for old, new in (getattr(spec.options, "moved_from_config", None) or {}).items():
                moved[old] = (home, name, new)
    return moved


def moved_field_problems(pm, request: Mapping[str, Any]) -> list[str]:
    """What is wrong with a request that sends fields which moved into a plugin's options (empty: nothing)."""
    problems = []
    for old, (home, name, new) in moved_fields(pm).items():
        if old in request:
            problems.append(f"{old}: this field moved to {home}.{name}.{new} (an option of the {name!r} plugin); "
                            f"send {{{home!r}: {{{name!r}: {{{new!r}: {short_repr(request[old])}}}}}}} instead")
    return problems


def with_moved_fields(pm, stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored config whose moved fields are also in their new place (where that place holds no value of
    its own); the old top-level field is kept, so the config still reads as it was written."""
    config = dict(stored)
    for old, (home, name, new) in moved_fields(pm).items():
        if old in config:
            homes = dict(config.get(home) or {})
            options = dict(homes.get(name) or {})
            options.setdefault(new, config[old])
            homes[name] = options
            config[home] = homes
    return config


# --- parsing ----------------------------------------------------------------------------------------------

def component_options(specs: Mapping[str, Any], given: Mapping[str, BaseModel]) -> dict[str, BaseModel]:
    """``given`` (already parsed) over every installed component's defaults; one whose options model has
    required fields and was not given is left out (it cannot run without them)."""
    options = {}
    for name, spec in sorted(specs.items()):
        if name in given:
            options[name] = given[name]
            continue
        try:
            options[name] = spec.options()
        except ValidationError:
            continue
    return options


def resolve_stored(pm, stored: Mapping[str, Any], where: str = CONFIG) -> ResolvedRun:
    """A :class:`ResolvedRun` from a stored config (``config.json``), parsed with the installed plugins.

    The model and dataset must be installed (a run is rebuilt from them); the options of an artifact
    generator or projection that is no longer installed, or that its plugin no longer accepts, are left
    out (logged), and an executor that is not installed keeps its stored options as they are.
    """
    config = with_moved_fields(pm, stored)

    def refuse(message: str) -> RunRecordError:
        return RunRecordError(f"{where}: {message}")

    try:
        settings = RunConfig.model_validate({k: v for k, v in config.items() if k in RunConfig.model_fields})
    except ValidationError as exc:
        raise refuse(f"{validation_message(exc)} (written by latentdeck {config.get('latentdeck_version', '?')})") from None
    models, datasets = collect(pm, "models"), collect(pm, "datasets")
    if settings.model not in models:
        raise refuse(f"the run's model {settings.model!r} is not installed (installed: {', '.join(sorted(models))})")
    if settings.dataset not in datasets:
        raise refuse(f"the run's dataset {settings.dataset!r} is not installed (installed: {', '.join(sorted(datasets))})")
    try:
        model_options = models[settings.model].options.model_validate(settings.model_options)
    except ValidationError as exc:
        raise refuse(f"the {settings.model!r} model no longer accepts the run's options: "
                     f"{validation_message(exc, 'model_options.')}") from None
    executor = collect(pm, "executors").get(str(settings.executor))
    try:
        executor_options = (executor.options.model_validate(settings.executor_options) if executor is not None
                            else UnparsedOptions(**settings.executor_options))
    except ValidationError as exc:
        log.warning("%s: executor %r no longer accepts the run's options (%s); kept as stored",
                    where, settings.executor, validation_message(exc))
        executor_options = UnparsedOptions(**settings.executor_options)
    parsed = {}
    for kind, home in OPTION_HOMES:
        specs, given = _components(pm, kind), {}
        for name, raw in (getattr(settings, home) or {}).items():
            if name not in specs:
                continue  # not installed here: its files are still served, it just cannot run
            try:
                given[name] = specs[name].options.model_validate(raw)
            except ValidationError as exc:
                log.warning("%s: %s.%s is no longer accepted by its plugin (%s); its defaults are used",
                            where, home, name, validation_message(exc))
        parsed[home] = component_options(specs, given)
    if "data_dir" not in config or "run_id" not in config:
        raise refuse("it names no " + ("run_id" if "data_dir" in config else "data_dir") + " (not written by prepare_run)")
    return ResolvedRun(run_id=str(config["run_id"]), settings=settings, model_options=model_options,
                       executor_options=executor_options, data_dir=Path(config["data_dir"]), config=config,
                       artifact_options=parsed["artifact_options"], projection_options=parsed["projection_options"],
                       train_subset=config.get("train_subset"))


# --- reading once per process ------------------------------------------------------------------------------

_RUNS: dict[tuple[str, int], tuple[tuple[int, int, int], Any, ResolvedRun]] = {}
_CONFIGS: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}


def _stamp(path: Path) -> tuple[int, int, int]:
    info = os.stat(path, follow_symlinks=False)
    return info.st_mtime_ns, info.st_size, info.st_ino


def _remember(cache: dict, key, value) -> None:
    if key not in cache and len(cache) >= _CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


def load_config(run_dir: Path | str) -> dict[str, Any]:
    """A run's ``config.json`` as stored (a copy: yours to change), read from disk only when it changed. No
    link is followed (a linked config.json is an :class:`~latentdeck.kit.safepath.UnsafePath`)."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    stamp = _stamp(path)
    hit = _CONFIGS.get(str(path))
    if hit is None or hit[0] != stamp:
        hit = (stamp, read_json(path, root=run_dir))
        _remember(_CONFIGS, str(path), hit)
    return copy.deepcopy(hit[1])


def load_run(run_dir: Path | str, pm=None) -> ResolvedRun:
    """The run in ``run_dir``, parsed with ``pm``'s plugins (the process's manager by default) once per
    version of its ``config.json``. Raises :class:`RunRecordError` (409) naming what cannot be resolved."""
    pm = pm if pm is not None else plugin_registry.get_plugin_manager()
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    stamp = _stamp(path)
    key = (str(path), id(pm))
    hit = _RUNS.get(key)
    if hit is not None and hit[0] == stamp and hit[1]() is pm:
        return hit[2]
    run = resolve_stored(pm, load_config(run_dir), f"run {run_dir.name}: {CONFIG}")
    _remember(_RUNS, key, (stamp, weakref.ref(pm), run))
    return run


def save_run(run_dir: Path | str, run: ResolvedRun) -> None:
    """Persist ``run`` as the run's ``config.json`` (atomically; the next :func:`load_run` sees it)."""
    write_json(Path(run_dir) / CONFIG, dict(run.config), root=run_dir)
