"""umap's warm-up (``ProjectionSpec.warm_up``): load (or compile) umap-learn's numba kernels once, in a process
workers fork from; and the fits that fill the on-disk kernel cache at set-up.

umap-learn (and pynndescent under it) compile their numba kernels on first use: about 40 s in every fresh
process on a two-core machine. :mod:`latentdeck.kit.kernel_cache` keeps them in numba's disk cache, which
:func:`fill` (``python -m latentdeck_umap.warm``, run by ``scripts/setup.sh``) fills once; afterwards a
process loads them in a few seconds. An executor that forks its workers from a warm process (the local
executor's fork server) calls :func:`warm_up` there once, so a worker's first UMAP fit does not even load
them. It never imports torch (its thread pools do not survive a fork).

The fits take both neighbour paths: the approximate one (``force_approximation_algorithm=True``; real fits
above 4,096 points use pynndescent) and umap's exact small-data path, whose kernels differ (the default
512-point visualization subset is fitted there). ``LATENTDECK_WARMUP=import`` imports only (quick, for
tests); ``LATENTDECK_WARMUP_POINTS`` sets the points of the warm fits (default 2000; the JIT cost hardly
depends on it). The fits run few optimisation epochs: the kernels (and their argument types) are those of
a real fit, only the loop count is smaller.
"""

from __future__ import annotations

import os
import sys
import time

from latentdeck.kit import kernel_cache as kernels

DEFAULT_POINTS = 2000
EPOCHS = 30  # optimisation epochs of the warm fits: a runtime count, so the same kernels as 500


def _points() -> int:
    try:
        return max(50, int(os.environ.get("LATENTDECK_WARMUP_POINTS", DEFAULT_POINTS)))
    except ValueError:
        return DEFAULT_POINTS


def warm_up() -> None:
    kernels.enable()
    import numba  # noqa: F401
    import pynndescent  # noqa: F401
    import umap  # noqa: F401

    if os.environ.get("LATENTDECK_WARMUP", "full").strip().lower() == "import":
        return
    run_fits(_points())


def run_fits(n: int) -> None:
    """The fits that use every kernel of the paths latentdeck takes (compiling or loading each)."""
    import warnings

    import numpy as np
    import umap

    x = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dims in (2, 3):  # cold fits (spectral init), as a first epoch
            coords = umap.UMAP(n_components=dims, random_state=0, n_epochs=EPOCHS,
                               force_approximation_algorithm=True).fit_transform(x)
        # a warm-started fit (init = previous coordinates), as later epochs
        reducer = umap.UMAP(n_components=3, random_state=0, init=coords.astype(np.float32), n_epochs=20,
                            learning_rate=0.5, force_approximation_algorithm=True).fit(x)
        # the fitted reducer's transform (placing new points): pynndescent's search index compiles on first use
        reducer.transform(x[:64])
        # below 4,096 points umap takes its exact-neighbour path, whose kernels differ
        small = x[:min(n, 600)]
        for dims in (2, 3):
            coords = umap.UMAP(n_components=dims, random_state=0, n_epochs=EPOCHS).fit_transform(small)
        umap.UMAP(n_components=3, random_state=0, init=coords.astype(np.float32), n_epochs=20,
                  learning_rate=0.5).fit(small)


STAMP = "latentdeck-filled.json"  # in the cache folder: what the last fill compiled, and against what


def _installed() -> dict:
    """What the cached kernels depend on: versions, and the stamps of the sources numba checks (cheap)."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    found: dict = {"python": sys.version.split()[0]}
    for name in ("numba", "umap-learn", "pynndescent"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    for package, module in (("umap", "umap_"), ("pynndescent", "pynndescent_")):
        spec = find_spec(package)  # the package's own spec: nothing is imported
        source = os.path.join(os.path.dirname(spec.origin), f"{module}.py") if spec and spec.origin else None
        if source and os.path.exists(source):
            stat = os.stat(source)
            found[f"{package}.{module}"] = [source, int(stat.st_mtime), stat.st_size]
    return found


def filled() -> bool:
    """Whether the cache folder holds a fill made against what is installed now, its index files intact."""
    import json

    folder = kernels.cache_dir()
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return (isinstance(stamp, dict) and stamp.get("installed") == _installed() and bool(stamp.get("indexes"))
            and all((folder / name).is_file() for name in stamp["indexes"]))


def fill() -> dict:
    """Fill the kernel cache (``scripts/setup.sh``): enable it, run :func:`run_fits`, record what it holds."""
    import json

    started = time.perf_counter()
    status = dict(kernels.enable())
    run_fits(_points())
    report = {**status, **kernels.stats(), "seconds": round(time.perf_counter() - started, 1)}
    if status.get("enabled"):
        folder = kernels.cache_dir()
        indexes = sorted(str(path.relative_to(folder)) for path in folder.rglob("*.nbi"))
        try:
            (folder / STAMP).write_text(json.dumps({"installed": _installed(), "indexes": indexes}))
        except OSError:
            pass
    return report


def main(argv: list[str]) -> int:
    """``python -m latentdeck_umap.warm [--if-needed]``: fill the kernel cache (skipped with ``--if-needed``
    when :func:`filled`, or when ``LATENTDECK_NUMBA_CACHE=off``). Never fails set-up: returns 0."""
    if kernels.turned_off():
        return 0
    if "--if-needed" in argv and filled():
        return 0
    print(f"compiling UMAP's kernels once into {kernels.cache_dir()} (about a minute the first time)", file=sys.stderr)
    try:
        report = fill()
    except Exception as exc:  # noqa: BLE001 - runs then compile on first use, as without a cache
        print(f"note: UMAP's kernels were not cached ({type(exc).__name__}: {exc}); the first map of each "
              "process will compile them", file=sys.stderr)
        return 0
    print(f"UMAP kernels cached ({report.get('misses')} compiled, {report.get('hits')} already there, "
          f"{report['seconds']} s)" if report.get("enabled") else f"note: UMAP kernel cache off: {report}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
