"""Tests for the ``mnist`` dataset plugin: small real IDX files read through torchvision's reader."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from latentdeck.kit.datasets import IDX_FILES, write_idx
from latentdeck.registry import collect, make_plugin_manager
from latentdeck_mnist import plugin
from latentdeck.testing import heavy_imports_of

REPO_ROOT = Path(__file__).resolve().parents[4]
T10K_DIR = REPO_ROOT.parent / "shared" / "data" / "mnist-t10k"  # ../shared/data/mnist-t10k from the repo
T10K_MD5 = {  # the official files (FACTS.md, torchvision's MNIST.resources)
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
# Class counts of MNIST's official 10,000-image test set.
T10K_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _pattern(n: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """n distinct 28x28 images (a value ramp that depends on the index) and labels i % 10."""
    idx = np.arange(n).reshape(n, 1, 1)
    rows = np.arange(28).reshape(1, 28, 1)
    cols = np.arange(28).reshape(1, 1, 28)
    images = ((idx * 37 + rows * 7 + cols * 3 + offset) % 256).astype(np.uint8)
    labels = ((np.arange(n) + offset) % 10).astype(np.uint8)
    return images, labels


def _write_split(raw: Path, prefix: str, n: int, offset: int, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    images, labels = _pattern(n, offset)
    suffix = ".gz" if gz else ""
    write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", images)
    write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [False, True], ids=["uncompressed", "gzipped"])
def test_load_returns_exactly_the_written_pixels_and_labels(tmp_path, gz):
    raw = tmp_path / "MNIST" / "raw"
    train_x, train_y = _write_split(raw, "train", 20, 0, gz)
    test_x, test_y = _write_split(raw, "t10k", 10, 5, gz)

    assert plugin.availability(tmp_path).ok

    train = plugin.load(tmp_path, "train")
    heldout = plugin.load(tmp_path, "heldout")
    for split, (x, y) in ((train, (train_x, train_y)), (heldout, (test_x, test_y))):
        assert split.images.dtype == torch.uint8 and split.labels.dtype == torch.int64
        assert split.images.shape == (len(x), 28, 28) and split.labels.shape == (len(y),)
        assert torch.equal(split.images, torch.from_numpy(x))
        assert torch.equal(split.labels, torch.from_numpy(y.astype(np.int64)))
    if gz:  # the .gz files were unpacked next to themselves for torchvision
        assert all((raw / name).is_file() for name in IDX_FILES)


def test_mixed_gz_and_plain_files_load(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    _write_split(raw, "train", 20, 0, gz=True)
    test_x, _ = _write_split(raw, "t10k", 10, 5, gz=False)
    assert plugin.availability(tmp_path).ok
    assert torch.equal(plugin.load(tmp_path, "heldout").images, torch.from_numpy(test_x))


def _assert_helpful(message: str, folder: Path) -> None:
    for name in IDX_FILES:
        assert name in message
    assert str(folder) in message
    assert "mnist-5k" in message and "fashion-mnist" in message
    assert ".gz" in message


def test_unavailable_on_empty_dir_explains_what_to_do(tmp_path):
    result = plugin.availability(tmp_path)
    assert result.ok is False
    _assert_helpful(result.reason, (tmp_path / "MNIST" / "raw").absolute())


def test_partly_present_names_what_is_missing(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    _write_split(raw, "train", 20, 0, gz=True)
    result = plugin.availability(tmp_path)
    assert not result.ok
    assert "missing t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in result.reason


def test_a_file_without_an_idx_header_is_not_available(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    _write_split(raw, "train", 20, 0, gz=False)
    _write_split(raw, "t10k", 10, 5, gz=False)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"<html>not found</html>")
    result = plugin.availability(tmp_path)
    assert not result.ok and "not a valid IDX file" in result.reason


def test_load_on_empty_dir_tries_torchvision_download_then_explains(tmp_path, monkeypatch):
    import torchvision.datasets

    # The real download code runs, against mirrors that fail at once (no network in tests).
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [(tmp_path / "nowhere").as_uri() + "/"])
    with pytest.raises(FileNotFoundError) as info:
        plugin.load(tmp_path, "train")
    _assert_helpful(str(info.value), (tmp_path / "MNIST" / "raw").absolute())
    assert "download" in str(info.value)


def test_unknown_split_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="'train', 'heldout'"):
        plugin.load(tmp_path, "test")


@pytest.mark.skipif(not T10K_DIR.is_dir(), reason=f"real MNIST test split not found at {T10K_DIR}")
def test_real_mnist_test_split_as_heldout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, md5 in T10K_MD5.items():
        shutil.copyfile(T10K_DIR / name, raw / name)
        assert hashlib.md5((raw / name).read_bytes()).hexdigest() == md5
    _write_split(raw, "train", 20, 0, gz=True)  # synthetic: MD5s would not match, hence our own gunzip

    assert plugin.availability(tmp_path).ok
    heldout = plugin.load(tmp_path, "heldout")
    assert heldout.images.shape == (10_000, 28, 28) and heldout.images.dtype == torch.uint8
    assert torch.bincount(heldout.labels, minlength=10).tolist() == T10K_HISTOGRAM
    assert heldout.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]  # the famous first digits
    assert 30 < heldout.images.float().mean().item() < 37  # MNIST's mean pixel is ~33


def test_registers_in_a_fresh_plugin_manager():
    pm = make_plugin_manager(entrypoints=False, plugins=[plugin])
    spec = collect(pm, "datasets")["mnist"]
    assert spec.num_classes == 10 and spec.image_shape == (1, 28, 28)
    assert spec.load is plugin.load and spec.availability is plugin.availability


def test_importing_the_plugin_imports_no_heavy_library():
    assert heavy_imports_of("latentdeck_mnist.plugin") == []
