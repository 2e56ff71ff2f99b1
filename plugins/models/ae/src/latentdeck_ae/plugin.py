"""Registers the supervised autoencoder and its classification loss (``recon_mse`` is ``latentdeck.basic``'s)."""

from latentdeck import LossSpec, ModelSpec, hookimpl

from . import losses
from .options import AEOptions


def _build(options, dataset):
    from .model import build  # torch is imported only when a model is built

    return build(options, dataset)


def _loss_weights(options, schedule):
    return {"recon_mse": 1.0, "class_ce": options.class_weight}


@hookimpl
def register_models():
    return [ModelSpec(
        name="ae",
        default_rank=0,  # the specification's default model: a config without "model" trains the ae
        build=_build,
        loss_weights=_loss_weights,
        options=AEOptions,
        capabilities=frozenset({"reconstruction", "classifier", "latents", "decoder"}),
        description="Supervised conv autoencoder: MSE(recon, x) + class_weight * CE(logits, y)",
    )]


@hookimpl
def register_loss_components():
    return [LossSpec("class_ce", losses.class_ce, frozenset({"logits"}), "CrossEntropy(logits, label)")]


from .presets import register_presets  # noqa: E402,F401  (a hook implementation of this plugin)
