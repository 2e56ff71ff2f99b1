"""Network inspection latency: forward capture of one held-out index (every layer, PNGs included) cold
and warm from disk, and top-K over a 2,000-image subset for one channel, next to the unbatched way.

Goals (issue 7): forward capture cold <= 300 ms, warm <= 20 ms; top-K over 2,000 images <= 2 s.
Trains the default AE on mnist-5k for one epoch in this process. mnist-5k holds out only 500 digits,
so for the top-K scan the run's held-out split is the real MNIST test split (10,000 digits, see
common.load_t10k), put in the shared held-out cache the inspector reads.

    .venv/bin/python bench/network_latency.py [--indices 8] [--subset 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import load_t10k


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--indices", type=int, default=8, help="held-out indices captured cold (and warm)")
    parser.add_argument("--subset", type=int, default=2000, help="top-K subset size")
    parser.add_argument("--layer", default="trunk.layers.8", help="top-K layer (default: the ReLU at 14x14, 64 ch)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's, one per core)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from latentdeck.launch import prepare_run
    from latentdeck.engine.epochs import EpochModels
    from latentdeck.engine.epochs import _HELDOUT
    from latentdeck.registry import get_plugin_manager
    from latentdeck.store.runs import RunStore
    from latentdeck.engine.training import execute_run
    from latentdeck_network.inspection import Inspector
    from latentdeck_network.layers import capture

    pm = get_plugin_manager()
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs")
        stored = prepare_run(pm, {"model": "ae", "dataset": "mnist-5k", "epochs": 1, "seed": 0,
                                  "projections": [], "artifacts": []})
        store.create(stored)
        run_dir = store.run_dir(stored["run_id"])
        train_ms, status = timed(lambda: execute_run(run_dir, pm=pm))
        assert status == "completed", status

        net = Inspector(run_dir, EpochModels(), pm)
        first_ms, first = timed(lambda: net.forward(None, 0))  # loads the checkpoint and the split too
        layers = len(first.payload["layers"])
        cold = [timed(lambda i=i: net.forward(None, i))[0] for i in range(1, args.indices + 1)]
        warm = [timed(lambda i=i: net.forward(None, i))[0] for i in range(1, args.indices + 1) for _ in range(3)]

        loaded = net.load(None)
        images, labels = load_t10k()
        _HELDOUT[(loaded.config["dataset"], str(loaded.config["data_dir"]))] = (images, labels)
        channel = 0
        topk_ms, result = timed(lambda: net.topk(None, args.layer, channel, "max", args.subset, 9))
        topk_warm_ms, _ = timed(lambda: net.topk(None, args.layer, channel, "max", args.subset, 9))

        # the unbatched way: one forward per image, every layer captured (measured on 200, scaled)
        naive_n = min(200, args.subset)
        started = time.perf_counter()
        for i in range(naive_n):
            capture(loaded.model, images[i:i + 1]).by_id()[args.layer].output[0, channel].max()
        naive_ms = (time.perf_counter() - started) * 1000 * args.subset / naive_n

    load = os.getloadavg()
    print(json.dumps({
        "benchmark": "network_latency", "torch_threads": torch.get_num_threads(),
        "load_average_1m": round(load[0], 2), "train_1_epoch_ms": round(train_ms),
        "forward_capture": {
            "layers": layers, "files": len(first.files),
            "first_request_ms (checkpoint + split load included)": round(first_ms, 1),
            "cold_median_ms": round(statistics.median(cold), 1), "cold_max_ms": round(max(cold), 1),
            "warm_median_ms": round(statistics.median(warm), 2), "warm_max_ms": round(max(warm), 2),
            "goal_cold_ms": 300, "goal_warm_ms": 20,
            "cold_goal_met": statistics.median(cold) <= 300, "warm_goal_met": statistics.median(warm) <= 20,
        },
        "topk": {
            "layer": args.layer, "subset": args.subset, "k": 9, "cold_ms": round(topk_ms, 1),
            "from_disk_ms": round(topk_warm_ms, 2), "goal_ms": 2000, "goal_met": topk_ms <= 2000,
            "unbatched_all_layers_ms (200 measured, scaled)": round(naive_ms), "speedup_vs_unbatched": round(naive_ms / topk_ms, 1),
            "top_scores": [round(item["score"], 3) for item in result.payload["items"][:3]],
        },
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
