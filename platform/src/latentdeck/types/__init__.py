"""Frozen records that plugins return from the ``register_<plural>`` hooks.

Every record has a ``name`` (unique within its kind), a one-line ``description``, and where the
component has options, a pydantic model class in ``options`` whose JSON schema the API publishes and
whose defaults are the documented defaults. Callables receive plain values (tensors, paths, pydantic
option objects) and know nothing of the web, the CLI or the run store's layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from pydantic import BaseModel

from .base import NoOptions
from .computations import ROLES, RUNS, ArtifactSpec, ComputationResult, ComputationSpec, OnDemandSpec
from .executors import JOB_KINDS, ExecutorSpec, Job, JobRunner, QueueHost
from .run import ResolvedRun
from .views import MOUNTS, ViewSpec

if TYPE_CHECKING:  # torch stays out of import time: `latentdeck --help` must be fast
    import torch


# Capabilities a model may declare; computations name the ones they need in ``requires``.
CAPABILITIES = {
    "reconstruction": "forward() returns 'recon' (b, c, h, w) in [0, 1]",
    "classifier": "forward() returns 'logits' (b, num_classes)",
    "latents": "encode(x) returns the deterministic latent (b, d) used for projections",
    "decoder": "decode(z) maps latents (b, d) back to images (b, c, h, w)",
    "mixture": "forward() returns 'qc' (b, K) mixture responsibilities q(c|x) (rows sum to 1) and 'qc_logits'",
    "gaussian_posterior": "forward() returns 'mu' and 'logvar' (b, d): q(z|x) = N(mu, diag(exp(logvar))), "
                          "and encode(x) returns mu",
    "mixture_prior": "forward() returns 'prior_mu' and 'prior_logvar' (K, d): p(z|c) = N(prior_mu[c], "
                     "diag(exp(prior_logvar[c]))), with the mixture weights of the model's prior uniform (1/K)",
}


# How a computation's files are best shown when no view is made for them (``ComputationSpec.view``):
VIEWS = {
    "image": "one PNG per epoch, with an epoch slider",
    "image_grid": "a grid of images (PNG) per epoch, with an epoch slider",
    "metric_series": "the top-level numbers of each epoch's JSON, charted over epochs",
    "table": "an epoch's JSON as a table (a list of rows, or field/value pairs)",
    "grid2d_overlay": "a 2-D grid (values over bounds, row 0 at the bottom) drawn as a heat map",
    "json": "an epoch's JSON, as it is",
}


@dataclass(frozen=True)
class Batch:
    """One minibatch: images as float in [0, 1] shaped (b, c, h, w) and int64 labels (b,)."""

    x: "torch.Tensor"
    y: "torch.Tensor"


@dataclass(frozen=True)
class Availability:
    """Whether a dataset can be loaded right now, and if not, what a person should do."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class DataSplit:
    """Images as uint8 (n, h, w) or (n, c, h, w) and labels as int64 (n,)."""

    images: "torch.Tensor"
    labels: "torch.Tensor"

    def __post_init__(self) -> None:
        assert len(self.images) == len(self.labels), "images and labels differ in length"


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset with a ``train`` and a ``heldout`` split.

    ``availability(data_dir)`` must be cheap (no full load) and explain a ``False``.
    ``load(data_dir, split)`` returns a :class:`DataSplit`; ``split`` is ``"train"`` or ``"heldout"``.
    """

    name: str
    load: Callable[[Path, str], DataSplit]
    availability: Callable[[Path], Availability]
    description: str = ""
    num_classes: int = 10
    image_shape: tuple[int, int, int] = (1, 28, 28)
    class_names: tuple[str, ...] = tuple(str(i) for i in range(10))
    source: str = ""
    default_rank: int | None = None  # config "dataset: default" takes the available dataset of lowest rank


@dataclass(frozen=True)
class LossSpec:
    """One unweighted loss term: ``compute(outputs, batch) -> scalar tensor`` (a batch mean).

    ``requires`` names the keys of the model's forward outputs the term reads.
    """

    name: str
    compute: Callable[[Mapping[str, "torch.Tensor"], Batch], "torch.Tensor"]
    requires: frozenset[str] = frozenset()
    description: str = ""


@dataclass(frozen=True)
class Schedule:
    """Where training is, for per-epoch loss-weight schedules (epochs count from 1)."""

    epoch: int
    epochs: int


@dataclass(frozen=True)
class ModelSpec:
    """A trainable model.

    ``build(options, dataset)`` returns an ``nn.Module`` whose ``forward(x)`` returns a dict of
    tensors. ``loss_weights(options, schedule)`` returns ``{loss_component_name: weight}``: the loss
    is exactly ``sum(weight * component)``, and every part is reported in ``train.metrics``.
    ``capabilities`` lists what the module offers (see :data:`CAPABILITIES`).
    ``epoch_diagnostics(options, schedule, model, heldout)``, when given, is called after each
    epoch with the model in eval mode under ``torch.no_grad()`` and the held-out split as a
    :class:`Batch`; it returns extra ``train.metrics`` fields (schedule weights, usage statistics).
    ``check_config(options, run_config)``, when given, checks the options against the rest of the
    validated run config (e.g. a schedule window longer than ``run_config.epochs``) before anything
    is written; it raises ``ValueError`` with a message that names the field.
    ``latent_name`` says what ``encode(x)`` returns (artifacts record it: ``"z"``, ``"mu of q(z|x)"``).
    ``before_epoch(options, schedule, model, images)``, when given, is called before each epoch's first
    batch with the training images (n, c, h, w) in [0, 1] (no labels); it may change the model's parameters in
    place (e.g. initialise a prior from the data after a pretraining phase) and returns ``None`` or
    a dict describing what it did, which the host emits as a ``model.update`` event and records in
    that epoch's ``train.metrics`` under ``model_update``. It must be deterministic for a given seed.
    ``before_epoch_note(options, schedule)``, when given, says in a few words what ``before_epoch``
    is about to do this epoch (or returns None when it does nothing worth announcing); the host
    announces it as a ``run.stage`` event (``stage: "before_epoch"``) so a page shows why the run is busy.
    ``phases(options, epochs)``, when given, returns the phases of a run of ``epochs`` epochs as a list of
    ``{"name", "label", "kind": "span" | "moment", "start", "end", "text"}`` (see :mod:`latentdeck.kit.phases`):
    pretraining, a prior initialisation, a held q(c|x), anneal windows. The host emits them as a
    ``model.phases`` event at run start and returns them with the run; every time axis marks them.
    """

    name: str
    build: Callable[[BaseModel, DatasetSpec], Any]
    loss_weights: Callable[[BaseModel, Schedule], dict[str, float]]
    options: type[BaseModel] = NoOptions
    capabilities: frozenset[str] = frozenset()
    description: str = ""
    epoch_diagnostics: Callable[[BaseModel, Schedule, Any, Batch], dict[str, Any]] | None = None
    check_config: Callable[[BaseModel, Any], None] | None = None
    latent_name: str = "z"
    before_epoch: Callable[[BaseModel, Schedule, Any, Any], dict[str, Any] | None] | None = None
    before_epoch_note: Callable[[BaseModel, Schedule], str | None] | None = None
    phases: Callable[[BaseModel, int], list[dict[str, Any]]] | None = None
    default_rank: int | None = None  # a config without "model" uses the installed model of lowest rank


@dataclass(frozen=True)
class Projection:
    """What a projection returns: coordinates (n, dims) as a float numpy array, the parameters it
    actually used (recorded in the artifact), and extra fields for the artifact (e.g. PCA's
    ``explained_variance``).

    Optionally, how to place NEW latent points in the same coordinates (artifacts such as density
    grids push model samples through it):

    * ``linear`` — ``(matrix (dims, d), offset (d,))`` when the map is exactly
      ``coords = (latents - offset) @ matrix.T`` (PCA: centring, axes and the sign alignment it
      applied). A Gaussian then pushes forward in closed form: N(m, S) -> N(W(m - offset), W S W^T).
    * ``transform`` — ``transform(latents (m, d)) -> (m, dims)`` for a nonlinear fitted map (UMAP:
      the fitted reducer's ``transform``, an approximation that places a point near its latent
      neighbours' embedding). It lives only in the process that fitted the projection.

    Both are ``None`` when the method cannot map new points (e.g. a projection reloaded from disk
    whose file does not hold the map); :meth:`place` then raises with the reason.
    """

    coords: Any
    params: dict[str, Any]
    extra: dict[str, Any] | None = None
    transform: Callable[[Any], Any] | None = None
    linear: tuple[Any, Any] | None = None

    @property
    def can_place(self) -> bool:
        return self.transform is not None or self.linear is not None

    def place(self, latents) -> Any:
        """Coordinates (m, dims) float64 of new latent points (m, d) in this projection's frame."""
        import numpy as np

        x = np.asarray(latents, dtype=np.float64)
        if self.linear is not None:
            matrix, offset = self.linear
            return (x - np.asarray(offset, dtype=np.float64)) @ np.asarray(matrix, dtype=np.float64).T
        if self.transform is not None:
            return np.asarray(self.transform(x.astype(np.float32)), dtype=np.float64)
        raise ValueError("this projection cannot place new points: it has no fitted map (a projection "
                         "reloaded from disk keeps one only when its file holds it, as PCA's does)")


@dataclass(frozen=True)
class ProjectionSpec:
    """Latents -> coordinates: ``fit(latents, dims, seed, options, init) -> Projection``.

    ``latents`` is a float32 numpy array (n, d) of the visualization subset; ``init`` is the previous
    epoch's coordinates of the same points for this method and ``dims`` (or None): a projection may
    start from it so points do not jump between epochs, and must say so in ``params``. ``fit`` must
    be deterministic for a given ``seed``. A ``fit`` that names them also gets ``epoch=`` (the epoch being
    projected) and ``init_params=`` (the ``params`` of the projection ``init`` came from, or None), e.g.
    to say which epoch a carried basis comes from. The host writes the files, so every projection plugin
    gets the specification's naming: ``projections/latent_<dims>d_<tag>_<name>.json``, unless
    ``file_names`` gives a template for those dims (PCA keeps the historical ``latent_2d_{tag}.json``).

    ``restore(saved) -> Projection``, optional, rebuilds a projection from its saved file (backfill
    with ``skip_existing`` reloads projections instead of refitting them), including its ``linear``
    map where the file holds one. Without it the host restores coordinates and parameters only.

    ``warm_up()``, optional, pays a one-time cost of ``fit`` ahead of time (umap-learn compiles its numba
    kernels on first use: ~40 s). An executor that forks workers from a warm process (the local one's fork
    server) calls every projection's ``warm_up`` there once; it must not import torch (thread pools do not
    survive a fork) and may raise (the executor then starts plain workers and says why).
    ``LATENTDECK_WARMUP=import`` asks for imports only (a quick warm-up, for tests).
    """

    name: str
    fit: Callable[..., Projection]
    dims: tuple[int, ...] = (2, 3)
    options: type[BaseModel] = NoOptions
    description: str = ""
    restore: Callable[[dict[str, Any]], Projection] | None = None
    file_names: Mapping[int, str] = field(default_factory=dict)  # dims -> a template overriding the host's name
    warm_up: Callable[[], None] | None = None  # pays a one-time cost (a JIT compile) in a process workers fork from


@dataclass(frozen=True)
class PresetSpec:
    """A named starting point for a run: run config fields a person can launch as they are.

    ``config`` holds run config fields (nested dicts for ``model_options``, ``optimizer`` ...); a
    request naming the preset (``"preset": name``, ``latentdeck train --preset NAME``, the launch
    form's first choice) starts from them, and the request's own fields win, key by key.
    ``title`` is the line a person picks from; ``description`` says what the run shows and how long
    it takes; ``why`` explains each changed field, keyed by its dotted name
    (``"model_options.pretrain_epochs"``). Presets never change a default: they are named configs.
    ``order`` sorts them for display (lower first).
    """

    name: str
    title: str
    config: Mapping[str, Any]
    description: str = ""
    why: Mapping[str, str] = field(default_factory=dict)
    order: int = 100


# kind -> (hook name, record type); the single table the plugin manager and the API iterate.
KINDS: dict[str, tuple[str, type]] = {
    "models": ("register_models", ModelSpec),
    "loss_components": ("register_loss_components", LossSpec),
    "datasets": ("register_datasets", DatasetSpec),
    "projections": ("register_projections", ProjectionSpec),
    "computations": ("register_computations", ComputationSpec),
    "executors": ("register_executors", ExecutorSpec),
    "presets": ("register_presets", PresetSpec),
    "views": ("register_views", ViewSpec),
}

__all__ = [
    "Availability", "ArtifactSpec", "VIEWS", "Batch", "CAPABILITIES", "ComputationResult", "ComputationSpec", "DataSplit",
    "DatasetSpec", "ExecutorSpec", "JOB_KINDS", "Job", "JobRunner", "KINDS", "LossSpec", "ModelSpec", "NoOptions", "QueueHost",
    "OnDemandSpec", "PresetSpec", "Projection", "ProjectionSpec", "ROLES", "RUNS", "ResolvedRun", "Schedule", "MOUNTS",
    "ViewSpec",
]
