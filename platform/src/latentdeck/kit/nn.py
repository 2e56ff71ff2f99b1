"""Shared network building blocks for model plugins: a conv encoder trunk and a conv decoder.

Both the supervised autoencoder (``ae``) and the Gaussian-mixture VAE (``gmvae``) use them, so the
two models differ only in what sits between the trunk and the decoder (a latent head, a classifier,
a mixture). Image sides must be multiples of 4: two stride-2 stages go h -> h/2 -> h/4 and back.

    ConvEncoder(image_shape, channels, batch_norm):   (b, c, h, w) -> (b, c2 * h/4 * w/4)
    ConvDecoder(latent_dim, image_shape, channels, batch_norm): (b, d) -> (b, c, h, w) in [0, 1]

Importing this module imports torch; plugins import it only when they build a model.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_block(c_in: int, c_out: int, stride: int, batch_norm: bool) -> list[nn.Module]:
    """3x3 convolution (+ batch norm) + ReLU; with batch norm the convolution has no bias."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


def up_block(c_in: int, c_out: int, batch_norm: bool) -> list[nn.Module]:
    """4x4 stride-2 transposed convolution (doubles h and w) (+ batch norm) + ReLU."""
    layers: list[nn.Module] = [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


def _check_shape(image_shape: tuple[int, int, int], channels: tuple[int, int]) -> tuple[int, int, int]:
    c, h, w = image_shape
    assert h % 4 == 0 and w % 4 == 0, f"image sides must be multiples of 4, got {h}x{w}"
    assert len(channels) == 2, f"channels must be (c1, c2), got {channels!r}"
    return c, h, w


class ConvEncoder(nn.Module):
    """Four 3x3 conv blocks (stride 1, 2, 1, 2) then flatten: images to flat features.

    ``feature_shape`` is (c2, h/4, w/4); ``out_features`` its product.
    """

    def __init__(self, image_shape: tuple[int, int, int], channels: tuple[int, int], batch_norm: bool = True):
        super().__init__()
        c, h, w = _check_shape(image_shape, channels)
        c1, c2 = channels
        self.feature_shape = (c2, h // 4, w // 4)
        self.out_features = c2 * (h // 4) * (w // 4)
        self.layers = nn.Sequential(
            *conv_block(c, c1, 1, batch_norm), *conv_block(c1, c1, 2, batch_norm),    # (b, c1, h/2, w/2)
            *conv_block(c1, c2, 1, batch_norm), *conv_block(c2, c2, 2, batch_norm),   # (b, c2, h/4, w/4)
            nn.Flatten(),                                                               # (b, c2*h/4*w/4)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvDecoder(nn.Module):
    """A linear map from the latent to (c2, h/4, w/4), two up blocks, a 3x3 conv and a sigmoid."""

    def __init__(self, latent_dim: int, image_shape: tuple[int, int, int], channels: tuple[int, int],
                 batch_norm: bool = True):
        super().__init__()
        c, h, w = _check_shape(image_shape, channels)
        c1, c2 = channels
        self.feature_shape = (c2, h // 4, w // 4)
        self.project = nn.Linear(latent_dim, c2 * (h // 4) * (w // 4))
        self.layers = nn.Sequential(
            *up_block(c2, c1, batch_norm), *up_block(c1, c1, batch_norm),   # (b, c1, h, w)
            nn.Conv2d(c1, c, 3, padding=1), nn.Sigmoid(),                    # (b, c, h, w) in [0, 1]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(self.project(z).view(-1, *self.feature_shape))


__all__ = ["ConvDecoder", "ConvEncoder", "conv_block", "up_block"]
