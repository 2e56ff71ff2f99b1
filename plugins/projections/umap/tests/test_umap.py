"""UMAP projection through one tiny real run (one numba JIT per test process), plus fit() contracts.

Every UMAP-using test shares the module-scoped run below: the first UMAP fit in a process pays
numba's compilation (tens of seconds); later fits on 64 points take well under a second.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import latentdeck.testing
from latentdeck.kit.atomic import read_json
from latentdeck.launch import prepare_run
from latentdeck.registry import collect, make_plugin_manager, providers
from latentdeck.store.runs import RunStore
from latentdeck.engine.training import execute_run
from latentdeck_umap.plugin import UMAPOptions, fit
from latentdeck_umap.schema import UMAPProjectionFile

CONFIG = {"model": "ae", "dataset": latentdeck.testing.TINY, "epochs": 2, "batch_size": 64, "seed": 0,
          "viz_subset_size": 64, "num_threads": 1, "projections": ["umap"], "artifacts": [],
          "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}}


@pytest.fixture(scope="module")
def umap_run(tmp_path_factory):
    pm = make_plugin_manager(plugins=[sys.modules["latentdeck.testing"]])
    stored = prepare_run(pm, CONFIG)
    store = RunStore(tmp_path_factory.mktemp("runs"))
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=pm) == "completed"
    return run_dir


def test_registered_by_the_umap_plugin(plugin_manager):
    spec = collect(plugin_manager, "projections")["umap"]
    assert providers(plugin_manager, "projections")["umap"] == "latentdeck.umap"
    assert spec.dims == (2, 3) and spec.fit is fit and spec.options is UMAPOptions
    defaults = UMAPOptions()
    assert (defaults.n_neighbors, defaults.min_dist, defaults.metric, defaults.warm_start, defaults.n_epochs) == (
        15, 0.1, "euclidean", True, None)
    assert 50 <= defaults.warm_epochs <= 100
    assert all(f.description for f in UMAPOptions.model_fields.values())


def test_run_writes_umap_files_each_epoch_and_records_the_warm_start(umap_run):
    folder = umap_run / "projections"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"latent_{d}d_{tag}_umap.json" for d in (2, 3) for tag in ("epoch_1", "epoch_2", "latest")]
        + [f"latent_{d}d_{tag}_umap.safetensors" for d in (2, 3) for tag in ("epoch_1", "epoch_2")])
    for d in (2, 3):
        latest = folder / f"latent_{d}d_latest_umap.json"
        assert latest.read_bytes() == (folder / f"latent_{d}d_epoch_2_umap.json").read_bytes()
        first = UMAPProjectionFile.model_validate(read_json(folder / f"latent_{d}d_epoch_1_umap.json"))
        second = UMAPProjectionFile.model_validate(read_json(latest))
        assert (first.params.warm_start, first.params.init, first.params.n_epochs) == (False, "spectral", 500)
        assert (second.params.warm_start, second.params.init) == (True, "previous")
        assert second.params.n_epochs == UMAPOptions().warm_epochs
        assert first.n == second.n == 64 and second.dims == d and first.params.random_state == 0
        assert second.trustworthiness.value > 0.5


@pytest.fixture(scope="module")
def latents():
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(4, 6)) * 4
    return (centers[np.arange(64) % 4] + rng.normal(size=(64, 6))).astype(np.float32)


def test_fit_is_deterministic_for_a_seed(umap_run, latents):
    a, b = fit(latents, 2, seed=5), fit(latents, 2, seed=5)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert a.params == b.params and a.params["warm_start"] is False
    c = fit(latents, 2, seed=6)
    assert not np.array_equal(a.coords, c.coords)


def test_warm_start_uses_init_only_when_it_fits_and_is_enabled(umap_run, latents):
    cold = fit(latents, 2, seed=0)
    warm = fit(latents, 2, seed=0, init=cold.coords)
    assert warm.params["warm_start"] is True and warm.params["n_epochs"] == UMAPOptions().warm_epochs
    wrong_shape = fit(latents, 2, seed=0, init=cold.coords[:10])
    disabled = fit(latents, 2, seed=0, options=UMAPOptions(warm_start=False), init=cold.coords)
    assert wrong_shape.params["warm_start"] is False and disabled.params["warm_start"] is False
    np.testing.assert_array_equal(disabled.coords, cold.coords)
    # starting from the previous embedding keeps points near where they were; an unrelated cold fit does not
    other = fit(latents, 2, seed=1)
    assert median_shift(cold.coords, warm.coords) < 0.25
    assert median_shift(cold.coords, warm.coords) < median_shift(cold.coords, other.coords)


def median_shift(a, b) -> float:
    """Median point displacement after scaling both layouts to the unit box (fraction of the span)."""
    unit = lambda c: (c - c.min(0)) / np.ptp(c, axis=0)
    return float(np.median(np.linalg.norm(unit(a) - unit(b), axis=1)))


def test_tiny_subsets_fall_back_to_principal_axes():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    result = fit(x, 3, seed=0)
    assert result.coords.shape == (4, 3) and "fallback" in result.params and result.params["warm_start"] is False


def test_the_fitted_transform_places_new_points_by_their_latent_neighbours(umap_run, latents):
    result = fit(latents, 2, seed=0)
    assert result.transform is not None and result.linear is None and result.can_place
    cluster = np.arange(64) % 4
    near = latents[cluster == 2][:5] + 0.01  # new points next to cluster 2's members
    placed = result.place(near)
    assert placed.shape == (5, 2) and np.isfinite(placed).all()
    centres = np.stack([result.coords[cluster == c].mean(0) for c in range(4)])
    nearest = np.argmin(np.linalg.norm(placed[:, None, :] - centres[None], axis=-1), axis=1)
    assert (nearest == 2).all(), "new points land in the cluster of their latent neighbours"
    np.testing.assert_array_equal(result.place(near), placed)  # deterministic for a seeded reducer


def test_tiny_subsets_fall_back_to_a_linear_map_that_places_new_points():
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    result = fit(x, 2, seed=0)
    np.testing.assert_allclose(result.place(x), result.coords, atol=1e-9)
