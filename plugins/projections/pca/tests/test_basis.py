"""The carried PCA basis: the map stays put while the latent space only turns, says which basis it
shows and how much variance that keeps, refreshes when it keeps clearly less, and stays exact."""

from __future__ import annotations

import numpy as np
import pytest

from latentdeck_pca import basis as carrying
from latentdeck_pca.plugin import PCAOptions, fit, restore
from latentdeck_pca.schema import PCAProjectionFile


def file_of(result, latents, epoch=2) -> PCAProjectionFile:
    n, d = latents.shape
    dims = result.coords.shape[1]
    return PCAProjectionFile.model_validate({
        "epoch": epoch, "method": "pca", "dims": dims, "n": n, "latent": "z", "latent_dim": d,
        "indices": list(range(n)), "labels": [0] * n, "coords": result.coords.tolist(), "bounds": [[-1, 1]] * dims,
        "compute_ms": 1.0, "trustworthiness": {"k": 15, "n": n, "value": 1.0}, "params": result.params, **result.extra})


def turned(latents, angle, axes=(0, 2)):
    """The latents turned by ``angle`` in the plane of two latent axes (an orthogonal map: nothing really moved)."""
    q = np.eye(latents.shape[1])
    i, j = axes
    q[[i, i, j, j], [i, j, i, j]] = [np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)]
    return latents @ q


def near_tie(n=400, seed=0):
    """Four latent directions of nearly equal spread: the top-2 principal plane is fragile."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 6)) * np.array([3.0, 2.95, 2.9, 2.85, 0.3, 0.2])


def test_a_latent_space_that_barely_changes_keeps_its_map_where_a_fresh_pca_jumps():
    epoch1 = near_tie()
    # the latent space turns, and axis 2 grows a little past axis 0: the top principal plane changes
    epoch2 = turned(epoch1 * np.array([0.95, 1.0, 1.06, 1.0, 1.0, 1.0]), 0.3, axes=(0, 4))
    first = fit(epoch1, 2, 0)
    carried = fit(epoch2, 2, 0, init=first.coords)
    own = fit(epoch2, 2, 0, PCAOptions(basis="own"), init=first.coords)
    span = np.ptp(first.coords, axis=0).max()
    moved = lambda result: np.median(np.linalg.norm(result.coords - first.coords, axis=1)) / span
    assert moved(carried) < 0.05, moved(carried)
    assert moved(own) > 0.1, moved(own)  # a new principal plane: the clusters would jump
    assert carried.params["basis"]["source"] == "carried" and carried.params["alignment"]["method"] == "carried"
    assert own.params["basis"]["source"] == "own" and own.params["alignment"]["method"] == "procrustes"


def test_the_file_states_the_carried_basis_and_the_variance_its_axes_keep():
    epoch1 = near_tie()
    first = fit(epoch1, 2, 0, epoch=4)
    second = fit(turned(epoch1, 0.2) * 1.01, 2, 0, init=first.coords, epoch=5, init_params=first.params)
    third = fit(turned(epoch1, 0.25) * 1.02, 2, 0, init=second.coords, epoch=6, init_params=second.params)
    assert first.params["basis"]["source"] == "own" and first.params["basis"]["carried_for"] == 0
    assert first.params["basis"]["from_epoch"] == 4
    assert (second.params["basis"]["source"], second.params["basis"]["carried_for"]) == ("carried", 1)
    assert (third.params["basis"]["source"], third.params["basis"]["carried_for"]) == ("carried", 2)
    assert second.params["basis"]["from_epoch"] == third.params["basis"]["from_epoch"] == 4  # named by the host's epoch
    b = third.params["basis"]
    total = np.trace(np.cov(turned(epoch1, 0.25) * 1.02, rowvar=False))
    shown = third.coords.var(0, ddof=1).sum() / total
    assert b["variance_ratio"] == pytest.approx(shown, abs=1e-5)  # the variance of the axes actually shown
    assert b["own_variance_ratio"] == pytest.approx(sum(third.extra["explained_variance_ratio"]), abs=1e-5)
    assert b["variance_ratio"] <= b["own_variance_ratio"] + 1e-9  # no plane keeps more than the principal one
    assert b["variance_ratio"] >= 0.9 * b["own_variance_ratio"]
    assert sum(third.extra["axis_variance_ratio"]) == pytest.approx(b["variance_ratio"], abs=1e-5)
    file_of(third, epoch1, epoch=3)  # the schema accepts it


def test_axes_that_keep_clearly_less_variance_turn_toward_the_own_axes_just_enough():
    rng = np.random.default_rng(3)
    epoch1 = rng.normal(size=(300, 5)) * np.array([4.0, 3.0, 1.0, 1.0, 0.5])
    epoch2 = epoch1 * np.array([0.25, 1 / 3, 4.0, 3.0, 1.0])  # the same points; the spread moved to axes 2 and 3
    first = fit(epoch1, 2, 0)
    second = fit(epoch2, 2, 0, init=first.coords, epoch=2, init_params=first.params)
    b = second.params["basis"]
    assert b["source"] == "carried" and b["carried_for"] == 1 and b["pull"] > 0
    assert b["carried_variance_ratio"] < 0.9 * b["own_variance_ratio"]  # why it was pulled
    assert b["variance_ratio"] >= 0.9 * b["own_variance_ratio"] - 1e-6  # what the pull bought
    # the least pull that is enough: the one before it in the list keeps too little
    centred = epoch2 - epoch2.mean(0)
    total = np.trace(np.cov(epoch2, rowvar=False))
    smaller = carrying.PULLS[carrying.PULLS.index(b["pull"]) - 1]
    weaker = carrying.carried_map(centred, first.coords, smaller)
    assert (centred @ weaker).var(0, ddof=1).sum() / total < 0.9 * b["own_variance_ratio"]
    file_of(second, epoch2)
    # with the bar at 1 % the plain carried axes stay, and the file says how little they keep
    lax = fit(epoch2, 2, 0, PCAOptions(min_variance_share=0.01), init=first.coords)
    assert lax.params["basis"]["source"] == "carried" and lax.params["basis"]["pull"] == 0
    assert lax.params["basis"]["variance_ratio"] == pytest.approx(b["carried_variance_ratio"], abs=1e-5)
    file_of(lax, epoch2)


def test_the_own_axes_replace_a_carried_basis_no_pull_can_save():
    rng = np.random.default_rng(3)
    epoch1 = rng.normal(size=(300, 5)) * np.array([4.0, 3.0, 1.0, 1.0, 0.5])
    epoch2 = epoch1 * np.array([0.25, 1 / 3, 4.0, 3.0, 1.0])
    first = fit(epoch1, 2, 0)
    strict = fit(epoch2, 2, 0, PCAOptions(min_variance_share=1.0), init=first.coords)  # only the own plane keeps 100 %
    b = strict.params["basis"]
    assert (b["source"], b["carried_for"], b["pull"]) == ("own", 0, None)
    assert b["carried_variance_ratio"] < b["own_variance_ratio"]
    assert b["variance_ratio"] == pytest.approx(b["own_variance_ratio"], abs=1e-5)
    assert strict.params["alignment"]["method"] == "procrustes"  # the fresh axes still turned to match
    file_of(strict, epoch2)


@pytest.mark.parametrize("dims", [2, 3])
def test_the_linear_map_places_points_exactly_as_the_carried_coordinates_also_after_a_reload(dims):
    epoch1 = near_tie(seed=dims)
    epoch2 = turned(epoch1, 0.4, axes=(1, 3)) + 0.5  # turned and shifted
    result = fit(epoch2, dims, 0, init=fit(epoch1, dims, 0).coords)
    assert result.params["basis"]["source"] == "carried"
    np.testing.assert_allclose(result.place(epoch2), result.coords, atol=1e-9)
    components = np.array(result.extra["components"])
    np.testing.assert_allclose(components @ components.T, np.eye(dims), atol=1e-5)  # orthonormal: no scaling
    saved = {"coords": result.coords.tolist(), "params": result.params, **result.extra}
    np.testing.assert_allclose(restore(saved).place(epoch2), result.coords, atol=1e-4)  # file rounds to 6 places


def test_fit_is_deterministic_and_the_basis_record_only_labels():
    epoch1 = near_tie()
    epoch2 = turned(epoch1, 0.2)
    first = fit(epoch1, 3, 0, epoch=1)
    a = fit(epoch2, 3, 0, init=first.coords)
    b = fit(epoch2, 3, 5, init=first.coords)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert a.params == b.params and a.extra == b.extra
    c = fit(epoch2, 3, 0, init=first.coords, epoch=2, init_params=first.params)  # the host says where init came from
    np.testing.assert_array_equal(a.coords, c.coords)
    assert a.params["basis"]["source"] == "carried" and a.params["basis"]["carried_for"] is None  # nobody said
    assert (c.params["basis"]["carried_for"], c.params["basis"]["from_epoch"]) == (1, 1)
    file_of(c, epoch2)


def test_backfill_counts_on_from_a_restored_file():
    epoch1 = near_tie()
    first = fit(epoch1, 2, 0, epoch=1)
    second = fit(turned(epoch1, 0.1), 2, 0, init=first.coords, epoch=2, init_params=first.params)
    saved = {"epoch": 2, "coords": np.round(second.coords, 6).tolist(), "params": second.params, **second.extra}
    restored = restore(saved)  # backfill in a new process: the host passes the file's params back
    third = fit(turned(epoch1, 0.15), 2, 0, init=restored.coords, epoch=3, init_params=restored.params)
    assert (third.params["basis"]["carried_for"], third.params["basis"]["from_epoch"]) == (2, 1)
    older = {k: v for k, v in second.params.items() if k != "basis"}  # a file from before bases were recorded
    fourth = fit(turned(epoch1, 0.15), 2, 0, init=restored.coords, epoch=3, init_params=older)
    assert (fourth.params["basis"]["carried_for"], fourth.params["basis"]["from_epoch"]) == (1, 2)


def test_own_basis_and_history_free_options_never_carry():
    epoch1 = near_tie()
    init = fit(epoch1, 2, 0).coords
    for options in (PCAOptions(basis="own"), PCAOptions(alignment="signs"), PCAOptions(sign_reference="loadings")):
        result = fit(turned(epoch1, 0.2), 2, 0, options, init=init)
        assert result.params["basis"]["source"] == "own"
        own = sum(result.extra["explained_variance_ratio"])
        assert result.params["basis"]["variance_ratio"] == pytest.approx(own, abs=1e-5)
    with pytest.raises(ValueError):
        PCAOptions(min_variance_share=0)
