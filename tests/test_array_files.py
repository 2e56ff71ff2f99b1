"""Array files (latentdeck.kit.arrays): the safetensors layout, zero-copy reads, the writer's JSON header beside
them, and ``*_latest`` mirrors that are hard links, not copies."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from latentdeck.engine.writer import ArtifactWriter
from latentdeck.kit.arrays import ArrayFileError, decode, encode, read_arrays, read_artifact, write_arrays


def sample():
    rng = np.random.default_rng(0)
    return {"labels": np.arange(7, dtype=np.uint8), "coords": rng.normal(size=(7, 2)).astype(np.float32),
            "neighbors": rng.integers(0, 7, size=(7, 3)).astype(np.uint16), "trained": np.arange(7) % 2 == 0,
            "indices": np.arange(100, 107, dtype=np.int32)}


def test_round_trip_is_exact_aligned_and_zero_copy():
    arrays = sample()
    data = encode(arrays, {"epoch": 3, "bounds": [[0, 1], [2, 3]], "nan": float("nan")})
    back, meta = decode(data)
    assert meta == {"epoch": 3, "bounds": [[0, 1], [2, 3]], "nan": None}
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype and np.array_equal(back[name], array), name
        assert not back[name].flags.writeable and not back[name].flags.owndata  # a view on the file's bytes
    (size,) = np.frombuffer(data[:8], dtype="<u8")
    header = json.loads(data[8:8 + int(size)])
    start = 8 + int(size)
    assert start % 8 == 0
    for name, info in header.items():
        if name != "__metadata__":  # each array starts at a multiple of its item size (typed-array views in JS)
            assert (start + info["data_offsets"][0]) % arrays[name].dtype.itemsize == 0, name


def test_the_reference_safetensors_reader_opens_our_files(tmp_path):
    numpy_reader = pytest.importorskip("safetensors.numpy")
    arrays = sample()
    write_arrays(tmp_path / "a.safetensors", arrays, {"method": "pca"})
    loaded = numpy_reader.load_file(str(tmp_path / "a.safetensors"))
    assert set(loaded) == set(arrays)
    for name in arrays:
        assert np.array_equal(loaded[name], arrays[name])
    numpy_reader.save_file({"x": np.ones((2, 3), np.float32)}, str(tmp_path / "b.safetensors"))
    ours, _ = read_arrays(tmp_path / "b.safetensors")
    assert np.array_equal(ours["x"], np.ones((2, 3), np.float32))


@pytest.mark.parametrize("damage, said", [
    (lambda d: d[:5], "too short"),
    (lambda d: (10 ** 9).to_bytes(8, "little") + d[8:], "header says"),
    (lambda d: d[:8] + b"]" + d[9:], "not JSON"),
    (lambda d: d[:-4], "does not fit"),
])
def test_a_damaged_file_is_refused_naming_the_problem(damage, said):
    with pytest.raises(ArrayFileError, match=said):
        decode(damage(encode(sample())))


def test_writer_puts_arrays_beside_a_small_json_header_and_links_the_mirror(tmp_path):
    events = []

    class Sink:
        def emit(self, type, data):
            events.append((type, data["name"]))

    writer = ArtifactWriter(tmp_path, 2, "test", events=Sink(), folders=frozenset({"things"}))
    coords = np.linspace(0, 1, 20, dtype=np.float32).reshape(10, 2)
    name = writer.save_json("things", "thing_{tag}.json", {"epoch": 2, "coords": coords, "note": [1, 2]})
    assert name == "things/thing_epoch_2.json"
    header = json.loads((tmp_path / name).read_text())
    assert header["note"] == [1, 2] and "coords" not in header
    assert header["arrays"] == {"file": "thing_epoch_2.safetensors", "format": "safetensors",
                                "names": {"coords": {"dtype": "float32", "shape": [10, 2]}}}
    assert [n for _, n in events] == ["things/thing_epoch_2.safetensors", "things/thing_epoch_2.json"]
    # the mirror is the same file on disk (no second copy), and it points at the epoch's arrays
    epoch_file, latest = tmp_path / name, tmp_path / "things/thing_latest.json"
    assert os.stat(epoch_file).st_ino == os.stat(latest).st_ino
    for path in (epoch_file, latest):
        document = read_artifact(path)
        assert np.array_equal(document["coords"], coords) and document["epoch"] == 2
    # the next epoch's mirror moves on; the older epoch's files stay as they were
    ArtifactWriter(tmp_path, 3, "test", folders=frozenset({"things"})).save_json(
        "things", "thing_{tag}.json", {"epoch": 3, "coords": coords * 2})
    assert np.array_equal(read_artifact(latest)["coords"], coords * 2)
    assert np.array_equal(read_artifact(epoch_file)["coords"], coords)


def test_old_inline_files_read_as_they_are(tmp_path):
    (tmp_path / "old.json").write_text(json.dumps({"epoch": 1, "coords": [[0.5, 1.0]]}))
    assert read_artifact(tmp_path / "old.json") == {"epoch": 1, "coords": [[0.5, 1.0]]}


def test_an_array_file_pointer_outside_its_folder_is_refused(tmp_path):
    (tmp_path / "h.json").write_text(json.dumps({"arrays": {"file": "../x.safetensors"}}))
    with pytest.raises(ArrayFileError, match="beside it"):
        read_artifact(tmp_path / "h.json")
