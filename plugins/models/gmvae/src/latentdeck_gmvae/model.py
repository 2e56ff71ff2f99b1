"""Gaussian-mixture VAE: a conv encoder giving q(c|x) over K components and q(z|x) = N(mu, diag(s2)),
a learned per-component prior p(z|c) = N(mu_c, diag(s2_c)), and a conv decoder.

Loss (the specification's): ``recon + kld_weight * (kld_c + kld_z)`` with both KL terms analytic and
kld_z marginalised over q(c|x) (no Gumbel sampling); see ``losses.py``. The conv trunk and decoder are
the host's shared blocks (:mod:`latentdeck.kit.nn`), the same ones the ``ae`` model uses.

q(c|x) is a softmax over K logits: a linear head on the conv trunk (``qc_source: "encoder"``), or
``-KL(q(z|x) || p(z|c))`` (``qc_source: "latent"``), which is the q(c|x) minimising kld_c + kld_z for
the current q(z|x) and prior (VaDE's p(c|z) with a uniform p(c), in the analytic form).

The decoder reads z = mu + s * eps (the reparameterisation trick, eps ~ N(0, I) from torch's seeded
generator) in train mode and z = mu in eval mode, so held-out metrics, diagnostics and artifacts are
deterministic. ``encode(x)`` returns mu, the latent used for projections.

References: Dilokthanakul et al. 2016, "Deep Unsupervised Clustering with Gaussian Mixture VAEs";
Jiang et al. 2017, "Variational Deep Embedding" (VaDE).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from latentdeck.kit import ConvDecoder, ConvEncoder

from .losses import gaussian_kl
from .options import GMVAEOptions


class GMVAE(nn.Module):
    def __init__(self, options: GMVAEOptions, image_shape: tuple[int, int, int]):
        super().__init__()
        k, d = options.num_components, options.latent_dim
        self.trunk = ConvEncoder(image_shape, options.channels, options.batch_norm)   # (b, flat)
        self.qc_source = options.qc_source
        self.hold_qc = False  # set per epoch by prior_init.before_epoch (qc_hold_epochs)
        if options.qc_source == "encoder":
            self.qc_head = nn.Linear(self.trunk.out_features, k)                      # (b, K) logits
        self.mu_head = nn.Linear(self.trunk.out_features, d)                          # (b, d)
        self.logvar_head = nn.Linear(self.trunk.out_features, d)                      # (b, d)
        self.decoder = ConvDecoder(d, image_shape, options.channels, options.batch_norm)
        # p(z|c): component means start apart (standard normal draws), unit variances.
        self.prior_mu = nn.Parameter(torch.randn(k, d))                               # (K, d)
        self.prior_logvar = nn.Parameter(torch.zeros(k, d))                           # (K, d)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.mu_head(self.trunk(x))  # (b, d): the mean of q(z|x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (b, c, h, w) in [0, 1]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(x)
        mu, logvar = self.mu_head(h), self.logvar_head(h)             # (b, d), (b, d)
        if self.qc_source == "encoder":
            qc_logits = self.qc_head(h)                               # (b, K)
        else:  # q(c|x) ∝ exp(-KL(q(z|x) || p(z|c))): the minimiser of kld_c + kld_z over q(c|x)
            qc_logits = -gaussian_kl(mu, logvar, self.prior_mu, self.prior_logvar)
        if self.hold_qc:  # qc_hold_epochs: same values, no gradient through q(c|x)
            qc_logits = qc_logits.detach()
        z = mu + (0.5 * logvar).exp() * torch.randn_like(mu) if self.training else mu
        return {
            "recon": self.decode(z), "z": z, "mu": mu, "logvar": logvar,
            "qc_logits": qc_logits, "qc": F.softmax(qc_logits, dim=1),
            "prior_mu": self.prior_mu, "prior_logvar": self.prior_logvar,
        }


def build(options: GMVAEOptions, dataset) -> GMVAE:
    return GMVAE(options, tuple(dataset.image_shape))
