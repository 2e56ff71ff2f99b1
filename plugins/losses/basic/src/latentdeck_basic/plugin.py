"""Reconstruction loss components shared by every model that reconstructs its input.

``recon_mse`` is the specification's ``MSE(reconstruction, input)``: the mean over every pixel of
the batch. ``recon_sse`` is the same squared error summed over each image's pixels, then averaged
over the batch (= pixels x ``recon_mse``): the scale of a Gaussian decoder's log-likelihood, which is
what a VAE's KL terms (nats per image) must be weighed against.
"""

from __future__ import annotations

from latentdeck import LossSpec, hookimpl


def recon_mse(outputs, batch):
    """Mean squared error between the reconstruction and the input, over every pixel."""
    import torch.nn.functional as F

    return F.mse_loss(outputs["recon"], batch.x)


def recon_sse(outputs, batch):
    """Squared error summed over each image's pixels, averaged over the batch."""
    return (outputs["recon"] - batch.x).pow(2).flatten(1).sum(1).mean()


@hookimpl
def register_loss_components():
    return [
        LossSpec("recon_mse", recon_mse, frozenset({"recon"}), "MSE(reconstruction, input), mean over every pixel"),
        LossSpec("recon_sse", recon_sse, frozenset({"recon"}),
                 "squared error summed over each image's pixels, mean over the batch"),
    ]
