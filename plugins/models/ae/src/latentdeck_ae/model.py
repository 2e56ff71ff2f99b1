"""Supervised autoencoder: a conv encoder to a latent z, a conv decoder back, a classifier on z.

Loss (the specification's, exactly): ``MSE(reconstruction, input) + class_weight * CE(logits, label)``.
The two terms are the registered loss components ``recon_mse`` (from ``latentdeck.basic``) and
``class_ce``; this module only says how they are weighted. The conv trunk and the decoder are the
host's shared blocks (:mod:`latentdeck.kit.nn`), the same ones the GM-VAE uses.
"""

from __future__ import annotations

import torch
from torch import nn

from latentdeck.kit import ConvDecoder, ConvEncoder

from .options import AEOptions


class SupervisedAE(nn.Module):
    def __init__(self, options: AEOptions, image_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        # Construction order (trunk, latent head, decoder, classifier) fixes the seeded initialisation.
        self.trunk = ConvEncoder(image_shape, options.channels, options.batch_norm)     # (b, flat)
        self.to_latent = nn.Linear(self.trunk.out_features, options.latent_dim)         # (b, d)
        self.decoder = ConvDecoder(options.latent_dim, image_shape, options.channels, options.batch_norm)
        if options.head_hidden:
            self.classifier = nn.Sequential(
                nn.Linear(options.latent_dim, options.head_hidden), nn.ReLU(inplace=True),
                nn.Dropout(options.dropout), nn.Linear(options.head_hidden, num_classes))
        else:
            self.classifier = nn.Sequential(nn.Dropout(options.dropout), nn.Linear(options.latent_dim, num_classes))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_latent(self.trunk(x))  # (b, d)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (b, c, h, w)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"z": z, "recon": self.decode(z), "logits": self.classifier(z)}


def build(options: AEOptions, dataset) -> SupervisedAE:
    return SupervisedAE(options, tuple(dataset.image_shape), dataset.num_classes)
