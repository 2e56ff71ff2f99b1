"""The one run context a computation sees, per epoch or on demand: :class:`RunContext`.

What a computation needs from the run, the registry or the loop comes through here, never from a host module:

- the run: ``ctx.run_id``, ``ctx.run_dir``, ``ctx.config`` (the run's config as persisted), ``ctx.phases``;
- where it is: ``ctx.epoch``, ``ctx.model`` (eval mode), ``ctx.model_spec``, ``ctx.dataset_spec``, ``ctx.viz``
  (the fixed visualization subset; ``ctx.viz_subset()`` loads it when asked for later), ``ctx.outputs`` /
  ``ctx.latents`` (the model on that subset, per epoch);
- what it was given: ``ctx.options`` (the run's options for it, chosen at launch), ``ctx.request`` (on demand);
- other epochs and results: ``ctx.load(epoch)`` (this context at another epoch), ``ctx.epochs()``,
  ``ctx.projection(method, dims)``, ``ctx.read(other, **fields)`` (another computation's JSON);
- data: ``ctx.heldout_split()``, ``ctx.heldout_example(idx)`` (422 naming the range);
- writing: ``ctx.save_json`` / ``save_png`` / ``save_run_file`` (atomic, ``*_latest`` mirrors, each new file
  announced once), ``ctx.save_latest`` (the mirror of a file written under another name), ``ctx.folder`` (a
  keyed computation's temporary folder, published by the host as ``<spec folder>/<ctx.key>/``, or for a key
  ``<stem>.*`` as the files ``<spec folder>/<stem><extension>``;
  ``ctx.answer_file(name)`` is a file's name there), ``ctx.answer(request)`` (a keyed answer from inside a
  per-epoch run), ``ctx.persist(relative, produce)`` (a folder of files produced once), ``ctx.emit``.

Writes go through one writer (:mod:`latentdeck.engine.writer`) behind the fence of the run that called it
(:mod:`latentdeck.engine.budget`): once given up (a cancel, the budget), nothing more is written.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..kit.arrays import read_artifact
from ..kit.errors import OnDemandError
from ..kit.phases import run_phases
from .. import registry as plugin_registry
from ..registry import collect
from ..registry.namespace import fill_pattern, placeholders
from ..types import Projection
from .budget import Fence, FencedEvents, FencedWriter
from .checkpoints import checkpoint_epochs
from .keyed import answer
from .keyfiles import file_stem, suffix_of
from .epochs import SHARED_MODELS, EpochModels, heldout_example, heldout_split, resolve_epoch
from .projections import projection_template, read_projection
from .writer import ArtifactWriter
from .vizsubset import VizSubset, encode as encode_in_chunks, load as load_viz_subset


@dataclass
class RunContext:
    """What a :class:`latentdeck.types.ComputationSpec`'s ``compute(ctx, request)`` sees (module docstring)."""

    run_id: str
    run_dir: Path
    config: dict[str, Any]
    pm: Any = None
    spec: Any = None  # the ComputationSpec being run (None: the host's own projection step)
    generator: str = ""  # what its writer names in events when there is no spec ("projection:pca")
    epoch: int | None = None
    model: Any = None
    model_spec: Any = None
    dataset_spec: Any = None
    outputs: dict[str, Any] = field(default_factory=dict)
    latents: Any = None  # numpy (n, d) float32: model.encode(viz.x), when the model has "latents" (per epoch)
    projections: dict[str, dict[int, Any]] = field(default_factory=dict)  # method -> dims -> Projection (this epoch)
    options: Any = None  # the computation's parsed options model (config.artifact_options[name])
    request: Any = None  # the validated request (on demand); None in the epoch loop and backfill
    checkpoint_meta: dict[str, Any] = field(default_factory=dict)
    events: Any = None  # the run's event sink (EventLog, AppendingLog) or None
    folders: frozenset[str] | None = None  # the folders its writer may write (the spec's)
    keep_newer_latest: bool = False  # backfill and on demand: never point a *_latest mirror back to an older epoch
    written: list[str] = field(default_factory=list)
    computations: dict[str, Any] | None = None  # {name: ComputationSpec} installed (for read); None: ask the plugins
    models: EpochModels = SHARED_MODELS
    fence: Fence | None = None  # closed when the computation is stopped or out of its budget
    folder: Path | None = None  # a keyed computation's temporary folder: write its files here
    key: str | None = None  # while a keyed computation computes: its answer's key (<spec folder>/<key>/ or <stem>.*)
    viz: VizSubset | None = None  # the fixed visualization subset (per epoch); viz_subset() loads it on demand

    # --- the run -------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name if self.spec is not None else self.generator

    @property
    def run(self) -> dict[str, Any]:
        """The run's config (a typed resolved run where one exists)."""
        return self.config

    @property
    def phases(self) -> list[dict[str, Any]]:
        """The run's training phases (:mod:`latentdeck.kit.phases`): ``kit.phases_at(ctx.phases, ctx.epoch)``."""
        return run_phases(self.model_spec, self.config) if self.model_spec is not None else []

    def viz_subset(self) -> VizSubset:
        """The run's visualization subset (``x``, ``y``, ``indices``), the examples every per-epoch file used
        (``ctx.viz`` in the epoch loop; loaded once here for a computation asked for later)."""
        if self.viz is None:
            self.viz = load_viz_subset(self.config, self._dataset())
        return self.viz

    def encode(self, x):
        """``ctx.model.encode(x)`` for any number of images: up to 10,000 in one batch (as every subset always
        was), more in chunks, so a 70,000-point subset needs no tens of GB of activations. Under ``no_grad``."""
        return encode_in_chunks(self.model, x)

    def epochs(self) -> list[int]:
        """The run's epochs with a complete checkpoint, ascending."""
        return checkpoint_epochs(self.run_dir)

    def resolve_epoch(self, epoch: int | str | None) -> int:
        """An epoch with a complete checkpoint (None or "latest": the newest); 404/409 naming the others."""
        return resolve_epoch(self.run_dir, epoch)

    def load(self, epoch: int | str | None) -> "RunContext":
        """This context at ``epoch`` (None or "latest": the newest checkpoint) with its model in eval mode;
        404/409 when there is no such checkpoint, 422 when the model lacks what the computation requires."""
        if epoch is not None and epoch == self.epoch and self.model is not None:
            return self
        loaded = self.models.get(self.run_dir, epoch, self._pm())
        required = set(self.spec.requires) if self.spec is not None else set()
        missing = sorted(required - set(loaded.model_spec.capabilities))
        if missing:
            raise OnDemandError(f"{self.name} needs a model with {', '.join(missing)}; model "
                                f"{loaded.config['model']!r} has {', '.join(sorted(loaded.model_spec.capabilities))}", 422)
        return dataclasses.replace(self, epoch=loaded.epoch, model=loaded.model, model_spec=loaded.model_spec,
                                   dataset_spec=loaded.dataset_spec, checkpoint_meta=loaded.checkpoint_meta,
                                   outputs={}, latents=None, projections={}, written=self.written)

    # --- data ----------------------------------------------------------------------------------------
    def heldout_split(self) -> tuple[Any, Any]:
        """The run's held-out split as float images (n, c, h, w) in [0, 1] and int64 labels (cached)."""
        return heldout_split(self.config, self._dataset())

    def heldout_example(self, index: int) -> tuple[Any, int]:
        """Held-out example ``index``: an image (1, c, h, w) and its label; 422 naming the range otherwise."""
        return heldout_example(self.config, self._dataset(), int(index))

    def projection_specs(self) -> dict[str, Any]:
        """The installed projections by name."""
        return collect(self._pm(), "projections")

    def projection_file(self, method: str, dims: int, epoch: int | None = None) -> str:
        """The run file of ``method``'s ``dims``-D projection at ``epoch`` (default: this context's)."""
        spec = self.projection_specs().get(method)
        template = projection_template(spec, dims) if spec is not None else f"latent_{dims}d_{{tag}}_{method}.json"
        return f"projections/{template.replace('{tag}', f'epoch_{self.epoch if epoch is None else epoch}')}"

    def projection(self, method: str, dims: int = 2) -> Projection:
        """``method``'s ``dims``-D projection of this epoch: the one just fitted in the epoch loop, else the
        one on disk (restored with its fitted map where the file holds one); 404 naming the file otherwise."""
        fitted = (self.projections.get(method) or {}).get(dims)
        if fitted is not None:
            return fitted
        name = self.projection_file(method, dims)
        path = self.run_dir / name
        if not path.is_file():
            raise OnDemandError(f"{name} is missing: this run has no {dims}-D {method} projection at epoch "
                                f"{self.epoch} (backfill it: latentdeck backfill {self.run_id} --projections {method})", 404)
        saved = read_projection(path, root=self.run_dir)  # either format; no link followed inside the run
        spec = self.projection_specs().get(method)
        if spec is not None and spec.restore is not None:
            return spec.restore(saved)
        import numpy as np

        return Projection(np.asarray(saved["coords"], dtype=np.float64), dict(saved.get("params") or {}))

    def read(self, computation: str, epoch: int | None = None, **fields: Any) -> tuple[str, Any]:
        """Another computation's JSON file of this epoch (or ``epoch``), found through the patterns it
        declares, never by a path written here: ``ctx.read("knn", method="pca")``. Returns (its name, its
        content, with its arrays as numpy arrays when it has an array file: :func:`latentdeck.kit.read_artifact`).
        A missing file raises ``FileNotFoundError`` naming it and the computation that writes it
        (declare ``after={name}`` so that one runs first)."""
        specs = self.computations if self.computations is not None else collect(self._pm(), "computations")
        spec = specs.get(computation)
        if spec is None:
            raise KeyError(f"no computation {computation!r} is installed; installed: {', '.join(sorted(specs))}")
        wanted = set(fields)
        for pattern in spec.files:
            if pattern.endswith(".json") and "{tag}" in pattern and set(placeholders(pattern)) == wanted:
                name = f"{spec.folder}/{fill_pattern(pattern, f'epoch_{self.epoch if epoch is None else epoch}', fields)}"
                if not (self.run_dir / name).is_file():
                    raise FileNotFoundError(f"{name} is missing: it is written by the {computation!r} computation, so "
                                            "run it too (declare after={" + repr(computation) + "} to have it run first)")
                return name, read_artifact(self.run_dir / name, root=self.run_dir)  # no link followed inside the run
        raise KeyError(f"computation {computation!r} declares no JSON file pattern with exactly the fields "
                       f"{sorted(wanted)} and {{tag}}; its patterns: {', '.join(spec.files)}")

    # --- writing -------------------------------------------------------------------------------------
    @property
    def writer(self) -> ArtifactWriter:
        """The shared writer over this context's run, epoch, folders and log, behind its fence."""
        generator = self.name if self.request is None else f"{self.name}:on_demand"
        return FencedWriter(run_dir=self.run_dir, epoch=self.epoch if self.epoch is not None else 0,
                            generator=generator, events=self.events, folders=self.folders,
                            keep_newer_latest=self.keep_newer_latest, written=self.written, fence=self.fence)

    def fenced(self) -> "RunContext":
        """This context with a new fence over its writer and events (one per run of a computation)."""
        self.fence = Fence()
        if self.events is not None:
            self.events = FencedEvents(self.events, self.fence)
        return self

    def emit(self, type: str, data: dict[str, Any]) -> None:
        """Emit an event (e.g. ``projection.progress``) into the run's log."""
        self.writer.emit(type, data)

    def save_json(self, folder: str, template: str, payload: Any, mirror: bool = True) -> str:
        """Write ``<folder>/<template with tag=epoch_N>`` and (``mirror``) its ``tag=latest`` mirror."""
        return self.writer.save_json(folder, template, payload, mirror=mirror)

    def save_png(self, folder: str, template: str, image: Any, mirror: bool = True) -> str:
        """``image``: PNG bytes, a uint8 array (h, w) or (h, w, 3|4), or a PIL image."""
        return self.writer.save_png(folder, template, image, mirror=mirror)

    def save_latest(self, folder: str, template: str, source: str) -> str | None:
        """The ``*_latest`` mirror (``template`` with tag=latest) of a file already written as ``source`` with
        tag=epoch_N, e.g. a keyed answer's file (see :class:`ArtifactWriter`); None when a newer epoch keeps it."""
        return self.writer.save_latest(folder, template, source)

    def save_run_file(self, folder: str, filename: str, content: Any) -> str | None:
        """A file that is the same for every epoch, written once per run (see :class:`ArtifactWriter`)."""
        return self.writer.save_run_file(folder, filename, content)

    def persist(self, relative: str, produce, epoch: int | None = None) -> tuple[list[str], bool]:
        """``<spec folder>/<relative>/`` produced once by ``produce(tmp)`` (synced, renamed into place, each file
        announced once); (its files, whether this call produced them). The host's keyed path uses it too."""
        writer = self.writer
        if epoch is not None:
            writer.epoch = epoch
        return writer.persist_folder(self.spec.folder, relative, produce)

    def answer_file(self, name: str) -> str:
        """The run name that file ``name`` written into ``ctx.folder`` will have once the host publishes the
        answer (``<spec folder>/<key>/<name>``; for a key ``<stem>.*``, ``<spec folder>/<stem><extension>``,
        ``grid.png`` -> ``<stem>.png``): what a payload names so that it is right from disk too."""
        if self.key is None or self.spec is None:
            raise RuntimeError("answer_file is for a keyed computation while it computes (ctx.folder is set)")
        stem = file_stem(self.key)
        if stem is not None:  # a file key: the file is published as <stem><its extension>
            return f"{self.spec.folder}/{stem}{suffix_of(name)}"
        return f"{self.spec.folder}/{self.key}/{name}"

    def answer(self, request: Any) -> Any:
        """One keyed answer of this computation at this epoch, from disk when it is there, else computed into
        a temporary folder, published and announced once (:func:`latentdeck.engine.keyed.answer`): how
        a per-epoch computation makes the same folders a person's request would. Returns the host's answer
        (``folder``, ``files``, ``created``, ``payload``, ``notes``)."""
        return answer(self.spec, self, request)

    def announce(self, names: list[str], epoch: int | None = None) -> None:
        """Announce files written into the spec's folder by other means (``artifact.created``, once each)."""
        writer = self.writer
        if epoch is not None:
            writer.epoch = epoch
        for name in names:
            writer.announce(name, None, self.spec.folder)

    # --- internals -----------------------------------------------------------------------------------
    def _pm(self):
        if self.pm is None:
            self.pm = plugin_registry.get_plugin_manager()  # looked up when called: tests swap it
        return self.pm

    def _dataset(self):
        if self.dataset_spec is None:
            self.dataset_spec = collect(self._pm(), "datasets")[self.config["dataset"]]
        return self.dataset_spec
