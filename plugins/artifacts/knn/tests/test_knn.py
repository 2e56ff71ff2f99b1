"""kNN artifacts: latent-space neighbours, extent radii, the file format, and files from real runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import latentdeck.testing
from latentdeck import Projection, ProjectionSpec, hookimpl
from latentdeck.engine.context import RunContext, VizSubset
from latentdeck.kit import read_artifact
from latentdeck.kit.atomic import read_json
from latentdeck.store.events import EventLog, read_events
from latentdeck.launch import prepare_run
from latentdeck.registry import collect, list_plugins, make_plugin_manager, providers
from latentdeck.store.runs import RunStore
from latentdeck.engine.training import execute_run
from latentdeck_knn import plugin as knn
from latentdeck_knn.plugin import KNNOptions, edge_lengths, generate, latent_neighbors, payloads
from latentdeck_knn.schema import KNNArtifact, KNNArtifactV1, check, validate


def brute_force(x, k):
    d = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(d, order, axis=1)


def toy_latents(n=40, seed=0):
    """Two tight latent clusters whose members alternate along the projection's x axis."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    latents = np.where(labels[:, None] == 0, 0.0, 10.0) + rng.normal(size=(n, 5)) * (1 + rng.random((n, 1)))
    projected_2d = np.stack([np.arange(n, dtype=float), np.zeros(n)], 1)  # neighbours here: i-1, i+1
    projected_3d = np.stack([np.arange(n, dtype=float), np.zeros(n), np.arange(n) % 3], 1)
    return latents.astype(np.float32), labels, projected_2d, projected_3d


@pytest.fixture
def context(tmp_path):
    latents, labels, p2, p3 = toy_latents()
    events = EventLog(tmp_path / "events.jsonl", "run-1")
    n = len(latents)
    ctx = RunContext(
        run_id="run-1", run_dir=tmp_path, epoch=3, config={"seed": 0}, model=None, model_spec=None,
        dataset_spec=None, viz=VizSubset(list(range(100, 100 + n)), torch.zeros(n, 1, 28, 28), torch.tensor(labels)),
        outputs={}, generator="knn", options=KNNOptions(k=5), events=events, latents=latents,
        projections={"toy": {2: Projection(p2, {}), 3: Projection(p3, {})}, "flat": {2: Projection(p2, {})}})
    yield ctx
    events.close()


def test_registered_by_the_knn_plugin(plugin_manager):
    spec = collect(plugin_manager, "computations")["knn"]
    assert providers(plugin_manager, "computations")["knn"] == "latentdeck.knn"
    assert spec.requires == {"latents"} and spec.compute is generate and spec.options is KNNOptions
    assert KNNOptions().k == 15 and all(f.description for f in KNNOptions.model_fields.values())


def test_neighbours_are_latent_neighbours_not_projected_ones(context, tmp_path):
    generate(context)
    folder = tmp_path / "neighbors"
    assert sorted(p.name for p in folder.iterdir()) == [
        "knn_flat_epoch_3.json", "knn_flat_epoch_3.safetensors", "knn_flat_latest.json",
        "knn_toy_epoch_3.json", "knn_toy_epoch_3.safetensors", "knn_toy_latest.json"]
    assert (folder / "knn_toy_latest.json").read_bytes() == (folder / "knn_toy_epoch_3.json").read_bytes()
    header = KNNArtifact.model_validate(read_json(folder / "knn_toy_epoch_3.json"))
    assert header.arrays.file == "knn_toy_epoch_3.safetensors" and header.arrays.names["neighbors"].dtype == "uint16"
    doc = read_artifact(folder / "knn_toy_epoch_3.json")
    check(doc)
    assert doc["neighbors"].dtype == np.uint16 and doc["distances"].dtype == np.float32
    assert doc["indices"].dtype == np.int32 and doc["labels"].dtype == np.uint8 and doc["d_k"].dtype == np.float32
    expected, expected_d = brute_force(context.latents.astype(np.float64), 5)
    assert doc["neighbors"].tolist() == expected.tolist()
    np.testing.assert_allclose(doc["distances"], expected_d, atol=1e-5)
    assert all(j % 2 == i % 2 for i, row in enumerate(doc["neighbors"].tolist()) for j in row)  # same latent cluster
    assert not any({i - 1, i + 1} & set(row) for i, row in enumerate(doc["neighbors"].tolist()))  # projected ones
    assert doc["k"] == 5 and doc["n"] == 40 and doc["indices"][0] == 100
    assert doc["epoch"] == 3 and doc["method"] == "toy"
    assert doc["index"]["kind"] == "kd_tree" and doc["index"]["exact"]
    assert set(doc["extent"]) == {"2d", "3d"} and doc["radius_2d"].shape == doc["radius_3d"].shape == (40,)
    assert "edge_lengths" not in doc["extent"]["2d"] and doc["edge_lengths"].startswith("computed by readers")
    flat = read_artifact(folder / "knn_flat_latest.json")  # the mirror's header names the epoch's array file
    assert set(flat["extent"]) == {"2d"} and "radius_3d" not in flat
    assert flat["neighbors"].tolist() == doc["neighbors"].tolist()
    events = [e["data"] for e in read_events(tmp_path / "events.jsonl")]
    assert {e["name"] for e in events} == {"neighbors/knn_toy_epoch_3.json", "neighbors/knn_flat_epoch_3.json",
                                           "neighbors/knn_toy_epoch_3.safetensors",
                                           "neighbors/knn_flat_epoch_3.safetensors"}


def test_an_old_inline_file_still_validates_and_reads(context, tmp_path):
    """Format 1 (every field inline, edge lengths included), as runs before the array files wrote it."""
    doc = payloads(context)["toy"]
    coords = context.projections["toy"][2].coords
    old = {**{key: (value.tolist() if isinstance(value, np.ndarray) else value) for key, value in doc.items()
              if key not in ("radius_2d", "radius_3d", "edge_lengths")},
           "schema_version": 1, "extent": {"2d": {**doc["extent"]["2d"], "radius": doc["radius_2d"].tolist(),
                                                  "edge_lengths": edge_lengths(coords, doc["neighbors"]).tolist()}}}
    (tmp_path / "old.json").write_text(__import__("json").dumps(old))
    stored = read_json(tmp_path / "old.json")
    assert isinstance(validate(stored), KNNArtifactV1)
    read = read_artifact(tmp_path / "old.json")
    check(read)
    assert np.asarray(read["neighbors"]).tolist() == doc["neighbors"].tolist()
    with pytest.raises(ValueError):
        validate({**stored, "distances": [list(reversed(r)) for r in stored["distances"]]})


def test_every_point_has_k_distinct_other_neighbours_in_ascending_order(context):
    doc = payloads(context)["toy"]
    for i, (row, dist) in enumerate(zip(doc["neighbors"].tolist(), doc["distances"].tolist())):
        assert len(set(row)) == 5 and i not in row
        assert dist == sorted(dist) and dist[-1] == doc["d_k"][i]


def test_extent_radius_is_monotone_in_d_k_and_edge_lengths_are_computed_from_the_projection(context):
    doc = payloads(context)["toy"]
    d_k = doc["d_k"].astype(np.float64)
    for key, dims in (("2d", 2), ("3d", 3)):
        extent = doc["extent"][key]
        radius = doc[f"radius_{key}"].astype(np.float64)
        order = np.argsort(d_k, kind="stable")
        assert (np.diff(radius[order]) >= -1e-6).all()  # monotone in d_k
        np.testing.assert_allclose(radius, extent["scale"] * d_k / doc["d_k_median"], rtol=1e-5, atol=1e-6)
        coords = context.projections["toy"][dims].coords
        nb = doc["neighbors"].astype(np.int64)
        lengths = np.linalg.norm(coords[nb] - coords[:, None, :], axis=-1)
        np.testing.assert_allclose(edge_lengths(coords, doc["neighbors"]), lengths, atol=1e-9)
        assert extent["scale"] == pytest.approx(np.median(lengths), abs=1e-6)
    assert [m["name"] for m in doc["edge_modes"]] == ["extent_gated", "top_k"]
    assert doc["gating"]["kind"] == "exponential" and doc["gating"]["softness"] == 0.5


def test_neighbour_positions_widen_to_int32_above_65536_points():
    from latentdeck_knn.plugin import index_dtype, label_array

    assert index_dtype(65_536) == np.uint16 and index_dtype(65_537) == np.int32
    assert label_array([0, 9]).dtype == np.uint8 and label_array([0, 300]).dtype == np.uint16


def test_duplicate_points_and_k_larger_than_the_subset():
    x = np.zeros((6, 3), dtype=np.float32)
    x[3:] = 1.0
    neighbors, distances, _ = latent_neighbors(x, k=10)
    assert neighbors.shape == (6, 5)
    for i, row in enumerate(neighbors.tolist()):
        assert len(set(row)) == 5 and i not in row
    assert (np.diff(distances, axis=1) >= 0).all()


def test_approximate_rows_that_are_short_or_repeat_a_neighbour_are_redone_exactly(monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 4)).astype(np.float32)
    exact, _ = brute_force(x.astype(np.float64), 3)

    def fake_nndescent(data, k, seed):
        raw = np.concatenate([np.arange(30)[:, None], exact], axis=1)  # self first, like pynndescent
        raw[2] = [5, 2, 5, 5]  # a repeated neighbour
        raw[4] = [4, -1, -1, -1]  # an unfinished row
        raw[7, 0], raw[7, 1:] = exact[7, 0], exact[7]  # self missing, a duplicate
        return raw

    monkeypatch.setattr(knn, "_nndescent", fake_nndescent)
    neighbors, _, info = latent_neighbors(x, k=3, index="nndescent")
    assert info["kind"] == "nndescent" and info["params"]["rows_redone_exactly"] == 3
    assert neighbors.tolist() == exact.tolist()


def test_nothing_is_written_without_projections(context, tmp_path):
    context.projections = {}
    generate(context)
    assert not (tmp_path / "neighbors").exists()


def test_schema_rejects_a_broken_file(context):
    doc = payloads(context)["toy"]
    broken = {**doc, "distances": doc["distances"][:, ::-1]}
    with pytest.raises(ValueError):
        check(broken)
    with pytest.raises(ValueError):
        check({**doc, "neighbors": np.zeros_like(doc["neighbors"])})
    header = {key: value for key, value in doc.items() if not isinstance(value, np.ndarray)}
    names = {key: {"dtype": str(value.dtype), "shape": list(value.shape)} for key, value in doc.items()
             if isinstance(value, np.ndarray)}
    pointer = {"file": "x.safetensors", "format": "safetensors", "names": names}
    assert isinstance(validate({**header, "arrays": pointer}), KNNArtifact)
    with pytest.raises(ValueError):  # neighbour positions must be uint16 at this size
        wide = {**names, "neighbors": {"dtype": "int32", "shape": [40, 5]}}
        validate({**header, "arrays": {**pointer, "names": wide}})
    with pytest.raises(ValueError):  # a radius array for each extent
        validate({**header, "arrays": {**pointer, "names": {k: v for k, v in names.items() if k != "radius_3d"}}})
    assert "arrays" in KNNArtifact.model_json_schema()["properties"]


class MirrorProjection:
    """A third-party projection plugin: the latents' first axes, mirrored."""

    __name__ = "latentdeck-mirror"

    @hookimpl
    def register_projections(self):
        def fit(latents, dims, seed, options, init=None):
            return Projection(-np.asarray(latents[:, :dims], dtype=np.float64), {"mirror": True})

        return [ProjectionSpec(name="mirror", fit=fit, description="first latent axes, mirrored")]


def test_a_third_party_projection_gets_the_same_files_as_the_built_ins(runs_dir, tiny_config, monkeypatch):
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    pm = make_plugin_manager(plugins=[latentdeck.testing, MirrorProjection()])
    listed = {row["name"]: row for row in list_plugins(pm)}
    assert listed["latentdeck-mirror"]["provides"] == {"projections": ["mirror"]}
    assert listed["latentdeck-mirror"]["status"] == "ok"
    config = {**tiny_config, "projections": ["mirror", "pca"], "artifacts": ["knn"],
              "artifact_options": {"knn": {"k": 4}}}
    stored = prepare_run(pm, config)
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=pm) == "completed"
    assert sorted(p.name for p in (run_dir / "projections").glob("*.json")) == sorted(  # + array files
        [f"latent_{d}d_{tag}_mirror.json" for d in (2, 3) for tag in ("epoch_1", "epoch_2", "latest")]
        + [f"latent_2d_{tag}.json" for tag in ("epoch_1", "epoch_2", "latest")]
        + [f"latent_3d_{tag}_pca.json" for tag in ("epoch_1", "epoch_2", "latest")])
    neighbors = run_dir / "neighbors"
    assert sorted(p.name for p in neighbors.iterdir()) == sorted(
        [f"knn_{m}_{tag}.json" for m in ("mirror", "pca") for tag in ("epoch_1", "epoch_2", "latest")]
        + [f"knn_{m}_epoch_{e}.safetensors" for m in ("mirror", "pca") for e in (1, 2)])
    for method in ("mirror", "pca"):
        assert (neighbors / f"knn_{method}_latest.json").read_bytes() == (
            neighbors / f"knn_{method}_epoch_2.json").read_bytes()
        for epoch in (1, 2):
            header = KNNArtifact.model_validate(read_json(neighbors / f"knn_{method}_epoch_{epoch}.json"))
            assert (header.epoch, header.method, header.k, header.n, set(header.extent)) == (
                epoch, method, 4, 32, {"2d", "3d"})
            doc = read_artifact(neighbors / f"knn_{method}_epoch_{epoch}.json")
            check(doc)
            assert doc["indices"].tolist() == read_json(run_dir / "config.json")["viz_indices"]
    failed = [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "artifact.failed"]
    assert not failed
