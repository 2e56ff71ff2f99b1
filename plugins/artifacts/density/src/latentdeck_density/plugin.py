"""Density grids: where the model puts probability mass, drawn under a 2-D latent map.

For every projection method the run computed this epoch with a 2-D projection (``ctx.projections``),
writes (``tag`` = ``epoch_<N>`` or ``latest``):

* ``density/posterior_2d_<tag>_<method>.json`` — the aggregate posterior (models with
  ``gaussian_posterior``), or a KDE of the deterministic codes (models without: the AE);
* ``density/prior_2d_<tag>_<method>.json`` — the uniform mixture prior (models with ``mixture_prior``);
* ``density/prior_empirical_2d_<tag>_<method>.json`` — the prior weighted by ``mean q(c|x)``.

The grid covers the projection's own ``bounds`` (those of its file), ``grid_size`` cells a side.
``values`` are probability density per unit area of the projection's coordinates at the cell
centres, so ``sum(values) * grid.cell_area`` is the probability mass inside the bounds
(``stats.mass_in_bounds``, at most 1 up to the midpoint rule). The estimators are
:mod:`latentdeck_density.estimate`'s. A method whose projection cannot place new points (a UMAP
projection reloaded from disk by backfill) gets no posterior/prior grid for a model with a posterior:
the generator writes the others, then fails with the reason (``artifact.failed``), never a wrong grid.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ArtifactSpec, hookimpl

FAMILIES = ("posterior", "prior", "prior_empirical")
NORMALISATION = ("values are probability density per unit area of the projection's coordinates, at cell "
                 "centres; sum(values) * grid.cell_area = the probability mass inside bounds (stats.mass_in_bounds)")


class DensityOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_size: int = Field(128, ge=8, le=512, description="cells per side of each grid (grid_size x grid_size)")
    posterior_samples: int = Field(
        2000, ge=100, le=100_000, description="samples of the aggregate posterior placed by a nonlinear "
                                              "projection's transform (UMAP) for its KDE")
    prior_samples: int = Field(
        2000, ge=100, le=100_000, description="samples of the mixture prior (stratified over components) placed "
                                              "by a nonlinear projection's transform (UMAP) for its KDE")
    significant_digits: int = Field(6, ge=2, le=12, description="values are rounded to this many significant "
                                                               "digits of the grid's maximum")


def file_template(family: str, method: str) -> str:
    """``<family>_2d_{tag}_<method>.json`` (``{tag}`` = ``epoch_<N>`` or ``latest``)."""
    assert family in FAMILIES, family
    return f"{family}_2d_{{tag}}_{method}.json"


def payload(*, family: str, method: str, epoch: int, grid, density, details: dict[str, Any], subset_n: int,
            compute_ms: float, latent: str, latent_dim: int, weights_summary: dict[str, Any] | None,
            significant_digits: int = 6) -> dict[str, Any]:
    import numpy as np

    from latentdeck.kit import rounded

    from .estimate import ESTIMATORS

    d = np.asarray(density, dtype=np.float64)
    doc: dict[str, Any] = {
        "epoch": epoch, "method": method, "dims": 2, "family": family,
        "source": "posterior" if family == "posterior" else "prior",
    }
    if family != "posterior":
        doc["prior_kind"] = "uniform" if family == "prior" else "empirical"
    meta: dict[str, Any] = {"subset_n": subset_n, "compute_ms": round(compute_ms, 2), **details}
    if weights_summary:
        meta["prior_weights"] = weights_summary
    doc.update(
        latent=latent, latent_dim=latent_dim,
        estimator=details["estimator"], estimator_text=ESTIMATORS[details["estimator"]],
        normalisation=NORMALISATION,
        grid=grid.describe(), bounds=grid.bounds_list(),
        values=rounded(d, significant_digits),
        stats={"min": float(d.min()), "max": float(d.max()), "mass_in_bounds": float(d.sum() * grid.cell_area)},
        meta=meta,
    )
    return doc


def overlays(ctx) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str]]:
    """``([(method, family, payload)], [failure reasons])`` for every 2-D projection in ``ctx``."""
    from latentdeck.kit import Grid, projection_bounds

    from .estimate import density_on_grid, distributions, seeded_rng

    options: DensityOptions = ctx.options or DensityOptions()
    capabilities = ctx.model_spec.capabilities
    found = distributions(ctx.outputs, capabilities)
    wanted: list[tuple[str, Any]] = [("posterior", found.get("posterior"))]
    wanted += [(family, found[family]) for family in ("prior", "prior_empirical") if family in found]
    seed = int(ctx.config.get("seed", 0))
    results, failures = [], []
    for method, by_dims in sorted((ctx.projections or {}).items()):
        projection = by_dims.get(2)
        if projection is None:
            continue
        grid = Grid.over(projection_bounds(projection.coords), options.grid_size)
        placed: dict[str, Any] = {}
        for family, mixture in wanted:
            started = time.perf_counter()
            samples = options.posterior_samples if family == "posterior" else options.prior_samples
            rng = seeded_rng(seed, ctx.epoch, method, "posterior" if family == "posterior" else "prior")
            try:
                density, details = density_on_grid(grid, mixture, projection, samples, rng, placed,
                                                   key="posterior" if family == "posterior" else "prior")
            except ValueError as exc:
                failures.append(f"{family} density over {method}: {exc}")
                continue
            ms = (time.perf_counter() - started) * 1000
            results.append((method, family, payload(
                family=family, method=method, epoch=ctx.epoch, grid=grid, density=density, details=details,
                subset_n=len(projection.coords), compute_ms=ms, latent=getattr(ctx.model_spec, "latent_name", "z"),
                latent_dim=int(ctx.latents.shape[1]) if ctx.latents is not None else 0,
                weights_summary=mixture.weights_summary if mixture is not None else None,
                significant_digits=options.significant_digits)))
    return results, failures


def generate(ctx) -> None:
    results, failures = overlays(ctx)
    for method, family, doc in results:
        ctx.save_json("density", file_template(family, method), doc)
    if failures:
        raise RuntimeError("; ".join(failures) + ". Such grids are computed where the projection is fitted "
                                                 "(during training, or by a backfill that fits it)")


@hookimpl
def register_artifacts():
    return [ArtifactSpec(
        name="density", generate=generate, requires=frozenset({"latents"}), options=DensityOptions,
        folder="density", files=("{family}_2d_{tag}_{method}.json",), overlay=True, view="grid2d_overlay",
        description="posterior and prior density grids in each 2-D projection's coordinates "
                    "(density/<posterior|prior|prior_empirical>_2d_<tag>_<method>.json)")]
