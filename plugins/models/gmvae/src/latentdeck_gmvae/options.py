"""Options of the Gaussian-mixture VAE (kept free of torch so listing plugins stays fast)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Channels = Annotated[int, Field(ge=1, le=1024)]


class GMVAEOptions(BaseModel):
    """Options of the GM-VAE. Defaults give the specification's plain loss
    ``recon + kld_weight * (kld_c + kld_z)``; the anneal and the entropy bonus are off."""

    # strict: numbers must be JSON numbers (no "8" or true), floats finite
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    num_components: int = Field(10, ge=2, le=256, description="K, the number of mixture components (>= 2)")
    latent_dim: int = Field(16, ge=2, le=512, description="size of the latent vector z")
    kld_weight: float = Field(1.0, ge=0.0, le=1000.0, description="weight of kld_c + kld_z in the loss, at most 1000 "
                                                                   "(more only swamps the reconstruction)")
    recon_loss: Literal["sse", "mse"] = Field(
        "sse", description="reconstruction term: 'sse' = squared error summed over an image's pixels "
                           "(recon_sse, the Gaussian-decoder scale the KL terms are measured in), "
                           "'mse' = mean over pixels (recon_mse, as in the ae model)")
    qc_source: Literal["encoder", "latent"] = Field(
        "encoder", description="where q(c|x) comes from: 'encoder' = softmax of a linear head on the conv "
                               "trunk; 'latent' = softmax over c of -KL(q(z|x) || p(z|c)), the q(c|x) that "
                               "minimises kld_c + kld_z for the current q(z|x) and prior (as in VaDE)")
    pretrain_epochs: int = Field(
        0, ge=0, le=10_000, description="epochs 1..P train the reconstruction alone (kld_c and kld_z weighted 0): "
                                        "the autoencoder pretraining of VaDE-style GM-VAEs; 0 = off; must be < epochs "
                                        "(at most 10,000, the epochs maximum)")
    prior_init: Literal["random", "gmm", "umap_gmm"] = Field(
        "random", description="how p(z|c) starts: 'random' = standard normal means, unit variances; 'gmm' = "
                              "clusters of a diagonal GMM on the pretrained encoder's mu; 'umap_gmm' = clusters "
                              "of a GMM on a 5-D UMAP of mu (follows curved clusters). Applied once, before "
                              "epoch pretrain_epochs + 1; needs pretrain_epochs >= 1")
    qc_hold_epochs: int = Field(
        0, ge=0, le=10_000, description="after prior_init, hold q(c|x) for this many epochs (at most 10,000, the "
                                        "epochs maximum): the loss is unchanged but no "
                             "gradient flows through q(c|x), so the encoder first gathers each initial cluster "
                             "around its component before the assignments may move; needs prior_init")
    qc_hold_to_end: bool = Field(
        False, description="after prior_init, hold q(c|x) until the last epoch (instead of qc_hold_epochs): the "
                           "loss is unchanged, the codes and the prior keep training, and the assignments are "
                           "never released, so the clusters the init found are not traded for a lower KL; "
                           "needs prior_init")
    prior_init_embeddings: int = Field(
        5, ge=1, le=20, description="umap_gmm: cluster this many UMAP embeddings (different random states) and "
                                    "keep the partition that agrees most with the others (mean NMI)")
    prior_init_subset: int = Field(
        10000, ge=100, le=1_000_000, description="at most this many training images (a seeded random subset) are "
                                                 "encoded and clustered by prior_init; 100..1,000,000 (the GMM and "
                                                 "UMAP fits grow with it)")
    channels: tuple[Channels, Channels] = Field(
        (32, 64), strict=False, description="conv channels at 14x14 and 7x7, each 1..1024 (same blocks as the ae)")
    batch_norm: bool = Field(True, description="batch normalisation in the encoder and decoder")
    categorical_kl_anneal: bool = Field(
        False, description="ramp the weight of kld_c from 0 to categorical_kl_max_weight over the anneal window")
    categorical_kl_anneal_epochs: int = Field(
        10, ge=1, le=10_000, description="anneal window in epochs (epochs 1..W; must not exceed the run's epochs, "
                                         "at most 10,000)")
    categorical_kl_max_weight: float = Field(
        1.0, ge=0.0, le=1000.0, description="kld_c's schedule weight at the end of the anneal window and after it, "
                                            "at most 1000")
    entropy_bonus_enable: bool = Field(
        False, description="subtract entropy_bonus_weight * H(mean q(c|x)) from the loss, decaying to 0 "
                           "over the entropy window (keeps every component in use early on)")
    entropy_bonus_weight: float = Field(1.0, ge=0.0, le=1000.0, description="bonus weight in epoch 1 of the entropy "
                                                                             "window, at most 1000")
    entropy_bonus_epochs: int = Field(
        10, ge=1, le=10_000, description="entropy window in epochs (epochs 1..W; must not exceed the run's epochs, "
                                         "at most 10,000)")

    @property
    def controls_enabled(self) -> bool:
        return (self.categorical_kl_anneal or self.entropy_bonus_enable or self.pretrain_epochs > 0
                or self.prior_init != "random")
