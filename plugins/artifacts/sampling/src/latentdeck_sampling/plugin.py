"""Decoded samples: the computation ``sampling``, asked for one grid at a time and run after each epoch.

A grid is one keyed answer (:func:`key`): the seed specification's two files
``samples/<kind>_epoch_<N>_<idx|c>_<k>_m_<M>[_seed_<s>].png|.json``, keyed by that stem (the host keeps its
hidden result beside them), computed once and then served from disk, whoever asks (``POST
/api/runs/{id}/compute/sampling``, ``latentdeck compute sampling RUN --set idx=3``, the epoch loop, backfill).
After each epoch, with ``m`` samples per grid (``artifact_options.sampling``, :class:`SamplingOptions`), the
run asks for its default set: the first ``posterior_count`` held-out indices of ``config.json: viz_indices``
(or ``posterior_indices``) and, for models declaring ``mixture_prior``, every component (or ``components``);
each of those grids also gets its ``*_latest`` mirrors ``samples/posterior_local_latest_idx_<i>_m_<M>.png|.json``
/ ``samples/prior_component_latest_c_<c>_m_<M>.png|.json`` (never moved back to an older epoch). Runs written
before grids were keyed have the same names (without the result file): they stay listed, and asking for one
of their grids computes it again (the same PNG bytes). The drawing, the seeds and the payload are
:mod:`latentdeck_sampling.samples`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentdeck import ComputationSpec, ViewSpec, hookimpl

from .samples import GENERATOR, SampleRequest, SamplingOptions

FOLDER = "samples"
_KEYS = ("idx_{idx:int}", "c_{component:int}")
_SEEDS = ("", "_seed_{seed_override:int}")
# The seed specification's names: a grid's .png and .json per epoch (the key's stem), and the per-epoch set's
# *_latest mirrors (the {tag} latest; a mirror has no seed override).
SAMPLE_FILES = tuple(f"{{kind}}_{{tag}}_{key}_m_{{m:int}}{seed}.{ext}"
                     for key in _KEYS for seed in _SEEDS for ext in ("json", "png"))


def default_set(options: SamplingOptions, viz_indices: list[int], components: int | None) -> list[tuple[str, int]]:
    """The (kind, key) pairs sampled each epoch."""
    indices = options.posterior_indices if options.posterior_indices is not None else viz_indices[:options.posterior_count]
    pairs = [("posterior_local", i) for i in indices]
    if components is not None:
        chosen = options.components if options.components is not None else range(components)
        pairs += [("prior_component", c) for c in chosen]
    return pairs


def generate(ctx) -> None:
    """The epoch's default set (``artifact_options.sampling``): each grid asked for through the host's keyed
    path (``ctx.answer``: from disk when a person already asked for it), then its ``*_latest`` mirrors."""
    from .samples import grid_template, key_field, prior_components

    options: SamplingOptions = ctx.options
    for kind, key in default_set(options, list(ctx.config["viz_indices"]), prior_components(ctx)):
        ctx.answer(SampleRequest(kind=kind, m=options.m, **{key_field(kind): key}))
        for ext in ("png", "json"):
            name = f"{grid_template(kind, key, options.m)}.{ext}"
            ctx.save_latest(FOLDER, name, name)


def compute(ctx, request: SampleRequest | None = None) -> Any:
    """Each epoch (``request`` None): the default set; asked for: one grid into ``ctx.folder``."""
    from .samples import sample

    if request is None:
        return generate(ctx)
    return sample(ctx, request)


def key(request: SampleRequest, epoch: int, ctx) -> str:
    """The grid's file stem inside ``samples/``, ``<stem>.*`` (the run's seed tells whether a given seed is the
    derived one)."""
    from .samples import sample_key

    return sample_key(request, epoch, ctx)


@hookimpl
def register_computations():
    return [ComputationSpec(
        name=GENERATOR, compute=compute, request=SampleRequest, key=key, options=SamplingOptions,
        requires=frozenset({"latents", "decoder"}), folder=FOLDER, files=SAMPLE_FILES, overlay=True, view="image_grid",
        description="decoded sample grids: each epoch z ~ q(z|x_i) around a few held-out examples (an isotropic "
                    "neighbourhood for deterministic encoders) and z ~ p(z|c) per mixture component; asked for, M "
                    "samples around one held-out example or from one component")]


@hookimpl
def register_views():
    return [ViewSpec(name="decoded-samples", module=str(Path(__file__).parent / "views" / "decoded-samples.js"),
                     mount="explorer-side", title="Decoded samples", computations=("sampling",), order=30,
                     description="decoded samples around the focused held-out digit, or inside a mixture component "
                                 "(another view publishes 'component')")]
