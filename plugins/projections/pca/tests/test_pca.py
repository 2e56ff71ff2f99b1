"""PCA projection: numbers, the sign convention across epochs, and the files of a real run."""

from __future__ import annotations

import numpy as np
import pytest

from latentdeck.kit import read_artifact
from latentdeck.kit.atomic import read_json
from latentdeck.launch import prepare_run
from latentdeck.registry import collect, providers
from latentdeck.store.runs import RunStore
from latentdeck.engine.training import execute_run
from latentdeck_pca.plugin import PCAOptions, fit, loadings_signs
from latentdeck_pca.schema import PCAProjectionFile


def toy(n=200, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, d)) * np.array([5.0, 3.0, 1.5, 0.5, 0.2, 0.1])[:d]).astype(np.float32)


def test_registered_by_the_pca_plugin(plugin_manager):
    spec = collect(plugin_manager, "projections")["pca"]
    assert providers(plugin_manager, "projections")["pca"] == "latentdeck.pca"
    assert spec.dims == (2, 3) and spec.fit is fit and spec.options is PCAOptions
    assert PCAOptions().sign_reference == "previous"
    assert all(f.description for f in PCAOptions.model_fields.values())


@pytest.mark.parametrize("dims", [2, 3])
def test_matches_sklearn_up_to_sign(dims):
    from sklearn.decomposition import PCA

    x = toy()
    result = fit(x, dims, seed=0)
    reference = PCA(n_components=dims).fit(x)
    assert result.coords.shape == (len(x), dims)
    np.testing.assert_allclose(result.extra["explained_variance"], reference.explained_variance_, rtol=1e-5)
    np.testing.assert_allclose(result.extra["explained_variance_ratio"], reference.explained_variance_ratio_, rtol=1e-5)
    np.testing.assert_allclose(np.abs(result.coords), np.abs(reference.transform(x)), atol=1e-4)
    assert result.params["signs_from"] == "loadings"


def test_without_history_each_directions_largest_loading_is_positive():
    x = toy()
    components = np.array(fit(x, 3, seed=0).extra["components"])
    biggest = components[np.arange(3), np.abs(components).argmax(1)]
    assert (biggest > 0).all()
    # the rule undoes an arbitrary eigenvector sign
    flipped = components * np.array([-1, 1, -1])[:, None]
    assert (loadings_signs(flipped) == [-1, 1, -1]).all()


def direction_toy(u, n=300, seed=1):
    """Points spread along the unit direction ``u`` (plus small isotropic noise), in 4-D."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=(n, 1)) * 4.0
    return (t * u + rng.normal(size=(n, len(u))) * 0.1).astype(np.float32), t[:, 0]


def test_axis_signs_do_not_flip_between_two_epochs():
    # Epoch 1's main direction has its largest loading on dimension 1 (negative); after a tiny rotation
    # epoch 2's has it on dimension 0 (positive). The loadings rule alone would mirror the plot.
    u1 = np.array([0.70, -0.714, 0.0, 0.0]); u1 /= np.linalg.norm(u1)
    u2 = np.array([0.714, -0.70, 0.0, 0.0]); u2 /= np.linalg.norm(u2)
    x1, _ = direction_toy(u1)
    x2, _ = direction_toy(u2)  # same points (same seed), slightly rotated latent space

    loadings_only = PCAOptions(sign_reference="loadings")
    e1 = fit(x1, 2, seed=0, options=loadings_only)
    e2 = fit(x2, 2, seed=0, options=loadings_only, init=e1.coords)
    assert np.corrcoef(e1.coords[:, 0], e2.coords[:, 0])[0, 1] < -0.99  # mirrored: what the default avoids

    first = fit(x1, 2, seed=0)  # default: aligned with the previous epoch when there is one
    second = fit(x2, 2, seed=0, init=first.coords)
    assert first.params["signs_from"] == "loadings" and second.params["signs_from"] == "previous"
    for axis in range(2):
        assert np.dot(first.coords[:, axis], second.coords[:, axis]) > 0
    assert np.corrcoef(first.coords[:, 0], second.coords[:, 0])[0, 1] > 0.99
    assert np.median(np.abs(first.coords - second.coords)) < 0.2  # points stay where they were
    # the recorded components carry the signs of the coordinates
    np.testing.assert_allclose((x2 - x2.mean(0)) @ np.array(second.extra["components"]).T, second.coords, atol=1e-4)


def test_init_of_another_shape_falls_back_to_loadings_and_is_deterministic():
    x = toy()
    a = fit(x, 2, seed=0, init=np.zeros((5, 2)))
    b = fit(x, 2, seed=7)
    assert a.params["signs_from"] == "loadings"
    np.testing.assert_array_equal(a.coords, b.coords)


def test_fewer_latent_dimensions_than_axes_gives_zero_axes():
    x = toy(d=2)
    result = fit(x, 3, seed=0)
    assert result.coords.shape == (len(x), 3)
    assert np.allclose(result.coords[:, 2], 0) and result.extra["explained_variance"][2] == 0
    assert sum(result.extra["explained_variance_ratio"]) == pytest.approx(1.0)


def test_a_run_writes_pca_files_each_epoch_with_latest_mirrors(plugin_manager, runs_dir, tiny_config):
    stored = prepare_run(plugin_manager, {**tiny_config, "projections": ["pca"], "artifacts": []})
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    folder = run_dir / "projections"
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        "latent_2d_epoch_1.json", "latent_2d_epoch_2.json", "latent_2d_latest.json",
        "latent_3d_epoch_1_pca.json", "latent_3d_epoch_2_pca.json", "latent_3d_latest_pca.json",
        "latent_2d_epoch_1.safetensors", "latent_2d_epoch_2.safetensors",  # the per-point arrays
        "latent_3d_epoch_1_pca.safetensors", "latent_3d_epoch_2_pca.safetensors"])
    for latest, last in (("latent_2d_latest.json", "latent_2d_epoch_2.json"),
                         ("latent_3d_latest_pca.json", "latent_3d_epoch_2_pca.json")):
        assert (folder / latest).read_bytes() == (folder / last).read_bytes()
    files = {p.name: PCAProjectionFile.model_validate(read_json(p)) for p in folder.glob("*.json")}
    for name, header in files.items():  # the header validates, and so do header plus arrays
        assert header.coords is None and header.arrays.file == name.replace("latest", "epoch_2")[:-5] + ".safetensors"
        loaded = PCAProjectionFile.model_validate(read_artifact(folder / name))
        assert np.shape(loaded.coords) == (32, header.dims)
    assert files["latent_2d_epoch_1.json"].params.signs_from == "loadings"
    assert files["latent_2d_epoch_2.json"].params.signs_from == "previous"
    assert files["latent_3d_epoch_2_pca.json"].dims == 3 and files["latent_3d_epoch_2_pca.json"].n == 32
    indices = read_artifact(folder / "latent_2d_epoch_2.json")["indices"]
    assert indices.dtype == np.int32 and indices.tolist() == read_json(run_dir / "config.json")["viz_indices"]


def test_the_linear_map_reproduces_the_coordinates_and_survives_a_reload():
    from latentdeck_pca.plugin import fit, restore

    rng = np.random.default_rng(2)
    latents = rng.normal(size=(50, 5)) @ rng.normal(size=(5, 5))
    first = fit(latents, 2, 0)
    second = fit(latents + 0.1, 2, 0, init=-first.coords)  # signs aligned with a mirrored history
    assert second.params["signs_from"] == "previous"
    for result in (first, second):
        np.testing.assert_allclose(result.place(latents + (result is second) * 0.1), result.coords, atol=1e-9)
    saved = {"coords": second.coords.tolist(), "params": second.params, **second.extra}
    reloaded = restore(saved)
    np.testing.assert_allclose(reloaded.place(latents + 0.1), second.coords, atol=1e-4)  # file rounds to 6 places


def _orthogonal(d, seed, reflect=False):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    if reflect:
        q[:, 0] *= -1
    return q


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("reflect", [False, True])
def test_procrustes_reproduces_a_rotated_copy_exactly_and_keeps_distances(dims, reflect):
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(dims)
    latents = rng.normal(size=(80, 6)) @ rng.normal(size=(6, 6))
    plain = fit(latents, dims, 0, PCAOptions(sign_reference="loadings"))
    turn = _orthogonal(dims, 5, reflect)
    target = plain.coords @ turn  # the "previous epoch": the same map turned (or mirrored)
    aligned = fit(latents, dims, 0, PCAOptions(basis="own"), init=target)
    np.testing.assert_allclose(aligned.coords, target, atol=1e-9)
    np.testing.assert_allclose(pdist(aligned.coords), pdist(plain.coords), atol=1e-9)  # a rigid motion only
    rotation = np.array(aligned.params["alignment"]["rotation"])
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(dims), atol=1e-5)
    assert aligned.params["alignment"]["reflection"] is bool(np.linalg.det(turn) < 0)
    np.testing.assert_allclose(aligned.place(latents), aligned.coords, atol=1e-9)  # the linear map carries R
    assert aligned.extra["explained_variance"] == plain.extra["explained_variance"]  # still in principal order
    np.testing.assert_allclose(np.array(aligned.extra["principal_components"]), np.array(plain.extra["components"]), atol=1e-6)


def test_procrustes_undoes_axes_that_swap_order_where_sign_flips_cannot():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(300, 2))
    epoch1 = np.c_[base[:, 0] * 1.05, base[:, 1], rng.normal(size=(300, 2)) * 0.05]  # axis 0 barely first
    epoch2 = np.c_[base[:, 0], base[:, 1] * 1.05, rng.normal(size=(300, 2)) * 0.05]  # now axis 1 is first
    first = fit(epoch1, 2, 0)
    signs = fit(epoch2, 2, 0, PCAOptions(alignment="signs"), init=first.coords)
    procrustes = fit(epoch2, 2, 0, PCAOptions(basis="own"), init=first.coords)
    span = np.ptp(first.coords, axis=0).max()
    moved = lambda result: np.median(np.linalg.norm(result.coords - first.coords, axis=1)) / span
    assert moved(signs) > 0.1  # the swapped axes turn the picture by 90 degrees
    assert moved(procrustes) < 0.02  # the latent space barely moved, and neither does the map
    assert procrustes.params["alignment"]["method"] == "procrustes" and signs.params["alignment"]["method"] == "signs"


def test_an_aligned_file_restores_with_its_map():
    from latentdeck_pca.plugin import restore
    from latentdeck_pca.schema import PCAProjectionFile

    rng = np.random.default_rng(4)
    latents = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5))
    aligned = fit(latents, 3, 0, PCAOptions(basis="own"), init=fit(latents, 3, 0).coords @ _orthogonal(3, 1))
    saved = {"coords": aligned.coords.tolist(), "params": aligned.params, **aligned.extra}
    back = restore(saved)
    np.testing.assert_allclose(back.place(latents), aligned.coords, atol=1e-5)
    PCAProjectionFile.model_validate({
        "epoch": 2, "method": "pca", "dims": 3, "n": 40, "latent": "z", "latent_dim": 5, "indices": list(range(40)),
        "labels": [0] * 40, "coords": aligned.coords.tolist(), "bounds": [[-1, 1]] * 3, "compute_ms": 1.0,
        "trustworthiness": {"k": 15, "n": 40, "value": 1.0}, "params": aligned.params, **aligned.extra})
