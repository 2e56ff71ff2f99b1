"""umap's warm-up (``ProjectionSpec.warm_up``): pay umap-learn's numba JIT once, in a process workers fork from.

umap-learn (and pynndescent under it) compile their numba kernels on first use: about 40 s in every fresh
process on a two-core machine, even with numba's disk cache. An executor that forks its workers from a warm
process (the local executor's fork server) calls :func:`warm_up` there once, so a worker's first UMAP fit
takes seconds. It never imports torch (its thread pools do not survive a fork).

The fits take both neighbour paths: the approximate one (``force_approximation_algorithm=True``; real fits
above 4,096 points use pynndescent) and umap's exact small-data path, whose kernels differ (the default
512-point visualization subset is fitted there). ``LATENTDECK_WARMUP=import`` imports only (quick, for
tests); ``LATENTDECK_WARMUP_POINTS`` sets the points of the warm fits (default 2000; the JIT cost hardly
depends on it).
"""

from __future__ import annotations

import os

DEFAULT_POINTS = 2000


def _points() -> int:
    try:
        return max(50, int(os.environ.get("LATENTDECK_WARMUP_POINTS", DEFAULT_POINTS)))
    except ValueError:
        return DEFAULT_POINTS


def warm_up() -> None:
    import warnings

    import numba  # noqa: F401
    import numpy as np
    import pynndescent  # noqa: F401
    import umap

    if os.environ.get("LATENTDECK_WARMUP", "full").strip().lower() == "import":
        return
    n = _points()
    x = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dims in (2, 3):  # cold fits (spectral init), as a first epoch
            coords = umap.UMAP(n_components=dims, random_state=0, force_approximation_algorithm=True).fit_transform(x)
        # a warm-started fit (init = previous coordinates), as later epochs
        reducer = umap.UMAP(n_components=3, random_state=0, init=coords.astype(np.float32), n_epochs=20,
                            learning_rate=0.5, force_approximation_algorithm=True).fit(x)
        # the fitted reducer's transform (placing new points): pynndescent's search index compiles on first use
        reducer.transform(x[:64])
        # below 4,096 points umap takes its exact-neighbour path, whose kernels differ
        small = x[:min(n, 600)]
        for dims in (2, 3):
            coords = umap.UMAP(n_components=dims, random_state=0).fit_transform(small)
        umap.UMAP(n_components=3, random_state=0, init=coords.astype(np.float32), n_epochs=20,
                  learning_rate=0.5).fit(small)
