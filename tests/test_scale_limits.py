"""A whole dataset as one map: viz_subset_size up to what the dataset holds (70,000 for Fashion-MNIST with
viz_split all), refused above it naming the maximum; a run that would not fit on the disk refused when posted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from latentdeck import launch
from latentdeck.cli import main
from latentdeck.engine.training import execute_run
from latentdeck.kit.datasets import write_idx
from latentdeck.launch import ConfigError, check_disk, prepare_run
from latentdeck.launch.limits import BYTES_PER_EPOCH, BYTES_PER_POINT, estimate_run_bytes, viz_subset_maximum
from latentdeck.store.events import read_events
from latentdeck.store.runs import RunStore
from latentdeck.types.run import MAX_VIZ_SUBSET
from latentdeck_fashion_mnist import plugin as fashion

SMALL_AE = {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}


def _write_idx_set(folder: Path, n_train: int = 20, n_test: int = 10) -> None:
    """The four IDX files (gzip'd), named as MNIST, Fashion-MNIST and Debian's packages name them."""
    rng = np.random.default_rng(0)
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte.gz", (np.arange(n_train) % 10).astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", (np.arange(n_test) % 10).astype(np.uint8))


def _config(data_dir: Path, dataset: str = "mnist", **fields) -> dict:
    return {"model": "ae", "dataset": dataset, "data_dir": str(data_dir), "epochs": 1, "batch_size": 8, "seed": 0,
            "num_threads": 1, "model_options": SMALL_AE, **fields}


@pytest.fixture
def mnist_dir(tmp_path) -> Path:
    _write_idx_set(tmp_path / "data" / "MNIST" / "raw")
    return tmp_path / "data"


@pytest.fixture
def debian(tmp_path, monkeypatch) -> Path:
    """Debian's dataset-fashion-mnist layout (/usr/share/datasets/fashion-mnist/*.gz), small."""
    folder = tmp_path / "usr" / "share" / "datasets" / "fashion-mnist"
    _write_idx_set(folder, n_train=30, n_test=12)
    monkeypatch.setattr(fashion, "DEBIAN_DIR", folder)
    return folder


def test_the_maximum_is_the_split_or_both():
    sizes = {"heldout": 10_000, "train": 60_000}
    assert [viz_subset_maximum(s, sizes) for s in ("heldout", "train", "all")] == [10_000, 60_000, 70_000]
    assert MAX_VIZ_SUBSET == 70_000


@pytest.mark.parametrize("split, size, maximum, names", [
    ("heldout", 11, 10, "10 held-out"), ("train", 21, 20, "20 training"), ("all", 31, 30, "10 held-out + 20 training")])
def test_more_points_than_the_split_holds_is_refused_naming_the_maximum(plugin_manager, mnist_dir, split, size,
                                                                       maximum, names):
    with pytest.raises(ConfigError) as info:
        prepare_run(plugin_manager, _config(mnist_dir, viz_split=split, viz_subset_size=size))
    message = str(info.value)
    assert info.value.status == 422
    assert f"at most {maximum}" in message and names in message and "'mnist'" in message
    assert prepare_run(plugin_manager, _config(mnist_dir, viz_split=split, viz_subset_size=maximum))


def test_the_default_size_is_never_refused_on_a_small_split(plugin_manager, mnist_dir):
    stored = prepare_run(plugin_manager, _config(mnist_dir))
    assert stored.settings.viz_subset_size == 512  # 10 held-out digits: the run shows those 10


def test_above_70000_is_refused_by_the_schema(plugin_manager, mnist_dir):
    with pytest.raises(ConfigError, match="less than or equal to 70000"):
        prepare_run(plugin_manager, _config(mnist_dir, viz_split="all", viz_subset_size=70_001))


def test_the_cli_refuses_with_exit_2_and_the_maximum(mnist_dir, tmp_path, capsys, cli_env):
    runs = tmp_path / "runs"
    code = main(["train", "--model", "ae", "--dataset", "mnist", "--data-dir", str(mnist_dir), "--epochs", "1",
                 "--set", "viz_subset_size=11", "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and "at most 10" in err and "viz_split 'all'" in err
    assert not runs.exists() or not any(runs.iterdir())


def test_a_whole_synthetic_dataset_is_one_map(plugin_manager, mnist_dir, tmp_path):
    store = RunStore(tmp_path / "runs")
    stored = prepare_run(plugin_manager, _config(mnist_dir, viz_split="all", viz_subset_size=30, projections=["pca"]))
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    config = json.loads((run_dir / "config.json").read_text())
    assert sorted(config["viz_indices"]) == list(range(10)) and sorted(config["viz_train_indices"]) == list(range(20))
    events = list(read_events(run_dir / "events.jsonl"))
    assert not [e["data"] for e in events if e["type"] == "artifact.failed"]
    created = {e["data"]["name"] for e in events if e["type"] == "artifact.created"}
    assert "projections/latent_2d_epoch_1.json" in created  # PCA's 2-D map
    assert {"neighbors", "distortion", "density", "clusters", "atlas"} <= {name.split("/")[0] for name in created}
    split = _projection_split(run_dir / "projections" / "latent_2d_epoch_1.json")
    assert split.count("heldout") == 10 and split.count("train") == 20


def _projection_split(path: Path) -> list[str]:
    from latentdeck.engine.projections import read_projection

    return list(read_projection(path)["split"])


def test_fashion_mnist_in_debians_layout_is_one_map(plugin_manager, debian, tmp_path):
    data_dir = tmp_path / "data"
    with pytest.raises(ConfigError, match="at most 42"):
        prepare_run(plugin_manager, _config(data_dir, "fashion-mnist", viz_split="all", viz_subset_size=43))
    store = RunStore(tmp_path / "runs")
    stored = prepare_run(plugin_manager, _config(data_dir, "fashion-mnist", viz_split="all", viz_subset_size=42,
                                                 projections=["pca"], artifacts=["cluster_quality"]))
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    config = json.loads((run_dir / "config.json").read_text())
    assert len(config["viz_indices"]) == 12 and len(config["viz_train_indices"]) == 30
    quality = json.loads((run_dir / "clusters" / "cluster_quality_latest.json").read_text())
    assert quality["n"] == 42


def test_the_estimate_grows_with_points_epochs_and_computations():
    base = estimate_run_bytes(10_000, 2, ["pca"], parameters=0)
    assert estimate_run_bytes(20_000, 2, ["pca"], 0) > base and estimate_run_bytes(10_000, 4, ["pca"], 0) > base
    assert estimate_run_bytes(10_000, 2, ["pca", "knn"], 0) - base == 10_000 * 2 * BYTES_PER_POINT + 2 * BYTES_PER_EPOCH
    # a checkpoint per epoch plus latest, of float32 weights and Adam's two moments
    assert estimate_run_bytes(10_000, 2, ["pca"], parameters=1000) - base == 3 * 4 * 1000 * 3


def test_a_run_that_does_not_fit_on_the_disk_is_refused_when_posted(plugin_manager, mnist_dir, tmp_path, monkeypatch):
    store = RunStore(tmp_path / "runs")
    stored = prepare_run(plugin_manager, _config(mnist_dir, epochs=30, projections=["pca"]))
    monkeypatch.setattr(launch, "free_bytes", lambda folder: 5_000_000)
    with pytest.raises(ConfigError) as info:
        launch.start_run(store, plugin_manager, stored)
    message = str(info.value)
    assert info.value.status == 422
    assert "not enough disk" in message and "5.0 MB free" in message and "delete old runs" in message
    assert "fewer epochs" in message and "per epoch" in message
    assert not any((tmp_path / "runs").iterdir())  # nothing written
    monkeypatch.setattr(launch, "free_bytes", lambda folder: 10**12)
    check_disk(plugin_manager, stored, store.root)  # fits: no refusal
    monkeypatch.setattr(launch, "free_bytes", lambda folder: -1)
    check_disk(plugin_manager, stored, store.root)  # unknown free space: no refusal


def test_the_api_refuses_a_run_too_large_for_the_disk_with_422(serve_api, tiny_config, monkeypatch):
    live = serve_api()
    monkeypatch.setattr(launch, "free_bytes", lambda folder: 1_500_000)
    response = live.client.post("/api/runs", json={**tiny_config, "epochs": 10})
    assert response.status_code == 422, response.text
    assert "not enough disk" in response.text and "1.5 MB free" in response.text
    monkeypatch.setattr(launch, "free_bytes", lambda folder: 1_000)  # full already: as when a write finds it so
    response = live.client.post("/api/runs", json=tiny_config)
    assert response.status_code == 507 and "is full" in response.text, response.text
    assert live.client.get("/api/runs").json() == []


def test_a_sweep_is_refused_when_its_runs_together_do_not_fit(plugin_manager, tiny_config, tmp_path, monkeypatch):
    from latentdeck.launch.sweeps import prepare_sweep, start_sweep

    store = RunStore(tmp_path / "runs")
    record, configs = prepare_sweep(plugin_manager, {"config": tiny_config, "seeds": [0, 1, 2]})
    one = launch.estimate_bytes(plugin_manager, configs[0])
    monkeypatch.setattr(launch, "free_bytes", lambda folder: int(one * 2))  # room for one run, not three
    with pytest.raises(ConfigError, match="the sweep's 3 runs together"):
        start_sweep(store, plugin_manager, record, configs)
    assert not [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]


class _Model:
    """Per-example outputs and one model-level tensor (like a mixture prior's means)."""

    def __init__(self):
        import torch

        self.prior_mu = torch.arange(6.0).reshape(3, 2)
        self.calls = []

    def __call__(self, x):
        self.calls.append(len(x))
        return {"recon": x * 2, "z": x.sum(1, keepdim=True), "prior_mu": self.prior_mu}

    def encode(self, x):
        self.calls.append(len(x))
        return x.sum(1, keepdim=True)


def test_a_large_subset_goes_through_the_model_in_chunks(monkeypatch):
    import torch

    from latentdeck.engine import vizsubset

    x = torch.arange(50.0).reshape(25, 2)
    model = _Model()
    whole = vizsubset.forward(model, x)
    assert model.calls == [25]  # up to ONE_BATCH_MAX: one batch, as always
    monkeypatch.setattr(vizsubset, "ONE_BATCH_MAX", 10)
    monkeypatch.setattr(vizsubset, "CHUNK", 3)  # as many rows as prior_mu: the last chunk (1 row) tells them apart
    model.calls.clear()
    chunked = vizsubset.forward(model, x)
    assert model.calls == [3] * 8 + [1]
    assert torch.equal(chunked["recon"], whole["recon"]) and torch.equal(chunked["z"], whole["z"])
    assert torch.equal(chunked["prior_mu"], model.prior_mu)  # taken once, not stacked per chunk
    assert torch.equal(vizsubset.encode(model, x), x.sum(1, keepdim=True))
