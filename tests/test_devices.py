"""The run config ``device`` (auto | cpu | cuda), tested on the CPU.

The CUDA path is selected by a fake availability check (``torch.cuda.is_available``; where a run
trains, ``latentdeck.engine.devices.cuda_available``, since torch's Adam consults torch's own check) and ``latentdeck.engine.devices.torch_device`` maps "cuda" onto the CPU. A checkpoint "saved on
a GPU" is simulated by tagging its storages ``cuda:0`` when saving (a torch serialization package), which
a plain ``torch.load`` refuses on this CPU-only machine, exactly as a real GPU checkpoint would be.
"""

from __future__ import annotations

import io
from contextlib import contextmanager

import pytest
import torch

from latentdeck.engine import devices
from latentdeck.kit import read_artifact
from latentdeck.kit.atomic import read_json
from latentdeck.engine.backfill import backfill
from latentdeck.engine.checkpoints import load_model
from latentdeck.cli import main as cli_main
from latentdeck.store.events import read_events
from latentdeck.launch import ConfigError, prepare_run
from latentdeck.engine.epochs import EpochModels
from latentdeck.engine.computations import context_for, run
from latentdeck.registry import collect, get_plugin_manager
from latentdeck.store.runs import RunStore, read_summary
from latentdeck.testing import TINY_GMVAE_OPTIONS
from latentdeck.engine.training import execute_run


def fake_cuda(monkeypatch, available: bool = True) -> list[str]:
    """PyTorch 'sees' a GPU (or not); training on "cuda" then runs on the CPU. Returns the devices asked for."""
    asked: list[str] = []
    real = devices.torch_device

    def mapped(name: str):
        asked.append(name)
        return real("cpu" if name == "cuda" else name)

    # latentdeck's own check, not torch.cuda.is_available: torch's optimizers consult that one too
    monkeypatch.setattr(devices, "cuda_available", lambda: available)
    monkeypatch.setattr(devices, "torch_device", mapped)
    return asked


def train(pm, runs_dir, config):
    store = RunStore(runs_dir)
    stored = prepare_run(pm, config)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=pm) == "completed"
    return run_dir


def events_of(run_dir, kind):
    return [e["data"] for e in read_events(run_dir / "events.jsonl") if e["type"] == kind]


# --- resolving ----------------------------------------------------------------------------------

def test_auto_takes_cuda_when_pytorch_sees_it_and_the_cpu_otherwise(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert [devices.resolve(d) for d in ("auto", None, "cpu", "cuda")] == ["cuda", "cuda", "cpu", "cuda"]
    devices.check_requested("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert [devices.resolve(d) for d in ("auto", None, "cpu")] == ["cpu", "cpu", "cpu"]
    with pytest.raises(devices.DeviceUnavailable, match="device: 'cuda'.*set device to 'auto'.*or 'cpu'"):
        devices.resolve("cuda")
    with pytest.raises(devices.DeviceUnavailable):
        devices.check_requested("cuda")
    devices.check_requested("auto")


def test_config_default_is_auto_and_only_the_three_choices_pass(plugin_manager, tiny_config):
    assert prepare_run(plugin_manager, tiny_config)["device"] == "auto"
    assert prepare_run(plugin_manager, {**tiny_config, "device": "cpu"})["device"] == "cpu"
    with pytest.raises(ConfigError, match="device"):
        prepare_run(plugin_manager, {**tiny_config, "device": "gpu"})


# --- refusing cuda without a GPU, before anything is written ----------------------------------------

def test_cuda_without_a_gpu_is_refused_naming_the_field_and_the_fix(plugin_manager, tiny_config, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="device: 'cuda'.*no CUDA GPU.*'auto'") as refused:
        prepare_run(plugin_manager, {**tiny_config, "device": "cuda"})
    assert refused.value.status == 422
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert prepare_run(plugin_manager, {**tiny_config, "device": "cuda"})["device"] == "cuda"  # as asked


def test_cli_device_cuda_without_a_gpu_exits_2_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    get_plugin_manager.cache_clear()
    runs = tmp_path / "runs"
    try:
        code = cli_main(["train", "--dataset", "tiny-digits", "--epochs", "1", "--device", "cuda",
                         "--runs-dir", str(runs)])
    finally:
        get_plugin_manager.cache_clear()
    err = capsys.readouterr().err
    assert code == 2 and "device: 'cuda'" in err and "'cpu'" in err
    assert not runs.exists() or list(runs.iterdir()) == []


def test_api_device_cuda_without_a_gpu_is_422_and_writes_nothing(serve_api, tiny_config, runs_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    live = serve_api()
    response = live.client.post("/api/runs", json={**tiny_config, "device": "cuda"})
    assert response.status_code == 422, response.text
    assert "device: 'cuda'" in response.json()["detail"] and "'auto'" in response.json()["detail"]
    assert list(runs_dir.iterdir()) == []
    schema = live.client.get("/api/config/schema").json()["properties"]["device"]
    assert schema["enum"] == ["auto", "cpu", "cuda"] and schema["default"] == "auto"


# --- training on the (fake) GPU --------------------------------------------------------------------

@pytest.mark.parametrize("pipeline", ["inline", "process"])
def test_a_cuda_run_records_its_device_and_writes_the_artifacts_a_cpu_run_writes(
        plugin_manager, runs_dir, tiny_config, monkeypatch, pipeline):
    config = {**tiny_config, "artifacts": ["recon_grid"], "artifact_pipeline": pipeline, "checkpoint_every": 2}
    on_cpu = train(plugin_manager, runs_dir, {**config, "device": "cpu"})

    asked = fake_cuda(monkeypatch)
    given: list[tuple[bool, set[str]]] = []
    real_copy = devices.cpu_model

    def recording_copy(model, device):
        copy = real_copy(model, device)
        given.append((copy is not model, {p.device.type for p in copy.parameters()}))
        return copy

    monkeypatch.setattr(devices, "cpu_model", recording_copy)
    on_gpu = train(plugin_manager, runs_dir, config)  # device auto

    assert read_json(on_gpu / "config.json")["device"] == "auto"  # as asked
    started = events_of(on_gpu, "run.started")[0]
    assert started["device"] == "cuda" and started["device_requested"] == "auto"
    assert [m["device"] for m in events_of(on_gpu, "train.metrics")] == ["cuda", "cuda"]
    assert read_summary(on_gpu)["device"] == "cuda" and read_summary(on_gpu)["metrics"]["device"] == "cuda"
    assert read_json(on_gpu / "checkpoints" / "latest.json")["device"] == "cuda"
    assert "cuda" in asked
    if pipeline == "inline":
        assert given == [(True, {"cpu"}), (True, {"cpu"})]  # the generators got a CPU copy each epoch
    else:  # the pipeline process loads each epoch's weights on its CPU: a checkpoint, or (epoch 1) a CPU copy's
        assert given == [(True, {"cpu"})]
    assert events_of(on_cpu, "run.started")[0]["device"] == "cpu" and read_summary(on_cpu)["device"] == "cpu"

    for name in ("reconstructions/recon_grid_epoch_2.json", "reconstructions/recon_grid_epoch_2.png",
                 "projections/latent_2d_epoch_2_first-dims.json"):
        a, b = (on_cpu / name).read_bytes(), (on_gpu / name).read_bytes()
        if name.endswith("first-dims.json"):  # header and arrays (read_artifact), all but the timing
            a, b = ({k: v.tolist() if hasattr(v, "tolist") else v for k, v in read_artifact(d / name).items()
                     if k != "compute_ms"} for d in (on_cpu, on_gpu))
        assert a == b, name


def test_a_gmvae_initialises_its_prior_from_codes_on_the_run_device(plugin_manager, runs_dir, tiny_config,
                                                                     monkeypatch):
    fake_cuda(monkeypatch)
    options = {**TINY_GMVAE_OPTIONS, "pretrain_epochs": 1, "prior_init": "gmm", "prior_init_subset": 100}
    run_dir = train(plugin_manager, runs_dir, {**tiny_config, "model": "gmvae", "model_options": options,
                                               "artifacts": ["mixture_health"]})
    update = events_of(run_dir, "model.update")[0]
    assert update["action"] == "prior_init" and sum(update["group_sizes"]) == 100
    assert read_summary(run_dir)["device"] == "cuda"


def test_cuda_asked_on_a_worker_that_has_no_gpu_fails_the_run_saying_why(plugin_manager, runs_dir, tiny_config,
                                                                          monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the server saw one ...
    store = RunStore(runs_dir)
    stored = prepare_run(plugin_manager, {**tiny_config, "device": "cuda"})
    store.create(stored)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # ... the worker's machine has none
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=plugin_manager) == "failed"
    summary = read_summary(run_dir)
    assert summary["reason"] == "error" and "device: 'cuda'" in summary["error"]
    assert events_of(run_dir, "run.started") == []


# --- a checkpoint from a GPU, read on this CPU-only machine -------------------------------------------

@contextmanager
def saved_as_on_cuda():
    """While active, torch.save tags every CPU storage ``cuda:0`` (as a GPU run's checkpoint is)."""
    from torch import serialization

    def tag(storage):
        return "cuda:0" if storage.device.type == "cpu" else None

    def restore(storage, location):
        return None  # leave restoring to torch's own packages

    serialization.register_package(0, tag, restore)
    entry = next(e for e in serialization._package_registry if e[1] is tag)
    try:
        yield
    finally:
        serialization._package_registry.remove(entry)


def test_a_checkpoint_saved_on_a_gpu_replays_backfills_and_answers_on_demand_on_a_cpu(
        plugin_manager, runs_dir, tiny_config, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run_dir = train(plugin_manager, runs_dir, {**tiny_config, "projection_every": {"first-dims": 0}})
    path = run_dir / "checkpoints" / "epoch_2.pt"
    state = torch.load(path, weights_only=True)
    buffer = io.BytesIO()
    with saved_as_on_cuda():
        torch.save(state, buffer)
    for name in ("epoch_1.pt", "epoch_2.pt", "latest.pt"):
        (run_dir / "checkpoints" / name).write_bytes(buffer.getvalue())
    with pytest.raises(RuntimeError, match="CUDA"):  # the simulation is faithful: without map_location it fails
        torch.load(path, weights_only=True)

    model, meta = load_model(run_dir, plugin_manager, epoch=2)
    assert meta["epoch"] == 2 and {p.device.type for p in model.parameters()} == {"cpu"}
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state["model"].items())

    loaded = EpochModels().get(run_dir, None, plugin_manager)
    assert {p.device.type for p in loaded.model.parameters()} == {"cpu"}
    sampling = collect(plugin_manager, "computations")["sampling"]
    result = run(sampling, context_for(run_dir, sampling, plugin_manager, EpochModels()),
                 sampling.request.model_validate({"idx": 0}))
    assert result.created and result.files

    done = backfill(run_dir, plugin_manager)
    assert "projections/latent_2d_epoch_2_first-dims.json" in done["written"]
