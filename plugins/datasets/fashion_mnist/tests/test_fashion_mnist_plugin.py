"""Tests for the ``fashion-mnist`` dataset plugin, with a fake Debian folder of small IDX files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from latentdeck.kit.datasets import IDX_FILES, write_idx
from latentdeck.registry import collect, make_plugin_manager
from latentdeck_fashion_mnist import plugin
from latentdeck.testing import heavy_imports_of


def _fill(folder: Path, gz: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    written = {}
    for prefix, n in (("train", 30), ("t10k", 12)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        written["train" if prefix == "train" else "heldout"] = (images, labels)
    return written


@pytest.fixture
def debian(tmp_path, monkeypatch):
    folder = tmp_path / "usr-share-datasets-fashion-mnist"
    monkeypatch.setattr(plugin, "DEBIAN_DIR", folder)
    return folder


def test_loads_from_the_debian_folder_and_copies_into_data_dir(tmp_path, debian):
    written = _fill(debian)
    before = {p.name: p.read_bytes() for p in debian.iterdir()}
    data_dir = tmp_path / "data"

    assert plugin.availability(data_dir).ok
    for split in ("train", "heldout"):
        result = plugin.load(data_dir, split)
        images, labels = written[split]
        assert result.images.dtype == torch.uint8 and result.labels.dtype == torch.int64
        assert torch.equal(result.images, torch.from_numpy(images))
        assert torch.equal(result.labels, torch.from_numpy(labels.astype(np.int64)))

    raw = data_dir / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_FILES)  # uncompressed, no temp files left
    assert {p.name: p.read_bytes() for p in debian.iterdir()} == before  # Debian's folder untouched

    # Once copied, the Debian folder is no longer needed.
    for p in debian.iterdir():
        p.unlink()
    assert plugin.availability(data_dir).ok
    assert torch.equal(plugin.load(data_dir, "heldout").images, torch.from_numpy(written["heldout"][0]))


def test_files_in_data_dir_need_no_debian_folder(tmp_path, debian):
    written = _fill(tmp_path / "FashionMNIST" / "raw", gz=False)
    assert plugin.availability(tmp_path).ok
    assert torch.equal(plugin.load(tmp_path, "train").labels, torch.from_numpy(written["train"][1].astype(np.int64)))


def test_unavailable_message(tmp_path, debian):
    result = plugin.availability(tmp_path)
    assert result.ok is False
    for needle in (*IDX_FILES, str((tmp_path / "FashionMNIST" / "raw").absolute()), str(debian),
                   "apt-get install dataset-fashion-mnist", "mnist-5k"):
        assert needle in result.reason


def test_load_without_files_fails_helpfully(tmp_path, debian, monkeypatch):
    import torchvision.datasets

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", [(tmp_path / "nowhere").as_uri() + "/"])
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        plugin.load(tmp_path, "heldout")


def test_unknown_split_is_rejected(tmp_path, debian):
    with pytest.raises(ValueError, match="'train', 'heldout'"):
        plugin.load(tmp_path, "test")


def test_registers_in_a_fresh_plugin_manager():
    pm = make_plugin_manager(entrypoints=False, plugins=[plugin])
    spec = collect(pm, "datasets")["fashion-mnist"]
    assert spec.class_names == ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                "Sneaker", "Bag", "Ankle boot")
    assert spec.num_classes == len(spec.class_names) == 10


def test_importing_the_plugin_imports_no_heavy_library():
    assert heavy_imports_of("latentdeck_fashion_mnist.plugin") == []
