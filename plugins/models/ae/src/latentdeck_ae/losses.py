"""The supervised autoencoder's own loss term, an unweighted batch mean (``recon_mse`` comes from
the shared ``latentdeck.basic`` plugin)."""

from __future__ import annotations


def class_ce(outputs, batch):
    """Cross-entropy of the classifier logits against the labels."""
    import torch.nn.functional as F

    return F.cross_entropy(outputs["logits"], batch.y)
