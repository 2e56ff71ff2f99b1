"""The supervised autoencoder's two loss terms, unweighted batch means."""

from __future__ import annotations


def recon_mse(outputs, batch):
    """Mean squared error between the reconstruction and the input, over every pixel."""
    import torch.nn.functional as F

    return F.mse_loss(outputs["recon"], batch.x)


def class_ce(outputs, batch):
    """Cross-entropy of the classifier logits against the labels."""
    import torch.nn.functional as F

    return F.cross_entropy(outputs["logits"], batch.y)
