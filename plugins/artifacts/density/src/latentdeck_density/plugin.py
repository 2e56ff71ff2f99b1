"""Density grids: where the model puts probability mass, drawn under a 2-D latent map.

For every projection method the run computed this epoch with a 2-D projection (``ctx.projections``),
writes (``tag`` = ``epoch_<N>`` or ``latest``):

* ``density/posterior_2d_<tag>_<method>.json`` — the aggregate posterior (models with
  ``gaussian_posterior``), or a KDE of the deterministic codes (models without: the AE);
* ``density/prior_2d_<tag>_<method>.json`` — the uniform mixture prior (models with ``mixture_prior``);
* ``density/prior_empirical_2d_<tag>_<method>.json`` — the prior weighted by ``mean q(c|x)``;
* ``density/posterior_minus_prior_2d_<tag>_<method>.json`` — posterior minus uniform prior, cell by
  cell (signed; models with both).

Each density file carries ``tv_distance``: the total-variation distance of the drawn 2-D distribution to
every other family of the same projection (on the grid, or by Monte Carlo over the whole plane when a
family spills off it: ``meta.tv``), so a learner can tell "the same" from "looks the same".

The grid is square and covers what the explorer shows of the map at first (``estimate.overlay_grid``:
past the points, so the overlay fades out instead of stopping at the points' box), ``grid_size``
cells a side. ``values`` are probability density per unit area of the projection's coordinates at the
cell centres, so ``sum(values) * grid.cell_area`` is the probability mass inside the bounds
(``stats.mass_in_bounds``, at most 1 up to the midpoint rule). The estimators are
:mod:`latentdeck_density.estimate`'s. A method whose projection cannot place new points (a UMAP
projection reloaded from disk by backfill) gets no posterior/prior grid for a model with a posterior:
the generator writes the others, then fails with the reason (``artifact.failed``), never a wrong grid.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, hookimpl

FAMILIES = ("posterior", "prior", "prior_empirical")
DIFFERENCE = "posterior_minus_prior"
KINDS = (*FAMILIES, DIFFERENCE)
NORMALISATION = ("values are probability density per unit area of the projection's coordinates, at cell "
                 "centres; sum(values) * grid.cell_area = the probability mass inside bounds (stats.mass_in_bounds)")
DIFFERENCE_NORMALISATION = (
    "values are posterior density minus uniform-prior density per unit area, at cell centres (same grid, same "
    "estimator); positive: the codes are denser than the prior expects; negative: the prior puts mass where few "
    "codes are. stats.positive_mass = sum of the positive part * cell_area (the part of the TV distance on this map)")
DIFFERENCE_TEXT = "posterior − prior (uniform): where the model's codes and its prior disagree"


class DensityOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_size: int = Field(160, ge=8, le=512, description="cells per side of each grid (grid_size x grid_size)")
    view_aspect: float = Field(
        1.5, ge=1, le=4, allow_inf_nan=False, description="the grid covers the explorer's first view of the points on a map up to this "
                                     "many times wider than tall (or taller than wide)")
    posterior_samples: int = Field(
        2000, ge=100, le=100_000, description="samples of the aggregate posterior placed by a nonlinear "
                                              "projection's transform (UMAP) for its KDE")
    prior_samples: int = Field(
        2000, ge=100, le=100_000, description="samples of the mixture prior (stratified over components) placed "
                                              "by a nonlinear projection's transform (UMAP) for its KDE")
    tv_samples: int = Field(2000, ge=100, le=100_000, description="Monte Carlo draws from each side for the "
                                                                   "total-variation distances between families")
    significant_digits: int = Field(6, ge=2, le=12, description="values are rounded to this many significant "
                                                               "digits of the grid's maximum")


def file_template(family: str, method: str) -> str:
    """``<family>_2d_{tag}_<method>.json`` (``{tag}`` = ``epoch_<N>`` or ``latest``)."""
    assert family in KINDS, family
    return f"{family}_2d_{{tag}}_{method}.json"


def grid_values(d, significant_digits: int):
    """The grid's values as a flat float32 array (row-major, as ``rounded`` lists them), rounded to
    ``significant_digits`` first: the host stores it in the array file beside the JSON header."""
    import numpy as np

    from latentdeck.kit import rounded

    return np.asarray(rounded(d, significant_digits), dtype=np.float64).astype(np.float32)


def payload(*, family: str, method: str, epoch: int, grid, density, details: dict[str, Any], subset_n: int,
            compute_ms: float, latent: str, latent_dim: int, weights_summary: dict[str, Any] | None,
            significant_digits: int = 6, extent: dict[str, Any] | None = None,
            tv_distance: dict[str, float] | None = None) -> dict[str, Any]:
    import numpy as np

    from .describe import describe_family
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
    if extent:
        meta["extent"] = {k: v for k, v in extent.items() if k != "points_bounds"}
    doc.update(
        latent=latent, latent_dim=latent_dim,
        estimator=details["estimator"], estimator_text=ESTIMATORS[details["estimator"]],
        **describe_family(family, details["estimator"], ESTIMATORS[details["estimator"]], details.get("bandwidth")),
        normalisation=NORMALISATION,
        grid=grid.describe(), bounds=grid.bounds_list(),
        points_bounds=(extent or {}).get("points_bounds", grid.bounds_list()),
        values=grid_values(d, significant_digits),
        stats={"min": float(d.min()), "max": float(d.max()), "mass_in_bounds": float(d.sum() * grid.cell_area)},
        meta=meta,
    )
    if tv_distance:
        doc["tv_distance"] = {k: round(v, 6) for k, v in tv_distance.items()}
    return doc


def difference_payload(base: dict[str, Any], posterior, prior, grid, tv: float,
                       significant_digits: int = 6) -> dict[str, Any]:
    """The signed ``posterior - prior`` grid, with the posterior file's fields (``base``) for what they share."""
    import numpy as np

    from .describe import describe_difference

    d = np.asarray(posterior, dtype=np.float64) - np.asarray(prior, dtype=np.float64)
    meta = {k: v for k, v in base["meta"].items() if k != "prior_weights"}
    return {
        "epoch": base["epoch"], "method": base["method"], "dims": 2, "family": DIFFERENCE, "source": "difference",
        "difference": {"minuend": "posterior", "subtrahend": "prior", "text": DIFFERENCE_TEXT, "tv_distance": round(tv, 6)},
        "latent": base["latent"], "latent_dim": base["latent_dim"],
        "estimator": base["estimator"], "estimator_text": base["estimator_text"],
        **describe_difference(base["estimator"]), "tv_distance": {"prior": round(tv, 6)},
        "normalisation": DIFFERENCE_NORMALISATION,
        "grid": grid.describe(), "bounds": grid.bounds_list(), "points_bounds": base["points_bounds"],
        "values": grid_values(d, significant_digits),
        "stats": {"min": float(d.min()), "max": float(d.max()), "max_abs": float(np.abs(d).max()),
                  "positive_mass": float(np.clip(d, 0, None).sum() * grid.cell_area),
                  "negative_mass": float(-np.clip(d, None, 0).sum() * grid.cell_area)},
        "meta": meta,
    }


GRID_TV_MASS = 0.99  # every family keeps this much of its mass on the grid: the grid's sum is the distance


def distances_between(computed: dict[str, tuple], grid, projection, placed: dict[str, Any], bandwidth: float | None,
                      epoch: int, seed: int, method: str, options: DensityOptions):
    """({(a, b): TV distance}, how it was measured) between the families of one projection, each taken as the
    2-D distribution its grid draws. When every family keeps ``GRID_TV_MASS`` of its mass on the grid:
    ``0.5 * sum |p - q| * cell_area`` there (off by less than the mass left out). Otherwise by seeded Monte
    Carlo over the whole plane (``tv_samples`` draws from each side of the pushed-forward components or the
    KDE's kernels): two wide distributions that both lie mostly off the map must not read as "the same"."""
    import numpy as np

    from .estimate import plane_mixture, seeded_rng, tv_monte_carlo

    masses = {family: float(entry[0].sum() * grid.cell_area) for family, entry in computed.items()}
    families = sorted(computed)
    distances: dict[tuple[str, str], float] = {}
    if min(masses.values()) >= GRID_TV_MASS:
        for i, a in enumerate(families):
            for b in families[i + 1:]:
                value = float(0.5 * np.abs(computed[a][0] - computed[b][0]).sum() * grid.cell_area)
                distances[(a, b)] = distances[(b, a)] = value
        return distances, {"method": "grid: 0.5 * sum |p - q| * cell_area (every family has >= 99 % of its mass "
                                     "on the grid)", "mass_on_grid": {k: round(v, 6) for k, v in masses.items()}}
    planes = {}
    for family, (_, _, _, mixture) in computed.items():
        key = "posterior" if family == "posterior" else "prior"
        samples = options.posterior_samples if family == "posterior" else options.prior_samples
        planes[family] = plane_mixture(mixture, projection, samples, seeded_rng(seed, epoch, method, key), placed,
                                       key, bandwidth)
    errors = {}
    for i, a in enumerate(families):
        for b in families[i + 1:]:
            value, error = tv_monte_carlo(planes[a], planes[b], options.tv_samples,
                                          seeded_rng(seed, epoch, method, f"tv:{a}:{b}"))
            distances[(a, b)] = distances[(b, a)] = value
            errors[f"{a}|{b}"] = round(error, 6)
    return distances, {"method": "Monte Carlo over the plane: TV = E_p[(1 - q/p)+], averaged over draws from both "
                                 "sides (a family has less than 99 % of its mass on the grid)",
                       "mass_on_grid": {k: round(v, 6) for k, v in masses.items()},
                       "samples_per_side": options.tv_samples, "standard_error": errors}


def overlays(ctx) -> tuple[list[tuple[str, str, dict[str, Any]]], list[str]]:
    """``([(method, kind, payload)], [failure reasons])`` for every 2-D projection in ``ctx``."""
    from .estimate import BANDWIDTH_RULE, cross_validated_bandwidth, density_on_grid, distributions, overlay_grid, seeded_rng

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
        grid, extent = overlay_grid(projection, options.grid_size, options.view_aspect)
        bandwidth: dict[str, Any] = {}
        if projection.linear is None or found.get("posterior") is None:  # a KDE is drawn: choose its width once
            started = time.perf_counter()
            area = (grid.bounds[0][1] - grid.bounds[0][0]) * (grid.bounds[1][1] - grid.bounds[1][0])
            h, search = cross_validated_bandwidth(projection.coords, max(grid.cell_width, grid.cell_height), area)
            bandwidth = {"h": h, "details": {"bandwidth_rule": BANDWIDTH_RULE, **search,
                                             "bandwidth_ms": round((time.perf_counter() - started) * 1000, 2)}}
        placed: dict[str, Any] = {}
        computed: dict[str, tuple[Any, dict[str, Any], float, Any]] = {}
        for family, mixture in wanted:
            started = time.perf_counter()
            samples = options.posterior_samples if family == "posterior" else options.prior_samples
            rng = seeded_rng(seed, ctx.epoch, method, "posterior" if family == "posterior" else "prior")
            try:
                density, details = density_on_grid(grid, mixture, projection, samples, rng, placed,
                                                   key="posterior" if family == "posterior" else "prior",
                                                   bandwidth=bandwidth.get("h"))
            except ValueError as exc:
                failures.append(f"{family} density over {method}: {exc}")
                continue
            if details["estimator"] != "exact_pushforward":
                details.update(bandwidth.get("details", {}))
            computed[family] = (density, details, (time.perf_counter() - started) * 1000, mixture)
        started = time.perf_counter()
        distances, how = distances_between(computed, grid, projection, placed, bandwidth.get("h"), ctx.epoch, seed,
                                           method, options) if len(computed) > 1 else ({}, {})
        how = {**how, "ms": round((time.perf_counter() - started) * 1000, 2)} if how else how
        for _, details, _, _ in computed.values():
            if how:
                details["tv"] = how
        docs: dict[str, dict[str, Any]] = {}
        for family, (density, details, ms, mixture) in computed.items():
            docs[family] = payload(
                family=family, method=method, epoch=ctx.epoch, grid=grid, density=density, details=details,
                subset_n=len(projection.coords), compute_ms=ms, latent=getattr(ctx.model_spec, "latent_name", "z"),
                latent_dim=int(ctx.latents.shape[1]) if ctx.latents is not None else 0,
                weights_summary=mixture.weights_summary if mixture is not None else None,
                significant_digits=options.significant_digits, extent=extent,
                tv_distance={b: v for (a, b), v in distances.items() if a == family})
            results.append((method, family, docs[family]))
        if "posterior" in computed and "prior" in computed:
            started = time.perf_counter()
            doc = difference_payload(docs["posterior"], computed["posterior"][0], computed["prior"][0], grid,
                                     distances[("posterior", "prior")], options.significant_digits)
            doc["meta"]["compute_ms"] = round((time.perf_counter() - started) * 1000, 2)
            results.append((method, DIFFERENCE, doc))
    return results, failures


def generate(ctx, request=None) -> None:
    results, failures = overlays(ctx)
    for method, family, doc in results:
        ctx.save_json("density", file_template(family, method), doc)
    if failures:
        raise RuntimeError("; ".join(failures) + ". Such grids are computed where the projection is fitted "
                                                 "(during training, or by a backfill that fits it)")


@hookimpl
def register_computations():
    return [ComputationSpec(
        name="density", compute=generate, requires=frozenset({"latents"}), options=DensityOptions,
        folder="density", files=("{family}_2d_{tag}_{method}.json",), overlay=True, view="grid2d_overlay",
        description="posterior and prior density grids in each 2-D projection's coordinates, with their "
                    "total-variation distances, and the posterior − prior difference "
                    "(density/<posterior|prior|prior_empirical|posterior_minus_prior>_2d_<tag>_<method>.json)")]
