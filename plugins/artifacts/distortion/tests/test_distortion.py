"""Distortion maps: the ratio checked by hand on toy latents with known projections, the grid, the
file names and fields, the dependency on the knn artifact, and files from a real tiny run."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from latentdeck import Projection
from latentdeck.engine.artifacts import VizSubset, selected_generators
from latentdeck.engine.context import RunContext
from latentdeck.kit import read_artifact
from latentdeck.kit.atomic import read_json
from latentdeck.engine.backfill import backfill
from latentdeck.store.events import EventLog, read_events
from latentdeck.registry import collect, providers
from latentdeck_distortion.plugin import DistortionOptions, generate, point_ratios
from latentdeck_knn.plugin import KNNOptions
from latentdeck_knn.plugin import generate as knn_generate


def context(tmp_path, latents, projections, generator, options):
    n = len(latents)
    return RunContext(
        run_id="run-1", run_dir=tmp_path, epoch=4, config={"seed": 0}, model=None,
        model_spec=SimpleNamespace(capabilities=frozenset({"latents"}), latent_name="z"), dataset_spec=None,
        viz=VizSubset(list(range(10, 10 + n)), torch.zeros(n, 1, 28, 28), torch.zeros(n, dtype=torch.long)),
        outputs={}, generator=generator, options=options, events=EventLog(tmp_path / "events.jsonl", "run-1"),
        latents=np.asarray(latents, dtype=np.float32), projections=projections)


def run_both(tmp_path, latents, projections, options=None):
    knn_generate(context(tmp_path, latents, projections, "knn", KNNOptions(k=4)))
    generate(context(tmp_path, latents, projections, "distortion", options or DistortionOptions(grid_size=32)))


def test_registered_after_knn(plugin_manager):
    spec = collect(plugin_manager, "computations")["distortion"]
    assert providers(plugin_manager, "computations")["distortion"] == "latentdeck.distortion"
    assert spec.after == {"knn"} and spec.options is DistortionOptions and spec.requires == {"latents"}
    order = [s.name for s in selected_generators(collect(plugin_manager, "computations"), frozenset({"latents"}),
                                                 ["distortion", "knn", "density"])]
    assert order.index("knn") < order.index("distortion")


def test_a_scaled_linear_map_gives_a_constant_ratio(tmp_path):
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(80, 2))
    rotation = np.array([[np.cos(0.7), -np.sin(0.7)], [np.sin(0.7), np.cos(0.7)]])
    coords = 2.5 * latents @ rotation.T + np.array([3.0, -1.0])  # similarity: every distance times 2.5
    run_both(tmp_path, latents, {"sim": {2: Projection(coords, {})}})
    names = sorted(p.name for p in (tmp_path / "distortion").iterdir())
    assert names == ["metric_ratio_2d_epoch_4_sim.json", "metric_ratio_2d_epoch_4_sim.safetensors",
                     "metric_ratio_2d_latest_sim.json"]
    doc = read_artifact(tmp_path / "distortion" / "metric_ratio_2d_epoch_4_sim.json")
    assert doc["values"].dtype == doc["point_ratio"].dtype == np.float32 and doc["point_ratio"].shape == (80,)
    header = read_json(tmp_path / "distortion" / "metric_ratio_2d_epoch_4_sim.json")  # the JSON alone: no arrays
    assert header["arrays"]["names"] == {"values": {"dtype": "float32", "shape": [32 * 32]},
                                         "point_ratio": {"dtype": "float32", "shape": [80]}}
    assert "values" not in header and "point_ratio" not in header
    assert doc["metric"] == "knn_mean_ratio" and doc["k"] == 4 and doc["dims"] == 2
    np.testing.assert_allclose(doc["point_ratio"], 2.5, rtol=1e-5)
    defined = doc["values"][np.isfinite(doc["values"])]  # NaN = an empty cell
    assert len(doc["values"]) == 32 * 32 and doc["grid"]["nx"] == doc["grid"]["ny"] == 32
    assert len(defined) > 500
    np.testing.assert_allclose(defined, 2.5, rtol=1e-5)
    for key in ("min", "max", "median"):
        assert doc["stats"][key] == pytest.approx(2.5, rel=1e-5)
    assert doc["bounds"] == [[float(coords[:, a].min()), float(coords[:, a].max())] for a in (0, 1)]
    assert doc["meta"]["subset_n"] == 80 and doc["meta"]["compute_ms"] >= 0
    assert doc["meta"]["neighbours_from"] == "neighbors/knn_sim_epoch_4.json"


def test_a_knn_file_of_the_old_inline_format_gives_the_same_map(tmp_path):
    """Runs written before the array files keep their knn files as inline JSON lists: the map reads both."""
    import json

    rng = np.random.default_rng(2)
    latents = rng.normal(size=(50, 3))
    projections = {"pca": {2: Projection(latents[:, :2] * 3, {})}}
    run_both(tmp_path, latents, projections)
    new = read_artifact(tmp_path / "distortion" / "metric_ratio_2d_epoch_4_pca.json")
    knn_file = tmp_path / "neighbors" / "knn_pca_epoch_4.json"
    inline = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
              for k, v in read_artifact(knn_file).items() if k != "arrays"}
    knn_file.write_text(json.dumps(inline))
    (tmp_path / "neighbors" / "knn_pca_epoch_4.safetensors").unlink()
    for path in (tmp_path / "distortion").iterdir():
        path.unlink()
    generate(context(tmp_path, latents, projections, "distortion", DistortionOptions(grid_size=32)))
    old = read_artifact(tmp_path / "distortion" / "metric_ratio_2d_epoch_4_pca.json")
    np.testing.assert_array_equal(old["point_ratio"], new["point_ratio"])
    np.testing.assert_array_equal(old["values"], new["values"])


def test_ratio_by_hand_where_the_projection_drops_a_dimension():
    # Four points: latent (0,0,0), (1,0,0), (0,0,2), (1,0,2); projection keeps (x, y) and drops z.
    latents = np.array([[0, 0, 0], [1, 0, 0], [0, 0, 2], [1, 0, 2]], dtype=float)
    coords = latents[:, :2]
    neighbors = [[1, 2], [0, 3], [0, 3], [1, 2]]
    distances = [[1.0, 2.0], [1.0, 2.0], [2.0, np.sqrt(5)], [1.0, 2.0]]
    ratios = point_ratios(coords, neighbors, distances)
    # point 0: projected (1 + 0) / 2 over latent (1 + 2) / 2 = 1/3; point 2: (0 + 1) / (2 + sqrt 5)
    np.testing.assert_allclose(ratios, [1 / 3, 1 / 3, 1 / (2 + np.sqrt(5)), 1 / 3])


def test_squeezed_half_shows_a_lower_ratio_on_the_grid(tmp_path):
    rng = np.random.default_rng(1)
    latents = rng.uniform(-1, 1, size=(300, 2))
    coords = latents.copy()
    coords[:, 0] = np.where(latents[:, 0] < 0, latents[:, 0] * 0.5, latents[:, 0] * 2.0)  # left half squeezed
    run_both(tmp_path, latents, {"warp": {2: Projection(coords, {})}}, DistortionOptions(grid_size=16))
    doc = read_artifact(tmp_path / "distortion" / "metric_ratio_2d_latest_warp.json")
    grid = np.array([np.nan if v is None else v for v in doc["values"]]).reshape(16, 16)
    assert np.nanmean(grid[:, :3]) < 0.9 < 1.3 < np.nanmean(grid[:, -3:])  # an isometry would give 1


def test_without_the_knn_artifact_it_fails_with_the_reason_and_writes_nothing(tmp_path):
    latents = np.random.default_rng(0).normal(size=(20, 3))
    ctx = context(tmp_path, latents, {"pca": {2: Projection(latents[:, :2], {})}}, "distortion", DistortionOptions())
    with pytest.raises(RuntimeError, match=r"neighbors/knn_pca_epoch_4.json is missing: it is written by the 'knn' computation"):
        generate(ctx)
    assert not (tmp_path / "distortion").exists()


def test_tiny_run_writes_distortion_per_epoch_after_knn(trained_run, plugin_manager):
    run_dir = trained_run("ae", artifacts=["distortion", "knn"])
    events = list(read_events(run_dir / "events.jsonl"))
    created = [e["data"]["generator"] for e in events if e["type"] == "artifact.created" and e["data"]["epoch"] == 1]
    assert created.index("knn") < created.index("distortion")
    assert not [e for e in events if e["type"] == "artifact.failed"]
    for tag in ("epoch_1", "epoch_2", "latest"):
        doc = read_artifact(run_dir / "distortion" / f"metric_ratio_2d_{tag}_first-dims.json")
        assert doc["meta"]["subset_n"] == 32 and len(doc["values"]) == 128 * 128
        assert doc["stats"]["min"] <= doc["stats"]["median"] <= doc["stats"]["max"]
    knn = read_artifact(run_dir / "neighbors" / "knn_first-dims_epoch_2.json")
    doc = read_artifact(run_dir / "distortion" / "metric_ratio_2d_epoch_2_first-dims.json")
    projection = read_artifact(run_dir / "projections" / "latent_2d_epoch_2_first-dims.json")  # either format
    expected = point_ratios(np.array(projection["coords"]), knn["neighbors"], knn["distances"])
    np.testing.assert_allclose(doc["point_ratio"], expected, rtol=1e-4)
    # Backfill recomputes a deleted map from the knn file on disk, not from new neighbours.
    for path in (run_dir / "distortion").iterdir():
        path.unlink()
    other = trained_run("ae", artifacts=["knn"])
    result = backfill(other, pm=plugin_manager, artifacts=["distortion"])
    assert "distortion/metric_ratio_2d_epoch_1_first-dims.json" in result["written"]


def test_importing_the_plugin_stays_light():
    from latentdeck.testing import heavy_imports_of

    assert heavy_imports_of("latentdeck_distortion.plugin") == []


def test_the_file_describes_itself_to_the_explorer(tmp_path):
    """The explorer draws any ``scale: ratio`` grid around its median and knows nothing else of this plugin:
    the label, how to read the colours, the words at the scale's ends and the formula come from the file."""
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(60, 3))
    run_both(tmp_path, latents, {"pca": {2: Projection(latents[:, :2] * 2, {})}})
    doc = read_artifact(tmp_path / "distortion" / "metric_ratio_2d_epoch_4_pca.json")
    assert doc["label"] == "distortion (kNN distance ratio)" and doc["scale"] == "ratio"
    assert doc["ends"] == ["squeezed", "stretched"], "below the median the map squeezes, above it stretches"
    assert "stretches" in doc["reading"] and "squeezes" in doc["reading"]
    assert doc["notes"] == [f"Formula: {doc['metric_text']}"] and "ratio_i" in doc["notes"][0]
