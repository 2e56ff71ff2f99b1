"""The artifact engine: after each epoch, compute the shared inputs once and run the due computations.

Computations (``ComputationSpec`` whose schedule ``runs`` is due) receive a
:class:`latentdeck.engine.context.RunContext` and run through the one path
(:func:`latentdeck.engine.computations.run`), so every file is atomic, versioned per epoch with a
``*_latest`` mirror, and announced by an ``artifact.created`` event. A computation that raises is reported
(``artifact.failed``) and skipped; it never changes training. Each computation and projection fit runs under
its time budget (the spec's ``budget_s`` or the run's ``generator_budget_s``) and stops at a cancel
(:mod:`latentdeck.engine.budget`): one that takes longer is reported (``artifact.failed`` with
``reason: "timeout"``) and can write nothing afterwards.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

from ..kit import safepath
from .artifact_steps import StageReporter, run_generators, selected_generators, without_grad  # noqa: F401  (re-exported)
from .budget import DEFAULT_BUDGET_S, Budget, Stopped, run_within_budget, timeout_event
from . import computations, vizsubset
from .background import Background
from .context import RunContext
from .writer import AppendingLog
from .vizsubset import VizSubset  # noqa: F401  (re-exported: the training loop builds one)
from ..kit.errors import is_disk_full
from ..store.events import EventLog, read_events
from ..registry.namespace import match_file
from ..registry import collect, per_epoch
from .projections import fit_extras, previous_on_disk, projection_payload, projection_template, read_projection
from ..types import Projection

# Heavy imports (torch and numpy) sit inside the functions that use them, on purpose: importing this module stays cheap.


class ArtifactEngine:
    """Runs a run's projections and generators for one epoch at a time.

    The model runs once on the visualization subset; its latents are projected by every due
    projection (warm-started from the previous epoch's coordinates where the method supports it),
    then each generator gets the outputs, latents and projections. ``skip_existing`` (backfill)
    skips a projection whose epoch file exists (loading it instead, so generators still see it) and
    a generator whose files for that epoch the event log lists and the disk still has.
    """

    def __init__(self, pm, run_dir: Path, config: dict[str, Any], model_spec, dataset_spec, viz: VizSubset,
                 events: EventLog, skip_existing: bool = False,
                 projection_names: list[str] | None = None, generator_names: list[str] | None = None,
                 budget: Budget | None = None, background_heavy: bool = True):
        self.run_dir, self.config, self.model_spec, self.dataset_spec = run_dir, config, model_spec, dataset_spec
        self.budget = budget or Budget(float(config.get("generator_budget_s") or DEFAULT_BUDGET_S))
        self.viz, self.events, self.skip_existing = viz, events, skip_existing
        self.run_id = config["run_id"]
        self.has_latents = "latents" in model_spec.capabilities
        wanted = config.get("artifacts") if generator_names is None else generator_names
        self.pm = pm
        self.generator_specs = collect(pm, "computations")
        self.generators = selected_generators(per_epoch(pm), model_spec.capabilities, wanted)
        available = collect(pm, "projections")
        names = config.get("projections") if projection_names is None else projection_names
        self.projections = [available[n] for n in sorted(available) if names is None or n in names]
        # heavy computations of the epoch loop; none in the pipeline process, which is itself beside training
        self.background_heavy = background_heavy
        self.background = Background()
        self.previous: dict[tuple[str, int], Any] = {}
        self.previous_params: dict[tuple[str, int], dict[str, Any]] = {}  # the previous epoch's params, same key

    def projections_due(self, epoch: int, last: bool, everything: bool = False) -> list[Any]:
        if not self.has_latents:
            return []
        if everything:
            return list(self.projections)
        every = self.config.get("projection_every") or {}
        due = []
        for spec in self.projections:
            n = every.get(spec.name, 1)
            if n > 0 and (last or epoch % n == 0):
                due.append(spec)
        return due

    def run_epoch(self, model, epoch: int, last: bool, everything: bool = False) -> None:
        import torch

        model.eval()
        with torch.no_grad():
            outputs = vizsubset.forward(model, self.viz.x)  # in chunks above 10,000 points
            latents = vizsubset.encode(model, self.viz.x).float().numpy() if self.has_latents else None
            due = self.projections_due(epoch, last, everything)
            todo, only = self._todo(epoch, everything=everything, last=last)  # an estimate: projections may add
            behind = self.background_heavy and not (self.skip_existing or everything)  # heavy ones: background
            stage = StageReporter(self.events, epoch, sum(len(spec.dims) for spec in due) + sum(
                1 for spec in todo if not (behind and spec.heavy and not any(spec.name in o.after for o in todo))))
            projections = self._project(latents, outputs, epoch, due, stage)
            if self.skip_existing:  # per-projection generators are missing for the methods just projected
                todo, only = self._todo(epoch, everything=everything, last=last)
                stage.total = stage.done + len(todo)
            chosen = self.config.get("artifact_options") or {}
            specs = {spec.name: spec for spec in self.generators}

            def make_context(generator: str, model=model, events=self.events) -> RunContext:
                spec = specs[generator]
                shown = projections if generator not in only else {
                    method: by_dims for method, by_dims in projections.items() if method in only[generator]}
                return self._context(epoch, model, outputs, latents, shown, spec=spec,
                                     options=spec.options.model_validate(chosen.get(generator, {})),
                                     folders=frozenset({spec.folder}), events=events)

            # heavy ones go to the background (one at a time, in epoch order: training goes on), after the epoch's
            # other computations, which they may read; one another computation reads (after=) runs in line
            heavy = [spec for spec in todo if spec.heavy and not any(spec.name in other.after for other in todo)] \
                if behind else []
            run_generators(make_context, [spec for spec in todo if spec not in heavy], self.events, stage, self.budget)
            for spec in heavy:
                ctx = make_context(spec.name, model=copy.deepcopy(model), events=AppendingLog(self.run_dir, self.run_id))
                self.background.submit(lambda spec=spec, ctx=ctx: computations.run(spec, ctx, None, self.budget))
        if last:
            self.background.drain()  # the run ends once its heavy computations have

    def _context(self, epoch, model, outputs, latents, projections, spec=None, generator: str = "", options=None,
                 folders: frozenset[str] | None = None, events=None) -> RunContext:
        return RunContext(folders=folders, computations=self.generator_specs, pm=self.pm, spec=spec, generator=generator,
                          run_id=self.run_id, run_dir=self.run_dir, epoch=epoch, config=self.config, model=model,
                          model_spec=self.model_spec, dataset_spec=self.dataset_spec, viz=self.viz, outputs=outputs,
                          options=options, events=self.events if events is None else events, latents=latents,
                          projections=projections,
                          keep_newer_latest=self.skip_existing)

    def _project(self, latents, outputs, epoch: int, due: list[Any], stage: StageReporter | None = None) -> dict[str, dict[int, Any]]:
        results: dict[str, dict[int, Any]] = {}
        chosen = self.config.get("projection_options") or {}
        for spec in due:
            options = spec.options.model_validate(chosen.get(spec.name, {}))
            for dims in spec.dims:
                ctx = self._context(epoch, None, outputs, latents, results, generator=f"projection:{spec.name}",
                                    folders=frozenset({"projections"}))
                epoch_file = self.run_dir / "projections" / projection_template(spec, dims).format(tag=f"epoch_{epoch}")
                if self.skip_existing and epoch_file.exists():
                    import numpy as np

                    if stage is not None:
                        stage.done += 1  # nothing to compute: the file is loaded

                    saved = read_projection(epoch_file, root=self.run_dir)  # either format; no link followed
                    coords = np.asarray(saved["coords"], dtype=np.float64)
                    restored = spec.restore(saved) if spec.restore else Projection(coords, saved.get("params", {}))
                    results.setdefault(spec.name, {})[dims] = restored
                    self.previous[(spec.name, dims)] = coords
                    self.previous_params[(spec.name, dims)] = dict(saved.get("params") or {})
                    continue
                if (spec.name, dims) not in self.previous:  # backfill of a later epoch: start from the newest file before it
                    self._load_previous(spec, dims, epoch)
                if stage is not None:
                    stage.step(f"projection {spec.name} {dims}-D", f"computing projections: {spec.name} {dims}-D "
                                                                   f"of {len(latents)} points")
                ctx.fenced().emit("projection.progress", {"method": spec.name, "dims": dims, "stage": "fitting",
                                                          "n": len(latents)})

                def fit(spec=spec, dims=dims, ctx=ctx, options=options):
                    started = time.perf_counter()
                    result = spec.fit(latents, dims, self.config["seed"], options, self.previous.get((spec.name, dims)),
                                      **fit_extras(spec.fit, epoch, self.previous_params.get((spec.name, dims))))
                    ms = (time.perf_counter() - started) * 1000
                    payload = projection_payload(
                        method=spec.name, dims=dims, epoch=epoch, result=result, latents=latents, viz=self.viz,
                        outputs=outputs, latent_name=self.model_spec.latent_name, compute_ms=ms, seed=self.config["seed"])
                    ctx.save_json("projections", projection_template(spec, dims), payload)
                    return result, ms

                name = f"projection:{spec.name}"
                outcome = run_within_budget(without_grad(fit), self.budget, ctx.fence, name)
                if outcome.stopped:
                    raise Stopped(f"epoch {epoch}, {name} {dims}-D: {outcome.stopped}")
                exc = outcome.error
                if outcome.timed_out or exc is not None:
                    if exc is not None and (is_disk_full(exc) or not isinstance(exc, Exception)):
                        raise exc
                    failure = timeout_event(name, epoch, self.budget, outcome) if outcome.timed_out else {
                        "generator": name, "epoch": epoch, "error": f"{type(exc).__name__}: {exc}",
                        "traceback": outcome.traceback}
                    self.events.emit("projection.progress", {"epoch": epoch, "generator": name, "method": spec.name,
                                                             "dims": dims, "stage": "failed", "error": failure["error"]})
                    self.events.emit("artifact.failed", failure)
                    continue
                result, ms = outcome.value
                results.setdefault(spec.name, {})[dims] = result
                self.previous[(spec.name, dims)] = result.coords
                self.previous_params[(spec.name, dims)] = dict(result.params)
                ctx.emit("projection.progress", {"method": spec.name, "dims": dims, "stage": "done",
                                                 "compute_ms": round(ms, 2)})
        return results

    def _load_previous(self, spec, dims: int, epoch: int) -> None:
        """The newest projection file of ``spec``/``dims`` before ``epoch`` as the warm start (``init``,
        ``init_params``) of a refit, as if the epochs in between had just been projected (nothing when none)."""
        found = previous_on_disk(self.run_dir, spec, dims, epoch)
        if found is not None:
            self.previous[(spec.name, dims)], self.previous_params[(spec.name, dims)] = found

    def missing(self, epoch: int) -> list[str]:
        """What :meth:`run_epoch` with ``everything=True`` and ``skip_existing`` would compute."""
        todo = []
        for spec in self.projections_due(epoch, last=True, everything=True):
            for dims in spec.dims:
                name = projection_template(spec, dims).format(tag=f"epoch_{epoch}")
                if not (self.run_dir / "projections" / name).exists():
                    todo.append(f"projections/{name}")
        generators, only = self._todo(epoch, skip=True)
        todo += [f"generator {g.name}" + (f" ({', '.join(sorted(only[g.name]))})" if g.name in only else "")
                 for g in generators]
        return todo

    def _todo(self, epoch: int, skip: bool | None = None, everything: bool = True,
              last: bool = True) -> tuple[list[Any], dict[str, set[str]]]:
        """The computations to run this epoch (those whose schedule is due, or all with ``everything``), and
        for per-projection ones the methods to run them for.

        Without ``skip_existing`` every selected generator runs for every projection. With it (backfill),
        a generator whose file patterns name ``{method}`` (knn, density, distortion) is missing for each
        selected projection method that has a projection file this epoch but none of the generator's
        files (a projection backfilled later gets its neighbours and overlays); any other generator is
        missing when the event log lists none of its files for the epoch, or one of them is gone."""
        if not (self.skip_existing if skip is None else skip):
            return [spec for spec in self.generators if everything or spec.due(epoch, last)], {}
        done = self._logged_outputs()
        todo, only = [], {}
        for spec in self.generators:
            missing = self._methods_missing(spec, epoch)
            if missing is None:
                if not self._already_written(done, spec, epoch):
                    todo.append(spec)
            elif missing:
                todo.append(spec)
                only[spec.name] = missing
        return todo, only

    def _methods_missing(self, spec, epoch: int) -> set[str] | None:
        """Projection methods with a file this epoch that ``spec``'s per-method files lack; None when its
        patterns do not name ``{method}``."""
        patterns = tuple(p for p in spec.files if "{method}" in p and "{tag}" in p)
        if not patterns or not self.has_latents:
            return None
        methods = {p.name for p in self.projections for dims in p.dims
                   if (self.run_dir / "projections" / projection_template(p, dims).format(tag=f"epoch_{epoch}")).is_file()}
        have: set[str] = set()
        try:  # listed without following links: a linked folder is refused (UnsafePath), never listed
            names = safepath.list_tree(self.run_dir, spec.folder) if methods else []
        except FileNotFoundError:
            names = []
        for name in names:
            found = match_file(patterns, name.split("/", 1)[1])
            if found and found[1].get("epoch") == epoch:
                have.add(str(found[1].get("method")))
        return methods - have

    def _logged_outputs(self) -> dict[tuple[str, int], list[str]]:
        done: dict[tuple[str, int], list[str]] = {}
        for event in read_events(self.run_dir / "events.jsonl"):
            if event["type"] == "artifact.created":
                data = event["data"]
                done.setdefault((data.get("generator", ""), data.get("epoch")), []).append(data["name"])
        return done

    def _already_written(self, done, spec, epoch: int) -> bool:
        """Every file the log lists for it this epoch exists, inside the folder it declares now (a run
        written before a plugin moved its files, e.g. the atlas out of ``reconstructions/``, gets them anew)."""
        names = done.get((spec.name, epoch))
        inside = (lambda name: name.startswith(f"{spec.folder}/")) if spec.folder else (lambda name: True)
        return bool(names) and all(inside(name) and (self.run_dir / name).exists() for name in names)
