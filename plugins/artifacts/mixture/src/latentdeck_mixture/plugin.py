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
    health        latentdeck.mixtures.assess(p, argmax_counts) plus plain-language advice:
                  {status: healthy | uneven | collapsed, summary, advice, dead_components, ...}
"""

from __future__ import annotations

from latentdeck import ArtifactSpec, hookimpl
from latentdeck.kit import assess, usage

ADVICE = {
    "healthy": [],
    "uneven": [
        "Some components hold almost no examples: their prior samples show what the decoder makes of an "
        "unused region, not a cluster of digits.",
        "To use every component, start from a preset that clusters (the launch form lists them), or turn on "
        "the model's anti-collapse options (for the GM-VAE: the entropy bonus or the categorical-KL anneal).",
    ],
    "uninformative": [
        "q(c|x) barely depends on the input, so the component colours on the map and the component "
        "samples carry no information about the digits yet; kld_c is then near 0 (q(c|x) is close to uniform).",
        "Early in training this can pass. If it stays, start from a preset that clusters (for the GM-VAE: "
        "\"GM-VAE — clusters digits\"), which initialises the components from clusters of pretrained codes.",
    ],
    "collapsed": [
        "Every example sits in one component, so the mixture says nothing about the classes: the kld_c term "
        "then reads ln K (each example assigned with certainty, all to the same component).",
        "Start from the preset that clusters (for the GM-VAE: \"GM-VAE — clusters digits\": autoencoder "
        "pretraining, a prior initialised from clusters of the codes, q(c|x) held while the codes gather), or "
        "turn on the entropy bonus or the categorical-KL anneal.",
    ],
}


def mixture_health(qc, epoch: int, seed: int) -> dict:
    """The artifact's payload from responsibilities ``qc`` (n, K) (a tensor or nested lists)."""
    stats = usage(qc)
    n, k, p, counts = stats["n"], stats["components"], stats["p"], stats["argmax_counts"]
    order = sorted(range(k), key=lambda c: (-p[c], c))
    health = assess(p, counts, stats["entropy_mean"]) if n else None
    if health is not None:
        health["advice"] = ADVICE[health["status"]]
    return {
        "epoch": epoch, "n": n, "components": k,
        "p": p, "psum": sum(p), "entropy": stats["entropy"], "neff": stats["neff"], "pmax": stats["pmax"],
        "top": [{"component": c, "p": p[c]} for c in order],
        "argmax_counts": counts, "argmax_neff": stats["argmax_neff"],
        "sample_key": f"viz:seed={seed}:n={n}", "sample_indices_ref": "config.json#/viz_indices",
        "source": "q(c|x) in eval mode on the visualization subset",
        "health": health,
    }


def generate(ctx) -> None:
    payload = mixture_health(ctx.outputs["qc"], ctx.epoch, ctx.config["seed"])
    ctx.save_json("mixture", "mixture_health_{tag}.json", payload)


@hookimpl
def register_artifacts():
    return [ArtifactSpec(
        name="mixture_health", generate=generate, requires=frozenset({"mixture"}),
        folder="mixture", files=("mixture_health_{tag}.json",), view="metric_series",
        description="component usage of a mixture model on the visualization subset (p, entropy, neff, argmax "
                    "counts) with a verdict: healthy, uneven or collapsed")]
