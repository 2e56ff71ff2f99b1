"""Mixture health: how a mixture model uses its components, per epoch, projection-independent.

Writes ``mixture/mixture_health_epoch_<N>.json`` and ``mixture/mixture_health_latest.json`` from the
empirical responsibilities q(c|x) (``outputs["qc"]``, eval mode) on the persisted visualization
subset (``config.json: viz_indices``). With n examples, K components and p = mean_x q(c|x):

    p             soft component weights (K floats);  psum = sum(p) (1 up to rounding)
    entropy       H(p) in nats;  neff = exp(entropy), in [1, K];  pmax = max(p)
    top           components by decreasing p: [{component, p}, ...] (ties: lower index first)
    argmax_counts examples per component by argmax q(c|x) (sums to n)
    argmax_neff   exp(entropy of argmax_counts / n), in [1, K]: hard usage, shows collapse
    sample_key    "viz:seed=<seed>:n=<n>"; sample_indices_ref "config.json#/viz_indices"
"""

from __future__ import annotations

import math

from latentdeck import ArtifactSpec, hookimpl


def _entropy(weights) -> float:
    return -sum(w * math.log(w) for w in weights if w > 0)


def mixture_health(qc, epoch: int, seed: int) -> dict:
    """The artifact's payload from responsibilities ``qc`` (n, K) (a tensor or nested lists)."""
    import torch

    qc = torch.as_tensor(qc, dtype=torch.float64)
    n, k = qc.shape
    p = qc.mean(0).tolist() if n else [0.0] * k
    counts = torch.bincount(qc.argmax(1), minlength=k).tolist() if n else [0] * k
    entropy = _entropy(p)
    order = sorted(range(k), key=lambda c: (-p[c], c))
    return {
        "epoch": epoch, "n": n, "components": k,
        "p": p, "psum": sum(p), "entropy": entropy, "neff": math.exp(entropy), "pmax": max(p),
        "top": [{"component": c, "p": p[c]} for c in order],
        "argmax_counts": counts, "argmax_neff": math.exp(_entropy([c / n for c in counts])) if n else 0.0,
        "sample_key": f"viz:seed={seed}:n={n}", "sample_indices_ref": "config.json#/viz_indices",
        "source": "q(c|x) in eval mode on the visualization subset",
    }


def generate(ctx) -> None:
    payload = mixture_health(ctx.outputs["qc"], ctx.epoch, ctx.config["seed"])
    ctx.save_json("mixture", "mixture_health_{tag}.json", payload)


@hookimpl
def register_artifacts():
    return [ArtifactSpec(
        name="mixture_health", generate=generate, requires=frozenset({"mixture"}),
        description="component usage of a mixture model on the visualization subset (p, entropy, neff, argmax counts)")]
