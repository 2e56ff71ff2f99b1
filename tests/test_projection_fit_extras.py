"""The engine offers a projection's fit ``epoch=`` and ``init_params=`` only when the fit names them (or takes
**kwargs), so older fits keep working; the PCA plugin names the epoch its carried basis comes from."""

from __future__ import annotations

from latentdeck.engine.projections import fit_extras
from latentdeck.kit.atomic import read_json


def test_only_the_arguments_a_fit_names_are_offered():
    def old(latents, dims, seed, options, init):
        return None

    def wants_epoch(latents, dims, seed, options, init, epoch=None):
        return None

    def takes_all(latents, dims, seed, options, init, **rest):
        return None

    assert fit_extras(old, 3, {"a": 1}) == {}
    assert fit_extras(wants_epoch, 3, {"a": 1}) == {"epoch": 3}
    assert fit_extras(takes_all, 3, None) == {"epoch": 3, "init_params": None}


def test_pca_files_name_the_epoch_of_their_basis_in_a_run_and_after_backfill(trained_run, plugin_manager):
    from latentdeck.engine.backfill import backfill

    run_dir = trained_run("ae", epochs=3, projections=["pca"], artifacts=[])
    bases = [read_json(run_dir / f"projections/latent_2d_epoch_{e}.json")["params"]["basis"] for e in (1, 2, 3)]
    assert bases[0]["source"] == "own" and bases[0]["from_epoch"] == 1
    for epoch, basis in zip((2, 3), bases[1:]):
        expected = epoch if basis["source"] == "own" else epoch - basis["carried_for"]
        assert basis["from_epoch"] == expected, (epoch, basis)
    (run_dir / "projections/latent_2d_epoch_3.json").unlink()  # backfill reloads epoch 2's file, refits epoch 3 from it
    backfill(run_dir, pm=plugin_manager, epochs=[2, 3], projections=["pca"], artifacts=[])
    again = read_json(run_dir / "projections/latent_2d_epoch_3.json")["params"]["basis"]
    assert again["from_epoch"] == bases[2]["from_epoch"] and again["carried_for"] == bases[2]["carried_for"]
