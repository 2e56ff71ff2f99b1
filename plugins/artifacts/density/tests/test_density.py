"""Density grids: closed-form checks of the PCA pushforward, the normalisation, the estimators per
projection kind, the file names and fields, and files from real tiny runs (training and backfill)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from latentdeck import Projection
from latentdeck.artifacts import ArtifactContext, VizSubset
from latentdeck.atomic import read_json
from latentdeck.backfill import backfill
from latentdeck.events import EventLog, read_events
from latentdeck.grids import Grid, gaussian_mixture, kde
from latentdeck.plugins import collect, list_plugins, providers
from latentdeck_density.plugin import DensityOptions, generate
from latentdeck_density.schema import validate
from latentdeck_pca.plugin import fit as pca_fit

GMVAE_LIKE = frozenset({"latents", "gaussian_posterior", "mixture_prior", "mixture"})


def toy_outputs(n=60, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    prior_mu = rng.normal(size=(k, d)) * 3
    component = np.arange(n) % k
    mu = prior_mu[component] + rng.normal(size=(n, d)) * 0.5
    qc = np.full((n, k), 0.05)
    qc[np.arange(n), component] = 1.0
    qc[: n // 2, 0] += 1.0  # the first component is used more than 1/K
    qc /= qc.sum(1, keepdims=True)
    as_t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return {"mu": as_t(mu), "logvar": as_t(rng.normal(size=(n, d)) * 0.3 - 1.0), "qc": as_t(qc),
            "prior_mu": as_t(prior_mu), "prior_logvar": as_t(rng.normal(size=(k, d)) * 0.2)}


def make_context(tmp_path, outputs, projections, capabilities=GMVAE_LIKE, options=None, epoch=2):
    latents = outputs["mu"].numpy() if "mu" in outputs else outputs["z"].numpy()
    n = len(latents)
    return ArtifactContext(
        run_id="run-1", run_dir=tmp_path, epoch=epoch, config={"seed": 0}, model=None,
        model_spec=SimpleNamespace(capabilities=capabilities, latent_name="mu of q(z|x)"), dataset_spec=None,
        viz=VizSubset(list(range(n)), torch.zeros(n, 1, 28, 28), torch.zeros(n, dtype=torch.long)),
        outputs=outputs, generator="density", options=options or DensityOptions(grid_size=48),
        events=EventLog(tmp_path / "events.jsonl", "run-1"), latents=latents, projections=projections)


def gaussian_pdf(u, mean, cov):
    diff = u - mean
    return math.exp(-0.5 * diff @ np.linalg.solve(cov, diff)) / (2 * math.pi * math.sqrt(np.linalg.det(cov)))


def cell_value(doc, row, col):
    return doc["values"][row * doc["grid"]["nx"] + col]


def cell_centre(doc, row, col):
    (x0, _), (y0, _) = doc["bounds"]
    return np.array([x0 + (col + 0.5) * doc["grid"]["cell_width"], y0 + (row + 0.5) * doc["grid"]["cell_height"]])


def test_registered_by_the_density_plugin(plugin_manager):
    spec = collect(plugin_manager, "artifacts")["density"]
    assert providers(plugin_manager, "artifacts")["density"] == "latentdeck.density"
    assert spec.requires == {"latents"} and spec.options is DensityOptions and spec.generate is generate
    assert DensityOptions().grid_size == 128 and all(f.description for f in DensityOptions.model_fields.values())
    assert "latentdeck.density" in {entry["name"] for entry in list_plugins(plugin_manager, all=True)}


def test_pca_prior_density_matches_the_closed_form_projected_mixture(tmp_path):
    outputs = toy_outputs()
    latents = outputs["mu"].numpy()
    pca = pca_fit(latents, 2, 0)
    ctx = make_context(tmp_path, outputs, {"pca": {2: pca}})
    generate(ctx)
    names = sorted(p.name for p in (tmp_path / "density").iterdir())
    assert names == sorted(f"{family}_2d_{tag}_pca.json" for family in ("posterior", "prior", "prior_empirical")
                           for tag in ("epoch_2", "latest"))
    w, offset = pca.linear
    prior_mu, prior_var = outputs["prior_mu"].double().numpy(), outputs["prior_logvar"].double().exp().numpy()
    pbar = outputs["qc"].double().numpy().mean(0)
    for family, weights in (("prior", np.full(3, 1 / 3)), ("prior_empirical", pbar)):
        doc = read_json(tmp_path / "density" / f"{family}_2d_epoch_2_pca.json")
        validate(doc)
        assert doc["source"] == "prior" and doc["prior_kind"] == ("uniform" if family == "prior" else "empirical")
        np.testing.assert_allclose(doc["meta"]["prior_weights"]["weights"], weights, rtol=1e-6)
        assert doc["estimator"] == "exact_pushforward"
        for row, col in ((0, 0), (10, 30), (24, 24), (47, 5), (33, 40)):
            u = cell_centre(doc, row, col)
            expected = sum(weights[c] * gaussian_pdf(u, w @ (prior_mu[c] - offset), w @ np.diag(prior_var[c]) @ w.T)
                           for c in range(3))
            assert cell_value(doc, row, col) == pytest.approx(expected, rel=1e-4, abs=doc["stats"]["max"] * 1e-6)
    posterior = read_json(tmp_path / "density" / "posterior_2d_epoch_2_pca.json")
    validate(posterior)
    assert posterior["source"] == "posterior" and "prior_kind" not in posterior
    mu, var = latents.astype(np.float64), outputs["logvar"].double().exp().numpy()
    u = cell_centre(posterior, 20, 20)
    expected = np.mean([gaussian_pdf(u, w @ (mu[i] - offset), w @ np.diag(var[i]) @ w.T) for i in range(len(mu))])
    assert cell_value(posterior, 20, 20) == pytest.approx(expected, rel=1e-4, abs=posterior["stats"]["max"] * 1e-5)
    assert posterior["bounds"] == [[float(pca.coords[:, a].min()), float(pca.coords[:, a].max())] for a in (0, 1)]
    assert posterior["meta"]["subset_n"] == 60 and posterior["meta"]["compute_ms"] >= 0
    ctx.events.close()


def monte_carlo_mass(means, covs, weights, bounds, n=200_000, seed=1):
    rng = np.random.default_rng(seed)
    component = rng.choice(len(weights), size=n, p=weights)
    points = np.empty((n, 2))
    for c in range(len(weights)):
        chosen = component == c
        points[chosen] = rng.multivariate_normal(means[c], covs[c], size=int(chosen.sum()))
    (x0, x1), (y0, y1) = bounds
    return float(((points[:, 0] >= x0) & (points[:, 0] <= x1) & (points[:, 1] >= y0) & (points[:, 1] <= y1)).mean())


def test_grids_sum_to_the_mass_inside_their_bounds(tmp_path):
    outputs = toy_outputs()
    pca = pca_fit(outputs["mu"].numpy(), 2, 0)
    generate(make_context(tmp_path, outputs, {"pca": {2: pca}}, options=DensityOptions(grid_size=96)))
    doc = read_json(tmp_path / "density" / "prior_2d_latest_pca.json")
    assert doc["stats"]["mass_in_bounds"] == pytest.approx(sum(doc["values"]) * doc["grid"]["cell_area"], rel=1e-5)
    w, offset = pca.linear
    prior_mu, prior_var = outputs["prior_mu"].double().numpy(), outputs["prior_logvar"].double().exp().numpy()
    means = (prior_mu - offset) @ w.T
    covs = np.einsum("ad,md,bd->mab", w, prior_var, w)
    expected = monte_carlo_mass(means, covs, np.full(3, 1 / 3), doc["bounds"])
    assert 0 < expected < 1  # the bounds cut some mass off: the test can tell "mass inside" from "1"
    assert doc["stats"]["mass_in_bounds"] == pytest.approx(expected, abs=0.01)
    # Over bounds that hold everything, the exact mixture and the KDE integrate to 1.
    wide = Grid.over([[-12, 12], [-12, 12]], 160)
    rng = np.random.default_rng(0)
    covs = np.array([[[0.5, 0.2], [0.2, 0.3]], [[0.05, 0.0], [0.0, 0.8]], [[1.0, -0.6], [-0.6, 1.0]]])
    mixture = gaussian_mixture(wide, rng.normal(size=(3, 2)), covs, [0.2, 0.3, 0.5])
    assert mixture.sum() * wide.cell_area == pytest.approx(1.0, abs=1e-3)
    estimate = kde(wide, rng.normal(size=(500, 2)), rng.random(500))
    assert estimate.sum() * wide.cell_area == pytest.approx(1.0, abs=1e-3)


def test_nonlinear_projection_uses_transformed_samples_and_a_kde(tmp_path):
    outputs = toy_outputs()
    latents = outputs["mu"].numpy().astype(np.float64)
    squash = lambda z: np.tanh(np.asarray(z, dtype=np.float64)[:, :2] / 3)  # noqa: E731
    calls = []

    def transform(z):
        calls.append(len(z))
        return squash(z)

    projection = Projection(squash(latents), {}, transform=transform)
    generate(make_context(tmp_path, outputs, {"umap": {2: projection}},
                          options=DensityOptions(grid_size=32, posterior_samples=400, prior_samples=300)))
    docs = {family: validate(read_json(tmp_path / "density" / f"{family}_2d_epoch_2_umap.json"))
            for family in ("posterior", "prior", "prior_empirical")}
    assert {d.estimator for d in docs.values()} == {"kde_transform"}
    assert docs["posterior"].meta.model_extra["samples"] == 360  # stratified: 400 // 60 draws per example
    assert docs["prior"].meta.model_extra["samples"] == 300  # 100 per component
    assert calls == [360, 300], "the two priors share their placed samples"
    assert docs["prior"].values != docs["prior_empirical"].values


def test_a_projection_that_cannot_place_points_gets_no_model_grid_and_a_reason(tmp_path):
    outputs = toy_outputs()
    latents = outputs["mu"].numpy()
    reloaded = Projection(latents[:, :2].astype(np.float64), {})  # no linear map, no transform
    ctx = make_context(tmp_path, outputs, {"pca": {2: pca_fit(latents, 2, 0)}, "umap": {2: reloaded}})
    with pytest.raises(RuntimeError, match="posterior density over umap: the projection cannot place new latent"):
        generate(ctx)
    names = {p.name for p in (tmp_path / "density").iterdir()}
    assert "prior_2d_epoch_2_pca.json" in names and not any(name.endswith("_umap.json") for name in names)


def test_a_model_without_a_posterior_gets_a_labelled_kde_of_its_codes_and_no_prior(tmp_path):
    rng = np.random.default_rng(3)
    z = torch.tensor(rng.normal(size=(50, 3)), dtype=torch.float32)
    reloaded = Projection(z.numpy()[:, :2].astype(np.float64) * 2, {})  # codes need no map
    generate(make_context(tmp_path, {"z": z}, {"umap": {2: reloaded}}, capabilities=frozenset({"latents"})))
    assert sorted(p.name for p in (tmp_path / "density").iterdir()) == [
        "posterior_2d_epoch_2_umap.json", "posterior_2d_latest_umap.json"]
    doc = validate(read_json(tmp_path / "density" / "posterior_2d_epoch_2_umap.json"))
    assert doc.estimator == "kde_codes" and "deterministic codes" in doc.estimator_text
    assert doc.meta.model_extra["points"] == 50


def test_tiny_runs_write_every_family_per_epoch_with_latest_mirrors(trained_run):
    run_dir = trained_run("gmvae", artifacts=["density"])
    folder = run_dir / "density"
    for family in ("posterior", "prior", "prior_empirical"):
        for epoch in (1, 2):
            doc = validate(read_json(folder / f"{family}_2d_epoch_{epoch}_first-dims.json"))
            assert doc.epoch == epoch and doc.grid.nx == doc.grid.ny == 128
            assert doc.meta.subset_n == 32 and doc.estimator == "exact_pushforward"
        latest = folder / f"{family}_2d_latest_first-dims.json"
        assert latest.read_bytes() == (folder / f"{family}_2d_epoch_2_first-dims.json").read_bytes()
    coords = read_json(run_dir / "projections" / "latent_2d_epoch_2_first-dims.json")["bounds"]
    assert read_json(folder / "prior_2d_epoch_2_first-dims.json")["bounds"] == coords
    assert not [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "artifact.failed"]
    ae = trained_run("ae", artifacts=["density"])
    assert sorted(p.name for p in (ae / "density").iterdir()) == [
        "posterior_2d_epoch_1_first-dims.json", "posterior_2d_epoch_2_first-dims.json",
        "posterior_2d_latest_first-dims.json"]


def test_backfill_computes_density_from_checkpoints_with_restored_projections(trained_run, plugin_manager):
    run_dir = trained_run("gmvae", artifacts=["knn"])
    assert not (run_dir / "density").exists()
    result = backfill(run_dir, pm=plugin_manager, artifacts=["density"])
    assert "density/prior_2d_epoch_1_first-dims.json" in result["written"]
    doc = validate(read_json(run_dir / "density" / "prior_2d_latest_first-dims.json"))
    assert doc.epoch == 2 and doc.estimator == "exact_pushforward"
    assert backfill(run_dir, pm=plugin_manager, artifacts=["density"]).get("nothing_missing")


def test_importing_the_plugin_stays_light():
    from latentdeck.testing import heavy_imports_of

    assert heavy_imports_of("latentdeck_density.plugin") == []


def test_cli_backfill_writes_density_and_distortion_and_refuses_an_epoch_without_checkpoint(trained_run, capsys):
    from latentdeck.cli import main as cli
    from latentdeck.plugins import get_plugin_manager

    run_dir = trained_run("gmvae", artifacts=["knn"])
    runs = str(run_dir.parent)
    get_plugin_manager.cache_clear()
    try:
        assert cli(["backfill", run_dir.name, "--runs-dir", runs, "--artifacts", "density,distortion", "--epochs", "7"]) == 2
        assert "no checkpoint for epoch(s) [7]" in capsys.readouterr().err
        assert not (run_dir / "density").exists() and not (run_dir / "distortion").exists()
        assert cli(["backfill", run_dir.name, "--runs-dir", runs, "--artifacts", "density,distortion"]) == 0
    finally:
        get_plugin_manager.cache_clear()
    for epoch in (1, 2):
        validate(read_json(run_dir / "density" / f"prior_empirical_2d_epoch_{epoch}_first-dims.json"))
        assert read_json(run_dir / "distortion" / f"metric_ratio_2d_epoch_{epoch}_first-dims.json")["k"] > 0
