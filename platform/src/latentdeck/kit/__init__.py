"""latentdeck's public toolkit for plugins: every helper a plugin may import, in one place.

A plugin imports records and ``hookimpl`` from :mod:`latentdeck` and everything else from here
(``from latentdeck.kit import Grid, OnDemandError``); any other ``latentdeck.*`` module is the host's
own and may change without notice (the import contracts in ``tests/test_import_contracts.py`` refuse
such imports from the built-in plugins). Names resolve lazily, so importing this module is cheap:
``ConvEncoder`` imports torch only when a plugin asks for it.

The kit is a package whose modules (``latentdeck.kit.nn``, ``grids``, ``mixtures``, ``datasets``, ``images``,
``projection_file``, ``phases``, ``atomic``, ``arrays``, ``mirrors``, ``kernel_cache``, ``safepath``, ``errors``, ``threads``, ``procs``, ``run_queue``) import only the
contract (:mod:`latentdeck.types`, :mod:`latentdeck.hookspecs`) and each other; an import contract holds
them to it, and the host builds on them too. The kit lends nothing of the host's (:data:`LENT_BY_THE_HOST`
is empty): what a plugin needs from the registry or the loop comes through its context or the call.

Groups:

- building blocks: ``ConvEncoder``, ``ConvDecoder`` (shared conv trunk and decoder);
- grids over a 2-D projection: ``Grid``, ``projection_bounds``, ``gaussian_mixture``, ``kde``,
  ``kernel_average``, ``scott_bandwidth``, ``rounded``, ``TRUNCATION_SIGMA``;
- datasets in MNIST's IDX format: ``IDX_FILES``, ``split_check``, ``idx_problems``,
  ``describe_problems``, ``load_mnist_style``;
- mixtures: ``usage``, ``assess``, ``component_weight``; phases: ``phases_at`` (the phases in force at an epoch), ``pretraining_note``;
- projection files: ``ProjectionFile`` (pydantic schema of the common fields);
- compiled kernels: ``enable_kernel_cache`` (numba's on-disk cache for umap-learn's and pynndescent's kernels,
  so a fresh process loads what set-up compiled; call it before either is first used);
- large arrays: ``read_artifact`` (a JSON artifact with its arrays, old inline format or header plus array file),
  ``read_arrays`` / ``write_arrays`` (the array file itself: safetensors layout, JSON header, zero-copy reads),
  ``ArrayFileError``; a computation stores arrays by putting numpy arrays in the payload it saves;
- files: ``read_json``, ``write_json``, ``write_bytes``, ``dumps`` (atomic, NaN-safe; ``root=run_dir`` follows
  no link below the run folder), ``png_bytes``, ``image_strip`` (images side by side as one PNG strip),
  ``to_float_images`` (dataset images as floats); inside a run without following links: ``list_tree``,
  ``is_regular_file``,
  ``open_appender`` (a log), ``UnsafePath`` (what they raise for a link or FIFO: a 409 naming it);
- computations: ``OnDemandError`` (a refusal with its HTTP status), ``single_threaded``; everything else a
  computation needs from the run comes through its context (``ctx.load(epoch)``, ``ctx.heldout_example(idx)``,
  ``ctx.projection(method, dims)``, ``ctx.read(other)``, ``ctx.save_json`` ...);
- processes (executors): ``pid_alive``, ``proc_start_time``; how to run a job (a fresh process's command line,
  in this process, in a hosted or a forked one) comes with each job: ``submit(job, runner)`` gets a
  :class:`latentdeck.JobRunner`; a run queue for an executor whose runs share the server's machine
  (order, the server's cap, the wait for readiness, the ``waiting`` announcements): ``RunQueue``,
  ``capacity_state``.
"""

from __future__ import annotations

import importlib
from typing import Any

_KIT = {  # the kit's own modules (latentdeck.kit.<module>): they import only the contract (hookspecs, types)
    "ConvEncoder": "nn", "ConvDecoder": "nn",
    "Grid": "grids", "projection_bounds": "grids", "gaussian_mixture": "grids", "kde": "grids",
    "kernel_average": "grids", "scott_bandwidth": "grids", "rounded": "grids", "TRUNCATION_SIGMA": "grids",
    "IDX_FILES": "datasets", "split_check": "datasets", "idx_problems": "datasets", "describe_problems": "datasets",
    "load_mnist_style": "datasets",
    "usage": "mixtures", "assess": "mixtures", "component_weight": "mixtures", "phases_at": "phases", "pretraining_note": "phases",
    "ProjectionFile": "projection_file",
    "read_json": "atomic", "write_json": "atomic", "write_bytes": "atomic", "dumps": "atomic",
    "png_bytes": "images", "image_strip": "images", "to_float_images": "images",
    "list_tree": "safepath", "is_regular_file": "safepath", "open_appender": "safepath", "UnsafePath": "safepath",
    "OnDemandError": "errors", "single_threaded": "threads", "pid_alive": "procs", "proc_start_time": "procs",
    "RunQueue": "run_queue", "capacity_state": "run_queue",
    "enable_kernel_cache": "kernel_cache",
    "read_artifact": "arrays", "read_arrays": "arrays", "write_arrays": "arrays", "ArrayFileError": "arrays",
}

# Host internals lent to plugins by name: none any more (what a plugin needs from the registry or the loop
# comes through its context; an executor gets the worker entry with each job, JobRunner).
# tests/test_import_contracts.py pins this empty, so nothing is lent again.
LENT_BY_THE_HOST: dict[str, str] = {}

_WHERE = {**{name: f"latentdeck.kit.{module}" for name, module in _KIT.items()}, **LENT_BY_THE_HOST}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"latentdeck.kit has no {name!r}; the public helpers are: {', '.join(__all__)}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
