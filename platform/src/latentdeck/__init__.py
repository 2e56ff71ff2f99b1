"""latentdeck: train supervised autoencoders and GM-VAEs on MNIST and watch the latent space form.

The public face for plugin authors: ``hookimpl`` and the spec records of :mod:`latentdeck.types`.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from .types import (  # noqa: F401  (re-exported for plugin authors)
    ArtifactSpec, Availability, Batch, CAPABILITIES, DataSplit, DatasetSpec, ExecutorSpec, LossSpec,
    ModelSpec, NoOptions, OnDemandSpec, PresetSpec, Projection, ProjectionSpec, Schedule,
)

hookimpl = pluggy.HookimplMarker("latentdeck")

try:
    __version__ = version("latentdeck")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
