"""A run's first UMAP: fresh worker process vs a child of the warm fork server (issue 4, the JIT part).

    .venv/bin/python bench/umap_jit.py            # micro: first 5,000-point 2-D fit, both ways
    .venv/bin/python bench/umap_jit.py --e2e      # also end to end through `latentdeck serve`

micro, side by side in one run:
  (b) warm  — this process plays the server: it starts the local executor's warm-up, waits until it
              has been up >= --uptime s (60) and the fork server is warm, then forks a child from it
              that imports torch (as a worker does) and times its first UMAP fit;
  (a) fresh — then a fresh `python` process (what `python -m latentdeck.worker` is) does the same.
The fit goes through the `umap` projection plugin when one is registered, else umap.UMAP directly.
(The micro fresh side calls umap.UMAP without the plugin, so it does not turn on the on-disk kernel cache
of issue 24 and still compiles; bench/first_fit.py measures a fresh process with and without that cache.)

e2e: `latentdeck serve` (bench/common.LabServer) with a bench-only dataset plugin (`t10k-bench`:
the real MNIST test split, train = digits 5,000-9,999, heldout = 0-4,999, so the visualization
subset can hold 5,000 points). Run A starts the moment the server is up (before the warm-up is done:
a fresh-process worker); run B starts once the server has been up >= --uptime s (a warm fork). Each
trains 1 epoch on --limit digits with projections ["umap"] and viz_subset_size 5,000; the figure is
the first umap 2-D `projection.progress` "done" compute_ms in its events. Needs the umap plugin.
Goal: the warm first fit <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, T10K, LabServer  # noqa: E402


def micro(n: int, uptime: float) -> dict:
    import multiprocessing
    import threading

    from latentdeck_local import warmup
    from latentdeck_local import plugin as local

    t0 = time.monotonic()
    took: dict = {}

    from latentdeck.registry import collect, get_plugin_manager

    warm_ups = {name: spec.warm_up for name, spec in collect(get_plugin_manager(), "projections").items()
                if spec.warm_up is not None}  # as the server passes them to the executor's capacity

    def warm() -> None:
        took["phase"] = local.warm_up(warm_ups=warm_ups)
        took["warm_up_s"] = round(time.monotonic() - t0, 1)

    thread = threading.Thread(target=warm, daemon=True)
    thread.start()
    thread.join()
    if took["phase"] != "warm":
        raise SystemExit(f"no warm fork server: {local.warm_state()}")
    time.sleep(max(0.0, uptime - (time.monotonic() - t0)))
    ctx = multiprocessing.get_context("forkserver")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=warmup.time_first_fit, args=(n, 2, send))
    started = time.perf_counter()
    child.start()
    send.close()
    warm_fit = receive.recv()
    child.join()
    warm_fit["total_s"] = round(time.perf_counter() - started, 2)

    code = f"import json; from latentdeck_local.warmup import time_first_fit; print(json.dumps(time_first_fit({n}, 2)))"
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"})
    fresh_fit = json.loads(out.stdout.strip().splitlines()[-1])
    fresh_fit["total_s"] = round(time.perf_counter() - started, 2)
    return {"warm_up": took, "server_up_s": round(time.monotonic() - t0, 1), "fresh": fresh_fit, "warm": warm_fit,
            "ratio_fit": round(fresh_fit["fit_s"] / warm_fit["fit_s"], 1),
            "ratio_fit_cpu": round(fresh_fit["fit_cpu_s"] / warm_fit["fit_cpu_s"], 1),
            "load_avg_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
            "ratio_total": round(fresh_fit["total_s"] / warm_fit["total_s"], 1)}


DATASET_PLUGIN = textwrap.dedent('''
    """Bench-only dataset: the real MNIST test split as t10k-bench (heldout = first 5,000 digits)."""
    import gzip
    from pathlib import Path

    from latentdeck import Availability, DataSplit, DatasetSpec, hookimpl

    T10K = Path({t10k!r})

    def _read(stem, header):
        import numpy as np
        return np.frombuffer(gzip.decompress((T10K / f"{{stem}}.gz").read_bytes()), dtype=np.uint8, offset=header)

    def load(data_dir, split):
        import torch
        images = torch.from_numpy(_read("t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28).copy())
        labels = torch.from_numpy(_read("t10k-labels-idx1-ubyte", 8).astype("int64"))
        part = slice(0, 5000) if split == "heldout" else slice(5000, 10000)
        return DataSplit(images[part], labels[part])

    def availability(data_dir):
        ok = (T10K / "t10k-images-idx3-ubyte.gz").exists()
        return Availability(ok, None if ok else f"no MNIST test split in {{T10K}}")

    @hookimpl
    def register_datasets():
        return [DatasetSpec(name="t10k-bench", load=load, availability=availability,
                            description="bench only: MNIST test split")]
''')


def first_umap(run_dir: Path) -> dict | None:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return None
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    t_start = events[0]["ts"]
    for event in events:
        data = event.get("data", {})
        if event["type"] == "projection.progress" and data.get("method") == "umap" and data.get("dims") == 2 \
                and data.get("stage") in ("done", "failed"):
            return {"stage": data["stage"], "compute_ms": data.get("compute_ms"), "error": data.get("error"),
                    "since_created_s": round(event["ts"] - t_start, 1)}
    return None


def e2e(limit: int, uptime: float) -> dict:
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "latentdeck_bench_t10k.py").write_text(DATASET_PLUGIN.format(t10k=str(T10K)))
        env = {"LATENTDECK_EXTRA_PLUGINS": "latentdeck_bench_t10k",
               "PYTHONPATH": os.pathsep.join(filter(None, [tmp, os.environ.get("PYTHONPATH")]))}
        runs_dir = str(Path(tmp) / "runs")
        with LabServer(runs_dir, env) as lab:
            up = time.monotonic()
            components = httpx.get(lab.url + "/api/components", timeout=30).json()
            names = [c["name"] for c in components.get("projections", [])]
            if "umap" not in names:
                return {"skipped": f"no 'umap' projection plugin (projections: {names})"}
            config = {"dataset": "t10k-bench", "epochs": 1, "limit": limit, "viz_subset_size": 5000,
                      "projections": ["umap"], "artifacts": [], "seed": 0}
            result = {}
            for label, wait_up in (("A_started_at_server_start", 0.0), ("B_started_after_uptime", uptime)):
                time.sleep(max(0.0, wait_up - (time.monotonic() - up)))
                started_after = round(time.monotonic() - up, 1)
                run_id = lab.start_run({**config, "name": label})
                status = lab.wait_status(run_id, {"completed", "failed", "cancelled"}, timeout=900)
                run_dir = Path(runs_dir) / run_id
                worker = json.loads((run_dir / "worker.json").read_text())
                result[label] = {"status": status, "started_after_s": started_after, "start": worker.get("start"),
                                 "start_note": worker.get("start_note"), "first_umap_2d": first_umap(run_dir)}
            return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--uptime", type=float, default=60.0, help="seconds the server is up before the warm fit")
    parser.add_argument("--e2e", action="store_true", help="also measure end to end through latentdeck serve")
    parser.add_argument("--only-e2e", action="store_true")
    parser.add_argument("--limit", type=int, default=2000, help="training digits of the e2e runs")
    args = parser.parse_args()
    os.chdir(REPO)
    report = {}
    if not args.only_e2e:
        report["micro"] = micro(args.n, args.uptime)
        print(json.dumps(report["micro"], indent=1), flush=True)
        m = report["micro"]
        print(f"first {args.n}-point UMAP 2-D fit: fresh process {m['fresh']['fit_s']} s "
              f"(start to result {m['fresh']['total_s']} s) vs warm fork {m['warm']['fit_s']} s "
              f"({m['warm']['total_s']} s): {m['ratio_fit']}x; CPU seconds of the fit {m['fresh']['fit_cpu_s']} vs "
              f"{m['warm']['fit_cpu_s']} ({m['ratio_fit_cpu']}x); load average {m['load_avg_1m']} on {m['cpus']} CPUs; "
              f"goal: the warm first UMAP artifact (its fit, what projection.progress reports; the child's fork "
              f"and torch import happen at worker start) <= 10 s: {'met' if m['warm']['fit_s'] <= 10 else 'MISSED'}",
              flush=True)
    if args.e2e or args.only_e2e:
        report["e2e"] = e2e(args.limit, args.uptime)
        print(json.dumps(report["e2e"], indent=1), flush=True)


if __name__ == "__main__":
    main()
