"""Preload module of the local executor's warm fork server: pay umap-learn's numba JIT once.

umap-learn (and pynndescent under it) compile their numba kernels on first use: about 40 s in every
fresh process on a two-core machine, even with numba's disk cache. The local executor starts a
``multiprocessing`` forkserver whose preload list is this module; importing it compiles those kernels
by fitting UMAP once on random points, so every worker the forkserver forks starts with a warm UMAP
(a first 5,000-point fit in a few seconds instead of ~40 s).

Importing this module never raises (the forkserver would die with it): the outcome is in
:data:`STATUS` (``{"ok": bool, "mode", "seconds", "error"?, ...}``), which forked children inherit.

Rules, each one learned the hard way:

* ``NUMBA_THREADING_LAYER=workqueue`` is set here, before numba is imported. numba's default layer
  (TBB or OpenMP when installed) keeps a thread pool in the warmed parent that a forked child cannot
  use: the child deadlocks in its first parallel kernel. ``workqueue`` is numba's own fork-safe layer.
* torch is never imported here (it starts thread pools that do not survive a fork); workers import it
  after the fork.
* The warm fits take both neighbour paths: the approximate one (``force_approximation_algorithm=True``;
  real fits above 4,096 points use pynndescent) and umap's exact small-data path, whose kernels differ
  (the default 512-point visualization subset is fitted there; warming only the first left its first
  fit at ~10 s).

Knobs (environment of the server process):

* ``LATENTDECK_WARMUP``: ``full`` (default) warms UMAP; ``import`` only imports umap/pynndescent/numba
  (fast; for tests of the fork path); ``off`` starts no fork server at all (plain subprocess workers).
* ``LATENTDECK_WARMUP_POINTS``: points of the warm-up fits (default 2000; the JIT cost hardly depends
  on it).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any

THREADING_LAYER = "workqueue"
DEFAULT_POINTS = 2000

STATUS: dict[str, Any] = {"ok": False, "mode": None, "seconds": None}


def mode() -> str:
    value = os.environ.get("LATENTDECK_WARMUP", "full").strip().lower() or "full"
    return value if value in ("full", "import", "off") else "full"


def points() -> int:
    try:
        return max(50, int(os.environ.get("LATENTDECK_WARMUP_POINTS", DEFAULT_POINTS)))
    except ValueError:
        return DEFAULT_POINTS


def _set_threading_layer() -> None:
    previous = os.environ.get("NUMBA_THREADING_LAYER")
    os.environ["NUMBA_THREADING_LAYER"] = THREADING_LAYER
    if previous not in (None, "", THREADING_LAYER):
        STATUS["note"] = f"NUMBA_THREADING_LAYER={previous} replaced by {THREADING_LAYER} (fork-safe)"
    numba = sys.modules.get("numba")
    if numba is not None:  # imported before us (not in the fork server): set it live too
        numba.config.THREADING_LAYER = THREADING_LAYER


def _exit_with_parent() -> threading.Event:
    """While warming, exit if the process that started us goes away (no 40 s orphan)."""
    parent, done = os.getppid(), threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="latentdeck-warmup-watchdog", daemon=True).start()
    return done


def warm(kind: str | None = None, n: int | None = None) -> dict[str, Any]:
    """Import umap and (``full``) fit it in 2-D and 3-D; fills and returns :data:`STATUS`."""
    kind = kind or mode()
    n = n or points()
    STATUS.update(mode=kind, points=n if kind == "full" else 0, threading_layer=THREADING_LAYER, pid=os.getpid())
    started = time.perf_counter()
    try:
        _set_threading_layer()
        if kind != "off":
            import numba  # noqa: F401
            import numpy as np
            import pynndescent  # noqa: F401
            import umap

            STATUS["umap_version"] = getattr(umap, "__version__", None)
            if kind == "full":
                import warnings

                x = np.random.default_rng(0).normal(size=(n, 16)).astype(np.float32)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    for dims in (2, 3):  # cold fits (spectral init), as the umap plugin's first epoch
                        coords = umap.UMAP(n_components=dims, random_state=0,
                                           force_approximation_algorithm=True).fit_transform(x)
                    # a warm-started fit (init = previous coordinates), as the plugin's later epochs
                    reducer = umap.UMAP(n_components=3, random_state=0, init=coords.astype(np.float32), n_epochs=20,
                                        learning_rate=0.5, force_approximation_algorithm=True).fit(x)
                    # the fitted reducer's transform (the density plugin places model samples with it):
                    # pynndescent's search index and umap's transform kernels compile on first use
                    reducer.transform(x[:64])
                    # below 4,096 points umap takes its exact-neighbour path, whose kernels differ:
                    # the default visualization subset (512) is fitted there, cold then warm-started
                    small = x[:min(n, 600)]
                    for dims in (2, 3):
                        coords = umap.UMAP(n_components=dims, random_state=0).fit_transform(small)
                    umap.UMAP(n_components=3, random_state=0, init=coords.astype(np.float32), n_epochs=20,
                              learning_rate=0.5).fit(small)
        STATUS["ok"] = True
    except BaseException as exc:  # noqa: BLE001 - the forkserver must survive anything
        STATUS.update(ok=False, error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(limit=8))
    STATUS["seconds"] = round(time.perf_counter() - started, 2)
    STATUS["torch_imported"] = "torch" in sys.modules
    return STATUS


def report(conn) -> None:
    """Forkserver child target: send the inherited :data:`STATUS` back to the server."""
    conn.send(dict(STATUS))
    conn.close()


def time_first_fit(n: int = 5000, dims: int = 2, conn=None) -> dict[str, Any]:
    """Measure this process's first UMAP fit of ``n`` points (``bench/umap_jit.py``).

    Imports torch first, as a worker does, then fits clustered 16-d points through the ``umap``
    projection plugin when one is registered, else ``umap.UMAP`` directly (``random_state`` set).
    Sends the result through ``conn`` when given (a forkserver child), and returns it.
    """
    started = time.perf_counter()
    import numpy as np
    import torch  # noqa: F401  (a worker has torch loaded when it projects)

    rng = np.random.default_rng(1)
    centers = rng.normal(scale=4.0, size=(10, 16))
    x = (centers[rng.integers(0, 10, n)] + rng.normal(size=(n, 16))).astype(np.float32)
    via = "umap.UMAP"
    spec = None
    try:
        from .plugins import collect, get_plugin_manager

        spec = collect(get_plugin_manager(), "projections").get("umap")
    except Exception:  # noqa: BLE001 - measure umap directly then
        spec = None
    ready, cpu = time.perf_counter(), time.process_time()
    if spec is not None:
        via = "umap projection plugin"
        spec.fit(x, dims, 0, spec.options(), None)
    else:
        import umap

        umap.UMAP(n_components=dims, random_state=0).fit_transform(x)
    result = {"fit_s": round(time.perf_counter() - ready, 2), "fit_cpu_s": round(time.process_time() - cpu, 2),
              "setup_s": round(ready - started, 2), "n": n,
              "dims": dims, "via": via, "pid": os.getpid(), "warm": bool(STATUS.get("ok")),
              "threading_layer": os.environ.get("NUMBA_THREADING_LAYER")}
    if conn is not None:
        conn.send(result)
        conn.close()
    return result


def _skip_main_reimport() -> None:
    """Forked workers must not re-run the server's ``__main__`` (multiprocessing's spawn-style fixup).

    multiprocessing re-imports the parent's main module in every forkserver child so that targets
    defined there unpickle; our targets live in importable modules, and re-running a server script
    that lacks an ``if __name__ == "__main__"`` guard would start a second server in the worker.
    Patched only in the fork server process, which exists to fork latentdeck workers.
    """
    from multiprocessing import spawn

    for name in ("_fixup_main_from_name", "_fixup_main_from_path"):
        if hasattr(spawn, name):
            setattr(spawn, name, lambda *_args: None)


def _imported_by_forkserver() -> bool:
    """True while ``multiprocessing.forkserver.main`` imports us as a preload module."""
    frame = sys._getframe()
    while frame is not None:
        code = frame.f_code
        if code.co_name == "main" and code.co_filename.replace(os.sep, "/").endswith("multiprocessing/forkserver.py"):
            return True
        frame = frame.f_back
    return False


if __name__ != "__main__" and (_imported_by_forkserver() or os.environ.get("LATENTDECK_WARMUP_ON_IMPORT") == "1"):
    _done = _exit_with_parent()
    try:
        # warm at the workers' priority: the server stays responsive, and forked workers start from it
        os.nice(int(os.environ.get("LATENTDECK_WORKER_NICE", "5")))
    except (OSError, ValueError):
        pass
    try:
        warm()
        _skip_main_reimport()
    except BaseException:  # noqa: BLE001 - never kill the fork server
        pass
    finally:
        _done.set()
