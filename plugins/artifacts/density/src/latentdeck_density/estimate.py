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
  distribution are pushed through the map and a weighted Gaussian KDE (Scott's bandwidth) estimates
  their density;
* ``kde_codes`` (a model with no q(z|x), e.g. the AE): a Gaussian KDE of the projected deterministic
  codes themselves — an estimate of where the codes lie, labelled as such; there is no prior.
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
                     "weighted Gaussian KDE with Scott's bandwidth (an estimate: the projection is nonlinear)",
    "kde_codes": "Gaussian KDE (Scott's bandwidth) of the projected deterministic codes: the model has no "
                 "q(z|x), so this estimates where its codes lie",
}


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


def seeded_rng(seed: int, epoch: int, method: str, family: str):
    import numpy as np

    return np.random.default_rng([seed, epoch, zlib.crc32(method.encode()), zlib.crc32(family.encode())])


def density_on_grid(grid: Grid, mixture: Mixture | None, projection, samples: int, rng,
                    placed: dict[str, Any] | None = None, key: str = "") -> tuple[Any, dict[str, Any]]:
    """(density (ny, nx), estimator details) of ``mixture`` in the projection's plane; ``mixture=None``
    means the deterministic codes (their projected coordinates). Raises ``ValueError`` when the
    projection cannot place new points. ``placed`` caches transformed samples under ``key`` (the two
    priors share their stratified draws, so the nonlinear map runs once for both)."""
    import numpy as np

    if mixture is None:
        coords = np.asarray(projection.coords, dtype=np.float64)[:, :2]
        bandwidth = scott_bandwidth(coords)
        return kde(grid, coords, bandwidth=bandwidth), {
            "estimator": "kde_codes", "points": int(len(coords)), "bandwidth": bandwidth.tolist()}
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
    bandwidth = scott_bandwidth(points, weights)
    return kde(grid, points, weights, bandwidth), {
        "estimator": "kde_transform", "samples": int(len(z)), "bandwidth": bandwidth.tolist()}
