"""Load: many clients polling runs and artifacts, plus SSE subscribers, while runs train.

Every poller loops over the listing, one run, its artifact list and one listed file (JSON, PNG, the
event log, a checkpoint); every subscriber follows one run's events to its end, resuming with
Last-Event-ID whenever a stream closes. Figures: requests, errors (exceptions, 5xx, and any status
other than 200), latency percentiles, and what each subscriber lost or got twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import time
from typing import Any

import httpx

from battery_lab import Lab, read_log
from latentdeck.testing import run_async

CLOSING = {"run.completed", "run.cancelled", "run.failed"}


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _poller(url: str, run_ids: list[str], stop: asyncio.Event, seed: int, latencies: dict, errors: list) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while not stop.is_set():
            run_id = rng.choice(run_ids)
            steps = [("runs", "/api/runs"), ("run", f"/api/runs/{run_id}"), ("files", f"/api/runs/{run_id}/files")]
            listing: list[dict] = []
            for kind, path in steps:
                listing = await _get(client, kind, path, latencies, errors) or listing
            names = [row["name"] for row in listing if isinstance(row, dict)] if isinstance(listing, list) else []
            for name in ["summary.json", "events.jsonl", *rng.sample(names, min(2, len(names)))]:
                kind = name.rsplit(".", 1)[-1]
                await _get(client, f"file.{kind}", f"/api/runs/{run_id}/artifacts/{name}", latencies, errors, raw=True)


async def _get(client, kind: str, path: str, latencies: dict, errors: list, raw: bool = False):
    started = time.perf_counter()
    try:
        response = await client.get(path)
        body = response.content
    except httpx.HTTPError as exc:
        errors.append(f"{kind} {path}: {type(exc).__name__}: {exc}")
        return None
    latencies.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
    if response.status_code != 200:
        errors.append(f"{kind} {path}: {response.status_code} {body[:120]!r}")
        return None
    return None if raw else response.json()


async def _subscriber(url: str, run_id: str, seqs: list[int], reconnects: list[int]) -> None:
    last = 0
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(60, read=120)) as client:
        while True:
            headers = {"Last-Event-ID": str(last)} if last else {}
            async with client.stream("GET", f"/api/runs/{run_id}/events", headers=headers) as response:
                if response.status_code == 204:
                    return
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        seqs.append(event["seq"])
                        last = event["seq"]
                        if event["type"] in CLOSING:
                            return
            reconnects.append(1)


async def _run(lab: Lab, run_ids: list[str], pollers: int, subscribers: int, seconds_after: float) -> dict[str, Any]:
    stop = asyncio.Event()
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    seqs = [[] for _ in range(subscribers)]
    reconnects: list[int] = []
    subs = [asyncio.create_task(_subscriber(lab.url, run_ids[i % len(run_ids)], seqs[i], reconnects))
            for i in range(subscribers)]
    polls = [asyncio.create_task(_poller(lab.url, run_ids, stop, i, latencies, errors)) for i in range(pollers)]
    await asyncio.gather(*subs)
    await asyncio.sleep(seconds_after)
    stop.set()
    await asyncio.gather(*polls)
    return {"latencies": latencies, "errors": errors, "seqs": seqs, "reconnects": len(reconnects)}


def load(lab: Lab, pollers: int, subscribers: int, epochs: int, runs: int = 2) -> dict[str, Any]:
    with lab.client() as client:
        run_ids = [lab.create(client, epochs=epochs, batch_size=16) for _ in range(runs)]
    load_before = os.getloadavg()
    started = time.monotonic()
    # in a thread with its own loop: Playwright's sync API may have left one marked running in this one
    outcome = run_async(lambda: _run(lab, run_ids, pollers, subscribers, seconds_after=1.0))
    seconds = time.monotonic() - started
    with lab.client() as client:  # the summary follows the terminal event by a moment (a niced worker, under load)
        statuses = [lab.wait_status(client, r, {"completed", "failed", "cancelled"}, timeout=60)["status"] for r in run_ids]
    logs = {r: [e["seq"] for e in read_log(lab.runs_dir / r)] for r in run_ids}
    lost = duplicated = 0
    for i, got in enumerate(outcome["seqs"]):
        expected = logs[run_ids[i % len(run_ids)]]
        lost += len(set(expected) - set(got))
        duplicated += len(got) - len(set(got))
    every = [ms for values in outcome["latencies"].values() for ms in values]
    requests = len(every) + len(outcome["errors"])
    return {
        "pollers": pollers, "subscribers": subscribers, "runs": runs, "run_statuses": statuses,
        "seconds": round(seconds, 1), "requests": requests, "errors": len(outcome["errors"]),
        "error_rate": round(len(outcome["errors"]) / max(requests, 1), 5), "error_examples": outcome["errors"][:5],
        "latency_ms": {"p50": round(statistics.median(every), 1) if every else None,
                       "p95": round(_percentile(every, 0.95), 1) if every else None,
                       "p99": round(_percentile(every, 0.99), 1) if every else None},
        "p95_ms_by_kind": {k: round(_percentile(v, 0.95), 1) for k, v in sorted(outcome["latencies"].items())},
        "events_per_run": {r: len(s) for r, s in logs.items()}, "subscriber_lost": lost,
        "subscriber_duplicated": duplicated, "stream_reconnects": outcome["reconnects"],
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
