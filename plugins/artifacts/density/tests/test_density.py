"""Density grids: closed-form checks of the PCA pushforward, the normalisation, the estimators per
projection kind, the file names and fields, and files from real tiny runs (training and backfill)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from latentdeck import Projection
from latentdeck.engine.context import RunContext, VizSubset
from latentdeck.kit import read_artifact as read_json  # both formats: header + array file, or inline
from latentdeck.engine.backfill import backfill
from latentdeck.store.events import EventLog, read_events
from latentdeck.kit.grids import Grid, gaussian_mixture, kde
from latentdeck.registry import collect, list_plugins, providers
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
    return RunContext(
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
    spec = collect(plugin_manager, "computations")["density"]
    assert providers(plugin_manager, "computations")["density"] == "latentdeck.density"
    assert spec.requires == {"latents"} and spec.options is DensityOptions and spec.compute is generate
    assert DensityOptions().grid_size == 160 and all(f.description for f in DensityOptions.model_fields.values())
    assert "latentdeck.density" in {entry["name"] for entry in list_plugins(plugin_manager, all=True)}


def test_pca_prior_density_matches_the_closed_form_projected_mixture(tmp_path):
    outputs = toy_outputs()
    latents = outputs["mu"].numpy()
    pca = pca_fit(latents, 2, 0)
    ctx = make_context(tmp_path, outputs, {"pca": {2: pca}})
    generate(ctx)
    names = sorted(p.name for p in (tmp_path / "density").iterdir())
    families = ("posterior", "prior", "prior_empirical", "posterior_minus_prior")
    assert names == sorted([f"{family}_2d_{tag}_pca.json" for family in families for tag in ("epoch_2", "latest")]
                           + [f"{family}_2d_epoch_2_pca.safetensors" for family in families])  # values: float32
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
            # cells beyond a component's 4.5-sigma box leave out at most exp(-4.5^2 / 2) of its peak
            assert cell_value(doc, row, col) == pytest.approx(expected, rel=1e-4, abs=doc["stats"]["max"] * 4.1e-5)
    posterior = read_json(tmp_path / "density" / "posterior_2d_epoch_2_pca.json")
    validate(posterior)
    assert posterior["source"] == "posterior" and "prior_kind" not in posterior
    mu, var = latents.astype(np.float64), outputs["logvar"].double().exp().numpy()
    u = cell_centre(posterior, 20, 20)
    expected = np.mean([gaussian_pdf(u, w @ (mu[i] - offset), w @ np.diag(var[i]) @ w.T) for i in range(len(mu))])
    assert cell_value(posterior, 20, 20) == pytest.approx(expected, rel=1e-4, abs=posterior["stats"]["max"] * 1e-5)
    assert posterior["points_bounds"] == [[float(pca.coords[:, a].min()), float(pca.coords[:, a].max())] for a in (0, 1)]
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
    outputs["prior_logvar"] = outputs["prior_logvar"] + 3.0  # a prior far wider than the codes spills past the grid
    pca = pca_fit(outputs["mu"].numpy(), 2, 0)
    generate(make_context(tmp_path, outputs, {"pca": {2: pca}}, options=DensityOptions(grid_size=96)))
    doc = read_json(tmp_path / "density" / "prior_2d_latest_pca.json")
    assert doc["stats"]["mass_in_bounds"] == pytest.approx(sum(doc["values"]) * doc["grid"]["cell_area"], rel=1e-5)
    w, offset = pca.linear
    prior_mu, prior_var = outputs["prior_mu"].double().numpy(), outputs["prior_logvar"].double().exp().numpy()
    means = (prior_mu - offset) @ w.T
    covs = np.einsum("ad,md,bd->mab", w, prior_var, w)
    expected = monte_carlo_mass(means, covs, np.full(3, 1 / 3), doc["bounds"])
    assert 0.5 < expected < 0.97  # the bounds cut some mass off: the test can tell "mass inside" from "1"
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
        "posterior_2d_epoch_2_umap.json", "posterior_2d_epoch_2_umap.safetensors", "posterior_2d_latest_umap.json"]
    doc = validate(read_json(tmp_path / "density" / "posterior_2d_epoch_2_umap.json"))
    assert doc.estimator == "kde_codes" and "deterministic codes" in doc.estimator_text
    assert doc.meta.model_extra["points"] == 50


def test_tiny_runs_write_every_family_per_epoch_with_latest_mirrors(trained_run):
    run_dir = trained_run("gmvae", artifacts=["density"])
    folder = run_dir / "density"
    for family in ("posterior", "prior", "prior_empirical"):
        for epoch in (1, 2):
            doc = validate(read_json(folder / f"{family}_2d_epoch_{epoch}_first-dims.json"))
            assert doc.epoch == epoch and doc.grid.nx == doc.grid.ny == 160
            assert doc.meta.subset_n == 32 and doc.estimator == "exact_pushforward"
        latest = folder / f"{family}_2d_latest_first-dims.json"
        assert latest.read_bytes() == (folder / f"{family}_2d_epoch_2_first-dims.json").read_bytes()
    coords = read_json(run_dir / "projections" / "latent_2d_epoch_2_first-dims.json")["bounds"]
    assert read_json(folder / "prior_2d_epoch_2_first-dims.json")["points_bounds"] == coords
    difference = validate(read_json(folder / "posterior_minus_prior_2d_epoch_2_first-dims.json"))
    assert difference.source == "difference" and difference.difference.tv_distance > 0
    assert not [e for e in read_events(run_dir / "events.jsonl") if e["type"] == "artifact.failed"]
    ae = trained_run("ae", artifacts=["density"])
    assert sorted(p.name for p in (ae / "density").glob("*.json")) == [
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
    from latentdeck.registry import get_plugin_manager

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


def two_clusters(n=200, spread=0.05, gap=4.0, seed=0):
    """Two tight round clusters ``gap`` apart on the x axis (each ``spread`` wide): (points, centres)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-gap / 2, 0.0], [gap / 2, 0.0]])
    return np.concatenate([c + rng.normal(size=(n, 2)) * spread for c in centres]), centres


def grid_value(grid, density, point):
    xs, ys = grid.centres()
    return density[int(np.abs(ys - point[1]).argmin()), int(np.abs(xs - point[0]).argmin())]


def test_the_chosen_bandwidth_peaks_on_two_tight_clusters_at_their_height_and_not_between():
    from latentdeck_density.estimate import cross_validated_bandwidth, density_on_grid, overlay_grid

    points, centres = two_clusters()
    projection = Projection(points, {})
    grid, _ = overlay_grid(projection, 160, 1.5)
    area = (grid.bounds[0][1] - grid.bounds[0][0]) * (grid.bounds[1][1] - grid.bounds[1][0])
    h, details = cross_validated_bandwidth(points, max(grid.cell_width, grid.cell_height), area)
    true_peak = 0.5 / (2 * math.pi * 0.05 ** 2)  # each cluster holds half the mass

    def verdict(bandwidth):
        density, _ = density_on_grid(grid, None, projection, 0, None, bandwidth=bandwidth)
        on_clusters = min(grid_value(grid, density, c) for c in centres)
        between = grid_value(grid, density, centres.mean(0))
        return on_clusters / true_peak, between / on_clusters

    height, valley = verdict(h)
    assert height > 0.3 and valley < 1e-3, (h, height, valley)
    scott = points.std(0) * len(points) ** (-1 / 6)  # the old rule, per axis
    np.testing.assert_allclose(details["scott"], scott, rtol=1e-6)
    assert h < scott.max() / 10
    # Scott's rule, sized by the whole cloud, smears each cluster to a twentieth of its height: the check fails
    old_height, _ = verdict(None)
    assert old_height < 0.1


def test_ten_clusters_on_a_ring_are_brightest_on_a_cluster_with_the_chosen_bandwidth_not_in_the_middle():
    from latentdeck_density.estimate import cross_validated_bandwidth, density_on_grid, overlay_grid

    rng = np.random.default_rng(1)
    angles = np.arange(10) * 2 * math.pi / 10
    centres = np.stack([np.cos(angles), np.sin(angles)], 1) * 3
    spreads = np.where(np.arange(10) % 2 == 0, 0.08, 0.3)  # tight and loose clusters, like a UMAP map
    points = np.concatenate([c + rng.normal(size=(60, 2)) * s for c, s in zip(centres, spreads)])
    projection = Projection(points, {})
    grid, _ = overlay_grid(projection, 128, 1.5)
    area = (grid.bounds[0][1] - grid.bounds[0][0]) * (grid.bounds[1][1] - grid.bounds[1][0])
    h, _ = cross_validated_bandwidth(points, grid.cell_width, area)
    density, _ = density_on_grid(grid, None, projection, 0, None, bandwidth=h)
    xs, ys = grid.centres()
    row, col = np.unravel_index(density.argmax(), density.shape)
    assert np.linalg.norm(centres - [xs[col], ys[row]], axis=1).min() < 0.3  # the peak is on a cluster
    assert grid_value(grid, density, (0, 0)) < 1e-3 * density.max()  # the ring's middle is empty


def test_every_family_of_a_projection_shares_one_bandwidth_and_states_it(tmp_path):
    outputs = toy_outputs()
    latents = outputs["mu"].numpy().astype(np.float64)
    squash = lambda z: np.tanh(np.asarray(z, dtype=np.float64)[:, :2] / 3)  # noqa: E731
    projection = Projection(squash(latents), {}, transform=squash)
    generate(make_context(tmp_path, outputs, {"umap": {2: projection}},
                          options=DensityOptions(grid_size=48, posterior_samples=400, prior_samples=300)))
    docs = [read_json(tmp_path / "density" / f"{family}_2d_epoch_2_umap.json")
            for family in ("posterior", "prior", "prior_empirical")]
    widths = {tuple(doc["meta"]["bandwidth"]) for doc in docs}
    assert len(widths) == 1 and "leave-one-out" in docs[0]["meta"]["bandwidth_rule"]
    (h, h_y), = widths
    low, high = docs[0]["meta"]["bandwidth_search"]
    assert h == h_y and low <= h <= high and low == pytest.approx(docs[0]["grid"]["cell_width"])


def test_the_grid_covers_the_explorers_first_view_and_fades_to_zero_at_its_edge(tmp_path):
    outputs = toy_outputs()
    pca = pca_fit(outputs["mu"].numpy(), 2, 0)
    generate(make_context(tmp_path, outputs, {"pca": {2: pca}}))
    doc = validate(read_json(tmp_path / "density" / "posterior_2d_epoch_2_pca.json"))
    coords = np.asarray(pca.coords)[:, :2]
    (x0, x1), (y0, y1) = doc.bounds
    assert x1 - x0 == pytest.approx(y1 - y0)  # square cells, as the explorer's axes share one scale
    # the explorer centres PCA's origin (or, for other maps, the points' box) and fits the largest reach with
    # 8 % free each side: a 1.5 : 1 map shows 1.5 / 0.84 of the reach along its long side. Both views fit.
    for centre in (np.zeros(2), (coords.min(0) + coords.max(0)) / 2):
        seen = np.abs(coords - centre).max() * 1.5 / 0.84
        assert x0 <= centre[0] - seen + 1e-9 and centre[0] + seen <= x1 + 1e-9
        assert y0 <= centre[1] - seen + 1e-9 and centre[1] + seen <= y1 + 1e-9
    assert x1 - x0 < 2 * 1.1 * np.abs(coords).max() * 1.5 / 0.84 + 1e-9  # and not much more
    assert doc.points_bounds == [[float(coords[:, a].min()), float(coords[:, a].max())] for a in (0, 1)]
    assert x0 < doc.points_bounds[0][0] and doc.points_bounds[1][1] < y1
    values = np.asarray(doc.values).reshape(doc.grid.ny, doc.grid.nx)
    rim = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
    assert rim.max() < 1e-3 * doc.stats.max  # nothing left to clip at the grid's edge
    assert doc.stats.mass_in_bounds == pytest.approx(1.0, abs=2e-3)


def test_total_variation_distances_and_the_difference_grid_come_from_the_grids(tmp_path):
    outputs = toy_outputs()
    pca = pca_fit(outputs["mu"].numpy(), 2, 0)
    generate(make_context(tmp_path, outputs, {"pca": {2: pca}}))
    folder = tmp_path / "density"
    docs = {family: read_json(folder / f"{family}_2d_epoch_2_pca.json") for family in ("posterior", "prior", "prior_empirical")}
    grids = {family: np.asarray(doc["values"]) for family, doc in docs.items()}
    area = docs["posterior"]["grid"]["cell_area"]
    for a in docs:
        assert set(docs[a]["tv_distance"]) == set(docs) - {a}
        for b, value in docs[a]["tv_distance"].items():
            # this toy's grids hold all the mass: the distance is the grid's own sum
            assert docs[a]["meta"]["tv"]["method"].startswith("grid")
            assert value == pytest.approx(0.5 * np.abs(grids[a] - grids[b]).sum() * area, rel=1e-4, abs=1e-6)
            assert value == docs[b]["tv_distance"][a]
    # the empirical prior weights the first component more (toy qc), so it differs from the uniform one
    assert docs["prior"]["tv_distance"]["prior_empirical"] > 0.02
    difference = validate(read_json(folder / "posterior_minus_prior_2d_epoch_2_pca.json"))
    d = np.asarray(difference.values)
    np.testing.assert_allclose(d, grids["posterior"] - grids["prior"], atol=1e-5 * np.abs(d).max())  # 3 roundings
    assert d.min() < 0 < d.max() and difference.stats.max_abs == pytest.approx(np.abs(d).max(), rel=1e-5)
    assert difference.difference.tv_distance == pytest.approx(docs["posterior"]["tv_distance"]["prior"], abs=1e-6)
    assert difference.stats.positive_mass == pytest.approx(difference.difference.tv_distance, abs=2e-3)
    with pytest.raises(ValueError, match="densities are non-negative"):
        validate({**docs["posterior"], "values": list(d)})


def test_a_model_without_a_prior_gets_no_distances_and_no_difference(tmp_path):
    rng = np.random.default_rng(3)
    z = torch.tensor(rng.normal(size=(50, 3)), dtype=torch.float32)
    generate(make_context(tmp_path, {"z": z}, {"umap": {2: Projection(z.numpy()[:, :2].astype(np.float64), {})}},
                          capabilities=frozenset({"latents"})))
    doc = read_json(tmp_path / "density" / "posterior_2d_epoch_2_umap.json")
    assert "tv_distance" not in doc and not (tmp_path / "density" / "posterior_minus_prior_2d_epoch_2_umap.json").exists()


def test_distances_count_the_mass_off_the_map_when_a_family_spills_past_it(tmp_path):
    outputs = toy_outputs()
    outputs["prior_logvar"] = outputs["prior_logvar"] + 5.0  # the prior spreads far past the codes and the map
    pca = pca_fit(outputs["mu"].numpy(), 2, 0)
    generate(make_context(tmp_path, outputs, {"pca": {2: pca}}))
    posterior = read_json(tmp_path / "density" / "posterior_2d_epoch_2_pca.json")
    prior = read_json(tmp_path / "density" / "prior_2d_epoch_2_pca.json")
    assert min(posterior["stats"]["mass_in_bounds"], prior["stats"]["mass_in_bounds"]) < 0.9
    assert posterior["meta"]["tv"]["method"].startswith("Monte Carlo")
    assert 0 < posterior["meta"]["tv"]["standard_error"]["posterior|prior"] < 0.02
    on_view = 0.5 * np.abs(np.asarray(posterior["values"]) - np.asarray(prior["values"])).sum() * posterior["grid"]["cell_area"]
    assert posterior["tv_distance"]["prior"] > on_view + 0.05  # the map alone would understate it
    assert posterior["tv_distance"]["prior"] == prior["tv_distance"]["posterior"]
    # closed form in one case: two families that are one Gaussian each, far apart, are disjoint (TV 1)
    from latentdeck_density.estimate import tv_monte_carlo

    one = (np.zeros((1, 2)), np.eye(2)[None] * 0.01, np.ones(1))
    far = (np.full((1, 2), 50.0), np.eye(2)[None] * 400.0, np.ones(1))
    assert tv_monte_carlo(one, far, 2000, np.random.default_rng(0))[0] == pytest.approx(1.0, abs=0.01)
    assert tv_monte_carlo(one, one, 2000, np.random.default_rng(0))[0] == 0.0
    # N(0, 1) vs N(1, 1) along x: TV = 2 Phi(1/2) - 1 = 0.3829
    shifted = (np.array([[1.0, 0.0]]), np.eye(2)[None], np.ones(1))
    value, error = tv_monte_carlo((np.zeros((1, 2)), np.eye(2)[None], np.ones(1)), shifted, 20000, np.random.default_rng(1))
    assert value == pytest.approx(0.3829, abs=4 * error)
