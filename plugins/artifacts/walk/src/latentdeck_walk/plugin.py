"""Built-in plugin ``latentdeck.walk``: latent walks on demand (no per-epoch generator).

The work is :class:`latentdeck_walk.walk.Walker`; the plugin offers it as the on-demand computation
``walk`` (:class:`latentdeck.ComputationSpec`, ``runs="on_demand"``), which the host serves over HTTP and the CLI,
keyed by :func:`key` (``walks/<key>/``: the host serves a repeat from disk). Nothing heavy is imported until a walk
is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentdeck import ComputationResult, ComputationSpec, ViewSpec, hookimpl

from .walk import FILES, FOLDER, WalkRequest


def compute(ctx, request: WalkRequest) -> ComputationResult:
    """One walk, written into ``ctx.folder`` (the host publishes it as ``walks/<key>/``)."""
    from .walk import Walker

    return ComputationResult(payload=Walker(ctx).walk(request))


def key(request: WalkRequest, epoch: int, ctx) -> str:
    """The walk's folder inside ``walks/`` (a centre walk without a target needs the run to name its centre)."""
    from .walk import walk_key

    return walk_key(request, epoch, ctx)


@hookimpl
def register_computations():
    return [ComputationSpec(
        name="walk", compute=compute, runs="on_demand", request=WalkRequest, key=key, folder=FOLDER, files=FILES,
        view="image",
        requires=frozenset({"latents", "decoder"}),
        description="decode a path through the latent space (along a dimension, from one digit to another, or from a "
                    "digit to its class centre or mixture component centre) and "
                    "place it on a 2-D projection of that epoch (walks/epoch_<N>/<method>/from_<split>_<i>/...)")]


@hookimpl
def register_views():
    return [ViewSpec(name="walk", module=str(Path(__file__).parent / "views" / "walk.js"), mount="explorer-layer",
                     title="Walk the latent space", computations=("walk",), order=20,
                     description="walk from the focused digit along a latent dimension or toward a digit picked on the "
                                 "map; the decodes as a strip, the path drawn on the map")]
