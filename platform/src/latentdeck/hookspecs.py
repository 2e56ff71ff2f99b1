"""The plugin contract: every hook latentdeck calls, with when it fires and what it returns.

Registry hooks (``register_<plural>``) are called once per plugin manager; each returns a list of
frozen spec records from :mod:`latentdeck.types` (or ``None``). The host flattens the lists, validates
them and refuses two components of one kind with the same name. None of them is ``firstresult``.

Lifecycle hooks are called inside the run's worker process, in the training loop, with keyword
arguments; an implementation may accept any subset of them (new arguments never break old plugins).
Their return values are ignored.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("latentdeck")


@hookspec
def register_models():
    """Return a list of :class:`latentdeck.types.ModelSpec` this plugin provides.

    Example::

        @hookimpl
        def register_models():
            return [ModelSpec(name="ae", build=build_ae, options=AEOptions, loss_weights=weights)]
    """


@hookspec
def register_loss_components():
    """Return a list of :class:`latentdeck.types.LossSpec`: named, unweighted loss terms.

    A model's ``loss_weights`` says which components make up its loss and with what weight.
    """


@hookspec
def register_datasets():
    """Return a list of :class:`latentdeck.types.DatasetSpec`.

    Each dataset reports whether it is available offline (and why not) and loads a train split and
    a held-out split as uint8 images and int64 labels.
    """


@hookspec
def register_projections():
    """Return a list of :class:`latentdeck.types.ProjectionSpec` (latents -> 2-D or 3-D coordinates)."""


@hookspec
def register_computations():
    """Return a list of :class:`latentdeck.types.ComputationSpec`: computations that write declared files for
    a run, an epoch and (on demand) a request.

    The epoch loop runs each one whose schedule (``runs``) is due and whose ``requires`` the model declares;
    one with a ``request`` model gets ``POST /api/runs/{id}/compute/<name>`` and ``latentdeck compute <name>``.
    Both go through one host path: a keyed answer is served from disk when present, otherwise computed into a
    temporary folder, published atomically and announced once.

    Example::

        @hookimpl
        def register_computations():
            return [ComputationSpec(name="nearest", compute=nearest, runs="on_demand", request=NearestRequest,
                                    folder="nearest", key="epoch_{epoch}/idx_{idx}",
                                    files=("epoch_{epoch:int}/idx_{idx:int}/nearest.json",))]
    """


@hookspec
def register_executors():
    """Return a list of :class:`latentdeck.types.ExecutorSpec`: ways to start a run's worker."""


@hookspec
def register_presets():
    """Return a list of :class:`latentdeck.types.PresetSpec`: named run configs a person can start from.

    Example::

        @hookimpl
        def register_presets():
            return [PresetSpec(name="ae-quick", title="AE — quick look", config={"epochs": 5},
                               why={"epochs": "five epochs already separate the digits"})]
    """


@hookspec
def register_views():
    """Return a list of :class:`latentdeck.types.ViewSpec`: views the UI loads from this plugin's package.

    Example::

        @hookimpl
        def register_views():
            return [ViewSpec(name="quality-chart", module=str(HERE / "views" / "quality-chart.js"),
                             mount="run-panel", title="Quality", computations=("quality",))]
    """


@hookspec
def before_run(run_id, run_dir, config):
    """Called in the worker once the run is ``running``, before the first epoch."""


@hookspec
def after_epoch(run_id, run_dir, epoch, metrics, model):
    """Called in the worker after each epoch's metrics and artifacts are written (``model`` is the training
    model, on the run's device: ``metrics["device"]``)."""


@hookspec
def after_run(run_id, run_dir, status, summary):
    """Called in the worker when a run ends ``completed`` or ``cancelled``."""


@hookspec
def on_run_error(run_id, run_dir, error):
    """Called in the worker when training raises, before the run is marked ``failed``."""
