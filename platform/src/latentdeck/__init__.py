"""latentdeck: train supervised autoencoders and GM-VAEs on MNIST and watch the latent space form.

The public face for plugin authors: ``hookimpl`` and the frozen records a plugin returns from its
hooks (:mod:`latentdeck.types`). Helpers a plugin may use (conv blocks, grids, dataset readers, the
image helpers, errors ...); what a computation needs from the run comes through its context are in :mod:`latentdeck.kit`. Every other
``latentdeck.*`` module is the host's own; the built-in plugins are held to this by import contracts
(``tests/test_import_contracts.py``).
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from .types import (
    ArtifactSpec, Availability, Batch, CAPABILITIES, ComputationResult, ComputationSpec, DataSplit, DatasetSpec,
    ExecutorSpec, Job, JobRunner, LossSpec, ModelSpec, NoOptions, OnDemandSpec, PresetSpec, Projection, ProjectionSpec, ResolvedRun,
    Schedule,
    ViewSpec,
)

hookimpl = pluggy.HookimplMarker("latentdeck")
"""Marks a plugin's hook implementations: ``@hookimpl def register_models(): ...``."""

try:
    __version__ = version("latentdeck")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

__all__ = [
    "ArtifactSpec", "Availability", "Batch", "CAPABILITIES", "ComputationResult", "ComputationSpec", "DataSplit",
    "DatasetSpec", "ExecutorSpec", "Job", "JobRunner",
    "LossSpec", "ModelSpec", "NoOptions", "OnDemandSpec", "PresetSpec", "Projection", "ProjectionSpec",
    "ResolvedRun", "Schedule", "ViewSpec", "hookimpl", "__version__",
]
