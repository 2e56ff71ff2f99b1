"""The on-disk kernel cache (latentdeck.kit.kernel_cache): a second process loads what the first compiled, a broken
cache file costs a recompilation and never a failure, and keys are the same in every process.

The cross-process tests run a few of pynndescent's and umap's real kernels (one that takes a numba
dispatcher argument, one that does not) and one kernel that calls ``numba.get_num_threads()``, each in fresh
``python`` processes with their own cache folder: seconds, not the minute a whole UMAP compilation takes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CHILD = textwrap.dedent('''
    import json, sys
    import numpy as np
    from latentdeck.kit import kernel_cache as kernels
    status = kernels.enable()
    import numba
    from pynndescent import distances, pynndescent_, utils
    from umap import umap_
    sys.path.insert(0, sys.argv[1])
    import threads_kernel
    if status["enabled"]:
        kernels.attach([threads_kernel.count], kernels.cache_dir())

    rng = np.random.default_rng(0)
    data = rng.normal(size=(40, 4)).astype(np.float32)
    heap = utils.make_heap(40, 5)
    # a kernel taking a kernel (the distance) as its argument, as nn_descent and init_rp_tree do
    pynndescent_.init_random(5, data, heap, distances.euclidean, rng.integers(-2**31, 2**31 - 1, 3).astype(np.int64))
    dists = np.sort(rng.random((40, 5)).astype(np.float32), axis=1)
    sigmas, rhos = umap_.smooth_knn_dist(dists, 5.0)
    out = {"status": status, "heap": heap[1].tolist(), "sigmas": sigmas.tolist(),
           "threads": int(threads_kernel.count(3)), "numba_threads": numba.get_num_threads(),
           "threads_cached": int(threads_kernel.count_cached(3))}
    stats = {}
    for d in (pynndescent_.init_random, umap_.smooth_knn_dist, threads_kernel.count):
        st = d.stats
        stats[d.py_func.__name__] = [sum(st.cache_hits.values()), sum(st.cache_misses.values())]
    out["stats"] = stats
    print(json.dumps(out))
''')

THREADS_KERNEL = textwrap.dedent('''
    import numba

    @numba.njit
    def count(k):
        return numba.get_num_threads() * k

    @numba.njit(cache=True)  # numba's own cache (__pycache__ beside this file), compiled after enable()
    def count_cached(k):
        return numba.get_num_threads() * k
''')


def run_child(tmp_path: Path, cache: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LATENTDECK_NUMBA_CACHE", "NUMBA_CACHE_DIR")}
    env.update(LATENTDECK_NUMBA_CACHE_DIR=str(cache), **extra)
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kernels")
    (folder / "threads_kernel.py").write_text(THREADS_KERNEL)
    return folder


@pytest.fixture(scope="module")
def first_run(kernel_dir):
    """One process that compiles the kernels into an empty cache folder (shared: it takes a while)."""
    cache = kernel_dir / "numba-first"
    return run_child(kernel_dir, cache), cache


@pytest.fixture
def populated(first_run, tmp_path):
    """A copy of the first process's cache folder, for a test to use (or break) on its own."""
    first, cache = first_run
    shutil.copytree(cache, tmp_path / "numba")
    return first, tmp_path / "numba"


def test_a_second_process_loads_the_kernels_the_first_compiled_and_gets_the_same_results(kernel_dir, populated):
    first, cache = populated
    assert first["status"]["enabled"] and Path(first["status"]["dir"]).name == "numba-first"
    assert first["status"]["thread_count_by_symbol"] is True
    assert all(misses >= 1 for _hits, misses in first["stats"].values()), first["stats"]
    indexes = sorted(p.name for p in cache.rglob("*.nbi"))
    assert any("init_random" in name for name in indexes) and any("smooth_knn_dist" in name for name in indexes)
    assert any("count" in name for name in indexes)  # the kernel calling numba.get_num_threads() was saved
    files = len(list(cache.rglob("*.nbc")))

    second = run_child(kernel_dir, cache)
    assert second["stats"] == {name: [1, 0] for name in first["stats"]}, second["stats"]  # all loaded, none compiled
    assert len(list(cache.rglob("*.nbc"))) == files  # the same keys: no second copy of anything
    for field in ("heap", "sigmas", "threads", "numba_threads"):
        assert second[field] == first[field]
    assert second["threads"] == 3 * second["numba_threads"]


def test_a_corrupt_or_truncated_cache_is_recompiled_never_a_failure(kernel_dir, populated):
    first, cache = populated
    broken = sorted(cache.rglob("*.nb[ic]"))
    assert broken
    for i, path in enumerate(broken):
        data = path.read_bytes()
        path.write_bytes(os.urandom(64) if i % 2 else data[: len(data) // 3])
    second = run_child(kernel_dir, cache)
    for field in ("heap", "sigmas", "threads"):
        assert second[field] == first[field]
    assert all(misses == 1 for _hits, misses in second["stats"].values()), second["stats"]
    third = run_child(kernel_dir, cache)  # the recompiled kernels were written back
    assert third["stats"] == {name: [1, 0] for name in first["stats"]}, third["stats"]


def test_an_unwritable_cache_folder_still_fits(kernel_dir, tmp_path):
    cache = tmp_path / "numba"
    cache.write_text("a file where the folder should be")
    result = run_child(kernel_dir, cache)
    assert result["threads"] == 3 * result["numba_threads"] and len(result["heap"]) == 40


def test_off_leaves_numba_alone(kernel_dir, tmp_path):
    result = run_child(kernel_dir, tmp_path / "numba", LATENTDECK_NUMBA_CACHE="off")
    assert result["status"] == {"enabled": False, "off": True}
    assert result["stats"]["init_random"] == [0, 1] and result["threads"] == 3 * result["numba_threads"]
    assert not any("init_random" in p.name for p in (tmp_path / "numba").rglob("*.nbi"))


def test_keys_name_a_kernel_argument_by_module_name_and_bytecode_not_by_object():
    import numba
    from numba.core import types
    from pynndescent import distances

    from latentdeck.kit.kernel_cache import _stable_signature, _Unstable

    copy = numba.njit(distances.euclidean.py_func)  # what unpickling a key in another process gives
    array = types.float32[:, ::1]
    ours, theirs = (array, types.Dispatcher(distances.euclidean)), (array, types.Dispatcher(copy))
    assert ours != theirs  # numba's own key: never equal across processes
    assert _stable_signature(ours) == _stable_signature(theirs)
    assert _stable_signature(ours) != _stable_signature((array, types.Dispatcher(distances.manhattan)))
    assert _stable_signature((array, types.int64)) == (array, types.int64)  # no kernel argument: numba's key

    def make(scale):
        @numba.njit
        def scaled(x):
            return x * scale
        return scaled

    closure = make(2.0)  # (numba's type holds its dispatcher weakly)
    with pytest.raises(_Unstable):  # a closure's code depends on what it captured: not saved at all
        _stable_signature((types.Dispatcher(closure),))


def test_code_compiled_after_enable_loads_in_a_process_without_latentdeck(kernel_dir, populated):
    """A kernel that calls numba.get_num_threads(), compiled while enable() is in effect and saved by numba's
    own cache, loads in a plain process (which never started numba's threads itself): the reload hook
    starts them and registers the symbol it calls."""
    first, _cache = populated
    assert first["threads_cached"] == 3 * first["numba_threads"]
    assert list((kernel_dir / "__pycache__").glob("threads_kernel.count_cached-*.nbi"))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import threads_kernel, numba; "
            "r = int(threads_kernel.count_cached(3)); "
            "print(r, numba.get_num_threads(), sum(threads_kernel.count_cached.stats.cache_hits.values()))")
    out = subprocess.run([sys.executable, "-c", code, str(kernel_dir)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result, threads, hits = map(int, out.stdout.split())
    assert (result, hits) == (3 * threads, 1)


CALLER = textwrap.dedent('''
    import numba
    import numpy as np
    from latentdeck.kit import kernel_cache as kernels
    kernels.enable()
    from pynndescent import distances, pynndescent_, utils

    @numba.njit
    def caller(n, data, heap, dist, seed):  # compiled here, after init_random came from the disk cache
        pynndescent_.init_random(n, data, heap, dist, seed)
        return heap[1].sum()

    rng = np.random.default_rng(0)
    data = rng.normal(size=(40, 4)).astype(np.float32)
    seed = rng.integers(-2**31, 2**31 - 1, 3).astype(np.int64)
    pynndescent_.init_random(5, data, utils.make_heap(40, 5), distances.euclidean, seed)
    print(float(caller(5, data, utils.make_heap(40, 5), distances.euclidean, seed)))
''')


def test_a_kernel_compiled_later_may_call_a_cached_one_that_takes_a_kernel(tmp_path, kernel_dir):
    """pynndescent's NNDescent with other settings than the cache was filled with compiles a new nn_descent
    that calls cached kernels taking the distance function: the call must find them (it once failed with
    "No definition for lowering" in every fresh process)."""
    cache = tmp_path / "cache"
    run_child(kernel_dir, cache)  # fills the cache, init_random included
    env = {k: v for k, v in os.environ.items() if k not in ("LATENTDECK_NUMBA_CACHE", "NUMBA_CACHE_DIR")}
    out = subprocess.run([sys.executable, "-c", CALLER], capture_output=True, text=True, timeout=300,
                         env={**env, "LATENTDECK_NUMBA_CACHE_DIR": str(cache)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert float(out.stdout.strip().splitlines()[-1]) > 0
