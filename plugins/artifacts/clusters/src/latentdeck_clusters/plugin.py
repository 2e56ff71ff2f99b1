"""Cluster quality, per epoch on the visualization subset (``config.json: viz_indices``):

- ``cluster_quality`` (any model whose outputs carry ``qc`` and/or ``logits``):
  ``clusters/cluster_quality_{tag}.json``: for a mixture, the components x digits confusion matrix of
  ``argmax q(c|x)``, the best one-to-one matching of components to digits (Hungarian), the matched accuracy
  and the NMI; for a classifier, the held-out confusion matrix of ``argmax logits``. Every cell lists its
  points' positions in the subset, so a view can focus them on the map (:mod:`latentdeck_clusters.quality`).
- ``component_prototypes`` (models with ``mixture_prior`` and ``decoder``): each component's prior mean
  ``prior_mu[c]`` decoded, side by side in ``clusters/prior_means_{tag}.png``, with
  ``clusters/prior_means_{tag}.json`` (the tile size and the components' weights on the subset).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentdeck import ComputationSpec, ViewSpec, hookimpl
from latentdeck.kit import pretraining_note

FOLDER = "clusters"


def _numpy(value: Any):
    if value is None:
        return None
    return value.detach().cpu().numpy() if hasattr(value, "detach") else value


def generate_cluster_quality(ctx, request=None) -> None:
    from .quality import cluster_quality

    qc, logits = ctx.outputs.get("qc"), ctx.outputs.get("logits")
    if qc is None and logits is None:
        return  # nothing to score: no components, no classifier
    payload = cluster_quality(ctx.epoch, list(ctx.dataset_spec.class_names), _numpy(ctx.viz.y), qc=_numpy(qc),
                              logits=_numpy(logits), split=ctx.viz.split)
    note = pretraining_note(ctx.phases, ctx.epoch, "the components are not in use yet, so these scores describe how an "
                                                   "untrained prior splits the codes, not clusters the model learnt")
    if note and payload.get("mixture") is not None:
        payload["phase_note"] = note
    ctx.save_json(FOLDER, "cluster_quality_{tag}.json", payload)


def prototype_strip(decodes) -> Any:
    """uint8 (h, K * w): decoded images (K, c, h, w) in [0, 1], channel mean, side by side, no gaps."""
    import numpy as np

    pixels = (decodes.float().mean(1).clamp(0, 1) * 255).round().byte().cpu().numpy()  # (K, h, w)
    return np.concatenate(list(pixels), axis=1) if len(pixels) else np.zeros((decodes.shape[2], 0), np.uint8)


def generate_component_prototypes(ctx, request=None) -> None:
    import torch

    prior_mu = ctx.outputs["prior_mu"]  # (K, d)
    ctx.model.eval()
    with torch.no_grad():
        decodes = ctx.model.decode(prior_mu.detach().float())  # (K, c, h, w)
    qc = ctx.outputs.get("qc")
    weights = qc.detach().float().mean(0).tolist() if qc is not None else None
    note = pretraining_note(ctx.phases, ctx.epoch, "so these tiles decode the means of an untrained prior and look "
                                                   "blank or alike")
    ctx.save_png(FOLDER, "prior_means_{tag}.png", prototype_strip(decodes))  # the PNG first: its JSON says it is done
    ctx.save_json(FOLDER, "prior_means_{tag}.json", {
        "epoch": ctx.epoch, "components": int(prior_mu.shape[0]), "tile": [int(decodes.shape[2]), int(decodes.shape[3])],
        "order": "component", "weights": weights,
        **({"phase_note": note} if note else {}),
        "source": "decode(prior_mu[c]) for each component c, in component order; weights: mean q(c|x) on the "
                  "visualization subset (config.json#/viz_indices)",
    })


@hookimpl
def register_computations():
    return [
        ComputationSpec(
            name="cluster_quality", compute=generate_cluster_quality, folder=FOLDER,
            files=("cluster_quality_{tag}.json",), view="metric_series",
            provides={"cluster_quality_{tag}.json": "cluster-scores"},
            description="how the components (argmax q(c|x)) or the classifier agree with the digits on the "
                        "visualization subset: Hungarian-matched accuracy, NMI, confusion matrices whose cells list "
                        "their points; for a mixture the labels only score (the model never sees them), for a "
                        "classifier only held-out digits are scored"),
        ComputationSpec(
            name="component_prototypes", compute=generate_component_prototypes,
            requires=frozenset({"mixture_prior", "decoder"}), folder=FOLDER,
            files=("prior_means_{tag}.png", "prior_means_{tag}.json"), view="image",
            description="every mixture component's prior mean decoded, side by side in component order, with the "
                        "components' weights (mean q(c|x) on the visualization subset)"),
    ]


@hookimpl
def register_views():
    return [ViewSpec(name="cluster-quality", module=str(Path(__file__).parent / "views" / "cluster-quality.js"),
                     mount="explorer-side", title="Cluster quality", computations=("cluster_quality",), order=10,
                     description="matched accuracy, NMI and the confusion matrices at the shown epoch; a cell click "
                                 "focuses its digits on the map")]
