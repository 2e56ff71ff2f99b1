"""Decoded samples after each epoch: a small default set of grids, the same files the API makes on demand.

For each epoch, with ``m`` samples per grid (``artifact_options.sampling``, :class:`SamplingOptions`):
``samples/posterior_local_epoch_<N>_idx_<i>_m_<M>.png|.json`` for the first ``posterior_count`` held-out
indices of ``config.json: viz_indices`` (or ``posterior_indices``), and, for mixture models, ``samples/prior_component_epoch_<N>_c_<c>_m_<M>.png|.json`` for every component (or
``components``; models declaring ``mixture_prior``); each with a ``*_latest`` mirror. The drawing, the seeds and the payload are
:mod:`latentdeck_sampling.samples`'s, shared with the on-demand computation ``sampling`` this plugin also
registers (``POST /api/runs/{id}/compute/sampling``, ``latentdeck compute sampling RUN --set idx=3``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentdeck import ComputationSpec, ViewSpec, hookimpl

from .samples import GENERATOR, SampleRequest, SamplingOptions

# The grids' names (the samples' own folder): the PNG and JSON of each grid, a seed override without a mirror.
SAMPLE_FILES = tuple(
    f"{{kind}}_{{tag}}_{key}_m_{{m:int}}{seed}.{ext}"
    for key in ("idx_{idx:int}", "c_{component:int}") for seed in ("", "_seed_{seed_override:int}") for ext in ("json", "png"))


def default_set(options: SamplingOptions, viz_indices: list[int], components: int | None) -> list[tuple[str, int]]:
    """The (kind, key) pairs sampled each epoch."""
    indices = options.posterior_indices if options.posterior_indices is not None else viz_indices[:options.posterior_count]
    pairs = [("posterior_local", i) for i in indices]
    if components is not None:
        chosen = options.components if options.components is not None else range(components)
        pairs += [("prior_component", c) for c in chosen]
    return pairs


def generate(ctx) -> None:
    """The epoch's default set of grids (``artifact_options.sampling``)."""
    from .samples import compute_grid, derived_seed, file_stem, latent_rms, prior_components

    options: SamplingOptions = ctx.options
    components = prior_components(ctx)
    rms = latent_rms(ctx.latents) if ctx.latents is not None else None
    for kind, key in default_set(options, list(ctx.config["viz_indices"]), components):
        template = file_stem(kind, "{tag}", key, options.m)
        seed = derived_seed(int(ctx.config["seed"]), ctx.epoch, kind, key)
        grid, payload = compute_grid(ctx, kind, key, options.m, seed, "derived",
                                     f"samples/{template.format(tag=f'epoch_{ctx.epoch}')}.png", rms)
        ctx.save_png("samples", f"{template}.png", grid)  # the PNG first: a grid whose JSON exists is complete
        ctx.save_json("samples", f"{template}.json", payload)


def compute(ctx, request: SampleRequest | None = None) -> Any:
    """Each epoch (``request`` None): the default set; asked for: one grid, from disk when it exists."""
    from .samples import sample

    if request is None:
        return generate(ctx)
    return sample(ctx, request)


@hookimpl
def register_computations():
    return [ComputationSpec(
        name=GENERATOR, compute=compute, request=SampleRequest, options=SamplingOptions,
        requires=frozenset({"latents", "decoder"}), folder="samples", files=SAMPLE_FILES, overlay=True, view="image_grid",
        description="decoded sample grids: each epoch z ~ q(z|x_i) around a few held-out examples (an isotropic "
                    "neighbourhood for deterministic encoders) and z ~ p(z|c) per mixture component; asked for, M "
                    "samples around one held-out example or from one component")]


@hookimpl
def register_views():
    return [ViewSpec(name="decoded-samples", module=str(Path(__file__).parent / "views" / "decoded-samples.js"),
                     mount="explorer-side", title="Decoded samples", computations=("sampling",), order=30,
                     description="decoded samples around the focused held-out digit, or inside a mixture component "
                                 "(another view publishes 'component')")]
