"""numba's on-disk cache for umap-learn's and pynndescent's kernels: compiled once, loaded by every process.

umap-learn and pynndescent JIT-compile their numba kernels on first use, in every fresh process (CLI
``latentdeck train``, backfill, a Ray worker, the local executor's workers): about 40 s on two cores at
10,000 points. Most of their ``@njit`` functions are not declared ``cache=True``. :func:`enable` turns
numba's own on-disk cache on for every numba dispatcher of their modules before umap is first used, so a
process finds the machine code another process compiled and only loads it. The kernels are the same
ones (numba's cache stores the object code of the very compilation; its index is keyed by the function's
bytecode, its source file's stamp, the argument types, numba's version and the CPU), so nothing computed
changes.

Where: ``$NUMBA_CACHE_DIR`` when the user set it (numba's own setting), else ``$LATENTDECK_NUMBA_CACHE_DIR``,
else ``~/.cache/latentdeck/numba`` (:func:`cache_dir`). ``LATENTDECK_NUMBA_CACHE=off`` turns all of this
off (every process compiles again).

Two things beyond switching the cache on:

* **A broken cache never breaks a fit.** Each dispatcher gets :class:`SafeFunctionCache`: a cache file
  that cannot be read (corrupt, truncated, written by something else) or written (a read-only folder)
  counts as a miss, and numba compiles as it would without a cache.
* **``numba.get_num_threads()`` inside a kernel.** numba 0.68 lowers it through a ctypes pointer, an
  address that is only valid in the process that compiled it, so numba refuses to cache any kernel that
  calls it (pynndescent's ``nn_descent`` and ``nn_descent_internal``: ~8 s of compilation per process).
  :func:`_thread_count_by_symbol` has jitted code reach the same C function of the threading layer by its
  linker symbol (``get_num_threads``, which numba registers when it starts its threads) instead: the same
  call, the same ``int32`` result, cacheable. Python callers of ``numba.get_num_threads()`` are unchanged.
  If numba's internals differ from what this expects it is skipped (those two kernels then compile in
  every process, as before).

What stays uncompiled-until-used: kernels that umap/pynndescent create inside functions at run time
(pynndescent's per-index search closures, used by ``transform``) are not module attributes and keep
numba's default (compiled once per process). :func:`latentdeck_umap.warm.fill` runs the fits that compile
every cacheable kernel of the paths latentdeck uses (``scripts/setup.sh`` calls it:
``python -m latentdeck_umap.warm``).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SETTING = "LATENTDECK_NUMBA_CACHE"
DIR_SETTING = "LATENTDECK_NUMBA_CACHE_DIR"
PACKAGES = ("umap", "pynndescent")

STATUS: dict[str, Any] = {"enabled": False}
_lock = threading.Lock()


def cache_dir() -> Path:
    """``$NUMBA_CACHE_DIR`` (numba's own setting) if set, else ``$LATENTDECK_NUMBA_CACHE_DIR``, else
    ``~/.cache/latentdeck/numba``."""
    return Path(os.environ.get("NUMBA_CACHE_DIR") or os.environ.get(DIR_SETTING)
                or Path.home() / ".cache" / "latentdeck" / "numba")


def turned_off() -> bool:
    return os.environ.get(SETTING, "").strip().lower() in ("off", "0", "false", "no")


class _Unstable(Exception):
    """A signature with no form that is the same in every process (see :func:`_stable_signature`)."""


def _stable_function(fn) -> tuple:
    import hashlib

    if getattr(fn, "__closure__", None) is not None or "<locals>" in fn.__qualname__:
        raise _Unstable(fn.__qualname__)  # its compiled code depends on captured values: no stable name
    return ("numba-dispatcher", fn.__module__, fn.__qualname__, hashlib.sha256(fn.__code__.co_code).hexdigest())


def _stable_signature(sig):
    """``sig`` (argument types, or a ``Signature``) with every numba-dispatcher type (a kernel passed as an
    argument, e.g. pynndescent's distance) replaced by the function's module, name and bytecode hash.

    numba's type of a dispatcher argument compares by the dispatcher object's identity, so an index key
    holding it never matches in another process: every process would miss and append one more copy
    (pynndescent's ``nn_descent``, ``init_rp_tree``, ... all take the distance function as an argument).
    The compiled code calls that function directly (numba refuses to cache code that holds its address),
    so the function's identity by name and bytecode is what the code depends on. Raises
    :class:`_Unstable` for a dispatcher without such a name (a closure) or nested in another type."""
    from numba.core import types
    from numba.core.dispatcher import Dispatcher
    from numba.core.typing.templates import Signature

    def stable(t):
        if isinstance(t, types.Dispatcher):
            return _stable_function(t.dispatcher.py_func)
        if isinstance(t, types.Omitted) and isinstance(t.value, Dispatcher):
            return ("omitted",) + _stable_function(t.value.py_func)
        if "Dispatcher(" in str(t):
            raise _Unstable(str(t))
        return t

    args, ret = (sig.args, sig.return_type) if isinstance(sig, Signature) else (tuple(sig), None)
    if not any("Dispatcher(" in str(t) for t in (*args, ret)):
        return sig
    return ("stable-signature", tuple(stable(t) for t in args), None if ret is None else stable(ret))


def _safe_cache_class():
    from numba.core import typing
    from numba.core.caching import FunctionCache
    from numba.core.typing.templates import Signature

    class SafeFunctionCache(FunctionCache):
        """numba's per-function disk cache, where a file it cannot read or write is a miss, never an error,
        and whose index keys are the same in every process (:func:`_stable_signature`)."""

        _latentdeck_safe = True

        def _index_key(self, sig, codegen):
            return super()._index_key(_stable_signature(sig), codegen)

        def load_overload(self, sig, target_context):
            try:
                cres = super().load_overload(sig, target_context)
            except _Unstable:
                return None
            except Exception as exc:  # noqa: BLE001 - a broken cache file: compile instead
                log.warning("numba cache of %s unreadable (%s: %s); compiling instead", self._name,
                            type(exc).__name__, exc)
                try:  # drop the index, so that saving the recompiled code writes a good one
                    os.unlink(self._cache_file._index_path)
                except (OSError, AttributeError):
                    pass
                return None
            if cres is not None and _stable_signature(sig) is not sig:
                # the loaded signature holds the dispatchers as unpickled copies: this process's own
                # objects take their place, so calls with them find the loaded code
                args = sig.args if isinstance(sig, Signature) else tuple(sig)
                cres = cres._replace(signature=typing.signature(cres.signature.return_type, *args))
                # and where a kernel compiled later in this process calls this one, the call is looked up by
                # the descriptor's argument types: this process's objects there too (else "No definition for
                # lowering"); the descriptor's symbol name, which the loaded machine code defines, stays
                cres.fndesc.argtypes = tuple(args)
            return cres

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except _Unstable:
                pass  # kept in this process only (saving it would add a file no other process finds)
            except Exception as exc:  # noqa: BLE001 - an unwritable cache: the compiled code is still used
                log.warning("numba cache of %s not written (%s: %s)", self._name, type(exc).__name__, exc)

    return SafeFunctionCache


def _thread_count_by_symbol() -> bool:
    """Make ``numba.get_num_threads()`` in jitted code call the threading layer by symbol (cacheable).

    numba's overload of ``get_num_threads`` calls the module global ``_get_num_threads`` of
    ``numba.np.ufunc.parallel``, a ctypes function pointer (an absolute address: uncacheable). It is
    replaced by a jitted function that calls the C function ``get_num_threads`` (the same one that
    pointer points to) through its symbol, as numba's own parallel loops do; it is callable from Python
    too, as the global was. True when in place."""
    import numba
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic
    from numba.np.ufunc import parallel

    if not (hasattr(parallel, "ol_get_num_threads") and hasattr(parallel, "_launch_threads")):
        return False
    parallel._launch_threads()  # registers the layer's symbols (get_num_threads among them) with LLVM
    previous = getattr(parallel, "_get_num_threads", None)
    if getattr(previous, "_latentdeck_symbol", False):
        return True
    restype = getattr(previous, "restype", None)
    import ctypes

    if restype is not ctypes.c_int:  # not the ctypes pointer this replacement stands in for
        return False

    @intrinsic
    def _symbol_get_num_threads(typingctx):
        def codegen(context, builder, signature, args):
            fnty = ir.FunctionType(ir.IntType(32), [])
            return builder.call(cgutils.get_or_insert_function(builder.module, fnty, "get_num_threads"), [])
        return types.int32(), codegen

    @numba.njit(cache=False)
    def get_num_threads_by_symbol():
        return _symbol_get_num_threads()

    from numba.core.typed_passes import _reload_parfors

    get_num_threads_by_symbol()  # compiled now, so that code linking it inherits the reload hook below
    for cres in get_num_threads_by_symbol.overloads.values():
        # code that calls it, loaded from any cache by any process (latentdeck's or not), starts numba's
        # threads first (registering the symbol), as numba does for its own cached parallel loops
        cres.library._reload_init.add(_reload_parfors)
    get_num_threads_by_symbol._latentdeck_symbol = True
    parallel._get_num_threads = get_num_threads_by_symbol
    return True


def _dispatchers(modules):
    from numba.core.dispatcher import Dispatcher

    seen: set[int] = set()
    for module in modules:
        for obj in list(vars(module).values()):
            if isinstance(obj, Dispatcher) and id(obj) not in seen:
                seen.add(id(obj))
                yield obj


def _our_modules():
    return [module for name, module in sorted(sys.modules.items())
            if module is not None and name.split(".")[0] in PACKAGES]


def attach(dispatchers, folder: Path) -> tuple[int, list[str]]:
    """Give each numba dispatcher a :class:`SafeFunctionCache <_safe_cache_class>` in ``folder``; returns
    how many, and why the others could not (they keep what they had)."""
    import numba

    safe = _safe_cache_class()
    count, failed = 0, []
    # read by each cache's locator when it is made, then put back: numba's setting for everything else
    # in the process (other libraries' cache=True kernels) stays as it was
    previous, numba.config.CACHE_DIR = numba.config.CACHE_DIR, str(folder)
    try:
        for dispatcher in dispatchers:
            if getattr(dispatcher._cache, "_latentdeck_safe", False):
                continue
            try:
                dispatcher._cache = safe(dispatcher.py_func)
                count += 1
            except Exception as exc:  # noqa: BLE001 - e.g. no cache folder can be written: stays as it was
                failed.append(f"{dispatcher.py_func.__qualname__}: {exc}")
    finally:
        numba.config.CACHE_DIR = previous
    return count, failed


def enable() -> dict[str, Any]:
    """Turn numba's disk cache on for umap's and pynndescent's kernels (idempotent; never raises).

    Call before umap is first used in a process. Imports numba, umap and pynndescent. Returns and keeps
    in :data:`STATUS` ``{"enabled", "dir", "dispatchers", "thread_count_by_symbol", "error"?}``."""
    with _lock:
        if STATUS.get("enabled") or STATUS.get("error") or STATUS.get("off"):
            return STATUS
        if turned_off():
            STATUS.update(enabled=False, off=True)
            return STATUS
        try:
            import numba

            try:
                by_symbol = _thread_count_by_symbol()  # before any kernel calling get_num_threads compiles
            except Exception as exc:  # noqa: BLE001 - optional: those kernels then compile per process
                by_symbol, STATUS["thread_count_note"] = False, f"{type(exc).__name__}: {exc}"
            # imported first: their own cache=True kernels, loaded at import, stay where numba puts them
            # (a broken file there is numba's, as without latentdeck); ours go to the folder set below
            import pynndescent  # noqa: F401
            import umap  # noqa: F401

            folder = cache_dir()
            count, failed = attach(_dispatchers(_our_modules()), folder)
            STATUS.update(enabled=count > 0, dir=str(folder), dispatchers=count, thread_count_by_symbol=by_symbol)
            if failed:
                STATUS.update(uncached=len(failed), uncached_example=failed[0])
        except Exception as exc:  # noqa: BLE001 - the cache is an optimisation: fits run without it
            STATUS.update(enabled=False, error=f"{type(exc).__name__}: {exc}")
            log.warning("numba kernel cache not enabled: %s", STATUS["error"])
        return STATUS


def stats() -> dict[str, Any]:
    """Cache hits and misses of umap's and pynndescent's dispatchers in this process (tests, benches):
    ``{"hits", "misses", "compiled_uncached": [qualnames compiled here without a cache]}``."""
    hits = misses = 0
    uncached = []
    for dispatcher in _dispatchers(_our_modules()):
        if not dispatcher.overloads:
            continue
        st = dispatcher.stats
        hits += sum(st.cache_hits.values())
        misses += sum(st.cache_misses.values())
        if type(dispatcher._cache).__name__ == "NullCache":
            uncached.append(f"{dispatcher.py_func.__module__}.{dispatcher.py_func.__qualname__}")
    return {"hits": hits, "misses": misses, "compiled_uncached": sorted(uncached)}


enable_kernel_cache = enable  # the kit's public name
