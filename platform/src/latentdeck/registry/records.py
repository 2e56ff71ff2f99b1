"""Load-time checks of the records plugins return: a record that would break a later call (an
``options`` that is not a pydantic model, a ``generate`` that is not callable, a ``requires`` naming a
capability no model can declare) is refused when its plugin loads, with the field and the fix.

:func:`record_problems` returns the problems of one record (empty when it is sound); the plugin
manager disables a third-party plugin with any problem and raises for a built-in (our bug).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .namespace import HOST_FOLDERS, folder_problem, pattern_problem, placeholders
from ..types import (
    CAPABILITIES, MOUNTS, ROLES, RUNS, VIEWS, ComputationSpec, DatasetSpec, ExecutorSpec, LossSpec, ModelSpec, PresetSpec,
    ProjectionSpec, ViewSpec,
)

# record type -> (callables it must have, callables it may have)
CALLABLES: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {
    ModelSpec: (("build", "loss_weights"), ("epoch_diagnostics", "check_config", "before_epoch", "before_epoch_note")),
    LossSpec: (("compute",), ()),
    DatasetSpec: (("load", "availability"), ()),
    ProjectionSpec: (("fit",), ("restore", "warm_up")),
    ComputationSpec: (("compute",), ()),
    ExecutorSpec: (("submit", "poll"), ("capacity", "cancel", "check_config")),
    PresetSpec: ((), ()),
    ViewSpec: ((), ()),
}
VIEW_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # also the served file's name: /api/views/<name>.js
PROJECTION_DIMS = (2, 3)


def _string_set(value: Any) -> bool:
    return isinstance(value, (set, frozenset)) and all(isinstance(item, str) for item in value)


def _capabilities(field: str, value: Any) -> list[str]:
    if not _string_set(value):
        return [f"{field} must be a frozenset of capability names, got {type(value).__name__}"]
    unknown = sorted(value - CAPABILITIES.keys())
    if unknown:
        return [f"{field} names unknown capabilities {unknown}; known: {', '.join(sorted(CAPABILITIES))}"]
    return []


def _view(record: Any) -> list[str]:
    problems = [] if record.view in VIEWS else [f"view must be one of {', '.join(VIEWS)}, got {record.view!r:.40}"]
    return problems


def _folder_and_files(record: Any) -> list[str]:
    """An artifact writer's declared folder and file patterns: safe, inside the folder, not the host's."""
    problem = folder_problem(record.folder) if record.folder else "folder must name the run folder it writes (e.g. 'quality')"
    if problem is None and record.folder in HOST_FOLDERS:
        problem = f"{record.folder!r} belongs to the host"
    problems = [f"folder: {problem}"] if problem else []
    answers_only = getattr(record, "runs", None) == "on_demand" and getattr(record, "key", None) is None
    if record.files == () and answers_only:
        return problems  # an on-demand computation that answers a payload and writes no file
    if not isinstance(record.files, tuple) or not record.files:
        return problems + ["files must be a non-empty tuple of file-name patterns (e.g. ('stats_{tag}.json',)); only "
                           "an on-demand computation without a key, which writes nothing, may declare none"]
    return problems + [f"files: {p}" for p in map(pattern_problem, record.files) if p]


def _computation(record: ComputationSpec) -> list[str]:
    """A computation: its capabilities, order, folder and files, view, schedule, request, key and budget."""
    problems = _capabilities("requires", record.requires) + _folder_and_files(record) + _view(record)
    if not _string_set(record.after):
        problems.append("after must be a frozenset of computation names")
    runs = record.runs
    if not (runs in RUNS or (isinstance(runs, int) and not isinstance(runs, bool) and runs >= 1)):
        problems.append(f"runs must be 'every_epoch', 'on_demand' or a whole number N >= 1 (every N epochs), "
                        f"got {runs!r:.40}")
    request = record.request
    if request is not None and not (isinstance(request, type) and issubclass(request, BaseModel)):
        problems.append(f"request must be a pydantic model class or None, got {request!r:.60}")
    if runs == "on_demand" and request is None:
        problems.append("a computation that runs on demand needs a request model (what a person may ask for)")
    key = record.key
    if key is not None:
        if request is None:
            problems.append("key needs a request model: it names the folder of one answer to a request")
        elif isinstance(key, str):
            fields = set(request.model_fields) | {"epoch"}
            unknown = sorted(set(placeholders(key)) - fields)
            stem = key[:-len(".*")] if key.endswith(".*") else key  # a file key: the stem of the answer's files
            problem = pattern_problem(stem.replace("{epoch}", "{epoch:int}"))
            if stem != key and (not stem or stem.endswith("/")):
                problem = "a key ending in '.*' names a file stem before it (e.g. 'idx_{idx}_epoch_{epoch}.*')"
            if unknown:
                problems.append(f"key {key!r:.80} names {unknown}, which are not fields of its request "
                                f"({', '.join(sorted(fields))})")
            elif problem:
                problems.append(f"key: {problem}")
        elif not callable(key):
            problems.append(f"key must be a template string, a callable key(request, epoch) / key(request, epoch, ctx) or None, got {key!r:.60}")
    budget = record.budget_s
    if budget is not None and not (isinstance(budget, (int, float)) and not isinstance(budget, bool) and budget > 0):
        problems.append(f"budget_s must be a positive number of seconds or None, got {budget!r:.40}")
    if not isinstance(record.heavy, bool):
        problems.append("heavy must be True or False")
    return problems + _roles(record)


def _roles(record: ComputationSpec) -> list[str]:
    """``provides``: each of its patterns is one of ``files`` and each role one the explorer knows."""
    if not isinstance(record.provides, Mapping):
        return ["provides must be a mapping {file pattern: role}"]
    problems = []
    for pattern, role in record.provides.items():
        if pattern not in (record.files if isinstance(record.files, tuple) else ()):
            problems.append(f"provides names {pattern!r:.60}, which is not one of its files")
        if role not in ROLES:
            problems.append(f"provides role {role!r:.40} for {pattern!r:.60}; the roles are {', '.join(ROLES)}")
    return problems


def _view_spec(record: ViewSpec) -> list[str]:
    """A shipped view: a safe name (it names the served file), a known mount, an absolute ``.js`` module path."""
    problems = []
    if isinstance(record.name, str) and record.name.strip() and not VIEW_NAME.match(record.name):
        problems.append(f"name must be lowercase letters, digits, '-' or '_' (at most 64), got {record.name!r:.60}")
    if record.mount not in MOUNTS:
        problems.append(f"mount must be one of {', '.join(MOUNTS)}, got {record.mount!r:.40}")
    module = record.module
    if not (isinstance(module, str) and module.endswith(".js") and Path(module).is_absolute()):
        problems.append(f"module must be the absolute path of a .js file in the plugin's package "
                        f"(str(Path(__file__).parent / 'views' / 'NAME.js')), got {module!r:.80}")
    if not (isinstance(record.computations, tuple) and all(isinstance(c, str) for c in record.computations)):
        problems.append("computations must be a tuple of computation names")
    if not isinstance(record.title, str) or not isinstance(record.order, int):
        problems.append("title must be a string and order an int")
    return problems


def record_problems(record: Any) -> list[str]:
    """What is wrong with one record, one sentence per problem naming the field (``[]`` when sound)."""
    kind = type(record)
    if kind not in CALLABLES:
        return [f"{kind.__name__} is not a latentdeck record"]
    problems: list[str] = []
    if not isinstance(record.name, str) or not record.name.strip():
        problems.append(f"name must be a non-empty string, got {record.name!r:.60}")
    if not isinstance(getattr(record, "description", ""), str):
        problems.append("description must be a string")
    required, optional = CALLABLES[kind]
    for field in required:
        if not callable(getattr(record, field)):
            problems.append(f"{field} must be callable, got {type(getattr(record, field)).__name__}")
    for field in optional:
        value = getattr(record, field)
        if value is not None and not callable(value):
            problems.append(f"{field} must be callable or None, got {type(value).__name__}")
    options = getattr(record, "options", BaseModel)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        problems.append(f"options must be a pydantic model class (a subclass of pydantic.BaseModel), "
                        f"got {options!r:.60}")
    if kind in (ModelSpec, ExecutorSpec, DatasetSpec) and record.default_rank is not None and (
            not isinstance(record.default_rank, int) or isinstance(record.default_rank, bool)):
        problems.append(f"default_rank must be an int or None, got {record.default_rank!r:.60}")
    if kind is ModelSpec:
        problems += _capabilities("capabilities", record.capabilities)
    elif kind is ComputationSpec:
        problems += _computation(record)
    elif kind is LossSpec and not _string_set(record.requires):
        problems.append("requires must be a frozenset of forward-output names")
    elif kind is ProjectionSpec:
        dims = record.dims
        if not isinstance(dims, tuple) or not dims or any(d not in PROJECTION_DIMS for d in dims):
            problems.append(f"dims must be a non-empty tuple of {PROJECTION_DIMS}, got {dims!r:.60}")
        for d, template in dict(record.file_names).items():
            problem = pattern_problem(template) if isinstance(template, str) and "{tag}" in template else (
                "needs a {tag} placeholder")
            if problem or "/" in template:
                problems.append(f"file_names[{d}]: {problem or 'a plain file name, no sub-folders'}")
    elif kind is DatasetSpec:
        shape = record.image_shape
        if not (isinstance(shape, tuple) and len(shape) == 3 and all(isinstance(n, int) and n > 0 for n in shape)):
            problems.append(f"image_shape must be (channels, height, width) positive ints, got {shape!r:.60}")
        if not isinstance(record.num_classes, int) or record.num_classes < 1:
            problems.append(f"num_classes must be a positive int, got {record.num_classes!r:.60}")
    elif kind is ViewSpec:
        problems += _view_spec(record)
    elif kind is PresetSpec:
        if not isinstance(record.config, Mapping):
            problems.append("config must be a mapping of run config fields")
        if not isinstance(record.why, Mapping):
            problems.append("why must be a mapping of dotted field name -> reason")
        if not isinstance(record.title, str) or not isinstance(record.order, int):
            problems.append("title must be a string and order an int")
    return problems
