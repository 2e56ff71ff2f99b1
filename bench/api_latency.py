"""API responsiveness: p95 of `GET /api/runs` while a run trains on both cores, next to the same
measurement on an idle server (side by side in one run). Target: p95 <= 100 ms during training.

    .venv/bin/python bench/api_latency.py [--seconds 20] [--runs 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

from common import LabServer


def sample(url: str, seconds: float) -> list[float]:
    import httpx

    timings = []
    with httpx.Client(timeout=30) as client:
        deadline = time.time() + seconds
        while time.time() < deadline:
            started = time.perf_counter()
            response = client.get(url + "/api/runs")
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200
            time.sleep(0.05)
    return timings


def p95(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.95)] * 1000


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=30, help="finished runs in the store (listing size)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LabServer(tmp, {"LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing"}) as server:
        small = {"model": "ae", "dataset": "tiny-digits", "epochs": 1, "num_threads": 1,
                 "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}}
        for _ in range(args.runs):  # a store with some history, like a real user's
            server.wait_status(server.start_run(small), {"completed"})
        idle = sample(server.url, args.seconds / 2)
        run_id = server.start_run({"model": "ae", "dataset": "mnist-5k", "epochs": 50})
        server.wait_status(run_id, {"running"})
        time.sleep(5)  # past data loading: training saturates the cores
        busy = sample(server.url, args.seconds)
        import httpx

        httpx.post(f"{server.url}/api/runs/{run_id}/cancel", timeout=10)
        server.wait_status(run_id, {"cancelled", "completed", "failed"})
    print(json.dumps({"benchmark": "api_latency", "runs_listed": args.runs + 1,
                      "idle": {"n": len(idle), "median_ms": round(statistics.median(idle) * 1000, 2), "p95_ms": round(p95(idle), 2)},
                      "training": {"n": len(busy), "median_ms": round(statistics.median(busy) * 1000, 2), "p95_ms": round(p95(busy), 2)},
                      "p95_ratio_training_vs_idle": round(p95(busy) / p95(idle), 2),
                      "target_p95_ms": 100, "meets_target": p95(busy) <= 100}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
