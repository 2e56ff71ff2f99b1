"""On-demand sampling latency: `POST /api/runs/{id}/compute/sampling` with m=64 through a real `latentdeck serve`.

Three cases, side by side in one run, on a GM-VAE (default size: 16-d latent, K=10, conv [32, 64])
and an AE trained for one epoch on mnist-5k:
- cold, model not cached: the first request for a run (checkpoint load; for the server's very first,
  also importing torch and loading the held-out split), then draw, decode, PNG, write, announce;
- cold, model cached: a first request for a new (idx | component, m) once the epoch's model is loaded;
- warm: the same requests again, served from disk.
Goals: cold <= 300 ms, warm <= 20 ms (wall time at the client).

    .venv/bin/python bench/sampling_latency.py [--keys 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import LabServer

M = 64


def train(runs_dir: str, model: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "latentdeck.cli", "train", "--model", model, "--dataset", "mnist-5k", "--limit", "1000",
         "--epochs", "1", "--runs-dir", runs_dir, "--json", "--quiet", "--set", 'artifacts=["recon_grid"]',
         "--set", "projections=[]"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)["run_id"]


def post(client, url: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    response = client.post(url, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return elapsed, response.json()


def stats(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"n": len(values), "median_ms": round(statistics.median(values), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
            "max_ms": round(ordered[-1], 1)}


def measure(client, base: str, run_id: str, bodies: list[dict], rounds: int, first_is: str | None) -> dict:
    """``first_is`` names what the first request also pays (None: the model is already loaded)."""
    url = f"{base}/api/runs/{run_id}/compute/sampling"
    first_ms, first = post(client, url, bodies[0])
    assert first["created"]
    cold = [post(client, url, body) for body in bodies[1:]]
    assert all(r["created"] for _, r in cold)
    if first_is is None:
        cold.insert(0, (first_ms, first))
    warm = [post(client, url, body) for _ in range(rounds) for body in bodies]
    assert not any(r["created"] for _, r in warm)
    return {
        **({"cold_model_not_cached_ms": round(first_ms, 1), "first_request_pays": first_is} if first_is else {}),
        "cold_model_cached": {**stats([t for t, _ in cold]),
                              "server_compute_ms_median": round(statistics.median(r["payload"]["compute_ms"] for _, r in cold), 1)},
        "warm_from_disk": stats([t for t, _ in warm]),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=10, help="distinct examples/components per case")
    parser.add_argument("--rounds", type=int, default=3, help="repeats of every warm request")
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        gmvae, ae = train(tmp, "gmvae"), train(tmp, "ae")
        results = {}
        with LabServer(tmp, {"LATENTDECK_WARMUP": "off"}) as server, httpx.Client(timeout=60) as client:
            results["gmvae_posterior_local"] = measure(
                client, server.url, gmvae, [{"kind": "posterior_local", "idx": i, "m": M} for i in range(args.keys)],
                args.rounds, "the server's first torch work: importing torch, loading mnist-5k's held-out split, "
                             "the checkpoint and the latents' RMS")
            results["gmvae_prior_component"] = measure(
                client, server.url, gmvae, [{"kind": "prior_component", "component": c, "m": M} for c in range(10)],
                args.rounds, None)
            results["ae_neighbourhood"] = measure(
                client, server.url, ae, [{"kind": "posterior_local", "idx": i, "m": M} for i in range(args.keys)],
                args.rounds, "another run's checkpoint and the latents' RMS (torch and the split already loaded)")
    cold = max(r["cold_model_cached"]["median_ms"] for r in results.values())
    warm = max(r["warm_from_disk"]["median_ms"] for r in results.values())
    report = {
        "m": M, "load_average": os.getloadavg(), "cpus": os.cpu_count(), **results,
        "goal_cold_ms": 300, "worst_cold_median_ms": cold, "cold_vs_goal": round(cold / 300, 3),
        "goal_warm_ms": 20, "worst_warm_median_ms": warm, "warm_vs_goal": round(warm / 20, 3),
        "warm_speedup": round(cold / warm, 1),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
