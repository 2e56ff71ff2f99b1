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
    health        latentdeck.kit.mixtures.assess(p, argmax_counts) plus plain-language advice:
                  {status: healthy | uneven | uninformative | collapsed, summary, advice, dead_components, ...};
                  during the model's ``pretraining`` phase {status: pretraining, summary (when the
                  components start), advice: []}; a run from the clustering preset is never advised to use it
    phases        the run's phases in force at this epoch (``ctx.phases``; [] for a model without phases)
"""

from __future__ import annotations

from pathlib import Path

from latentdeck import ComputationSpec, ViewSpec, hookimpl
from latentdeck.kit import assess, phases_at, usage

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


CLUSTERING_PRESET = "gmvae-clusters"  # the preset the advice points to (the GM-VAE plugin ships it)


def _advice(status: str, preset: str | None) -> list[str]:
    """The advice for a verdict; a run that already uses the clustering preset is not told to start from it."""
    if preset != CLUSTERING_PRESET or status == "healthy":
        return ADVICE[status]
    return [ADVICE[status][0],
            f"This run already uses the \"{CLUSTERING_PRESET}\" preset. Its clusters come from the prior "
            "initialisation: try another seed, more pretraining epochs, or a larger training set (limit), and "
            "compare runs on the cluster-quality panel."]


def _pretraining_verdict(phase: dict, epoch: int, k: int, later: list[dict]) -> dict:
    """The verdict while the mixture is not in use yet: no advice, and when the components start."""
    starts = next((p for p in later if p["name"] == "prior_init"), None)
    then = (f" Before epoch {starts['start']} the prior is initialised from clusters of the codes; from then on "
            "the components are trained." if starts else f" From epoch {phase['end'] + 1} the KL terms switch on.")
    return {"status": "pretraining", "components": k, "phase": phase["name"],
            "summary": (f"Pretraining (epoch {epoch} of {phase['start']}-{phase['end']}): the mixture is not in use "
                        "yet. Only the reconstruction is trained, so q(c|x) and the prior are untrained and the "
                        "components say nothing about the digits." + then),
            "advice": [], "dead_components": []}


def mixture_health(qc, epoch: int, seed: int, phases: list[dict] | None = None, preset: str | None = None) -> dict:
    """The artifact's payload from responsibilities ``qc`` (n, K) (a tensor or nested lists); ``phases``
    (the run's, :mod:`latentdeck.kit.phases`) and ``preset`` (config.json's) make the verdict fit the run."""
    stats = usage(qc)
    n, k, p, counts = stats["n"], stats["components"], stats["p"], stats["argmax_counts"]
    order = sorted(range(k), key=lambda c: (-p[c], c))
    now = phases_at(phases or [], epoch)
    pretraining = next((ph for ph in now if ph["name"] == "pretraining"), None)
    if pretraining is not None:
        health = _pretraining_verdict(pretraining, epoch, k, [ph for ph in phases or [] if ph["start"] > epoch])
    else:
        health = assess(p, counts, stats["entropy_mean"]) if n else None
        if health is not None:
            health["advice"] = _advice(health["status"], preset)
    return {
        "epoch": epoch, "n": n, "components": k,
        "p": p, "psum": sum(p), "entropy": stats["entropy"], "neff": stats["neff"], "pmax": stats["pmax"],
        "top": [{"component": c, "p": p[c]} for c in order],
        "argmax_counts": counts, "argmax_neff": stats["argmax_neff"],
        "sample_key": f"viz:seed={seed}:n={n}", "sample_indices_ref": "config.json#/viz_indices",
        "source": "q(c|x) in eval mode on the visualization subset",
        "health": health,
        "phases": now,
    }


def generate(ctx, request=None) -> None:
    payload = mixture_health(ctx.outputs["qc"], ctx.epoch, ctx.config["seed"], ctx.phases, ctx.config.get("preset"))
    ctx.save_json("mixture", "mixture_health_{tag}.json", payload)


@hookimpl
def register_computations():
    return [ComputationSpec(
        name="mixture_health", compute=generate, requires=frozenset({"mixture"}),
        folder="mixture", files=("mixture_health_{tag}.json",), view="metric_series",
        description="component usage of a mixture model on the visualization subset (p, entropy, neff, argmax "
                    "counts) with a verdict: healthy, uneven or collapsed")]


VIEWS_DIR = Path(__file__).parent / "views"  # bundles built from ../../frontend by scripts/build-views.mjs


@hookimpl
def register_views():
    return [ViewSpec(name="mixture-health", module=str(VIEWS_DIR / "mixture-health.js"), mount="explorer-side",
                     title="Mixture health", computations=("mixture_health",), order=20,
                     description="how the model uses its K components, epoch by epoch; click one to filter the map "
                                 "to it and ask for its prior samples")]
