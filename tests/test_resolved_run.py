"""A typed run, read once (issue 23 item 6): ``prepare_run`` resolves a request into one frozen
:class:`~latentdeck.types.ResolvedRun`, persisted as ``config.json`` exactly as before, and every later reader
gets it from :func:`latentdeck.store.resolved.load_run`, parsed once per process and version of the file."""

from __future__ import annotations

import copy
import dataclasses
import os
import pickle

import pytest

from latentdeck import ResolvedRun
from latentdeck.engine.training import execute_run
from latentdeck.kit.atomic import read_json, write_json
from latentdeck.launch import prepare_run
from latentdeck.registry import collect, per_epoch
from latentdeck.store.resolved import RunRecordError, load_config, load_run
from latentdeck.store.runs import RunStore
from latentdeck.types.run import OptimizerConfig, RunConfig


def test_prepare_run_resolves_every_component_once(plugin_manager, tiny_config):
    run = prepare_run(plugin_manager, {**tiny_config, "model_options": {**tiny_config["model_options"], "class_weight": 0.5},
                                       "optimizer": {"lr": 0.01}})
    assert isinstance(run, ResolvedRun) and isinstance(run.settings, RunConfig)
    ae = collect(plugin_manager, "models")["ae"]
    assert isinstance(run.model_options, ae.options) and run.model_options.class_weight == 0.5  # parsed, not a dict
    assert isinstance(run.settings.optimizer, OptimizerConfig) and run.settings.optimizer.lr == 0.01
    assert (run.model, run.dataset, run.executor, run.epochs, run.seed) == ("ae", "tiny-digits", "local", 2, 0)
    executors = collect(plugin_manager, "executors")
    assert isinstance(run.executor_options, executors["local"].options)
    for specs, options in ((per_epoch(plugin_manager), run.artifact_options),
                           (collect(plugin_manager, "projections"), run.projection_options)):
        assert set(options) == set(specs)  # every installed one: the run's values over the plugin's defaults
        for name, parsed in options.items():
            assert isinstance(parsed, specs[name].options)
    assert "recon_grid" in run.artifact_options and "first-dims" in run.projection_options
    # it reads like the config.json it persists: the same keys as before
    assert run["run_id"] == run.run_id and run.get("preset") is None and dict(run) == dict(run.config)
    assert {"run_id", "dataset_requested", "dataset_note", "data_dir", "created_at", "latentdeck_version",
            "model_options", "artifact_options", "projection_options", "executor_options"} <= set(run)
    assert run.config["model_options"]["class_weight"] == 0.5 and str(run.data_dir) == run.config["data_dir"]


def test_a_resolved_run_is_frozen(plugin_manager, tiny_config):
    run = prepare_run(plugin_manager, tiny_config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.run_id = "other"
    with pytest.raises(TypeError):
        run.config["seed"] = 3
    with pytest.raises(TypeError):
        run["seed"] = 3
    copied = pickle.loads(pickle.dumps(run))
    assert copied == run and copied.settings == run.settings and copied.model_options == run.model_options
    assert copy.deepcopy(run).artifact_options.keys() == run.artifact_options.keys()
    moved = run.with_fields(viz_indices=[1, 2], train_subset={"indices": [0]}, run_id="x-1")
    assert moved.settings.viz_indices == [1, 2] and moved.train_subset == {"indices": [0]} and moved.run_id == "x-1"
    assert moved["run_id"] == "x-1" and run.settings.viz_indices is None and run.run_id != "x-1"  # a new record


def test_the_store_persists_it_as_before_and_loads_it_back(plugin_manager, runs_dir, tiny_config):
    run = prepare_run(plugin_manager, tiny_config)
    store = RunStore(runs_dir)
    store.create(run)
    run_dir = store.run_dir(run.run_id)
    assert read_json(run_dir / "config.json") == dict(run.config)
    loaded = load_run(run_dir, plugin_manager)
    assert loaded.settings == run.settings and loaded.model_options == run.model_options
    assert dict(loaded.artifact_options) == dict(run.artifact_options)
    assert load_run(run_dir, plugin_manager) is loaded  # cached: config.json is parsed once per process
    assert store.read_config(run.run_id) == dict(run.config)


def test_a_changed_config_is_read_again(plugin_manager, runs_dir, tiny_config):
    run = prepare_run(plugin_manager, tiny_config)
    store = RunStore(runs_dir)
    store.create(run)
    run_dir = store.run_dir(run.run_id)
    first = load_run(run_dir, plugin_manager)
    write_json(run_dir / "config.json", {**dict(run.config), "viz_indices": [5, 6, 7]})
    stat = os.stat(run_dir / "config.json")
    os.utime(run_dir / "config.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    again = load_run(run_dir, plugin_manager)
    assert again is not first and again.settings.viz_indices == [5, 6, 7]
    assert load_config(run_dir)["viz_indices"] == [5, 6, 7]


@pytest.mark.parametrize("model", ["ae", "gmvae"])
def test_training_parses_the_model_options_once(plugin_manager, runs_dir, tiny_config, monkeypatch, model):
    """The form-to-loss path used to validate the model's options (class_weight ...) again on every hop; the
    gmvae's phases (read by the trainer and, each epoch, by the mixture plugin) reuse the parsed options too."""
    from latentdeck.testing import TINY_GMVAE_OPTIONS

    if model == "gmvae":
        tiny_config = {**tiny_config, "model": "gmvae", "model_options": dict(TINY_GMVAE_OPTIONS)}
    options = collect(plugin_manager, "models")[model].options
    calls = []
    original = options.model_validate.__func__

    def counting(cls, *args, **kwargs):
        calls.append(args[0] if args else kwargs)
        return original(cls, *args, **kwargs)

    artifacts = ["recon_grid"] + (["mixture_health"] if model == "gmvae" else [])
    run = prepare_run(plugin_manager, {**tiny_config, "epochs": 2, "projections": [], "artifacts": artifacts})
    store = RunStore(runs_dir)
    store.create(run)
    monkeypatch.setattr(options, "model_validate", classmethod(counting))
    assert execute_run(store.run_dir(run.run_id), pm=plugin_manager) == "completed"
    assert len(calls) == 1, f"the model's options were parsed {len(calls)} times while training"


def test_a_run_whose_model_is_gone_is_refused_naming_it(plugin_manager, runs_dir, tiny_config):
    run = prepare_run(plugin_manager, tiny_config)
    store = RunStore(runs_dir)
    store.create(run)
    run_dir = store.run_dir(run.run_id)
    write_json(run_dir / "config.json", {**dict(run.config), "model": "vanished", "an_old_field": 1})
    with pytest.raises(RunRecordError, match=r"config.json: the run's model 'vanished' is not installed") as caught:
        load_run(run_dir, plugin_manager)
    assert caught.value.status == 409


def test_the_api_names_the_new_place_of_a_moved_field(plugin_manager, runs_dir, tiny_config):
    from fastapi.testclient import TestClient

    from latentdeck.api.app import create_app

    with TestClient(create_app(plugin_manager, runs_dir, ui_dir=runs_dir / "no-ui")) as http:
        answer = http.post("/api/runs", json={**tiny_config, "recon_grid_size": 8})
        assert answer.status_code == 422
        assert "recon_grid_size: this field moved to artifact_options.recon_grid.grid_size" in answer.json()["detail"]
        assert "unknown field" in http.post("/api/runs", json={**tiny_config, "no_such_field": 1}).json()["detail"]
    assert not any(runs_dir.iterdir())
