"""UMAP of the visualization subset's latents, 2-D and 3-D, stable across epochs.

Cold fit (the first epoch, ``warm_start=false``, or an ``init`` of the wrong shape): umap-learn's
spectral initialisation and ``n_epochs`` optimisation epochs (umap-learn's default, 500 for small
data, when ``n_epochs`` is None). Warm fit: ``init`` = the previous epoch's coordinates of the same
points and ``warm_epochs`` optimisation epochs, so points move only as far as the latent space moved
and the fit costs a fraction of a cold one. ``random_state=seed`` makes every fit deterministic
(umap-learn then runs its optimisation single-threaded). ``params`` records what was used, including
``warm_start: true|false``.

The returned projection carries ``transform`` (the fitted reducer's), so artifacts can place new
latent points in the embedding; it exists only in the process that fitted it (a projection reloaded
from its file has none).

umap-learn (and numba) are imported inside :func:`fit`, after :func:`latentdeck.kit.kernel_cache.enable` has
turned numba's on-disk cache on for umap's and pynndescent's kernels: the first fit in a fresh process
loads the kernels compiled at set-up (or by an earlier process) instead of compiling them (tens of
seconds on two cores).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import Projection, ProjectionSpec, hookimpl

from latentdeck.kit import kernel_cache as kernels
from .warm import warm_up


class UMAPOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n_neighbors: int = Field(15, ge=2, le=200, description="size of the local neighbourhood UMAP preserves "
                                                          "(capped at n - 1 for tiny subsets)")
    min_dist: float = Field(0.1, ge=0.0, le=1.0, allow_inf_nan=False, description="how tightly points may pack in the embedding")
    metric: str = Field("euclidean", description="latent-space metric (any umap-learn metric name)")
    warm_start: bool = Field(True, description="start from the previous epoch's embedding when there is one")
    warm_epochs: int = Field(60, ge=1, le=2000, description="optimisation epochs of a warm-started fit")
    warm_learning_rate: float = Field(
        0.5, gt=0.0, le=10.0, allow_inf_nan=False, description="initial learning rate of a warm-started fit (cold fits use 1.0); "
                                          "lower keeps points closer to where they were")
    n_epochs: int | None = Field(None, ge=1, le=5000, description="optimisation epochs of a cold fit "
                                                                 "(None: umap-learn's default)")


def _fallback(latents, dims: int):
    """Too few points for UMAP: centred coordinates on the leading principal axes (zero-padded).

    Returns ``(coords, (matrix (dims, d), mean))``, the linear map that produced them."""
    import numpy as np

    x = np.asarray(latents, dtype=np.float64)
    mean = x.mean(0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    matrix = np.vstack([vt[:dims], np.zeros((max(dims - len(vt), 0), x.shape[1]))])
    return (x - mean) @ matrix.T, (matrix, mean)


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("umap-learn")
    except PackageNotFoundError:
        return None


def fit(latents, dims: int, seed: int, options: UMAPOptions | None = None, init=None) -> Projection:
    import warnings

    import numpy as np

    options = options or UMAPOptions()
    x = np.ascontiguousarray(latents, dtype=np.float32)
    n = len(x)
    warm = bool(options.warm_start and init is not None and np.shape(init) == (n, dims)
                and np.isfinite(init).all())
    n_neighbors = min(options.n_neighbors, n - 1)
    params: dict[str, Any] = {
        "n_components": dims, "n_neighbors": n_neighbors, "min_dist": options.min_dist,
        "metric": options.metric, "random_state": seed, "warm_start": warm}
    if n < max(dims + 3, 5):
        params.update(warm_start=False, fallback="too few points for UMAP: leading principal axes")
        coords, linear = _fallback(x, dims)
        return Projection(coords=coords, params=params, linear=linear)

    kernels.enable()
    import umap

    kwargs: dict[str, Any] = dict(n_components=dims, n_neighbors=n_neighbors, min_dist=options.min_dist,
                                  metric=options.metric, random_state=seed)
    if warm:
        kwargs.update(init=np.asarray(init, dtype=np.float32), n_epochs=options.warm_epochs,
                      learning_rate=options.warm_learning_rate)
    else:
        kwargs.update(init="spectral", n_epochs=options.n_epochs, learning_rate=1.0)
    reducer = umap.UMAP(**kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "n_jobs overridden by random_state", tiny-graph notices
        coords = reducer.fit_transform(x)
    epochs = kwargs["n_epochs"] or (500 if n <= 10_000 else 200)  # umap-learn's default when None
    params.update(init="previous" if warm else "spectral", n_epochs=int(epochs),
                  learning_rate=kwargs["learning_rate"], umap_version=_version())
    return Projection(coords=np.asarray(coords, dtype=np.float64), params=params,
                      transform=lambda z: _transform(reducer, z))


def _transform(reducer, latents):
    """New latent points through the fitted reducer (umap-learn's ``transform``: each point is placed
    by its latent neighbours among the fitted points, then briefly optimised; deterministic for a
    seeded reducer)."""
    import warnings

    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reducer.transform(np.ascontiguousarray(latents, dtype=np.float32))


@hookimpl
def register_projections():
    return [ProjectionSpec(
        name="umap", fit=fit, dims=(2, 3), options=UMAPOptions, warm_up=warm_up,
        description="UMAP of the latents (2-D and 3-D), warm-started from the previous epoch for stability")]
