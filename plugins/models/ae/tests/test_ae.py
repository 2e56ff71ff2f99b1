"""The supervised autoencoder plugin: contract, shapes, loss numerics, options and a real training run."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from latentdeck.launch import prepare_run
from latentdeck.registry import collect, providers
from latentdeck.store.runs import RunStore, read_summary
from latentdeck.testing import check_model, tiny_dataset
from latentdeck.engine.training import execute_run
from latentdeck.types import Batch, Schedule
from latentdeck_ae import losses
from latentdeck_ae.model import SupervisedAE
from latentdeck_ae.options import AEOptions

SMALL = {"latent_dim": 4, "channels": (8, 8), "head_hidden": 16}


@pytest.fixture
def ae(plugin_manager):
    return collect(plugin_manager, "models")["ae"]


def test_registered_by_the_ae_plugin(plugin_manager, ae):
    assert providers(plugin_manager, "models")["ae"] == "latentdeck.ae"
    assert providers(plugin_manager, "loss_components")["class_ce"] == "latentdeck.ae"
    assert providers(plugin_manager, "loss_components")["recon_mse"] == "latentdeck.basic"  # shared with gmvae
    assert ae.options is AEOptions
    assert ae.capabilities == {"reconstruction", "classifier", "latents", "decoder"}
    loss_components = collect(plugin_manager, "loss_components")
    assert loss_components["recon_mse"].requires == {"recon"}
    assert loss_components["class_ce"].requires == {"logits"}


def test_check_model_passes(plugin_manager, ae):
    outputs = check_model(ae, tiny_dataset(), plugin_manager)
    assert set(outputs) == {"z", "recon", "logits"}


@pytest.mark.parametrize("head_hidden", [16, 0])
def test_output_shapes(ae, head_hidden):
    torch.manual_seed(0)
    model = ae.build(AEOptions(**{**SMALL, "head_hidden": head_hidden}), tiny_dataset())
    assert isinstance(model, SupervisedAE)
    x = torch.rand(5, 1, 28, 28)
    outputs = model(x)
    assert outputs["z"].shape == (5, 4)
    assert outputs["recon"].shape == (5, 1, 28, 28)
    assert outputs["logits"].shape == (5, 10)
    recon = outputs["recon"].detach()
    assert 0.0 <= float(recon.min()) and float(recon.max()) <= 1.0
    model.eval()
    assert torch.allclose(model.encode(x), model(x)["z"])
    assert torch.allclose(model.decode(model.encode(x)), model(x)["recon"])


def test_other_image_shapes_and_class_counts(ae):
    from dataclasses import replace

    rgb = replace(tiny_dataset(), image_shape=(3, 32, 32), num_classes=4)
    model = ae.build(AEOptions(**SMALL), rgb)
    outputs = model(torch.rand(2, 3, 32, 32))
    assert outputs["recon"].shape == (2, 3, 32, 32) and outputs["logits"].shape == (2, 4)
    with pytest.raises(AssertionError, match="multiples of 4"):
        ae.build(AEOptions(**SMALL), replace(tiny_dataset(), image_shape=(1, 30, 30)))


def test_batch_norm_off_has_no_batch_norm_layers(ae):
    model = ae.build(AEOptions(**SMALL, batch_norm=False), tiny_dataset())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    model = ae.build(AEOptions(**SMALL), tiny_dataset())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())


def test_loss_weights_honour_class_weight(ae):
    assert ae.loss_weights(AEOptions(), Schedule(1, 10)) == {"recon_mse": 1.0, "class_ce": 1.0}
    assert ae.loss_weights(AEOptions(class_weight=0.25), Schedule(3, 10)) == {"recon_mse": 1.0, "class_ce": 0.25}
    assert ae.loss_weights(AEOptions(class_weight=0.0), Schedule(10, 10)) == {"recon_mse": 1.0, "class_ce": 0.0}


def test_class_ce_matches_a_hand_computed_value():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]]])  # (1, 1, 2, 2)
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    y = torch.tensor([0, 2])
    log_z0 = torch.log(torch.exp(torch.tensor(2.0)) + 1 + torch.exp(torch.tensor(-1.0)))
    expected = (float(log_z0) - 2.0 + float(torch.log(torch.tensor(3.0)))) / 2
    assert float(losses.class_ce({"logits": logits}, Batch(x.expand(2, 1, 2, 2), y))) == pytest.approx(expected, rel=1e-6)
    assert float(losses.class_ce({"logits": logits}, Batch(x, y))) == pytest.approx(float(F.cross_entropy(logits, y)))


def test_options_defaults():
    options = AEOptions()
    assert (options.latent_dim, options.class_weight, options.channels, options.head_hidden) == (16, 1.0, (32, 64), 64)
    assert options.dropout == 0.2 and options.batch_norm is True


@pytest.mark.parametrize("bad", [
    {"latent_dim": 1}, {"latent_dim": 513}, {"class_weight": -0.1}, {"dropout": 1.0}, {"dropout": -0.1},
    {"head_hidden": -1}, {"channels": [8]}, {"channels": [8, 8, 8]}, {"latent_dim": "big"}, {"latentdim": 4},
])
def test_options_reject_bad_values(bad):
    with pytest.raises(ValidationError):
        AEOptions(**bad)


def test_prepare_run_reports_bad_options(plugin_manager, tiny_config):
    from latentdeck.launch import ConfigError

    with pytest.raises(ConfigError, match="model_options.latent_dim"):
        prepare_run(plugin_manager, {**tiny_config, "model_options": {"latent_dim": 0}})


@pytest.mark.parametrize("field", ["entropy_bonus_enable", "categorical_kl_anneal", "kld_weight"])
def test_gmvae_options_on_the_ae_name_the_field(plugin_manager, tiny_config, field):
    from latentdeck.launch import ConfigError

    with pytest.raises(ConfigError, match=rf"model_options\.{field}: Extra inputs are not permitted"):
        prepare_run(plugin_manager, {**tiny_config, "model_options": {field: True}})


def test_default_architecture_is_unchanged_by_the_shared_blocks(ae):
    """The conv trunk and decoder come from latentdeck.kit.nn; the default AE keeps its size and layers."""
    from latentdeck.kit.nn import ConvDecoder, ConvEncoder

    model = ae.build(AEOptions(), tiny_dataset())
    assert sum(p.numel() for p in model.parameters()) == 219_995
    assert isinstance(model.trunk, ConvEncoder) and isinstance(model.decoder, ConvDecoder)
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert [(m.in_channels, m.out_channels, m.stride[0]) for m in convs] == [
        (1, 32, 1), (32, 32, 2), (32, 64, 1), (64, 64, 2), (64, 32, 2), (32, 32, 2), (32, 1, 1)]


def test_trains_tiny_digits_better_than_chance(plugin_manager, runs_dir, tiny_config):
    config = {**tiny_config, "epochs": 5, "batch_size": 32, "optimizer": {"lr": 0.003}, "artifacts": [],
              "model_options": {"latent_dim": 8, "channels": [8, 8], "head_hidden": 32, "dropout": 0.0}}
    stored = prepare_run(plugin_manager, config)
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    metrics = read_summary(run_dir)["metrics"]
    assert metrics["heldout_accuracy"] > 0.5  # chance is 0.1
    assert metrics["heldout_class_ce"] < 2.0  # ln(10) = 2.30 at chance
    from latentdeck.store.events import read_events

    losses_per_epoch = [e["data"]["loss"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "train.metrics"]
    assert losses_per_epoch[-1] < losses_per_epoch[0]
