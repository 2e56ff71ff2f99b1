"""Supervised autoencoder: a conv encoder to a latent z, a conv decoder back, a classifier on z.

Loss (the specification's, exactly): ``MSE(reconstruction, input) + class_weight * CE(logits, label)``.
The two terms are the registered loss components ``recon_mse`` and ``class_ce``; this module only
says how they are weighted.
"""

from __future__ import annotations

import torch
from torch import nn

from .options import AEOptions


def _conv_block(c_in: int, c_out: int, stride: int, bn: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


def _up_block(c_in: int, c_out: int, bn: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


class SupervisedAE(nn.Module):
    def __init__(self, options: AEOptions, image_shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        c, h, w = image_shape
        assert h % 4 == 0 and w % 4 == 0, f"image sides must be multiples of 4, got {h}x{w}"
        c1, c2 = options.channels
        bn = options.batch_norm
        self.feature_shape = (c2, h // 4, w // 4)
        flat = c2 * (h // 4) * (w // 4)
        self.encoder = nn.Sequential(
            *_conv_block(c, c1, 1, bn), *_conv_block(c1, c1, 2, bn),    # (b, c1, h/2, w/2)
            *_conv_block(c1, c2, 1, bn), *_conv_block(c2, c2, 2, bn),   # (b, c2, h/4, w/4)
            nn.Flatten(), nn.Linear(flat, options.latent_dim),          # (b, d)
        )
        self.decoder_in = nn.Linear(options.latent_dim, flat)
        self.decoder = nn.Sequential(
            *_up_block(c2, c1, bn), *_up_block(c1, c1, bn),               # (b, c1, h, w)
            nn.Conv2d(c1, c, 3, padding=1), nn.Sigmoid(),                  # (b, c, h, w) in [0, 1]
        )
        if options.head_hidden:
            self.classifier = nn.Sequential(
                nn.Linear(options.latent_dim, options.head_hidden), nn.ReLU(inplace=True),
                nn.Dropout(options.dropout), nn.Linear(options.head_hidden, num_classes))
        else:
            self.classifier = nn.Sequential(nn.Dropout(options.dropout), nn.Linear(options.latent_dim, num_classes))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # (b, d)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.decoder_in(z).view(-1, *self.feature_shape))  # (b, c, h, w)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"z": z, "recon": self.decode(z), "logits": self.classifier(z)}


def build(options: AEOptions, dataset) -> SupervisedAE:
    return SupervisedAE(options, tuple(dataset.image_shape), dataset.num_classes)
