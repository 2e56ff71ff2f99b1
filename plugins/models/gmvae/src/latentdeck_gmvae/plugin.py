"""Registers the Gaussian-mixture VAE and its loss components (kld_c, kld_z, qc_usage_entropy)."""

from latentdeck import LossSpec, ModelSpec, hookimpl

from . import losses
from .options import GMVAEOptions
from .phases import phases
from .schedules import categorical_kl_weight, entropy_bonus_weight

RECON = {"sse": "recon_sse", "mse": "recon_mse"}  # provided by latentdeck.basic


def _build(options, dataset):
    from .model import build  # torch is imported only when a model is built

    return build(options, dataset)


def loss_weights(options: GMVAEOptions, schedule) -> dict[str, float]:
    """``recon + kld_weight * (cat_kl_weight * kld_c + kld_z) - entropy_bonus_weight * qc_usage_entropy``;
    with the controls off (the default) this is the specification's ``recon + kld_weight * (kld_c + kld_z)``.
    In the pretraining epochs (1..pretrain_epochs) both KL weights are 0."""
    kl = 0.0 if schedule.epoch <= options.pretrain_epochs else options.kld_weight  # pretraining: recon alone
    weights = {
        RECON[options.recon_loss]: 1.0,
        "kld_c": kl * categorical_kl_weight(options, schedule),
        "kld_z": kl,
    }
    if options.entropy_bonus_enable:
        bonus = entropy_bonus_weight(options, schedule)
        weights["qc_usage_entropy"] = -bonus if bonus else 0.0
    return weights


def check_config(options: GMVAEOptions, run_config) -> None:
    """Schedule windows must fit in the run (only checked for the controls that are enabled)."""
    epochs = run_config.epochs
    if options.pretrain_epochs >= epochs:
        raise ValueError(f"model_options.pretrain_epochs: pretraining ({options.pretrain_epochs} epochs) must end "
                         f"before the run does (epochs = {epochs}); use fewer pretraining epochs or train longer")
    if options.prior_init != "random" and options.pretrain_epochs < 1:
        raise ValueError(f"model_options.prior_init: '{options.prior_init}' clusters the codes of a pretrained "
                         "encoder; set model_options.pretrain_epochs to 1 or more (or prior_init to 'random')")
    if options.qc_hold_epochs and options.prior_init == "random":
        raise ValueError("model_options.qc_hold_epochs: holding q(c|x) follows a prior_init; set "
                         "model_options.prior_init to 'gmm' or 'umap_gmm', or qc_hold_epochs to 0")
    if options.qc_hold_to_end and options.prior_init == "random":
        raise ValueError("model_options.qc_hold_to_end: holding q(c|x) follows a prior_init; set "
                         "model_options.prior_init to 'gmm' or 'umap_gmm', or qc_hold_to_end to false")
    if options.qc_hold_to_end and options.qc_hold_epochs:
        raise ValueError("model_options.qc_hold_epochs: qc_hold_to_end already holds q(c|x) to the last epoch; "
                         "set qc_hold_epochs to 0, or qc_hold_to_end to false for a hold that ends")
    if options.pretrain_epochs + options.qc_hold_epochs >= epochs and options.qc_hold_epochs:
        raise ValueError(f"model_options.qc_hold_epochs: pretraining and the hold ({options.pretrain_epochs} + "
                         f"{options.qc_hold_epochs} epochs) must end before the run does (epochs = {epochs})")
    for enabled, field in ((options.categorical_kl_anneal, "categorical_kl_anneal_epochs"),
                           (options.entropy_bonus_enable, "entropy_bonus_epochs")):
        window = getattr(options, field)
        if enabled and window > epochs:
            raise ValueError(f"model_options.{field}: the window ({window} epochs) is longer than the run "
                             f"(epochs = {epochs}); shorten the window or train for more epochs")


def _epoch_diagnostics(options, schedule, model, heldout):
    from .diagnostics import epoch_diagnostics

    return epoch_diagnostics(options, schedule, model, heldout)


def _before_epoch(options, schedule, model, images):
    if options.prior_init == "random":
        return None
    from .prior_init import before_epoch

    return before_epoch(options, schedule, model, images)


def before_epoch_note(options, schedule) -> str | None:
    """What ``before_epoch`` is about to do, when it takes a while: the prior initialisation."""
    if options.prior_init == "random" or schedule.epoch != options.pretrain_epochs + 1:
        return None
    how = (f"a Gaussian mixture on a 5-D UMAP of the codes, {options.prior_init_embeddings} embeddings"
           if options.prior_init == "umap_gmm" else "a diagonal Gaussian mixture on the codes")
    return (f"initialising the prior from clusters of the pretrained codes ({how}); "
            "this takes a minute or two on a laptop CPU")


@hookimpl
def register_models():
    return [ModelSpec(
        name="gmvae",
        build=_build,
        loss_weights=loss_weights,
        options=GMVAEOptions,
        capabilities=frozenset({"reconstruction", "latents", "decoder", "mixture", "gaussian_posterior",
                                "mixture_prior"}),
        description="Gaussian-mixture VAE: recon + kld_weight * (KL(q(c|x) || uniform) + E_q(c|x) KL(q(z|x) || p(z|c)))",
        epoch_diagnostics=_epoch_diagnostics,
        check_config=check_config,
        before_epoch=_before_epoch,
        before_epoch_note=before_epoch_note,
        phases=phases,
        latent_name="mu of q(z|x)",
    )]


@hookimpl
def register_loss_components():
    mixture = frozenset({"qc_logits"})
    return [
        LossSpec("kld_c", losses.kld_c, mixture, "KL(q(c|x) || uniform(K)), analytic"),
        LossSpec("kld_z", losses.kld_z, frozenset({"qc", "mu", "logvar", "prior_mu", "prior_logvar"}),
                 "E_q(c|x)[KL(q(z|x) || p(z|c))], analytic, marginalised over the K components"),
        LossSpec("qc_usage_entropy", losses.qc_usage_entropy, frozenset({"qc"}),
                 "H(batch mean of q(c|x)), the entropy of component usage (the entropy bonus's term)"),
    ]


from .presets import register_presets  # noqa: E402,F401  (a hook implementation of this plugin)
