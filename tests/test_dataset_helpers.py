"""Tests for latentdeck.kit.datasets, the helpers the dataset plugins share."""

from __future__ import annotations

import gzip
import struct
import threading

import numpy as np
import pytest

from latentdeck.kit.datasets import (
    IDX_FILES, describe_problems, idx_header_ok, idx_magic, idx_problems, split_check, stage_idx_files,
    write_idx,
)


def test_split_check():
    assert split_check("train") == "train" and split_check("heldout") == "heldout"
    for bad in ("test", "val", "", None):
        with pytest.raises(ValueError, match="'train', 'heldout'"):
            split_check(bad)


def test_idx_magic():
    assert idx_magic("train-images-idx3-ubyte") == 2051
    assert idx_magic("t10k-labels-idx1-ubyte.gz") == 2049
    with pytest.raises(ValueError):
        idx_magic("labels.bin")


def test_write_idx_header_plain_and_gz(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
    plain = write_idx(tmp_path / "a-images-idx3-ubyte", images)
    zipped = write_idx(tmp_path / "a-images-idx3-ubyte.gz", images)
    expected = struct.pack(">IIII", 2051, 2, 28, 28) + images.tobytes()
    assert plain.read_bytes() == expected
    assert gzip.decompress(zipped.read_bytes()) == expected
    assert zipped.read_bytes() == write_idx(tmp_path / "b-images-idx3-ubyte.gz", images).read_bytes()  # mtime=0
    with pytest.raises(TypeError):
        write_idx(tmp_path / "c-labels-idx1-ubyte", np.arange(3, dtype=np.int64))


def test_idx_header_ok(tmp_path):
    labels = write_idx(tmp_path / "x-labels-idx1-ubyte.gz", np.zeros(5, np.uint8))
    assert idx_header_ok(labels)
    renamed = tmp_path / "x-images-idx3-ubyte.gz"
    renamed.write_bytes(labels.read_bytes())
    assert not idx_header_ok(renamed)  # a labels file under an images name
    fake_gz = tmp_path / "y-labels-idx1-ubyte.gz"
    fake_gz.write_bytes(struct.pack(">II", 2049, 5))  # right header but not gzip
    assert not idx_header_ok(fake_gz)
    empty = tmp_path / "z-labels-idx1-ubyte"
    empty.write_bytes(b"")
    assert not idx_header_ok(empty)


def test_idx_problems_and_description(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_idx(a / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    write_idx(b / "train-labels-idx1-ubyte.gz", np.zeros(1, np.uint8))
    (b / "t10k-images-idx3-ubyte.gz").write_bytes(b"junk")
    problems = idx_problems([a, b])
    assert problems["t10k-labels-idx1-ubyte"] == "missing"
    assert "not a valid IDX file" in problems["t10k-images-idx3-ubyte"]
    assert set(problems) == {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}
    text = describe_problems(problems)
    assert text.startswith("missing t10k-labels-idx1-ubyte; ") and "junk" not in text
    assert idx_problems([tmp_path / "nowhere"]) == {name: "missing" for name in IDX_FILES}


def test_stage_prefers_raw_then_sources_in_order_and_never_writes_sources(tmp_path):
    raw, src1, src2 = tmp_path / "raw", tmp_path / "s1", tmp_path / "s2"
    one, two = np.full((1, 28, 28), 1, np.uint8), np.full((1, 28, 28), 2, np.uint8)
    write_idx(src1 / "train-images-idx3-ubyte.gz", one)
    write_idx(src2 / "train-images-idx3-ubyte.gz", two)
    write_idx(src2 / "train-labels-idx1-ubyte", np.zeros(1, np.uint8))
    def snapshot():
        return {p.relative_to(tmp_path): p.read_bytes() for folder in (src1, src2) for p in folder.iterdir()}

    before = snapshot()

    missing = stage_idx_files(raw, [src1, src2])
    assert missing == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    assert (raw / "train-images-idx3-ubyte").read_bytes()[16:] == one.tobytes()
    assert (raw / "train-labels-idx1-ubyte").is_file()
    assert snapshot() == before

    # An existing uncompressed file wins and is left alone.
    (raw / "train-images-idx3-ubyte").write_bytes(b"keep")
    stage_idx_files(raw, [src2])
    assert (raw / "train-images-idx3-ubyte").read_bytes() == b"keep"


def test_stage_bad_gzip_raises_and_leaves_no_partial_file(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    good = gzip.compress(struct.pack(">II", 2049, 4) + bytes(4))
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(good[:-6])  # truncated
    with pytest.raises((EOFError, OSError)):
        stage_idx_files(raw, names=["train-labels-idx1-ubyte"])
    assert sorted(p.name for p in raw.iterdir()) == ["train-labels-idx1-ubyte.gz"]


def test_concurrent_staging_is_safe(tmp_path):
    raw = tmp_path / "raw"
    data = np.random.default_rng(0).integers(0, 256, size=(500, 28, 28), dtype=np.uint8)
    write_idx(raw / "train-images-idx3-ubyte.gz", data)
    errors = []

    def work():
        try:
            stage_idx_files(raw, names=["train-images-idx3-ubyte"])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert (raw / "train-images-idx3-ubyte").read_bytes()[16:] == data.tobytes()
    assert sorted(p.name for p in raw.iterdir()) == ["train-images-idx3-ubyte", "train-images-idx3-ubyte.gz"]
