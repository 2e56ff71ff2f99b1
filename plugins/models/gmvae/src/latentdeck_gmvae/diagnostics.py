"""Per-epoch mixture diagnostics for ``train.metrics``, on the held-out split (model in eval mode).

Returned only when a control (categorical KL anneal, entropy bonus) is enabled; otherwise the
metrics keep their plain shape. With p = the mean of q(c|x) over the held-out examples:

    cat_kl_weight         the categorical KL schedule weight this epoch (kld_c's weight / kld_weight)
    entropy_bonus_weight  the entropy bonus weight this epoch (qc_usage_entropy's weight is its negative)
    qc_entropy_mean       mean over examples of H(q(c|x)) in nats (0 = confident, log K = uniform)
    qc_neff               exp(H(p)), the effective number of components in use, in [1, K]
    qc_pmax               max_c p[c], the share of the most used component
    qc_argmax_counts      per component, how many held-out examples have it as argmax q(c|x)
"""

from __future__ import annotations

import math
from typing import Any

from .schedules import categorical_kl_weight, entropy_bonus_weight

CHUNK = 1024


def responsibilities(model, x):
    """q(c|x) for every example, (n, K), in chunks (the caller sets eval mode and no_grad)."""
    import torch

    return torch.cat([model(x[start:start + CHUNK])["qc"] for start in range(0, len(x), CHUNK)])


def usage_statistics(qc) -> dict[str, Any]:
    """The diagnostics of responsibilities (n, K): mean per-example entropy, neff and max of the
    mean responsibilities p, argmax counts."""
    import torch

    qc = qc.double()
    p = qc.mean(0)                                               # (K,)
    return {
        "qc_entropy_mean": float(-torch.special.xlogy(qc, qc).sum(1).mean()) if len(qc) else 0.0,
        "qc_neff": math.exp(float(-torch.special.xlogy(p, p).sum())),
        "qc_pmax": float(p.max()),
        "qc_argmax_counts": torch.bincount(qc.argmax(1), minlength=qc.shape[1]).tolist(),
    }


def epoch_diagnostics(options, schedule, model, heldout) -> dict[str, Any]:
    if not options.controls_enabled:
        return {}
    return {
        "cat_kl_weight": categorical_kl_weight(options, schedule),
        "entropy_bonus_weight": entropy_bonus_weight(options, schedule),
        **usage_statistics(responsibilities(model, heldout.x)),
    }
