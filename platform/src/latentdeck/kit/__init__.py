"""latentdeck's public toolkit for plugins: every helper a plugin may import, in one place.

A plugin imports records and ``hookimpl`` from :mod:`latentdeck` and everything else from here
(``from latentdeck.kit import Grid, OnDemandError``); any other ``latentdeck.*`` module is the host's
own and may change without notice (the import contracts in ``tests/test_import_contracts.py`` refuse
such imports from the built-in plugins). Names resolve lazily, so importing this module is cheap:
``ConvEncoder`` imports torch only when a plugin asks for it.

Groups (the modules they live in are an implementation detail):

- building blocks: ``ConvEncoder``, ``ConvDecoder`` (shared conv trunk and decoder);
- grids over a 2-D projection: ``Grid``, ``projection_bounds``, ``gaussian_mixture``, ``kde``,
  ``kernel_average``, ``scott_bandwidth``, ``rounded``, ``TRUNCATION_SIGMA``;
- datasets in MNIST's IDX format: ``IDX_FILES``, ``split_check``, ``idx_problems``,
  ``describe_problems``, ``load_mnist_style``;
- mixtures: ``usage``, ``assess``, ``component_weight``; phases: ``phases_at`` (the phases in force at an epoch), ``pretraining_note``;
- projection files: ``ProjectionFile`` (pydantic schema of the common fields);
- files: ``read_json``, ``write_json``, ``write_bytes``, ``dumps`` (atomic, NaN-safe; ``root=run_dir`` follows
  no link below the run folder), ``png_bytes``, ``image_strip`` (images side by side as one PNG strip),
  ``ArtifactWriter`` (the one writer; contexts hand you one),
  ``checkpoint_epochs``; inside a run without following links: ``list_tree``, ``is_regular_file``,
  ``open_appender`` (a log), ``UnsafePath`` (what they raise for a link or FIFO: a 409 naming it);
- on demand: ``OnDemandContext``, ``OnDemandError``, ``EpochModels``, ``LoadedEpoch``,
  ``resolve_epoch``, ``compute_here`` (an on-demand computation where an executor runs it),
  ``heldout_example``, ``heldout_split``, ``load_viz_subset``, ``to_float_images``,
  ``single_threaded``;
- registry: ``collect`` (``{name: record}`` of one kind), ``get_plugin_manager``;
- processes (executors): ``pid_alive``, ``proc_start_time``, ``forked_main`` (a run's worker in a forked
  child; ``python -m latentdeck.worker RUN_DIR`` is the plain way), ``hosted_main`` (a run's worker inside
  a process another system manages, e.g. a Ray task).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ConvEncoder": "kit.nn", "ConvDecoder": "kit.nn",
    "Grid": "kit.grids", "projection_bounds": "kit.grids", "gaussian_mixture": "kit.grids", "kde": "kit.grids",
    "kernel_average": "kit.grids", "scott_bandwidth": "kit.grids", "rounded": "kit.grids", "TRUNCATION_SIGMA": "kit.grids",
    "IDX_FILES": "kit.datasets", "split_check": "kit.datasets", "idx_problems": "kit.datasets", "describe_problems": "kit.datasets",
    "load_mnist_style": "kit.datasets",
    "usage": "kit.mixtures", "assess": "kit.mixtures", "component_weight": "kit.mixtures", "phases_at": "kit.phases", "pretraining_note": "kit.phases",
    "ProjectionFile": "engine.projections",
    "read_json": "kit.atomic", "write_json": "kit.atomic", "write_bytes": "kit.atomic", "dumps": "kit.atomic",
    "png_bytes": "engine.writer", "image_strip": "engine.writer", "ArtifactWriter": "engine.writer", "checkpoint_epochs": "engine.checkpoints",
    "list_tree": "kit.safepath", "is_regular_file": "kit.safepath", "open_appender": "kit.safepath", "UnsafePath": "kit.safepath",
    "OnDemandContext": "engine.ondemand", "OnDemandError": "engine.ondemand", "EpochModels": "engine.ondemand", "LoadedEpoch": "engine.ondemand",
    "resolve_epoch": "engine.ondemand", "compute_here": "engine.ondemand", "heldout_example": "engine.ondemand", "heldout_split": "engine.ondemand",
    "load_viz_subset": "engine.training", "to_float_images": "engine.training", "single_threaded": "kit.threads",
    "collect": "registry", "get_plugin_manager": "registry",
    "pid_alive": "kit.procs", "proc_start_time": "kit.procs", "forked_main": "worker", "hosted_main": "worker",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"latentdeck.kit has no {name!r}; the public helpers are: {', '.join(__all__)}")
    value = getattr(importlib.import_module(f"latentdeck.{module}"), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
