"""The per-epoch sampling generator: the default set's files, fields and seeds, the AE's labelled
neighbourhood, options, the sampled distributions, and the light import."""

from __future__ import annotations

import shutil

import pytest
import torch

from latentdeck.kit.atomic import read_json
from latentdeck.engine.epochs import EpochModels
from latentdeck.engine.computations import context_for, run
from latentdeck.registry import collect
from latentdeck_sampling.samples import MAX_M, SampleRequest, derived_seed, latent_rms, render
from latentdeck.testing import heavy_imports_of


def test_importing_the_plugin_stays_light():
    assert heavy_imports_of("latentdeck_sampling.plugin") == []


def files_under(folder):
    """The files a client sees (the host's hidden result files left out), by name."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def results_under(folder):
    """The host's hidden result files: one per grid, marking it complete."""
    return sorted(p.name for p in folder.rglob(".*.result.json"))


def test_gmvae_default_set_every_epoch_with_exact_names_fields_and_seeds(trained_run):
    run_dir = trained_run("gmvae")
    config = read_json(run_dir / "config.json")
    first = config["viz_indices"][:4]
    names = set(files_under(run_dir / "samples"))
    grids = [("posterior_local", f"idx_{i}") for i in first] + [("prior_component", f"c_{c}") for c in range(3)]
    # exactly the seed specification's names: <kind>_epoch_<N>_<idx|c>_<k>_m_<M>.png|.json and the *_latest mirrors
    assert names == {f"{kind}_{tag}_{key}_m_16.{ext}" for kind, key in grids for tag in ("epoch_1", "epoch_2", "latest")
                     for ext in ("png", "json")}
    assert results_under(run_dir / "samples") == sorted(
        f".{kind}_epoch_{n}_{key}_m_16.result.json" for kind, key in grids for n in (1, 2))

    local = read_json(run_dir / f"samples/posterior_local_epoch_2_idx_{first[0]}_m_16.json")
    assert local["kind"] == "posterior_local" and local["epoch"] == 2 and local["idx"] == first[0] and local["m"] == 16
    assert local["seed"] == derived_seed(config["seed"], 2, "posterior_local", first[0]) and local["seed_source"] == "derived"
    assert local["distribution"] == "q(z|x)" and local["compute_ms"] > 0 and local["label"] == first[0] % 10
    assert local["layout"]["columns"] == 4 and local["layout"]["rows"] == 4
    assert local["png"] == f"samples/posterior_local_epoch_2_idx_{first[0]}_m_16.png"
    prior = read_json(run_dir / "samples/prior_component_epoch_1_c_2_m_16.json")
    assert prior["kind"] == "prior_component" and prior["component"] == 2 and prior["distribution"] == "p(z|c)"
    assert prior["components"] == 3 and "idx" not in prior
    assert read_json(run_dir / "samples/prior_component_latest_c_2_m_16.json")["epoch"] == 2
    assert (run_dir / "samples/prior_component_latest_c_2_m_16.png").read_bytes() == \
        (run_dir / "samples/prior_component_epoch_2_c_2_m_16.png").read_bytes()
    result = read_json(run_dir / "samples/.prior_component_epoch_1_c_2_m_16.result.json")
    assert result["payload"]["json"] == "samples/prior_component_epoch_1_c_2_m_16.json"


def test_ae_gets_a_labelled_isotropic_neighbourhood_and_no_prior_samples(trained_run, plugin_manager):
    options = {"m": 4, "posterior_indices": [5, 7], "neighbourhood_scale": 0.5}
    run_dir = trained_run("ae", epochs=1, artifact_options={"sampling": options})
    assert files_under(run_dir / "samples") == sorted(
        f"posterior_local_{tag}_idx_{i}_m_4.{ext}" for i in (5, 7) for tag in ("epoch_1", "latest") for ext in ("png", "json"))
    payload = read_json(run_dir / "samples/posterior_local_epoch_1_idx_5_m_4.json")
    assert payload["distribution"] == "isotropic_neighbourhood" and "deterministic" in payload["description"]
    loaded = EpochModels().get(run_dir, 1, plugin_manager)
    from latentdeck.engine.epochs import heldout_split

    images, _ = heldout_split(loaded.config, loaded.dataset_spec)
    with torch.no_grad():
        rms = latent_rms(loaded.model.encode(images[loaded.config["viz_indices"]]))
    assert payload["latent_rms"] == rms and payload["neighbourhood_scale"] == 0.5
    assert payload["sigma"] == float(f"{0.5 * rms:.4g}")


def test_samples_follow_the_stated_distributions(trained_run, plugin_manager):
    loaded = EpochModels().get(trained_run("gmvae", epochs=1), None, plugin_manager)
    model, caps = loaded.model, loaded.model_spec.capabilities
    from latentdeck.engine.epochs import heldout_example
    from latentdeck_sampling.samples import draw_posterior_local, draw_prior_component

    x, _ = heldout_example(loaded.config, loaded.dataset_spec, 3)
    eps = torch.randn(MAX_M, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = model(x)
        local = draw_posterior_local(model, caps, x, eps, 0.25, None).z
        prior = draw_prior_component(model, x, 1, eps).z
    assert torch.allclose(local, out["mu"][0] + (0.5 * out["logvar"][0]).exp() * eps)
    assert torch.allclose(prior, out["prior_mu"][1] + (0.5 * out["prior_logvar"][1]).exp() * eps)
    sd = (0.5 * out["prior_logvar"][1]).exp()
    assert ((prior.mean(0) - out["prior_mu"][1]).abs() < 4 * sd / MAX_M ** 0.5).all()  # sample mean near mu_c


def test_the_per_epoch_grid_is_the_on_demand_grid(trained_run, plugin_manager, monkeypatch):
    import latentdeck_sampling.samples as samples

    run_dir = trained_run("gmvae", epochs=1)
    i = read_json(run_dir / "config.json")["viz_indices"][0]
    png = (run_dir / f"samples/posterior_local_epoch_1_idx_{i}_m_16.png").read_bytes()
    spec = collect(plugin_manager, "computations")["sampling"]
    calls = []
    real = samples.sample
    monkeypatch.setattr(samples, "sample", lambda ctx, request: calls.append(request) or real(ctx, request))
    ask = lambda request: run(spec, context_for(run_dir, spec, plugin_manager, EpochModels()), request)  # noqa: E731
    served = ask(SampleRequest(idx=i, m=16))
    assert served.created is False and calls == []  # the epoch's answer, not computed again
    assert served.files == [f"samples/posterior_local_epoch_1_idx_{i}_m_16.{ext}" for ext in ("json", "png")]
    assert served.folder == "samples"
    derived = served.payload["seed"]
    assert ask(SampleRequest(idx=i, m=16, seed=derived)).created is False and calls == []  # the derived seed, given
    (run_dir / f"samples/.posterior_local_epoch_1_idx_{i}_m_16.result.json").unlink()  # as a run from before results
    old = ask(SampleRequest(idx=i, m=16))  # the same names without the host's result: computed again, same bytes
    assert old.created is True and len(calls) == 1 and (run_dir / old.payload["png"]).read_bytes() == png
    shutil.rmtree(run_dir / "samples")
    fresh = ask(SampleRequest(kind="posterior_local", idx=i, m=16))
    assert fresh.created is True and len(calls) == 2 and (run_dir / fresh.payload["png"]).read_bytes() == png
    assert fresh.payload == served.payload | {"compute_ms": fresh.payload["compute_ms"]}


def test_a_small_grid_is_a_prefix_of_a_larger_one(trained_run, plugin_manager):
    loaded = EpochModels().get(trained_run("gmvae", epochs=1), None, plugin_manager)
    from latentdeck.engine.epochs import heldout_example

    x, _ = heldout_example(loaded.config, loaded.dataset_spec, 0)
    small, _ = render(loaded.model, loaded.model_spec.capabilities, "prior_component", 0, 4, 99, 1, x=x)
    large, _ = render(loaded.model, loaded.model_spec.capabilities, "prior_component", 0, 9, 99, 1, x=x)
    assert (small[2:30, 2:60] == large[2:30, 2:60]).all()  # samples 0 and 1: the same draws in both grids


def test_component_weight_says_when_a_component_holds_almost_no_data():
    import torch

    from latentdeck.kit.mixtures import component_weight

    class Collapsed(torch.nn.Module):
        def forward(self, x):
            qc = torch.full((len(x), 10), 0.0005 / 9)
            qc[:, 0] = 1 - 0.0005
            qc[:, 4] = 0.0005 / 9
            return {"qc": qc}

    x = torch.zeros(20, 1, 28, 28)
    dead = component_weight(Collapsed(), x, 4)
    assert dead["p"] == pytest.approx(0.0005 / 9, rel=1e-2)  # rounded to 6 decimals and dead["argmax_share"] == 0.0
    assert "holds almost no data" in dead["note"] and "not a cluster of digits" in dead["note"]
    alive = component_weight(Collapsed(), x, 0)
    assert alive["argmax_share"] == 1.0 and "note" not in alive
