"""``latentdeck migrate``: a run written in the old format (every field inline in JSON, ``*_latest`` files as
copies) is rewritten in place; the old and the new readers agree on every file, mirrors become links."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from latentdeck.cli import main as cli
from latentdeck.engine import migrate
from latentdeck.engine.projections import read_projection
from latentdeck.kit import ProjectionFile, read_artifact
from latentdeck.kit.atomic import read_json, write_json
from latentdeck.store.runs import read_summary
from latentdeck.testing import run_tiny

FOLDERS = ("projections", "neighbors", "atlas", "density", "distortion")
ARTIFACTS = ["knn", "atlas", "density", "distortion"]


def _lists(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def _old_style(run_dir: Path, rel: str) -> dict:
    """The file as the old writers wrote it: every array inline as a list (kNN radii and edge lengths in
    ``extent``, edge lengths from the projection's coordinates), split as strings."""
    folder = rel.partition("/")[0]
    read = read_projection if folder == "projections" else read_artifact
    saved = read(run_dir / rel, run_dir)
    doc = {k: _lists(v) for k, v in saved.items() if k not in ("arrays", "split_values")}
    if folder == "neighbors" and "neighbors" in doc:
        doc.pop("edge_lengths", None)
        neighbors = np.asarray(doc["neighbors"], dtype=np.int64)
        for key, entry in doc.get("extent", {}).items():
            dims = entry["dims"]
            radius = entry.get("radius", doc.pop(f"radius_{dims}d", None))
            coords = np.asarray(read_projection(run_dir / _projection_of(run_dir, rel, dims), run_dir)["coords"],
                                dtype=np.float64)
            lengths = np.linalg.norm(coords[:, None, :] - coords[neighbors], axis=-1)
            doc["extent"][key] = {**entry, "radius": _lists(radius), "edge_lengths": np.round(lengths, 6).tolist()}
    return doc


def _projection_of(run_dir: Path, knn_rel: str, dims: int) -> str:
    name = knn_rel.rpartition("/")[2][len("knn_"):-len(".json")]  # <method>_<tag>
    method, _, tag = name.rpartition("_epoch_") if "_epoch_" in name else name.rpartition("_latest")
    tag = f"epoch_{tag}" if "_epoch_" in name else "latest"
    if method == "pca" and dims == 2:
        return f"projections/latent_2d_{tag}.json"
    return f"projections/latent_{dims}d_{tag}_{method}.json"


@pytest.fixture(scope="module")
def old_run(tmp_path_factory) -> Path:
    """A tiny real run rewritten by hand in the old format: inline JSON, mirrors as byte copies."""
    runs = tmp_path_factory.mktemp("runs")
    run = run_tiny(config={"artifacts": ARTIFACTS, "projections": ["first-dims", "pca"]}, runs_dir=runs,
                   expect="completed")
    for folder in FOLDERS:
        for path in sorted((run.dir / folder).glob("*.json")):
            rel = path.relative_to(run.dir).as_posix()
            if "latest" not in path.name:
                doc = _old_style(run.dir, rel)
                for copy in [path, *(p for p in path.parent.glob("*latest*.json") if p.samefile(path))]:
                    write_json(copy, doc)  # a new file: links to the epoch file are now separate copies
        for packed in (run.dir / folder).glob("*.safetensors"):
            packed.unlink()
    for path in run.dir.rglob("*latest*"):
        if path.is_file() and os.stat(path).st_nlink > 1:
            data = path.read_bytes()
            path.unlink()
            path.write_bytes(data)
    return run.dir


@pytest.fixture
def run_copy(old_run, tmp_path) -> Path:
    target = tmp_path / "runs" / old_run.name
    shutil.copytree(old_run, target)
    return target


def _arrays_equal(old, new, where):
    if isinstance(new, np.ndarray):
        expected = np.array(old, dtype=np.float64)
        if new.dtype.kind == "f":
            np.testing.assert_allclose(new.astype(np.float64), expected, rtol=1e-6, atol=1e-6, err_msg=where)
        else:
            assert new.tolist() == old, where
    else:
        assert new == old, where


def test_old_run_is_rewritten_and_every_reader_agrees(run_copy, capsys):
    run_dir = run_copy
    before = {p.relative_to(run_dir).as_posix(): read_projection(p, run_dir) if f == "projections" else read_json(p)
              for f in FOLDERS for p in (run_dir / f).glob("*.json")}
    assert all("arrays" not in doc for doc in before.values()) and not list(run_dir.rglob("*.safetensors"))
    assert os.stat(run_dir / "checkpoints/latest.pt").st_nlink == 1
    size_before = migrate.disk_bytes(run_dir)

    assert cli(["migrate", run_dir.name, "--runs-dir", str(run_dir.parent)]) == 0
    printed = capsys.readouterr().out
    size_after = migrate.disk_bytes(run_dir)
    assert f"{size_before:,} bytes -> {size_after:,} bytes" in printed and size_after < size_before / 1.5

    for rel, old in before.items():
        header = read_json(run_dir / rel)
        assert "latest" not in header["arrays"]["file"], rel  # a mirror names its epoch's array file
        assert (run_dir / rel).with_name(header["arrays"]["file"]).is_file(), rel
        read = read_projection if rel.startswith("projections/") else read_artifact
        new = read(run_dir / rel, run_dir)
        for key, value in old.items():
            if key == "extent":
                for dims_key, entry in value.items():
                    assert new["extent"][dims_key] == {"dims": entry["dims"], "scale": entry["scale"]}
                    _arrays_equal(entry["radius"], new[f"radius_{entry['dims']}d"], f"{rel} radius")
                    coords = np.asarray(read_projection(run_dir / _projection_of(run_dir, rel, entry["dims"]),
                                                        run_dir)["coords"], dtype=np.float64)
                    lengths = np.linalg.norm(coords[:, None, :] - coords[new["neighbors"].astype(np.int64)], axis=-1)
                    np.testing.assert_allclose(lengths, entry["edge_lengths"], atol=1e-5)  # computed by readers
                assert new["edge_lengths"] == migrate.EDGE_LENGTHS_TEXT
            else:
                _arrays_equal(value, new[key], f"{rel} {key}")
    projection = read_artifact(run_dir / "projections/latent_2d_epoch_2.json")
    assert projection["coords"].dtype == np.float32 and projection["indices"].dtype == np.int32
    assert projection["labels"].dtype == np.uint8
    knn = read_artifact(run_dir / "neighbors/knn_pca_epoch_2.json")
    assert knn["neighbors"].dtype == np.uint16 and knn["distances"].dtype == np.float32
    for rel in before:
        if rel.startswith("projections/"):
            ProjectionFile.model_validate(read_json(run_dir / rel))  # the header validates
            ProjectionFile.model_validate(read_artifact(run_dir / rel))  # and so does header plus arrays

    for mirror, epoch in (("checkpoints/latest.pt", "checkpoints/epoch_2.pt"),
                          ("projections/latent_2d_latest.json", "projections/latent_2d_epoch_2.json"),
                          ("atlas/atlas_latest.png", "atlas/atlas_epoch_2.png"),
                          ("neighbors/knn_pca_latest.json", "neighbors/knn_pca_epoch_2.json")):
        assert (run_dir / mirror).samefile(run_dir / epoch), mirror
    assert not [p for p in run_dir.rglob("*latest*.safetensors")]

    assert cli(["migrate", run_dir.name, "--runs-dir", str(run_dir.parent)]) == 0  # nothing left to do
    assert "0 files converted" in capsys.readouterr().out and migrate.disk_bytes(run_dir) == size_after


def test_dry_run_changes_nothing_and_estimates_the_bytes(run_copy, capsys):
    snapshot = {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()}
    report = migrate.migrate_run(run_copy, dry_run=True)
    assert {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()} == snapshot
    done = migrate.migrate_run(run_copy)
    assert (report.bytes_after, report.converted, report.linked) == (done.bytes_after, done.converted, done.linked)
    assert done.bytes_after == migrate.disk_bytes(run_copy) and "checkpoints/latest.pt" in done.linked


def test_a_failed_write_leaves_the_old_file_readable(run_copy, monkeypatch):
    real = migrate.write_arrays

    def failing(path, *args, **kwargs):
        if Path(path).name == "latent_2d_epoch_1.safetensors":
            raise OSError(28, "No space left on device")
        return real(path, *args, **kwargs)

    old = (run_copy / "projections/latent_2d_epoch_1.json").read_bytes()
    monkeypatch.setattr(migrate, "write_arrays", failing)
    report = migrate.migrate_run(run_copy)
    assert report.failed and "latent_2d_epoch_1.json" in report.failed[0]
    assert (run_copy / "projections/latent_2d_epoch_1.json").read_bytes() == old
    assert len(read_artifact(run_copy / "projections/latent_2d_epoch_1.json")["coords"]) == 32
    assert "arrays" in read_json(run_copy / "projections/latent_2d_epoch_2.json")  # the others went on


def test_running_runs_are_refused_and_bad_input_is_usage(run_copy, capsys):
    runs = str(run_copy.parent)
    summary = read_summary(run_copy)
    (run_copy / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
    snapshot = {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()}
    assert cli(["migrate", run_copy.name, "--runs-dir", runs]) == 2
    assert "409 Conflict" in capsys.readouterr().err and "running" in migrate.refusal(run_copy)
    assert cli(["migrate", "--all", "--runs-dir", runs]) == 2
    assert {p: p.read_bytes() for p in run_copy.rglob("*") if p.is_file()} == snapshot
    assert cli(["migrate", "--runs-dir", runs]) == 2  # neither runs nor --all
    assert cli(["migrate", "no-such-run", "--runs-dir", runs]) == 2


def test_new_projection_files_use_the_decided_dtypes(trained_run):
    from latentdeck.engine.projections import point_arrays, small_ints

    run_dir = trained_run("gmvae", epochs=1)
    names = read_json(run_dir / "projections/latent_2d_epoch_1_first-dims.json")["arrays"]["names"]
    assert {k: v["dtype"] for k, v in names.items()} == {
        "coords": "float32", "indices": "int32", "labels": "uint8", "component": "uint8"}
    assert names["coords"]["shape"] == [32, 2] and not list(run_dir.rglob("*latest*.safetensors"))
    assert small_ints([0, 255]).dtype == np.uint8 and small_ints([3, 256]).dtype == np.uint16
    assert small_ints([-1, 2]).dtype == np.int32
    arrays = point_arrays(coords=[[0.0, 1.0]], indices=[7], labels=[1], split=["train"], trained=[True])
    assert arrays["split"].tolist() == [1] and arrays["split_values"] == ["heldout", "train"]
    with pytest.raises(ValueError, match="'validation'"):
        point_arrays(coords=[[0.0, 1.0]], indices=[7], labels=[1], split=["validation"], trained=[True])
