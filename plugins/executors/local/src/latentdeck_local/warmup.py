"""Preload module of the local executor's warm fork server: run the projections' warm-ups once.

Projections declare one-time costs as ``ProjectionSpec.warm_up`` (umap-learn's numba kernels: ~40 s of
compilation in a fresh process on a two-core machine without their on-disk cache, a few seconds of loading
with it, see ``latentdeck.kit.kernel_cache``; whatever is left is paid here once). The local executor starts a
``multiprocessing`` forkserver whose preload list is this module; importing it calls every declared
warm-up once (named in ``$LATENTDECK_WARM_UPS`` as ``name=module:function`` pairs, set by the executor from
what the server passed to its ``capacity``), so every worker the forkserver forks starts warm.

Importing this module never raises (the forkserver would die with it): the outcome is in
:data:`STATUS` (``{"ok": bool, "mode", "seconds", "warmed", "error"?, ...}``), which forked children inherit.

Rules, each one learned the hard way:

* ``NUMBA_THREADING_LAYER=workqueue`` is set here, before any warm-up imports numba. numba's default layer
  (TBB or OpenMP when installed) keeps a thread pool in the warmed parent that a forked child cannot
  use: the child deadlocks in its first parallel kernel. ``workqueue`` is numba's own fork-safe layer.
* torch is never imported here (it starts thread pools that do not survive a fork); workers import it
  after the fork.

Knobs (environment of the server process):

* ``LATENTDECK_WARMUP``: ``full`` (default) runs the warm-ups; ``import`` asks them for imports only (fast;
  for tests of the fork path); ``off`` starts no fork server at all (plain subprocess workers).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from typing import Any

THREADING_LAYER = "workqueue"

STATUS: dict[str, Any] = {"ok": False, "mode": None, "seconds": None}


def mode() -> str:
    value = os.environ.get("LATENTDECK_WARMUP", "full").strip().lower() or "full"
    return value if value in ("full", "import", "off") else "full"


WARM_UPS_SETTING = "LATENTDECK_WARM_UPS"


def encode(warm_ups: dict[str, Any]) -> str:
    """``{name: callable}`` as ``$LATENTDECK_WARM_UPS`` carries them to the fork server (importable functions)."""
    return ",".join(f"{name}={fn.__module__}:{fn.__qualname__}" for name, fn in sorted(warm_ups.items()))


def decode(value: str) -> dict[str, Any]:
    """``$LATENTDECK_WARM_UPS`` back into ``{name: callable}`` (imports each function's module)."""
    import importlib

    found = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, target = item.partition("=")
        module, _, qualname = target.partition(":")
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        found[name] = obj
    return found


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


def warm(kind: str | None = None, warm_ups: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run every declared warm-up (``warm_ups``, else those named in ``$LATENTDECK_WARM_UPS``); fills and
    returns :data:`STATUS`. ``kind`` (default ``$LATENTDECK_WARMUP``) is passed on to them through the
    environment: ``import`` asks for imports only."""
    kind = kind or mode()
    STATUS.update(mode=kind, threading_layer=THREADING_LAYER, pid=os.getpid(), warmed=[])
    started = time.perf_counter()
    try:
        _set_threading_layer()
        os.environ["LATENTDECK_WARMUP"] = kind
        if kind != "off":
            found = warm_ups if warm_ups is not None else decode(os.environ.get(WARM_UPS_SETTING, ""))
            for name, warm_up in sorted(found.items()):
                warm_up()
                STATUS["warmed"].append(name)
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


def time_first_fit(n: int = 5000, dims: int = 2, conn=None, fit=None) -> dict[str, Any]:
    """Measure this process's first UMAP fit of ``n`` points (``bench/umap_jit.py``).

    Imports torch first, as a worker does, then fits clustered 16-d points with ``fit(latents, dims)`` when
    given (e.g. a projection spec's ``fit`` with its options), else ``umap.UMAP`` directly (``random_state``
    set). Sends the result through ``conn`` when given (a forkserver child), and returns it.
    """
    started = time.perf_counter()
    import numpy as np
    import torch  # noqa: F401  (a worker has torch loaded when it projects)

    rng = np.random.default_rng(1)
    centers = rng.normal(scale=4.0, size=(10, 16))
    x = (centers[rng.integers(0, 10, n)] + rng.normal(size=(n, 16))).astype(np.float32)
    ready, cpu = time.perf_counter(), time.process_time()
    if fit is not None:
        via = "the projection's fit"
        fit(x, dims)
    else:
        import umap

        via = "umap.UMAP"
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
