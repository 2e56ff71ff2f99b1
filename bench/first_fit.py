"""The first UMAP fit in a fresh process, without and with the on-disk kernel cache (issue 24, item 1).

    .venv/bin/python bench/first_fit.py [--n 10000] [--dims 2]

Side by side in one run, each in a fresh `python` process (what `latentdeck train`, backfill, a Ray worker
or a subprocess worker is), fitting --n clustered 16-d points through the `umap` projection plugin's
`fit` (cold: spectral init, umap-learn's default epochs, as a first epoch):
  (a) no cache   — LATENTDECK_NUMBA_CACHE=off: numba compiles umap's and pynndescent's kernels;
  (b) fill       — `python -m latentdeck_umap.warm` into an empty cache folder (what scripts/setup.sh does);
  (c) cached     — a fresh process with that cache: it loads the kernels;
each process then fits the same points again (its second fit: the fit's own cost, no JIT at all).
Goal: (c)'s first fit <= 5 s at 10,000 points. The load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
from latentdeck.kit import kernel_cache as kernels
from latentdeck_umap.plugin import fit
n, dims = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
centers = rng.normal(scale=4.0, size=(10, 16))
x = (centers[rng.integers(0, 10, n)] + rng.normal(size=(n, 16))).astype(np.float32)
ready = time.perf_counter()
first = fit(x, dims, seed=0)
t1 = time.perf_counter()
second = fit(x, dims, seed=0)
t2 = time.perf_counter()
print(json.dumps({"setup_s": round(ready - t0, 2), "first_fit_s": round(t1 - ready, 2),
                  "second_fit_s": round(t2 - t1, 2), "same_coords": bool(np.array_equal(first.coords, second.coords)),
                  "checksum": float(np.round(first.coords, 4).sum()), "cache": dict(kernels.STATUS),
                  "stats": kernels.stats()}))
"""


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f}/{five:.2f}"


def _child(n: int, dims: int, env: dict) -> dict:
    load = _load()
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(dims)], capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(process_s=round(time.perf_counter() - started, 2), load_before=load, load_after=_load())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=2)
    args = parser.parse_args()
    report: dict = {"n": args.n, "dims": args.dims, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "LATENTDECK_NUMBA_CACHE",
                                                                  "LATENTDECK_NUMBA_CACHE_DIR")}
        report["no_cache"] = _child(args.n, args.dims, {**base, "LATENTDECK_NUMBA_CACHE": "off"})
        print("no cache:", json.dumps(report["no_cache"]), flush=True)
        cached_env = {**base, "LATENTDECK_NUMBA_CACHE_DIR": str(Path(tmp) / "numba")}
        load, started = _load(), time.perf_counter()
        subprocess.run([sys.executable, "-m", "latentdeck_umap.warm"], env=cached_env, check=True)
        report["fill"] = {"seconds": round(time.perf_counter() - started, 1), "load_before": load,
                          "load_after": _load(),
                          "files": sum(1 for _ in (Path(tmp) / "numba").rglob("*.nbc")),
                          "bytes": sum(p.stat().st_size for p in (Path(tmp) / "numba").rglob("*") if p.is_file())}
        print("fill:", json.dumps(report["fill"]), flush=True)
        report["cached"] = _child(args.n, args.dims, cached_env)
        print("cached:", json.dumps(report["cached"]), flush=True)
    a, c = report["no_cache"], report["cached"]
    report["same_result"] = a["checksum"] == c["checksum"]
    print(f"first {args.n}-point UMAP {args.dims}-D fit in a fresh process: {a['first_fit_s']} s without the kernel "
          f"cache (load {a['load_before']}), {c['first_fit_s']} s with it (load {c['load_before']}; goal <= 5 s: "
          f"{'met' if c['first_fit_s'] <= 5 else 'MISSED'}); the same process's second fit {a['second_fit_s']} / "
          f"{c['second_fit_s']} s (no JIT); filling the cache took {report['fill']['seconds']} s "
          f"({report['fill']['files']} kernels, {report['fill']['bytes'] / 1e6:.1f} MB); same coordinates with and "
          f"without the cache: {report['same_result']}; {report['cpus']} CPUs")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
