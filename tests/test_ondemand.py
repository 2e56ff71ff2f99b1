"""Shared on-demand helpers: epoch resolution, the model cache, held-out examples, persist_once."""

from __future__ import annotations

import pytest
import torch

from latentdeck.engine.epochs import EpochModels, heldout_example, resolve_epoch
from latentdeck.engine.writer import persist_once
from latentdeck.kit import OnDemandError


def test_resolve_epoch_and_its_errors(trained_run):
    run_dir = trained_run("ae", epochs=3, checkpoint_every=2)
    assert resolve_epoch(run_dir, None) == 3 and resolve_epoch(run_dir, "latest") == 3
    assert resolve_epoch(run_dir, 2) == 2 and resolve_epoch(run_dir, "2") == 2
    with pytest.raises(OnDemandError, match=r"epoch 1 has no checkpoint; epochs with checkpoints: 2, 3") as err:
        resolve_epoch(run_dir, 1)
    assert err.value.status == 404
    with pytest.raises(OnDemandError, match="whole number") as err:
        resolve_epoch(run_dir, "last")
    assert err.value.status == 422


def test_no_checkpoint_yet(tmp_path):
    with pytest.raises(OnDemandError, match="no checkpoint yet") as err:
        resolve_epoch(tmp_path, None)
    assert err.value.status == 409


def test_epoch_models_caches_and_matches_the_checkpoint(trained_run, plugin_manager):
    run_dir = trained_run("gmvae")
    cache = EpochModels(capacity=1)
    first = cache.get(run_dir, None, plugin_manager)
    assert cache.get(run_dir, 2, plugin_manager) is first and first.epoch == 2
    assert first.model_spec.name == "gmvae" and not first.model.training
    other = cache.get(run_dir, 1, plugin_manager)
    assert other is not first and cache.get(run_dir, 2, plugin_manager) is not first  # capacity 1 evicted it
    x, label = heldout_example(first.config, first.dataset_spec, 5)
    assert x.shape == (1, 1, 28, 28) and 0 <= label < 10
    with torch.no_grad():
        assert torch.equal(first.model(x)["recon"], cache.get(run_dir, 2, plugin_manager).model(x)["recon"])


def test_heldout_example_names_the_valid_range(trained_run, plugin_manager):
    loaded = EpochModels().get(trained_run("ae"), None, plugin_manager)
    with pytest.raises(OnDemandError, match=r"index 64 is outside the held-out split of tiny-digits: use 0\.\.63"):
        heldout_example(loaded.config, loaded.dataset_spec, 64)
    with pytest.raises(OnDemandError, match=r"use 0\.\.63"):
        heldout_example(loaded.config, loaded.dataset_spec, -1)


def test_persist_once_writes_whole_folders_or_nothing(tmp_path):
    target = tmp_path / "samples" / "a"
    calls = []

    def produce(folder):
        calls.append(folder)
        (folder / "x.json").write_text("{}")

    assert persist_once(target, produce) is True and (target / "x.json").is_file()
    assert persist_once(target, produce) is False and len(calls) == 1

    def broken(folder):
        (folder / "half.json").write_text("{")
        raise ValueError("boom")

    with pytest.raises(ValueError):
        persist_once(tmp_path / "samples" / "b", broken)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["a"]
