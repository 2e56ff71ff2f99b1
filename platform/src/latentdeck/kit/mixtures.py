"""How a mixture model uses its components: statistics of responsibilities q(c|x) and a plain verdict.

Public helpers for plugins of models with the ``mixture`` capability (the per-epoch diagnostics of
a model, the mixture health artifact), so every place that says "collapsed" means the same thing.

With n examples, K components, q = q(c|x) (n, K) and p = the mean of q over the examples:

    neff          exp(H(p)) in [1, K]: components in use by mean weight
    argmax_neff   exp(H(argmax counts / n)) in [1, K]: components in use by hard assignment
    kld_c         mean KL(q(c|x) || uniform) = ln K - mean H(q(c|x)); it equals ln K whenever every
                  example is assigned with certainty (to one component or to many)

The verdict (:func:`assess`) is ``uninformative`` when the mean H(q(c|x)) is above 0.9 ln K (q(c|x)
nearly uniform for every example: the components ignore the input), else ``collapsed`` when
``argmax_neff < 1.5`` or ``neff < 1.5`` (nearly every example in one component), ``uneven`` when
``argmax_neff < K / 2`` (half the components or more unused), else ``healthy``. A component is
``dead`` when its mean weight is below ``0.1 / K``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.

COLLAPSED_BELOW = 1.5
UNINFORMATIVE_ABOVE = 0.9  # mean H(q(c|x)) above 0.9 ln K: q(c|x) is nearly uniform for every example
DEAD_WEIGHT_FACTOR = 0.1  # a component with p < 0.1 / K has almost no weight


def _entropy(weights: Sequence[float]) -> float:
    return -sum(w * math.log(w) for w in weights if w > 0)


def usage(qc) -> dict[str, Any]:
    """Statistics of responsibilities ``qc`` (n, K), a tensor or nested lists: ``p``, ``entropy``,
    ``neff``, ``pmax``, ``argmax_counts``, ``argmax_neff``, ``entropy_mean`` (mean H(q(c|x))), ``kld_c``."""
    import torch

    qc = torch.as_tensor(qc, dtype=torch.float64)
    n, k = qc.shape
    p = qc.mean(0).tolist() if n else [0.0] * k
    counts = torch.bincount(qc.argmax(1), minlength=k).tolist() if n else [0] * k
    entropy = _entropy(p)
    entropy_mean = float(-torch.special.xlogy(qc, qc).sum(1).mean()) if n else 0.0
    return {
        "n": n, "components": k, "p": p, "entropy": entropy, "neff": math.exp(entropy), "pmax": max(p),
        "argmax_counts": counts, "argmax_neff": math.exp(_entropy([c / n for c in counts])) if n else 0.0,
        "entropy_mean": entropy_mean, "kld_c": math.log(k) - entropy_mean,
    }


def _list(items: Sequence[int]) -> str:
    shown = ", ".join(str(c) for c in items[:8])
    return shown + (f" and {len(items) - 8} more" if len(items) > 8 else "")


def assess(p: Sequence[float], argmax_counts: Sequence[int], entropy_mean: float | None = None) -> dict[str, Any]:
    """``{status, summary, components, neff, argmax_neff, dead_components, top_component, top_share,
    kld_c_collapse_value}``: the verdict above with one plain sentence that carries the numbers.
    With ``entropy_mean`` (mean H(q(c|x))) given, a q(c|x) that is nearly uniform for every example
    (``entropy_mean > 0.9 ln K``) is ``uninformative``: the components then say nothing about the input."""
    k = len(p)
    n = sum(argmax_counts)
    neff = math.exp(_entropy(p))
    argmax_neff = math.exp(_entropy([c / n for c in argmax_counts])) if n else 0.0
    dead = [c for c in range(k) if p[c] < DEAD_WEIGHT_FACTOR / k]
    top = max(range(k), key=lambda c: (argmax_counts[c], p[c])) if k else 0
    share = argmax_counts[top] / n if n else 0.0
    ln_k = math.log(k) if k else 0.0
    in_use = f"{argmax_neff:.2f} of {k} components in use (effective number by assignment; {neff:.2f} by mean weight)"
    if entropy_mean is not None and k > 1 and entropy_mean > UNINFORMATIVE_ABOVE * ln_k:
        status = "uninformative"
        summary = (f"Uninformative: q(c|x) is nearly uniform for every example (mean entropy {entropy_mean:.2f} of "
                   f"at most ln K = {ln_k:.2f} nats), so the components say nothing about the input; the most "
                   f"likely component is an arbitrary pick ({in_use}).")
    elif argmax_neff < COLLAPSED_BELOW or neff < COLLAPSED_BELOW:
        status = "collapsed"
        summary = f"Collapsed: component {top} takes {share:.1%} of the examples; {in_use}."
    elif argmax_neff < k / 2:
        status = "uneven"
        summary = f"Uneven: only {in_use}" + (f"; components {_list(dead)} have almost no weight." if dead else ".")
    else:
        status = "healthy"
        summary = f"Healthy: {in_use}."
    return {"status": status, "summary": summary, "components": k, "neff": neff, "argmax_neff": argmax_neff,
            "dead_components": dead, "top_component": top, "top_share": share, "kld_c_collapse_value": ln_k}


def component_weight(model, x, component: int) -> dict[str, Any]:
    """How much of the data a component holds at this epoch: its mean q(c|x) and argmax share on ``x``
    (the visualization subset), with a plain note when it holds almost none (p < 0.1 / K)."""
    import torch

    with torch.no_grad():
        qc = model(x)["qc"].double()
    k = qc.shape[1]
    p = float(qc[:, component].mean())
    share = float((qc.argmax(1) == component).double().mean())
    weight = {"p": round(p, 6), "argmax_share": round(share, 6), "n": len(qc), "components": k,
              "source": "mean q(c|x) on the visualization subset at this epoch"}
    if p < 0.1 / k:
        weight["note"] = (f"Component {component} holds almost no data at this epoch (weight {p:.4f}; "
                          f"{share:.1%} of the examples have it as their most likely component): these samples "
                          "show what the decoder makes of an unused region of the prior, not a cluster of digits.")
    return weight


__all__ = ["COLLAPSED_BELOW", "DEAD_WEIGHT_FACTOR", "UNINFORMATIVE_ABOVE", "assess", "component_weight", "usage"]
