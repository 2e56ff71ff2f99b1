"""The shared reconstruction losses: hand-computed values and registration."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from latentdeck.registry import collect, providers
from latentdeck.types import Batch
from latentdeck_basic.plugin import recon_mse, recon_sse


def test_registered_by_the_basic_plugin(plugin_manager):
    owners = providers(plugin_manager, "loss_components")
    assert owners["recon_mse"] == owners["recon_sse"] == "latentdeck.basic"
    components = collect(plugin_manager, "loss_components")
    assert components["recon_mse"].requires == components["recon_sse"].requires == {"recon"}
    assert components["recon_mse"].compute is recon_mse


def test_recon_mse_matches_a_hand_computed_value():
    x = torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]]])  # (1, 1, 2, 2)
    recon = torch.tensor([[[[0.5, 1.0], [0.0, 0.25]]]])
    assert float(recon_mse({"recon": recon}, Batch(x, torch.tensor([0])))) == pytest.approx((0.25 + 0 + 0.25 + 0) / 4)


def test_recon_sse_sums_pixels_and_averages_images():
    x = torch.zeros(2, 1, 2, 2)
    recon = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    # image 0: 1; image 1: 4 * 0.25 = 1  -> mean 1
    assert float(recon_sse({"recon": recon}, Batch(x, torch.tensor([0, 1])))) == pytest.approx(1.0)


def test_recon_sse_is_pixels_times_recon_mse():
    generator = torch.Generator().manual_seed(0)
    x, recon = torch.rand(5, 1, 28, 28, generator=generator), torch.rand(5, 1, 28, 28, generator=generator)
    batch = Batch(x, torch.zeros(5, dtype=torch.long))
    assert float(recon_sse({"recon": recon}, batch)) == pytest.approx(784 * float(recon_mse({"recon": recon}, batch)), rel=1e-5)
    assert float(recon_mse({"recon": recon}, batch)) == pytest.approx(float(F.mse_loss(recon, x)))
