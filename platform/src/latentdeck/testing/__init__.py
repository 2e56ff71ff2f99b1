"""Test helpers for latentdeck and for third-party plugin authors (a pytest plugin, ``pytest11``).

Fixtures (each documented where it is defined):

- ``plugin_manager`` — a fresh manager per test: every installed plugin plus this module's tiny dataset;
- ``plugin_manager_with`` — ``plugin_manager_with(module, ...)``: the same plus your plugin modules, whether
  your package is installed (its entry point already loaded it) or not (a plugin under development);
- ``runs_dir`` — an empty runs folder for the test;
- ``tiny_config`` — a run config that trains the AE on ``tiny-digits`` in about a second;
- ``trained_run`` — ``trained_run(model="ae", **overrides)`` trains one in-process (with the modules given
  to ``plugin_manager_with``) and returns its folder.
Helpers that need no fixture: :func:`run_tiny` (``run_tiny([plugin], {"artifacts": ["mine"]})`` trains a tiny
run with your plugin: a :class:`TinyRun`; ``.read(name)`` a file of it, either format), :func:`backfill`,
:func:`ask` (a computation asked for), :class:`Asker` (asks one computation again and again, counting what reached ``compute``: a keyed repeat served from disk does not) and :func:`client`.
Contract helpers: :func:`check_dataset`, :func:`check_model`, :func:`heavy_imports_of`.
This module is also a plugin: it provides the ``tiny-digits`` dataset (seeded synthetic 28x28
digits, 10 classes) so tests train in a second, and the ``first-dims`` projection (the first
latent coordinates: deterministic, instant, no numba). Workers started in a separate process see it when
``LATENTDECK_EXTRA_PLUGINS=latentdeck.testing`` is set, as the fixtures here do.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import hookimpl
from ..types import Availability, DataSplit, DatasetSpec

try:  # the fixtures are for pytest; the helpers and the tiny dataset also serve `latentdeck plugins --check`
    import pytest
except ImportError:  # a wheel install without the test extra: the module loads, its fixtures do not exist
    pytest = None


def _fixture(function):
    return pytest.fixture(function) if pytest is not None else function


TINY = "tiny-digits"


@functools.lru_cache(maxsize=4)
def _tiny_split(split: str, n: int):
    import torch

    generator = torch.Generator().manual_seed(1234 if split == "train" else 4321)
    labels = torch.arange(n) % 10
    images = torch.rand(n, 28, 28, generator=generator) * 60  # faint noise
    for i, label in enumerate(labels.tolist()):  # a bright 8x8 block whose place encodes the class
        row, col = divmod(label, 4)
        images[i, 2 + row * 9: 10 + row * 9, 1 + col * 7: 9 + col * 6] += 180
    return DataSplit(images.clamp(0, 255).to(torch.uint8), labels.long())


def tiny_dataset(n_train: int = 256, n_heldout: int = 64) -> DatasetSpec:
    return DatasetSpec(
        name=TINY,
        load=lambda data_dir, split: _tiny_split(split, n_train if split == "train" else n_heldout),
        availability=lambda data_dir: Availability(True),
        description="seeded synthetic digits for tests (a bright block whose place encodes the class)",
        source="latentdeck.testing",
    )


@hookimpl
def register_datasets():
    return [tiny_dataset()]


def _first_dims(latents, dims, seed, options, init=None):
    """A deterministic stand-in projection: the first ``dims`` latent coordinates (a linear map)."""
    import numpy as np
    from ..types import Projection

    d = latents.shape[1]
    return Projection(latents[:, :dims].astype("float64"), {"rule": "first latent coordinates"},
                      linear=(np.eye(dims, d), np.zeros(d)))


def _restore_first_dims(saved):
    import numpy as np
    from ..types import Projection

    dims, d = saved["dims"], saved["latent_dim"]
    return Projection(np.asarray(saved["coords"], dtype="float64"), saved.get("params", {}),
                      linear=(np.eye(dims, d), np.zeros(d)))


@hookimpl
def register_projections():
    from ..types import ProjectionSpec

    return [ProjectionSpec(name="first-dims", fit=_first_dims, restore=_restore_first_dims,
                           description="test stand-in: first latent coordinates")]


from .contract import HEAVY_MODULES, check_dataset, check_model, heavy_imports_of  # noqa: E402,F401  (public)


def run_async(make_coroutine):
    """Run ``make_coroutine()`` to completion on a fresh event loop in its own thread.

    ``asyncio.run`` refuses to start while another loop is marked running in this thread, which
    Playwright's sync API leaves behind in a pytest session; a thread has its own loop state.
    """
    import asyncio
    import threading

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make_coroutine())
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="latentdeck-run-async")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, every: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy (and return that); fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


# --- running your plugin: a tiny run, a backfill, a test client ------------------------------------

def manager_with(plugins: Iterable[Any] = ()) -> Any:
    """A fresh plugin manager: every installed plugin, the tiny dataset and ``plugins`` (modules or objects
    with hook implementations; one an installed entry point already loaded is not registered twice)."""
    import sys

    from ..registry import make_plugin_manager

    return make_plugin_manager(plugins=[sys.modules[__name__], *plugins])


class ConfigRefused(ValueError):
    """The lab refused a :func:`run_tiny` config (the message names the field); nothing was written."""


@dataclass(frozen=True)
class TinyRun:
    """A finished tiny run: its folder, id, final status and the plugin manager it ran with."""

    dir: Path
    run_id: str
    status: str
    pm: Any = field(repr=False)

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """The run's events (only those of ``type`` when given), oldest first."""
        from ..store.events import read_events

        return [e for e in read_events(self.dir / "events.jsonl") if type is None or e["type"] == type]

    def failures(self) -> list[str]:
        """``"component (epoch N): error"`` for every ``artifact.failed`` event of the run."""
        return [f"{e['data'].get('generator')} (epoch {e['data'].get('epoch')}): {e['data'].get('error')}"
                for e in self.events("artifact.failed")]

    def read(self, name: str) -> dict[str, Any]:
        """A JSON file of the run (``"projections/..."``) with its arrays, either format (``kit.read_artifact``)."""
        from ..kit.arrays import read_artifact
        return read_artifact(self.dir / name, root=self.dir)

    def files(self, folder: str) -> list[str]:
        """The files under ``folder`` of the run (paths relative to the run folder), sorted."""
        return sorted(str(p.relative_to(self.dir)) for p in (self.dir / folder).rglob("*") if p.is_file())


def _loaded(pm: Any, plugins: list[Any]) -> None:
    """Raise AssertionError naming why, when one of ``plugins`` was not loaded (a bad record, a hook typo)."""
    for plugin in plugins:
        info = pm.infos.get(getattr(plugin, "__name__", None) or type(plugin).__name__)
        if info is not None and info.status != "ok":
            raise AssertionError(f"your plugin {info.name} did not load: {info.error}")


def run_tiny(plugins: Iterable[Any] = (), config: dict[str, Any] | None = None, *, runs_dir: Path | str | None = None,
             expect: str | None = "completed") -> TinyRun:
    """Train a tiny seeded run in this process through the lab's real path (config validation, run store,
    training loop, your generators each epoch) with ``plugins`` registered beside the installed ones.

    ``config``: fields over :func:`tiny_run_config` (e.g. ``{"artifacts": ["mine"]}``; one the lab refuses
    raises :class:`ConfigRefused`); ``runs_dir``: where (default: a new temporary folder); ``expect``: the
    status it must end with (None: any)."""
    plugins = list(plugins)
    pm = manager_with(plugins)
    _loaded(pm, plugins)
    return _train(pm, config, runs_dir, expect)


def _train(pm: Any, config: dict[str, Any] | None, runs_dir: Path | str | None, expect: str | None) -> TinyRun:
    import tempfile

    from ..launch import ConfigError, prepare_run
    from ..store.runs import RunStore
    from ..engine.training import execute_run

    store = RunStore(runs_dir if runs_dir is not None else tempfile.mkdtemp(prefix="latentdeck-tiny-"))
    try:
        stored = prepare_run(pm, {**tiny_run_config(), **(config or {})})
    except ConfigError as exc:
        raise ConfigRefused(str(exc)) from exc
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    run = TinyRun(run_dir, stored["run_id"], execute_run(run_dir, pm=pm), pm)
    if expect is not None and run.status != expect:
        raise AssertionError(f"the tiny run ended {run.status}, not {expect}; its failures: {run.failures()}")
    return run


def backfill(run: TinyRun | Path | str, plugins: Iterable[Any] = (), **selection: Any) -> dict[str, Any]:
    """Compute what is missing of a finished run (``epochs=``, ``projections=``, ``artifacts=`` narrow it),
    in this process, with ``plugins`` registered; returns ``{"epochs", "written", ...}``."""
    from ..engine.backfill import backfill as run_backfill

    run_dir = run.dir if isinstance(run, TinyRun) else Path(run)
    return run_backfill(run_dir, pm=manager_with(plugins), **selection)


def ask(run: TinyRun | Path | str, name: str, plugins: Iterable[Any] = (), **request: Any) -> dict[str, Any]:
    """Ask a finished run for computation ``name`` in this process, through the path the API takes; returns the
    answer ``{"folder", "files", "created", "payload", "notes"}`` (a refusal raises ``OnDemandError``)."""
    from ..engine import computations

    ctx = asking_context(run, name, plugins)
    spec = ctx.spec
    if spec.request is None:
        raise KeyError(f"computation {name!r} cannot be asked for: it declares no request model")
    return computations.run(spec, ctx, spec.request.model_validate(request)).as_json()


def asking_context(run: TinyRun | Path | str, name: str, plugins: Iterable[Any] = (), *, pm: Any = None,
                   heard: list | None = None, models: Any = None) -> Any:
    """The run context computation ``name`` gets when a person asks for it (built as the API builds it), to call
    its ``compute`` or its helpers directly. ``pm``: a plugin manager to use instead of ``plugins``; ``heard``: a
    list that collects ``(name, epoch)`` of each file the computation announces; ``models``: a shared cache of
    loaded epochs (to count loads)."""
    from ..engine import computations
    from ..engine.epochs import EpochModels
    from ..registry import collect

    pm = pm if pm is not None else manager_with(plugins)
    run_dir = run.dir if isinstance(run, TinyRun) else Path(run)
    ctx = computations.context_for(run_dir, collect(pm, "computations")[name], pm, models or EpochModels())
    if heard is not None:
        ctx.events = _Heard(heard)
    return ctx


class Asker:
    """Asks computation ``name`` of a run through the host's one path (as HTTP and the CLI do), each call with a
    fresh context: ``ask(request)`` returns the host's answer (``files``, ``created``, ``payload``, ``notes``);
    ``heard`` lists the ``(file, epoch)`` each call announced, ``computed`` counts the calls that reached
    ``compute`` (a repeat the host serves from disk does not), and one cache of loaded epochs is shared."""

    def __init__(self, run: TinyRun | Path | str, name: str, plugins: Iterable[Any] = (), *, pm: Any = None):
        from ..engine.epochs import EpochModels

        self.run_dir = run.dir if isinstance(run, TinyRun) else Path(run)
        self.name, self.pm = name, pm if pm is not None else manager_with(plugins)
        self.heard: list = []
        self.computed = 0
        self.models = EpochModels()

    def ask(self, request: Any) -> Any:
        from ..engine.computations import run

        ctx = asking_context(self.run_dir, self.name, pm=self.pm, heard=self.heard, models=self.models)
        spec = ctx.spec

        def counted(c: Any, r: Any) -> Any:
            self.computed += 1
            return spec.compute(c, r)
        return run(dataclasses.replace(spec, compute=counted), ctx, request)


class _Heard:
    """An event sink keeping ``(name, epoch)`` of each ``artifact.created``."""

    def __init__(self, heard: list):
        self.heard = heard

    def emit(self, type: str, data: dict[str, Any]) -> None:
        if type == "artifact.created":
            self.heard.append((data["name"], data["epoch"]))


def client(plugins: Iterable[Any] = (), runs_dir: Path | str | None = None) -> Any:
    """A FastAPI ``TestClient`` over the lab's API with ``plugins`` registered, serving ``runs_dir`` (a
    :class:`TinyRun`'s ``dir.parent``); use it as ``with client([plugin], runs) as http: http.get(...)``."""
    import tempfile

    from fastapi.testclient import TestClient

    from ..api.app import create_app

    runs = Path(runs_dir) if runs_dir is not None else Path(tempfile.mkdtemp(prefix="latentdeck-runs-"))
    return TestClient(create_app(manager_with(plugins), runs, ui_dir=runs / "no-ui"))


# --- fixtures -----------------------------------------------------------------------------------

@_fixture
def plugin_manager(monkeypatch):
    """A fresh plugin manager: every installed plugin plus the tiny dataset (also for workers)."""
    from ..registry import get_plugin_manager

    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    # A server started by a test must not spend ~40 s of CPU warming UMAP in the background;
    # the warm-worker tests turn it back on themselves.
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")
    # the process-wide manager (the CLI's) is rebuilt with the tiny dataset, and forgotten after the test
    get_plugin_manager.cache_clear()
    yield manager_with()
    get_plugin_manager.cache_clear()


@_fixture
def _managers() -> list[Any]:
    """The managers ``plugin_manager_with`` built in this test (``trained_run`` trains with the last one)."""
    return []


@_fixture
def plugin_manager_with(monkeypatch, _managers):
    """``plugin_manager_with(*modules)``: a fresh manager with every installed plugin, the tiny dataset and
    ``modules`` (your plugin's modules). A module an installed entry point already loaded is not registered
    twice, so the same test works before and after ``pip install`` of your package. ``trained_run`` in the
    same test trains with the manager built last. Workers started in other processes see installed plugins
    only (or set ``LATENTDECK_EXTRA_PLUGINS`` to your module's path)."""
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")

    def make(*modules: Any):
        _managers.append(manager_with(modules))
        return _managers[-1]

    return make


@_fixture
def runs_dir(tmp_path) -> Path:
    """An empty runs folder for this test (``RunStore(runs_dir)``, ``--runs-dir``)."""
    path = tmp_path / "runs"
    path.mkdir()
    return path


@_fixture
def tiny_config() -> dict[str, Any]:
    """A run config that trains the AE on tiny-digits in about a second (:func:`tiny_run_config`)."""
    return tiny_run_config()


def tiny_run_config() -> dict[str, Any]:
    """A run config that trains the AE on tiny-digits in about a second."""
    return {"model": "ae", "dataset": TINY, "epochs": 2, "batch_size": 64, "seed": 0, "projections": ["first-dims"],
            "viz_subset_size": 32, "num_threads": 1,
            "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}}


TINY_GMVAE_OPTIONS = {"latent_dim": 4, "channels": [8, 8], "num_components": 3}


@_fixture
def trained_run(plugin_manager, runs_dir, tiny_config, _managers):
    """A factory: ``trained_run(model="ae", **config_overrides)`` trains a tiny run to ``completed``
    in-process (about a second) and returns its run folder. It trains with the manager ``plugin_manager_with``
    built last in this test (your modules), else with ``plugin_manager``. ``model="gmvae"`` uses small GM-VAE
    options."""

    def make(model: str = "ae", **overrides: Any) -> Path:
        config = {**tiny_config, "model": model}
        if model == "gmvae":
            config["model_options"] = dict(TINY_GMVAE_OPTIONS)
        config.update(overrides)
        return _train(_managers[-1] if _managers else plugin_manager, config, runs_dir, "completed").dir

    return make
