"""Per-epoch mixture diagnostics for ``train.metrics``, on the held-out split (model in eval mode).

Every GM-VAE run logs how it uses its components, so collapse is visible from the first epoch. With
p = the mean of q(c|x) over the held-out examples (statistics from ``latentdeck.kit.mixtures.usage``):

    qc_entropy_mean       mean over examples of H(q(c|x)) in nats (0 = confident, log K = uniform)
    qc_neff               exp(H(p)), the effective number of components in use by mean weight, in [1, K]
    qc_argmax_neff        exp(H(argmax counts / n)), components in use by hard assignment, in [1, K]
    qc_pmax               max_c p[c], the share of the most used component
    qc_argmax_counts      per component, how many held-out examples have it as argmax q(c|x)
    warnings              [] or one ``mixture_collapse`` warning (``latentdeck.kit.mixtures.assess``:
                          ``collapsed``, ``uninformative`` or ``uneven``) with the numbers and what to try; none during
                          pretraining, when q(c|x) is not trained yet

With a control enabled (categorical KL anneal, entropy bonus, pretraining, prior init) the schedule
weights are logged too: ``cat_kl_weight`` (kld_c's applied weight / kld_weight: 0 in pretraining epochs) and,
with the bonus on, ``entropy_bonus_weight``.
"""

from __future__ import annotations

import math
from typing import Any

from latentdeck.kit import assess, usage

from .schedules import categorical_kl_weight, entropy_bonus_weight

CHUNK = 1024
NUMBERS = ("components", "neff", "argmax_neff", "dead_components", "top_component", "top_share")

ADVICE = [
    "Start from the preset \"GM-VAE — clusters digits\" (gmvae-clusters): a few epochs of autoencoder "
    "pretraining, a prior initialised from clusters of the pretrained codes, and q(c|x) held while the codes "
    "gather around their components.",
    "Or keep every component in use early on with the entropy bonus (model_options.entropy_bonus_enable) "
    "or ramp the categorical KL in (model_options.categorical_kl_anneal).",
]
WHY = {
    "collapsed": "Why it happens: with a learned prior the KL terms are cheapest when one component covers every "
                 "code, and nothing in the plain loss rewards using more than one.",
    "uninformative": "Why it happens: kld_c pulls q(c|x) towards the uniform prior, and while the components' "
                     "p(z|c) overlap no component explains a code better than another, so q(c|x) stays flat.",
    "uneven": "Why it happens: components that win codes early pull their p(z|c) towards them and win more; the "
              "others are left with almost nothing.",
}


def responsibilities(model, x):
    """q(c|x) for every example, (n, K), in chunks (the caller sets eval mode and no_grad)."""
    import torch

    return torch.cat([model(x[start:start + CHUNK])["qc"] for start in range(0, len(x), CHUNK)])


def usage_statistics(qc) -> dict[str, Any]:
    """The diagnostics of responsibilities (n, K): mean per-example entropy, neff, argmax neff and max
    of the mean responsibilities p, argmax counts."""
    stats = usage(qc)
    return {
        "qc_entropy_mean": stats["entropy_mean"],
        "qc_neff": stats["neff"],
        "qc_argmax_neff": stats["argmax_neff"],
        "qc_pmax": stats["pmax"],
        "qc_argmax_counts": stats["argmax_counts"],
    }


TITLES = {"collapsed": "The mixture has collapsed", "uninformative": "q(c|x) ignores the input",
          "uneven": "Most components are unused"}


def collapse_warning(p: list[float], stats: dict[str, Any]) -> dict[str, Any] | None:
    """A ``mixture_collapse`` warning when the usage (mean weights ``p``, :func:`usage_statistics`) is
    collapsed, uninformative or uneven, else None."""
    k = len(p)
    verdict = assess(p, stats["qc_argmax_counts"], stats["qc_entropy_mean"])
    status = verdict["status"]
    if status == "healthy":
        return None
    ln_k = math.log(k)
    kld_c = ln_k - stats["qc_entropy_mean"]
    if status == "uninformative":
        reading = (f"kld_c on the held-out split is {kld_c:.3f}, near 0 (ln K = {ln_k:.3f}): q(c|x) is close to the "
                   "uniform prior for every example, so nothing pushes the components apart.")
    elif status == "collapsed" and kld_c > 0.9 * ln_k:
        reading = (f"kld_c on the held-out split is {kld_c:.3f} against ln K = {ln_k:.3f}: that is total collapse — "
                   "every example is assigned with certainty, all to the same component.")
    else:
        reading = (f"kld_c on the held-out split is {kld_c:.3f} (ln K = {ln_k:.3f}); kld_c alone cannot show collapse "
                   "(it is ln K whenever every assignment is certain): the numbers of components in use do.")
    return {
        "code": "mixture_collapse", "severity": "warning" if status == "uneven" else "error",
        "title": TITLES[status], "detail": f"{verdict['summary']} {reading}", "advice": [*ADVICE, WHY[status]],
        "numbers": {**{key: verdict[key] for key in NUMBERS}, "status": status, "kld_c": kld_c, "ln_k": ln_k},
    }


def epoch_diagnostics(options, schedule, model, heldout) -> dict[str, Any]:
    qc = responsibilities(model, heldout.x)
    stats = usage_statistics(qc)
    p = qc.double().mean(0).tolist()
    diagnostics: dict[str, Any] = dict(stats)
    pretraining = schedule.epoch <= options.pretrain_epochs
    if options.controls_enabled:  # the factors the loss applied this epoch (pretraining: kld_c is off)
        diagnostics["cat_kl_weight"] = 0.0 if pretraining else categorical_kl_weight(options, schedule)
    if options.entropy_bonus_enable:
        diagnostics["entropy_bonus_weight"] = entropy_bonus_weight(options, schedule)
    warning = None if pretraining else collapse_warning(p, stats)
    diagnostics["warnings"] = [warning] if warning else []
    return diagnostics
