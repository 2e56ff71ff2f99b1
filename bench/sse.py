"""SSE fan-out: 20 concurrent subscribers on one live run, against a real server on 127.0.0.1.
Targets: zero lost or duplicated events for every subscriber; median append-to-delivery latency
(event `ts`, stamped by the worker when it appends, to the moment a subscriber has parsed it) <= 50 ms.
The same measurement with 1 subscriber runs first, side by side, as the baseline.

    .venv/bin/python bench/sse.py [--subscribers 20] [--epochs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time

from common import LabServer


async def subscribe(url: str, seqs: list[int], latencies: list[float]) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=None) as client:
        last = 0
        while True:  # resume with Last-Event-ID if the server closes the stream (max age)
            headers = {"Last-Event-ID": str(last)} if last else {}
            async with client.stream("GET", url, headers=headers) as response:
                if response.status_code == 204:
                    return
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        latencies.append(time.time() - event["ts"])
                        seqs.append(event["seq"])
                        last = event["seq"]
                        if event["type"] in ("run.completed", "run.cancelled", "run.failed"):
                            return


async def measure(server: LabServer, subscribers: int, epochs: int) -> dict:
    run_id = server.start_run({"model": "ae", "dataset": "tiny-digits", "epochs": epochs, "batch_size": 16,
                               "progress_interval_s": 0.02, "num_threads": 1,
                               "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}})
    url = f"{server.url}/api/runs/{run_id}/events"
    seqs = [[] for _ in range(subscribers)]
    latencies = [[] for _ in range(subscribers)]
    await asyncio.gather(*(subscribe(url, seqs[i], latencies[i]) for i in range(subscribers)))
    expected = list(range(1, max(max(s) for s in seqs) + 1))
    lost = sum(len(set(expected) - set(s)) for s in seqs)
    duplicated = sum(len(s) - len(set(s)) for s in seqs)
    # Latency only for events appended while subscribers were attached (not the replayed head).
    live = sorted(l for ls in latencies for l in ls[5:])
    return {"subscribers": subscribers, "events": len(expected), "lost": lost, "duplicated": duplicated,
            "latency_median_ms": round(statistics.median(live) * 1000, 2),
            "latency_p95_ms": round(live[int(len(live) * 0.95)] * 1000, 2)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, LabServer(tmp, {"LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing"}) as server:
        one = asyncio.run(measure(server, 1, args.epochs))
        many = asyncio.run(measure(server, args.subscribers, args.epochs))
    print(json.dumps({"benchmark": "sse", "baseline_1": one, "fanout": many,
                      "latency_ratio_fanout_vs_1": round(many["latency_median_ms"] / max(one["latency_median_ms"], 1e-6), 2),
                      "meets_target": many["lost"] == 0 and many["duplicated"] == 0 and many["latency_median_ms"] <= 50}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
