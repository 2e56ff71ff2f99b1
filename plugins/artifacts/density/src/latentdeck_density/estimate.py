"""The densities themselves, in a projection's 2-D coordinates, from what the model believes.

With the visualization subset's n examples, posterior q(z|x) = N(mu, diag(s2)) (models with
``gaussian_posterior``) and prior p(z|c) = N(mu_c, diag(s2_c)) (models with ``mixture_prior``):

* posterior — the aggregate posterior ``(1/n) sum_i q(z|x_i)``;
* prior, uniform — ``(1/K) sum_c p(z|c)`` (the model's own prior, p(c) = 1/K);
* prior, empirical — ``sum_c pbar_c p(z|c)`` with ``pbar = mean_i q(c|x_i)`` (how the model uses its
  components on this subset).

How each lands in the plane depends on what the projection offers (``Projection.linear`` /
``transform``):

* ``exact_pushforward`` (a linear projection, e.g. PCA ``u = W (z - m)``): each Gaussian maps exactly
  to ``N(W (mu - m), W diag(s2) W^T)`` and the mixture is evaluated at the cell centres;
* ``kde_transform`` (a nonlinear fitted map, e.g. UMAP's ``transform``): seeded samples of the
  distribution are pushed through the map and a weighted Gaussian KDE estimates their density;
* ``kde_codes`` (a model with no q(z|x), e.g. the AE): a Gaussian KDE of the projected deterministic
  codes themselves — an estimate of where the codes lie, labelled as such; there is no prior.

The KDE bandwidth is chosen per projection from the projected codes (:func:`cross_validated_bandwidth`:
leave-one-out likelihood), and every family of that projection uses the same one, so posterior and
priors are smoothed alike and their differences are the distributions', not the smoothing's. Scott's
rule, which scales with the spread of the whole cloud, smooths ten tight clusters into one blob whose
peak can fall between them.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

from latentdeck.kit import TRUNCATION_SIGMA, Grid, gaussian_mixture, kde, scott_bandwidth

ESTIMATORS = {
    "exact_pushforward": "each Gaussian pushed exactly through the linear projection u = W (z - offset): "
                         "N(W (mu - offset), W S W^T); the mixture's density at the cell centres",
    "kde_transform": "seeded samples of the distribution placed by the fitted projection's transform, then a "
                     "weighted Gaussian KDE whose bandwidth is chosen from the projected codes (leave-one-out "
                     "likelihood; an estimate: the projection is nonlinear)",
    "kde_codes": "Gaussian KDE of the projected deterministic codes, bandwidth chosen from them (leave-one-out "
                 "likelihood): the model has no q(z|x), so this estimates where its codes lie",
}
BANDWIDTH_RULE = ("isotropic Gaussian kernel; h maximises the mean leave-one-out log density of the projected codes "
                  "(each under a 2 % uniform floor over the grid, so a stray code cannot force wide smoothing), "
                  "searched between one grid cell and Scott's rule, against at most 10,000 evenly spaced codes; "
                  "the same h for every family of this projection")
REFERENCE_POINTS = 10_000  # the bandwidth search scores against at most this many codes (evenly spaced)
DEFENSIVE_SHARE = 0.02  # the uniform part of the leave-one-out score: an isolated code costs at most log(0.02 / area)


@dataclass
class Mixture:
    """A mixture of diagonal Gaussians in latent space: ``weights`` (m,), ``means`` (m, d), ``variances`` (m, d)."""

    weights: Any
    means: Any
    variances: Any
    weights_summary: dict[str, Any] = field(default_factory=dict)

    def pushed_forward(self, matrix, offset):
        """(means (m, 2), covariances (m, 2, 2)) under ``u = matrix (z - offset)``."""
        import numpy as np

        w = np.asarray(matrix, dtype=np.float64)
        means = (self.means - np.asarray(offset, dtype=np.float64)) @ w.T
        covariances = np.einsum("ad,md,bd->mab", w, self.variances, w)
        return means, covariances

    def sample(self, count: int, rng):
        """``(z (s, d), weight per sample (s,))`` with weights summing to 1. With at least as many samples
        as components: ``count // m`` draws of every component, each weighted ``weights[c] / draws``
        (stratified; the same draws for any weights). Otherwise ``count`` components drawn by weight,
        each sample weighted ``1 / count``."""
        import numpy as np

        m, d = self.means.shape
        if count >= m:
            per = count // m
            component = np.repeat(np.arange(m), per)
            weights = self.weights[component] / per
        else:
            component = np.sort(rng.choice(m, size=count, p=self.weights / self.weights.sum()))
            weights = np.full(count, 1.0 / count)
        eps = rng.standard_normal((len(component), d))
        z = self.means[component] + np.sqrt(self.variances[component]) * eps
        return z, weights


def distributions(outputs: dict[str, Any], capabilities) -> dict[str, Mixture]:
    """``{"posterior", "prior", "prior_empirical"}`` mixtures the model's outputs define (by capability)."""
    import numpy as np

    def array(key):
        value = outputs[key]
        return (value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)).astype(np.float64)

    found: dict[str, Mixture] = {}
    if "gaussian_posterior" in capabilities:
        mu, logvar = array("mu"), array("logvar")
        n = len(mu)
        found["posterior"] = Mixture(np.full(n, 1.0 / n), mu, np.exp(logvar))
    if "mixture_prior" in capabilities:
        prior_mu, prior_var = array("prior_mu"), np.exp(array("prior_logvar"))
        k = len(prior_mu)
        uniform = np.full(k, 1.0 / k)
        found["prior"] = Mixture(uniform, prior_mu, prior_var, {
            "kind": "uniform", "components": k, "weights": uniform.tolist(), "rule": "p(c) = 1/K, the model's prior"})
        if "qc" in outputs:
            pbar = array("qc").mean(0)
            pbar = pbar / pbar.sum()
            found["prior_empirical"] = Mixture(pbar, prior_mu, prior_var, {
                "kind": "empirical", "components": k, "weights": pbar.tolist(),
                "rule": "pbar_c = mean over the visualization subset of q(c|x)",
                "entropy": float(-(pbar[pbar > 0] * np.log(pbar[pbar > 0])).sum()),
                "neff": float(math.exp(-(pbar[pbar > 0] * np.log(pbar[pbar > 0])).sum()))})
    return found


EXPLORER_MARGIN = 0.08  # the explorer fits the points' box with this share of the canvas free on each side


def overlay_grid(projection, grid_size: int, view_aspect: float) -> tuple[Grid, dict[str, Any]]:
    """(grid, extent details): a square grid over what the explorer shows of ``projection`` at first, on a
    map up to ``view_aspect`` times wider than tall (or taller than wide). The explorer centres the map on
    the points' box centre, or on the origin for PCA (whose origin is the latent mean), and fits the
    largest reach from that centre inside the canvas with ``EXPLORER_MARGIN`` free, so the view reaches
    ``reach * aspect / (1 - 2 margin)`` from the centre along its longer side. A linear projection may be
    shown either way: the grid covers both views."""
    import numpy as np

    from latentdeck.kit import projection_bounds

    coords = np.asarray(projection.coords, dtype=np.float64)[:, :2]
    low, high = coords.min(0), coords.max(0)
    centres = [(low + high) / 2] + ([np.zeros(2)] if projection.linear is not None else [])
    factor = max(view_aspect, 1 / view_aspect) / (1 - 2 * EXPLORER_MARGIN)
    views = []
    for centre in centres:
        reach = float(np.maximum(np.abs(low - centre), np.abs(high - centre)).max()) or 0.5
        views.append((centre - reach * factor, centre + reach * factor))
    lo = np.min([v[0] for v in views], axis=0)
    hi = np.max([v[1] for v in views], axis=0)
    middle, half = (lo + hi) / 2, float((hi - lo).max()) / 2
    grid = Grid.over([[middle[0] - half, middle[0] + half], [middle[1] - half, middle[1] + half]], grid_size)
    where = "the points' box centre" + (" and the origin (a linear map)" if len(centres) > 1 else "")
    return grid, {"points_bounds": projection_bounds(coords), "view_aspect": view_aspect,
                  "rule": f"square over the explorer's first view centred on {where}: the points' largest reach "
                          f"from the centre x {max(view_aspect, 1 / view_aspect):g} / {1 - 2 * EXPLORER_MARGIN:g} "
                          f"(a map up to {view_aspect:g}:1 with 8 % free on each side)"}


def evenly_spaced(n: int, count: int):
    """At most ``count`` distinct indices spread evenly over 0..n-1 (all of them when ``count >= n``)."""
    import numpy as np

    return np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(np.int64))


def cross_validated_bandwidth(points, floor: float, area: float, candidates: int = 20,
                              queries: int = 600, reference: int = REFERENCE_POINTS) -> tuple[float, dict[str, Any]]:
    """(h, details): the isotropic kernel width in [``floor``, Scott's rule's widest axis] that maximises the mean
    leave-one-out log density of ``points`` (n, 2), each density mixed with a ``DEFENSIVE_SHARE`` uniform
    over ``area``. At most ``queries`` evenly spaced points are scored, each against all n points, or against
    ``reference`` evenly spaced ones (the scored points among them) when n is larger: the cost stays
    ``queries x reference`` at 70,000 points, and nothing changes up to ``reference`` points."""
    import numpy as np

    p = np.asarray(points, dtype=np.float64)[:, :2]
    n = len(p)
    scott = [float(v) for v in scott_bandwidth(p)] if n > 1 else [floor, floor]
    ceiling = max(*scott, floor)  # the widest axis of the old rule: the search includes it
    if n < 3 or ceiling <= floor * 1.0001:
        return ceiling, {"bandwidth_search": [floor, ceiling], "scott": scott, "scored_points": 0}
    against = evenly_spaced(n, reference)  # all n up to `reference` points
    p, n = p[against], len(against)
    picked = evenly_spaced(n, queries)
    d2 = ((p[picked, None, :] - p[None, :, :]) ** 2).sum(-1).astype(np.float32)  # (m, n)
    d2[np.arange(len(picked)), picked] = np.inf  # leave each scored point out of its own estimate
    widths = np.geomspace(floor, ceiling, candidates)
    scores, buffer = [], np.empty_like(d2)
    for h in widths:
        np.multiply(d2, np.float32(-0.5 / (h * h)), out=buffer)
        kernel = np.exp(buffer, out=buffer).sum(1, dtype=np.float64) / ((n - 1) * 2 * math.pi * h * h)
        scores.append(float(np.log((1 - DEFENSIVE_SHARE) * kernel + DEFENSIVE_SHARE / area).mean()))
    best = int(np.argmax(scores))
    return float(widths[best]), {"bandwidth_search": [floor, ceiling], "scott": scott,
                                 "scored_points": int(len(picked)), "reference_points": int(n),
                                 "candidates": int(candidates)}


def seeded_rng(seed: int, epoch: int, method: str, family: str):
    import numpy as np

    return np.random.default_rng([seed, epoch, zlib.crc32(method.encode()), zlib.crc32(family.encode())])


def plane_mixture(mixture: Mixture | None, projection, samples: int, rng, placed: dict[str, Any], key: str,
                  bandwidth: float | None):
    """The family's density in the plane as a 2-D Gaussian mixture ``(means (m, 2), covariances (m, 2, 2),
    weights (m,))``: the pushed-forward components (linear projection), or the KDE's kernels at the codes or
    at the placed samples (the same draws and weights ``density_on_grid`` used: same ``rng`` seed)."""
    import numpy as np

    if mixture is not None and projection.linear is not None:
        matrix, offset = projection.linear
        means, covariances = mixture.pushed_forward(np.asarray(matrix, dtype=np.float64)[:2], offset)
        return means, covariances + np.eye(2) * 1e-12 * max(float(np.abs(covariances).max()), 1e-300), mixture.weights
    if mixture is None:
        points = np.asarray(projection.coords, dtype=np.float64)[:, :2]
        weights = np.full(len(points), 1.0 / len(points))
    else:
        z, weights = mixture.sample(samples, rng)
        if key not in placed or not np.array_equal(placed[key][0], z):
            placed[key] = (z, projection.place(z)[:, :2])
        points = placed[key][1]
    h = float(bandwidth) if bandwidth is not None else float(scott_bandwidth(points, weights).max())
    return points, np.broadcast_to(np.eye(2) * h * h, (len(points), 2, 2)), np.asarray(weights) / np.sum(weights)


def mixture_pdf(x, means, covariances, weights, chunk: int = 256):
    """Density of a 2-D Gaussian mixture at points ``x`` (s, 2)."""
    import numpy as np

    det = covariances[:, 0, 0] * covariances[:, 1, 1] - covariances[:, 0, 1] ** 2
    inv_a, inv_b, inv_c = covariances[:, 1, 1] / det, -covariances[:, 0, 1] / det, covariances[:, 0, 0] / det
    norm = weights / (2 * math.pi * np.sqrt(det))
    total = np.zeros(len(x))
    two_b = 2 * inv_b
    for start in range(0, len(means), chunk):
        part = slice(start, start + chunk)
        dx = x[:, None, 0] - means[None, part, 0]
        dy = x[:, None, 1] - means[None, part, 1]
        # q = inv_a dx dx + 2 inv_b dx dy + inv_c dy dy, term by term in place (the same operations in the
        # same order as the plain expression, so the same bits, with a third of the temporaries: 70,000
        # posterior components are evaluated at every Monte Carlo draw)
        q = inv_a[part] * dx
        q *= dx
        cross = two_b[part] * dx
        cross *= dy
        q += cross
        np.multiply(inv_c[part], dy, out=cross)
        cross *= dy
        q += cross
        q *= -0.5
        total += np.exp(q, out=q) @ norm[part]
    return total


def draw_from(mixture_2d, count: int, rng):
    import numpy as np

    means, covariances, weights = mixture_2d
    component = rng.choice(len(means), size=count, p=weights / weights.sum())
    c = covariances[component]
    l00 = np.sqrt(c[:, 0, 0])
    l10 = c[:, 1, 0] / l00
    l11 = np.sqrt(np.maximum(c[:, 1, 1] - l10 ** 2, 0))
    eps = rng.standard_normal((count, 2))
    return means[component] + np.stack([l00 * eps[:, 0], l10 * eps[:, 0] + l11 * eps[:, 1]], 1)


def tv_monte_carlo(a, b, count: int, rng) -> tuple[float, float]:
    """(TV distance, its standard error) between two 2-D Gaussian mixtures, by Monte Carlo over the whole plane:
    TV = E_a[(1 - b/a)+] = E_b[(1 - a/b)+]; the two estimates are averaged. No grid, so mass off the map and
    components narrower than a cell count as they should."""
    import numpy as np

    parts = []
    for p, q in ((a, b), (b, a)):
        x = draw_from(p, count, rng)
        px, qx = mixture_pdf(x, *p), mixture_pdf(x, *q)
        parts.append(np.clip(1 - qx / np.maximum(px, 1e-300), 0, 1))
    values = np.concatenate(parts)
    return float(values.mean()), float(values.std() / math.sqrt(len(values)))


def density_on_grid(grid: Grid, mixture: Mixture | None, projection, samples: int, rng,
                    placed: dict[str, Any] | None = None, key: str = "",
                    bandwidth: float | None = None) -> tuple[Any, dict[str, Any]]:
    """(density (ny, nx), estimator details) of ``mixture`` in the projection's plane; ``mixture=None``
    means the deterministic codes (their projected coordinates). Raises ``ValueError`` when the
    projection cannot place new points. ``placed`` caches transformed samples under ``key`` (the two
    priors share their stratified draws, so the nonlinear map runs once for both). ``bandwidth`` is the
    KDEs' kernel width (default: Scott's rule of what is smoothed)."""
    import numpy as np

    if mixture is None:
        coords = np.asarray(projection.coords, dtype=np.float64)[:, :2]
        h = scott_bandwidth(coords) if bandwidth is None else np.full(2, float(bandwidth))
        return kde(grid, coords, bandwidth=h), {
            "estimator": "kde_codes", "points": int(len(coords)), "bandwidth": h.tolist()}
    if projection.linear is not None:
        matrix, offset = projection.linear
        matrix = np.asarray(matrix, dtype=np.float64)[:2]
        means, covariances = mixture.pushed_forward(matrix, offset)
        covariances = covariances + np.eye(2) * 1e-12 * max(float(np.abs(covariances).max()), 1e-300)
        return gaussian_mixture(grid, means, covariances, mixture.weights), {
            "estimator": "exact_pushforward", "components": int(len(means)), "truncation_sigma": TRUNCATION_SIGMA}
    if projection.transform is None:
        raise ValueError("the projection cannot place new latent points (no linear map and no fitted transform: "
                         "a nonlinear projection reloaded from its file keeps no fitted map)")
    z, weights = mixture.sample(samples, rng)
    cache = placed if placed is not None else {}
    if key not in cache or not np.array_equal(cache[key][0], z):
        cache[key] = (z, projection.place(z)[:, :2])
    points = cache[key][1]
    h = scott_bandwidth(points, weights) if bandwidth is None else np.full(2, float(bandwidth))
    return kde(grid, points, weights, h), {
        "estimator": "kde_transform", "samples": int(len(z)), "bandwidth": h.tolist()}
