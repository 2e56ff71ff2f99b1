"""The GM-VAE plugin: contract, shapes, analytic KLs against Monte-Carlo, schedules, bad input, and
real (tiny) training runs: the loss equals its weighted parts, diagnostics, determinism, NaN."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from latentdeck.store.events import read_events
from latentdeck.launch import ConfigError, prepare_run
from latentdeck.registry import collect, providers
from latentdeck.store.runs import RunStore, read_summary
from latentdeck.testing import check_model, tiny_dataset
from latentdeck.engine.training import execute_run
from latentdeck.types import Batch, Schedule
from latentdeck_gmvae import losses
from latentdeck_gmvae.model import GMVAE
from latentdeck_gmvae.options import GMVAEOptions
from latentdeck_gmvae.plugin import loss_weights
from latentdeck_gmvae.schedules import categorical_kl_weight, entropy_bonus_weight

SMALL = {"latent_dim": 4, "channels": (8, 8), "num_components": 4}
CONTROLS = {"categorical_kl_anneal": True, "categorical_kl_anneal_epochs": 3, "categorical_kl_max_weight": 0.5,
            "entropy_bonus_enable": True, "entropy_bonus_weight": 2.0, "entropy_bonus_epochs": 2}
USAGE = {"qc_entropy_mean", "qc_neff", "qc_argmax_neff", "qc_pmax", "qc_argmax_counts", "warnings"}
SCHEDULE = {"cat_kl_weight", "entropy_bonus_weight"}
DIAGNOSTICS = USAGE | SCHEDULE


@pytest.fixture
def gmvae(plugin_manager):
    return collect(plugin_manager, "models")["gmvae"]


@pytest.fixture
def gmvae_config(tiny_config):
    """The tiny AE config with the GM-VAE instead: same launch path, only the model differs."""
    return {**tiny_config, "model": "gmvae", "epochs": 3, "artifacts": ["mixture_health"], "projections": [],
            "model_options": {**SMALL, "channels": [8, 8]}}


def run(pm, runs_dir, config):
    stored = prepare_run(pm, config)
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    status = execute_run(run_dir, pm=pm)
    return status, run_dir, [e for e in read_events(run_dir / "events.jsonl")]


def metrics_of(events):
    return [e["data"] for e in events if e["type"] == "train.metrics"]


# --- contract and shapes --------------------------------------------------------------------------

def test_registered_by_the_gmvae_plugin(plugin_manager, gmvae):
    assert providers(plugin_manager, "models")["gmvae"] == "latentdeck.gmvae"
    assert gmvae.options is GMVAEOptions
    assert gmvae.capabilities == {"reconstruction", "latents", "decoder", "mixture", "gaussian_posterior", "mixture_prior"}
    assert gmvae.latent_name == "mu of q(z|x)"
    owners = providers(plugin_manager, "loss_components")
    assert {owners[n] for n in ("kld_c", "kld_z", "qc_usage_entropy")} == {"latentdeck.gmvae"}
    assert owners["recon_sse"] == owners["recon_mse"] == "latentdeck.basic"  # shared with the ae
    components = collect(plugin_manager, "loss_components")
    assert components["kld_c"].requires == {"qc_logits"}
    assert components["kld_z"].requires == {"qc", "mu", "logvar", "prior_mu", "prior_logvar"}


def test_check_model_passes(plugin_manager, gmvae):
    outputs = check_model(gmvae, tiny_dataset(), plugin_manager)
    assert set(outputs) == {"recon", "z", "mu", "logvar", "qc_logits", "qc", "prior_mu", "prior_logvar"}


def test_output_shapes_and_train_versus_eval_latents(gmvae):
    torch.manual_seed(0)
    model = gmvae.build(GMVAEOptions(**SMALL), tiny_dataset())
    assert isinstance(model, GMVAE)
    x = torch.rand(5, 1, 28, 28)
    out = model(x)
    assert out["recon"].shape == (5, 1, 28, 28) and out["qc"].shape == out["qc_logits"].shape == (5, 4)
    assert out["mu"].shape == out["logvar"].shape == out["z"].shape == (5, 4)
    assert torch.allclose(out["qc"].sum(1), torch.ones(5))
    assert not torch.allclose(out["z"], out["mu"])  # train mode: z = mu + sigma * eps
    params = dict(model.named_parameters())
    assert params["prior_mu"].shape == params["prior_logvar"].shape == (4, 4)
    model.eval()
    out = model(x)
    assert torch.equal(out["z"], out["mu"])  # eval mode: z = mu, deterministic
    assert torch.allclose(model.encode(x), out["mu"])
    assert torch.allclose(model.decode(model.encode(x)), out["recon"])


def test_uses_the_shared_blocks_of_the_ae(gmvae, plugin_manager):
    from latentdeck.kit.nn import ConvDecoder, ConvEncoder
    from latentdeck_ae.options import AEOptions

    model = gmvae.build(GMVAEOptions(), tiny_dataset())
    ae = collect(plugin_manager, "models")["ae"].build(AEOptions(), tiny_dataset())
    assert isinstance(model.trunk, ConvEncoder) and isinstance(model.decoder, ConvDecoder)
    shapes = lambda module: [tuple(p.shape) for p in module.parameters()]
    assert shapes(model.trunk) == shapes(ae.trunk) and shapes(model.decoder) == shapes(ae.decoder)


# --- analytic KLs against Monte-Carlo -------------------------------------------------------------

def _mc_agrees(analytic: float, samples: torch.Tensor, n_se: float = 4.0) -> None:
    """|analytic - mean(samples)| <= n_se standard errors of the Monte-Carlo mean (plus 1e-6)."""
    estimate = float(samples.mean())
    se = float(samples.std() / math.sqrt(len(samples)))
    assert abs(analytic - estimate) <= n_se * se + 1e-6, (analytic, estimate, se)


def _posterior_and_prior(generator):
    mu = torch.randn(2, 3, generator=generator)
    logvar = torch.randn(2, 3, generator=generator) * 0.5
    prior_mu = torch.randn(4, 3, generator=generator)
    prior_logvar = torch.randn(4, 3, generator=generator) * 0.5
    logits = torch.randn(2, 4, generator=generator) * 2
    return mu, logvar, prior_mu, prior_logvar, logits


def test_gaussian_kl_matches_torch_distributions():
    from torch.distributions import Independent, Normal, kl_divergence

    mu, logvar, prior_mu, prior_logvar, _ = _posterior_and_prior(torch.Generator().manual_seed(1))
    q = Independent(Normal(mu[:, None], (0.5 * logvar[:, None]).exp()), 1)
    p = Independent(Normal(prior_mu[None], (0.5 * prior_logvar[None]).exp()), 1)
    assert torch.allclose(losses.gaussian_kl(mu, logvar, prior_mu, prior_logvar), kl_divergence(q, p), atol=1e-5)


def test_kld_z_matches_a_monte_carlo_estimate():
    """Sample c ~ q(c|x), z ~ q(z|x) (200,000 draws per example, seed 2) and average
    log q(z|x) - log p(z|c); the analytic value must lie within 4 standard errors."""
    from torch.distributions import Normal

    generator = torch.Generator().manual_seed(2)
    mu, logvar, prior_mu, prior_logvar, logits = _posterior_and_prior(generator)
    qc = logits.softmax(1)
    outputs = {"mu": mu, "logvar": logvar, "prior_mu": prior_mu, "prior_logvar": prior_logvar, "qc": qc}
    n = 200_000
    per_example = []
    for i in range(2):
        c = torch.multinomial(qc[i], n, replacement=True, generator=generator)          # (n,)
        z = mu[i] + (0.5 * logvar[i]).exp() * torch.randn(n, 3, generator=generator)  # (n, d)
        log_q = Normal(mu[i], (0.5 * logvar[i]).exp()).log_prob(z).sum(1)
        log_p = Normal(prior_mu[c], (0.5 * prior_logvar[c]).exp()).log_prob(z).sum(1)
        samples = (log_q - log_p).double()
        analytic = float((qc[i] * losses.gaussian_kl(mu[i:i + 1], logvar[i:i + 1], prior_mu, prior_logvar)[0]).sum())
        _mc_agrees(analytic, samples)
        per_example.append(analytic)
    assert float(losses.kld_z(outputs, None)) == pytest.approx(sum(per_example) / 2, rel=1e-5)


def test_kld_c_matches_a_monte_carlo_estimate_and_log_k_minus_entropy():
    """Sample c ~ q(c|x) (200,000 draws per example, seed 3) and average log q(c|x) + log K;
    the analytic value must lie within 4 standard errors."""
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 5, generator=generator) * 2
    qc = logits.softmax(1)
    analytic = float(losses.kld_c({"qc_logits": logits}, None))
    samples = []
    for i in range(3):
        c = torch.multinomial(qc[i], 200_000, replacement=True, generator=generator)
        samples.append((qc[i].log()[c] + math.log(5)).double())
    per_example = [float(s.mean()) for s in samples]
    for i, s in enumerate(samples):
        exact = float((qc[i] * (qc[i].log() + math.log(5))).sum())
        _mc_agrees(exact, s)
    assert analytic == pytest.approx(sum(per_example) / 3, abs=0.02)
    entropy = -(qc * qc.log()).sum(1)
    assert analytic == pytest.approx(float((math.log(5) - entropy).mean()), rel=1e-5)
    uniform = torch.zeros(2, 5)
    assert float(losses.kld_c({"qc_logits": uniform}, None)) == pytest.approx(0.0, abs=1e-6)


def test_qc_usage_entropy_is_the_entropy_of_the_mean_responsibilities():
    qc = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    assert float(losses.qc_usage_entropy({"qc": qc}, None)) == pytest.approx(math.log(2))
    assert float(losses.qc_usage_entropy({"qc": torch.full((3, 4), 0.25)}, None)) == pytest.approx(math.log(4))
    assert float(losses.qc_usage_entropy({"qc": qc[:1].expand(5, 4)}, None)) == pytest.approx(0.0)


# --- weights and schedules ------------------------------------------------------------------------

def test_default_loss_is_the_specifications():
    weights = loss_weights(GMVAEOptions(), Schedule(1, 10))
    assert weights == {"recon_sse": 1.0, "kld_c": 1.0, "kld_z": 1.0}
    assert loss_weights(GMVAEOptions(kld_weight=0.25, recon_loss="mse"), Schedule(7, 10)) == {
        "recon_mse": 1.0, "kld_c": 0.25, "kld_z": 0.25}


def test_options_defaults():
    options = GMVAEOptions()
    assert (options.num_components, options.latent_dim, options.kld_weight, options.recon_loss) == (10, 16, 1.0, "sse")
    assert options.channels == (32, 64) and options.batch_norm is True
    assert not options.categorical_kl_anneal and not options.entropy_bonus_enable and not options.controls_enabled


@pytest.mark.parametrize("window, expected", [
    (5, {1: 0.0, 3: 0.5, 5: 1.0, 6: 1.0, 10: 1.0}),   # first, middle, last of the window, then after
    (2, {1: 0.0, 2: 1.0, 3: 1.0}),
    (1, {1: 1.0, 2: 1.0}),                             # W = 1: the full weight from epoch 1
])
def test_categorical_kl_anneal_ramps_from_zero_to_the_max(window, expected):
    options = GMVAEOptions(categorical_kl_anneal=True, categorical_kl_anneal_epochs=window, categorical_kl_max_weight=2.0,
                           kld_weight=0.5)
    for epoch, fraction in expected.items():
        assert categorical_kl_weight(options, Schedule(epoch, 10)) == pytest.approx(2.0 * fraction)
        weights = loss_weights(options, Schedule(epoch, 10))
        assert weights["kld_c"] == pytest.approx(0.5 * 2.0 * fraction) and weights["kld_z"] == 0.5
    disabled = GMVAEOptions(categorical_kl_max_weight=2.0)
    assert categorical_kl_weight(disabled, Schedule(1, 10)) == 1.0  # off: the plain loss


@pytest.mark.parametrize("window, expected", [
    (5, {1: 1.0, 3: 0.5, 5: 0.0, 6: 0.0}),   # first, middle, last of the window, then after
    (2, {1: 1.0, 2: 0.0, 3: 0.0}),
    (1, {1: 1.0, 2: 0.0}),                   # W = 1: the full weight in epoch 1 only
])
def test_entropy_bonus_decays_from_its_weight_to_zero(window, expected):
    options = GMVAEOptions(entropy_bonus_enable=True, entropy_bonus_weight=3.0, entropy_bonus_epochs=window)
    for epoch, fraction in expected.items():
        assert entropy_bonus_weight(options, Schedule(epoch, 10)) == pytest.approx(3.0 * fraction)
        assert loss_weights(options, Schedule(epoch, 10))["qc_usage_entropy"] == pytest.approx(-3.0 * fraction)
    assert entropy_bonus_weight(GMVAEOptions(entropy_bonus_weight=3.0), Schedule(1, 10)) == 0.0
    assert "qc_usage_entropy" not in loss_weights(GMVAEOptions(entropy_bonus_weight=3.0), Schedule(1, 10))


def test_usage_statistics_hand_computed():
    from latentdeck_gmvae.diagnostics import usage_statistics

    qc = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.25, 0.75]])
    stats = usage_statistics(qc)
    p = [0.5, 0.25, 0.25]
    assert stats["qc_neff"] == pytest.approx(math.exp(-sum(x * math.log(x) for x in p)))
    assert stats["qc_pmax"] == pytest.approx(0.5)
    assert stats["qc_argmax_counts"] == [2, 0, 1]  # ties go to the lower index
    assert stats["qc_entropy_mean"] == pytest.approx((0 + math.log(2) - 0.25 * math.log(0.25) - 0.75 * math.log(0.75)) / 3)


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, field", [
    ({"num_components": 1}, "num_components"),
    ({"kld_weight": -1.0}, "kld_weight"),
    ({"categorical_kl_max_weight": -0.5}, "categorical_kl_max_weight"),
    ({"entropy_bonus_weight": -2.0}, "entropy_bonus_weight"),
    ({"categorical_kl_anneal_epochs": 0}, "categorical_kl_anneal_epochs"),
    ({"categorical_kl_anneal": True, "categorical_kl_anneal_epochs": 4}, "categorical_kl_anneal_epochs"),
    ({"entropy_bonus_enable": True, "entropy_bonus_epochs": 5}, "entropy_bonus_epochs"),
    ({"entropy_bonus": True}, "entropy_bonus"),
])
def test_bad_options_name_the_field(plugin_manager, gmvae_config, options, field):
    with pytest.raises(ConfigError, match=rf"model_options\.{field}\b"):
        prepare_run(plugin_manager, {**gmvae_config, "model_options": options})


def test_windows_may_be_as_long_as_the_run_and_are_ignored_when_off(plugin_manager, gmvae_config):
    prepare_run(plugin_manager, {**gmvae_config, "model_options": {**CONTROLS, "categorical_kl_anneal_epochs": 3}})
    prepare_run(plugin_manager, {**gmvae_config, "model_options": {"categorical_kl_anneal_epochs": 99,
                                                                    "entropy_bonus_epochs": 99}})
    with pytest.raises(ValidationError):
        GMVAEOptions(num_components=1)


def test_cli_refuses_bad_gmvae_options_naming_the_field(tmp_path, capsys, monkeypatch):
    from latentdeck.cli import main
    from latentdeck.registry import get_plugin_manager

    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    get_plugin_manager.cache_clear()
    try:
        code = main(["train", "--model", "gmvae", "--dataset", "tiny-digits", "--epochs", "2", "--runs-dir",
                     str(tmp_path / "runs"), "--set", "model_options.entropy_bonus_enable=true",
                     "--set", "model_options.entropy_bonus_epochs=3"])
    finally:
        get_plugin_manager.cache_clear()
    err = capsys.readouterr().err
    assert code == 2 and "model_options.entropy_bonus_epochs" in err and "epochs = 2" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


# --- training runs --------------------------------------------------------------------------------

def test_plain_run_logs_parts_that_sum_to_the_loss_and_usage_but_no_schedules(plugin_manager, runs_dir, gmvae_config):
    status, run_dir, events = run(plugin_manager, runs_dir, gmvae_config)
    assert status == "completed", read_summary(run_dir)
    for m in metrics_of(events):
        assert m["loss_weights"] == {"recon_sse": 1.0, "kld_c": 1.0, "kld_z": 1.0}
        for prefix in ("", "heldout_"):
            parts = sum(w * m[f"{prefix}{name}"] for name, w in m["loss_weights"].items())
            assert m[f"{prefix}loss"] == pytest.approx(parts, rel=1e-5, abs=1e-5)
        assert USAGE <= set(m) and not SCHEDULE & set(m)  # component usage always, schedule weights only with a control
        assert "train_accuracy" not in m and "heldout_accuracy" not in m  # no classifier


def test_controls_add_diagnostics_and_follow_the_schedules(plugin_manager, runs_dir, gmvae_config):
    config = {**gmvae_config, "model_options": {**gmvae_config["model_options"], **CONTROLS}}
    status, run_dir, events = run(plugin_manager, runs_dir, config)
    assert status == "completed", read_summary(run_dir)
    metrics = metrics_of(events)
    # anneal W=3, max 0.5: 0, 0.25, 0.5; entropy W=2, weight 2: 2, 0, 0
    assert [m["cat_kl_weight"] for m in metrics] == pytest.approx([0.0, 0.25, 0.5])
    assert [m["entropy_bonus_weight"] for m in metrics] == pytest.approx([2.0, 0.0, 0.0])
    assert [m["loss_weights"]["kld_c"] for m in metrics] == pytest.approx([0.0, 0.25, 0.5])
    assert [m["loss_weights"]["qc_usage_entropy"] for m in metrics] == pytest.approx([-2.0, 0.0, 0.0])
    for m in metrics:
        assert DIAGNOSTICS <= set(m)
        assert 1.0 <= m["qc_neff"] <= 4.0 + 1e-9 and 0.25 - 1e-9 <= m["qc_pmax"] <= 1.0
        assert 0.0 <= m["qc_entropy_mean"] <= math.log(4) + 1e-9
        assert len(m["qc_argmax_counts"]) == 4 and sum(m["qc_argmax_counts"]) == 64  # the held-out split
        parts = sum(w * m[name] for name, w in m["loss_weights"].items())
        assert m["loss"] == pytest.approx(parts, rel=1e-5, abs=1e-5)


def test_same_seed_gives_identical_metrics(plugin_manager, runs_dir, gmvae_config):
    config = {**gmvae_config, "epochs": 2, "model_options": {**gmvae_config["model_options"], **CONTROLS,
                                                              "categorical_kl_anneal_epochs": 2}}
    strip = lambda ms: [{k: v for k, v in m.items() if k != "epoch_seconds"} for m in ms]
    first = strip(metrics_of(run(plugin_manager, runs_dir, config)[2]))
    second = strip(metrics_of(run(plugin_manager, runs_dir, config)[2]))
    assert first == second and len(first) == 2
    other = strip(metrics_of(run(plugin_manager, runs_dir, {**config, "seed": 1})[2]))
    assert other != first


def test_a_nan_loss_fails_the_run_with_the_epoch_and_the_parts(plugin_manager, runs_dir, gmvae_config, monkeypatch):
    calls = {"n": 0}
    real = losses.kld_z

    def kld_z_nan_on_the_sixth_batch(outputs, batch):
        calls["n"] += 1
        value = real(outputs, batch)
        return value * float("nan") if calls["n"] == 6 else value

    monkeypatch.setattr(losses, "kld_z", kld_z_nan_on_the_sixth_batch)  # 4 train batches per epoch
    status, run_dir, events = run(plugin_manager, runs_dir, {**gmvae_config, "artifacts": []})
    assert status == "failed"
    failed = events[-1]["data"]
    assert events[-1]["type"] == "run.failed" and failed["reason"] == "non_finite_loss"
    assert failed["epoch"] == 2 and failed["batch"] == 1  # epoch 1: 4 train + 1 held-out call
    assert failed["loss_parts"]["kld_z"] is None and failed["loss_parts"]["loss"] is None
    assert isinstance(failed["loss_parts"]["recon_sse"], float) and isinstance(failed["loss_parts"]["kld_c"], float)
    assert len(metrics_of(events)) == 1


def test_collapse_warning_names_the_numbers_and_what_to_try():
    from latentdeck_gmvae.diagnostics import collapse_warning, usage_statistics

    k = 10
    qc = torch.full((50, k), 1e-6)
    qc[:, 3] = 1.0
    qc = qc / qc.sum(1, keepdim=True)
    stats = usage_statistics(qc)
    warning = collapse_warning(qc.double().mean(0).tolist(), stats)
    assert warning["code"] == "mixture_collapse" and warning["severity"] == "error"
    assert warning["numbers"]["top_component"] == 3 and warning["numbers"]["argmax_neff"] == pytest.approx(1.0)
    assert warning["numbers"]["kld_c"] == pytest.approx(math.log(k), abs=1e-3)
    assert "ln K = 2.303" in warning["detail"] and "total collapse" in warning["detail"]
    assert any("gmvae-clusters" in line for line in warning["advice"])
    spread = torch.eye(k).repeat(5, 1)  # every example certain, each component used: kld_c = ln K, no collapse
    assert collapse_warning(spread.double().mean(0).tolist(), usage_statistics(spread)) is None


def test_a_collapsed_run_warns_in_train_metrics(plugin_manager, runs_dir, gmvae_config, monkeypatch):
    from latentdeck_gmvae import diagnostics

    def one_component(model, x):  # as a collapsed model answers: every example in component 0
        qc = torch.zeros(len(x), 4)
        qc[:, 0] = 1.0
        return qc

    monkeypatch.setattr(diagnostics, "responsibilities", one_component)
    status, run_dir, events = run(plugin_manager, runs_dir, {**gmvae_config, "artifacts": []})
    assert status == "completed"
    for m in metrics_of(events):
        (warning,) = m["warnings"]
        assert warning["title"] == "The mixture has collapsed" and m["qc_argmax_neff"] == pytest.approx(1.0)
