"""The computation record: per-epoch artifacts, on-demand computations and backfill are one idea,
"compute declared files for (run, epoch, request)". Re-exported by :mod:`latentdeck.types` and :mod:`latentdeck`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from pydantic import BaseModel

from .base import NoOptions

RUNS = ("every_epoch", "on_demand")  # or a whole number N >= 1: every N epochs, and the last

# What the latent explorer reads from a computation's files (``ComputationSpec.provides``: file pattern -> role).
# The explorer asks for a role, never for a plugin: any package may provide one (one provider per role, except
# ``overlay``, of which there may be many). Each role's file format is in SPEC.md ("Explorer roles").
ROLES = {
    "overlay": "a grid drawn under the 2-D map: per epoch and {method}, one other text field (its kind); JSON "
               "{grid: [[...]] row 0 at the bottom, bounds, label, scale ...}",
    "neighbours": "the k nearest neighbours of each shown point in one projection: per epoch and {method}; "
                  "JSON {k, indices, labels, neighbors: [[...]], distances: [[...]], d_k ...}",
    "input-thumbnails": "the shown points' input images as one sprite sheet: a run-level JSON index {indices, "
                        "labels, png, tile, columns ...} beside its PNG",
    "reconstruction-thumbnails": "the shown points' reconstructions as one sprite sheet per epoch: JSON {epoch, indices, "
                        "png, tile, columns, and per point mse, qc, softmax when the model has them} beside its PNG (or, for a "
                        "large subset, png null and png_on_demand {computation, request, png}: asked for on first use)",
    "cluster-scores": "how well the map's clusters match the labels, per epoch (JSON with the scores and "
                      "a sentence per score)",
}


@dataclass(frozen=True)
class ComputationResult:
    """What a computation answers: ``payload`` (JSON-safe fields, documented in its plugin's README) and
    ``notes`` (sentences for people, which the CLI prints and the UI shows). The host stores it beside the
    files of a keyed computation (``<folder>/<key>/result.json``; for a file key ``<stem>.*``, the hidden
    ``.<stem>.result.json`` beside its files), so a repeat answers the same payload."""

    payload: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # Only for a computation without a ``key`` that keeps its files itself (the host knows a keyed one's):
    files: tuple[str, ...] | None = None  # its files by run name (None: what it wrote through ctx in this call)
    created: bool | None = None  # whether this call computed them (None: whether it wrote any)
    folder: str | None = None  # the folder they are in (None: the spec's folder when there are files)


@dataclass(frozen=True)
class ComputationSpec:
    """A computation that writes declared files for a run, an epoch and (on demand) a request.

    ``compute(ctx, request)`` gets a :class:`latentdeck.engine.context.RunContext` (the run, its epoch and
    model, ``ctx.options``, ``ctx.load(epoch)``, ``ctx.projection(method, dims)``, ``ctx.read(other, **fields)``,
    ``ctx.save_json`` / ``save_png`` / ``save_run_file``) and returns a :class:`ComputationResult`, a dict
    (its payload) or ``None``. The epoch loop and backfill call it with ``request=None``; a person's call
    (``POST /api/runs/{id}/compute/<name>``, ``latentdeck compute <name>``) passes the validated ``request``.

    ``runs``: ``"every_epoch"``, a whole number N (every N epochs, and the last one), or ``"on_demand"`` (never
    in the epoch loop). ``request``: the pydantic model of what a person may ask for (unknown fields refused);
    ``None``: it cannot be asked for. ``options``: the run's per-computation options chosen at launch
    (``artifact_options.<name>`` in the run config). ``key`` (with a ``request``): the folder of one answer
    inside ``folder``, a template filled from the request's fields and the resolved ``{epoch}``
    (``"epoch_{epoch}/idx_{idx}_k_{k}"``) or a callable ``key(request, epoch) -> str``; a callable with a third
    parameter, ``key(request, epoch, ctx)``, also gets the run context (for what only the run knows, e.g. the
    label of the start digit; it may raise a refusal, and runs before anything is written). With a key the
    host keeps the promise: a complete ``<folder>/<key>/`` answers from disk (``created: false``); otherwise
    ``compute`` writes into ``ctx.folder`` (a hidden temporary folder; ``ctx.answer_file(name)`` is a file's
    name once published), which is published atomically with its ``result.json`` and announced once. A key
    ending in ``.*`` names a file STEM instead of a folder (``"{kind}_epoch_{epoch}_idx_{idx}.*"``; a callable
    may return one too), for answers whose file names are a contract: ``compute`` writes into ``ctx.folder``
    as before, one plain file per extension (``<anything>.<ext>``; the extension is the name from its first
    dot), and the host publishes each as ``<folder>/<stem>.<ext>`` (``grid.png`` -> ``<stem>.png``;
    ``ctx.answer_file("grid.png")`` says so), then, last, stores the result as the hidden
    ``<folder>/<dir>/.<stem name>.result.json``, which marks the answer complete (never listed, so the folder
    holds only the declared names). Complete: served from disk; otherwise (a crash between two files, or
    files an older run wrote under those names before results were kept) computed again and the files
    replaced. Declare the published names in ``files``. A per-epoch run answers its own requests the same
    way with ``ctx.answer(request)``. Without a key, ``compute`` writes through ``ctx.save_*``.

    ``requires``: model capabilities it needs. ``after``: computations whose files of the same epoch this one
    reads (``ctx.read``): those run first. ``folder`` is the run folder it writes (one top-level name, owned
    by this plugin alone) and ``files`` the file-name patterns inside it: ``{tag}`` is ``epoch_<N>`` or
    ``latest``, ``{name}`` one name part, ``{name:int}`` a whole number. ``overlay``: its JSON files are
    overlays of the latent map. ``view``: how the run page shows its files without a view of its own
    (:data:`VIEWS`); a panel of its own is a :class:`~latentdeck.types.ViewSpec` naming it in ``computations``.
    ``provides``: ``{file pattern: role}`` for files the latent explorer reads by role (:data:`ROLES`; each
    pattern one of ``files``); ``overlay=True`` is short for every JSON pattern naming ``{method}`` providing
    ``overlay``.
    ``heavy``: in the epoch loop it runs in a background thread (one at a time, in epoch order) so training
    goes on; asked for on demand, it runs where the run's executor runs work. ``budget_s``: its time budget
    in seconds (None: the run's ``generator_budget_s`` / the server's ``LATENTDECK_COMPUTE_BUDGET_S``).
    """

    name: str
    compute: Callable[[Any, Any], Any]
    folder: str = ""
    files: tuple[str, ...] = ()
    runs: str | int = "every_epoch"
    request: type[BaseModel] | None = None
    options: type[BaseModel] = NoOptions
    key: str | Callable[..., str] | None = None  # key(request, epoch) or key(request, epoch, ctx); "<stem>.*": files
    requires: frozenset[str] = frozenset()
    after: frozenset[str] = frozenset()
    description: str = ""
    overlay: bool = False
    provides: Mapping[str, str] = field(default_factory=dict)
    view: str = "json"
    heavy: bool = False
    budget_s: float | None = None

    @property
    def per_epoch(self) -> bool:
        """Whether the epoch loop (and backfill) runs it."""
        return self.runs != "on_demand"

    def roles(self) -> dict[str, str]:
        """``{file pattern: role}`` of its files the explorer reads (``provides``, and ``overlay`` spelled out)."""
        roles = {pattern: "overlay" for pattern in self.files
                 if self.overlay and pattern.endswith(".json") and "{method}" in pattern}
        return {**roles, **dict(self.provides)}

    @property
    def askable(self) -> bool:
        """Whether a person can ask for it (a route and a CLI entry)."""
        return self.request is not None

    def due(self, epoch: int, last: bool) -> bool:
        """Whether the epoch loop runs it after ``epoch`` (``last``: the run's final epoch)."""
        if self.runs == "every_epoch":
            return True
        if self.runs == "on_demand":
            return False
        return last or epoch % int(self.runs) == 0


def ArtifactSpec(name: str, generate: Callable[[Any], None], **fields: Any) -> ComputationSpec:
    """Deprecated: a per-epoch :class:`ComputationSpec` (``generate(ctx)`` becomes ``compute(ctx, request)``).
    Kept for one release so outside packages keep working; return ``ComputationSpec`` from
    ``register_computations`` instead."""
    warnings.warn("ArtifactSpec is deprecated: return ComputationSpec(runs='every_epoch') from register_computations",
                  DeprecationWarning, stacklevel=2)
    return ComputationSpec(name=name, compute=_ignoring_request(generate), **_without_page(fields))


def OnDemandSpec(name: str, request: type[BaseModel], compute: Callable[[Any, Any], Any], **fields: Any) -> ComputationSpec:
    """Deprecated: an on-demand :class:`ComputationSpec` (``runs="on_demand"``). Kept for one release so
    outside packages keep working; return ``ComputationSpec`` from ``register_computations`` instead."""
    warnings.warn("OnDemandSpec is deprecated: return ComputationSpec(runs='on_demand') from register_computations",
                  DeprecationWarning, stacklevel=2)
    return ComputationSpec(name=name, request=request, compute=compute, runs="on_demand", **_without_page(fields))


def _without_page(fields: dict[str, Any]) -> dict[str, Any]:
    """The old ``page`` (an iframe page) is gone: a plugin's own panel is a ViewSpec, loaded as the built-ins are."""
    if fields.pop("page", None) is not None:
        warnings.warn("page= is gone: ship your panel as a view (ViewSpec with computations=(name,)); the page is not "
                      "shown", DeprecationWarning, stacklevel=3)
    return fields


def _ignoring_request(generate: Callable[[Any], None]) -> Callable[[Any, Any], None]:
    def compute(ctx: Any, request: Any = None) -> None:
        return generate(ctx)

    compute.__name__ = getattr(generate, "__name__", "compute")
    return compute
