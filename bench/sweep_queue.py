"""A 4-run sweep of identical tiny runs: the local run queue with cap 1 and cap 2, and the ray executor (issue 15).

Starts `latentdeck serve` fresh for each setting (no UMAP warm-up, the tiny-digits dataset of
latentdeck.testing), posts one sweep of 4 members (seeds 0-3 of the same config) and waits for every
member to end. Settings:

- ``cap1`` / ``cap2``: the local executor, LATENTDECK_MAX_CONCURRENT_RUNS 1 or 2;
- ``ray``: the ray executor on the local Ray the lab starts itself (``num_cpus`` 1 per run, so Ray
  trains two at once on two cores). Its first sweep pays Ray's start; a second sweep on the same lab
  (``ray warm``) shows the steady state.

Also measured on the warm Ray lab, one run at a time (nothing else running): the time from the POST to
the worker's ``run.started`` event, against the same with the local executor — the per-run submission
overhead — and the memory of the idle local Ray (every Ray process's resident set, before and after
the sweeps).

    .venv/bin/python bench/sweep_queue.py [--epochs 3] [--single 3]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LabServer  # noqa: E402

ENDED = ("completed", "failed", "cancelled")


def _config(epochs: int, executor: str) -> dict:
    from latentdeck.testing import tiny_run_config

    config = {**tiny_run_config(), "epochs": epochs, "num_threads": None, "executor": executor}
    config.pop("seed")
    if executor == "ray":
        config["executor_options"] = {"num_cpus": 1}
    return config


def run_sweep(lab: LabServer, name: str, config: dict) -> dict:
    import httpx

    started = time.perf_counter()
    answer = httpx.post(lab.url + "/api/sweeps", json={"name": name, "config": config, "seeds": [0, 1, 2, 3]},
                        timeout=120)
    answer.raise_for_status()
    sweep_id = answer.json()["sweep_id"]
    most_running, statuses = 0, []
    while time.perf_counter() - started < 600:
        members = httpx.get(f"{lab.url}/api/sweeps/{sweep_id}", timeout=30).json()["members"]
        statuses = [m["status"] for m in members]
        most_running = max(most_running, statuses.count("running"))
        if all(s in ENDED for s in statuses):
            break
        time.sleep(0.2)
    return {"setting": name, "wall_s": round(time.perf_counter() - started, 2), "statuses": statuses,
            "most_running_seen": most_running}


def start_latency(lab: LabServer, config: dict, times: int) -> list[float]:
    """Seconds from POST /api/runs to the worker's run.started event, one run at a time."""
    import httpx

    latencies = []
    for seed in range(times):
        posted = time.time()
        answer = httpx.post(lab.url + "/api/runs", json={**config, "seed": seed}, timeout=120)
        answer.raise_for_status()
        run_id = answer.json()["summary"]["run_id"]
        events = Path(lab.runs_dir) / run_id / "events.jsonl"
        deadline = time.perf_counter() + 300
        while time.perf_counter() < deadline:
            summary = httpx.get(f"{lab.url}/api/runs/{run_id}", timeout=30).json()["summary"]
            if summary["status"] in ENDED:
                break
            time.sleep(0.2)
        started = [json.loads(line) for line in events.read_text().splitlines() if '"run.started"' in line]
        latencies.append(round(started[0]["ts"] - posted, 3))
    return latencies


def ray_memory_mb() -> dict:
    """Resident memory of this machine's Ray processes (GCS, raylet, workers, agents), in MB."""
    total, count = 0, 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if not any(key in cmdline for key in ("ray::", "gcs_server", "raylet", "/ray/", "ray/_private", "ray/dashboard")):
            continue
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        total, count = total + rss, count + 1
    return {"processes": count, "rss_mb": round(total / 1024, 1)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--single", type=int, default=3, help="single runs timed from POST to run.started")
    args = parser.parse_args()
    base_env = {"LATENTDECK_WARMUP": "off", "LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing"}
    rows, extra = [], {}
    for cap in (1, 2):
        with tempfile.TemporaryDirectory() as tmp, \
                LabServer(str(Path(tmp) / "runs"), {**base_env, "LATENTDECK_MAX_CONCURRENT_RUNS": str(cap)}) as lab:
            rows.append(run_sweep(lab, f"cap{cap}", _config(args.epochs, "local")))
            if cap == 2:
                extra["local_post_to_started_s"] = start_latency(lab, _config(args.epochs, "local"), args.single)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "LATENTDECK_RAY_ADDRESS")}
    os.environ.clear()
    os.environ.update(env)
    before = ray_memory_mb()
    extra["ray_idle_fresh"] = _fresh_ray_memory(before)
    with tempfile.TemporaryDirectory(prefix="ldbench-") as tmp, LabServer(str(Path(tmp) / "runs"), base_env) as lab:
        rows.append(run_sweep(lab, "ray", _config(args.epochs, "ray")))
        extra["ray_idle_after_sweep"] = _settled_memory(before)
        rows.append(run_sweep(lab, "ray warm", _config(args.epochs, "ray")))
        extra["ray_post_to_started_s"] = start_latency(lab, _config(args.epochs, "ray"), args.single)
    by = {row["setting"]: row["wall_s"] for row in rows}
    for row in rows:
        print(f"{row['setting']:>8}: 4 members in {row['wall_s']} s (at most {row['most_running_seen']} running at once)")
    overhead = statistics.median(extra["ray_post_to_started_s"]) - statistics.median(extra["local_post_to_started_s"])
    print(f"POST -> run.started, median of {args.single}: ray {statistics.median(extra['ray_post_to_started_s'])} s, "
          f"local {statistics.median(extra['local_post_to_started_s'])} s (ray overhead {overhead:+.2f} s)")
    print(f"idle local Ray: fresh {extra['ray_idle_fresh']}, after a sweep {extra['ray_idle_after_sweep']}")
    print(json.dumps({"benchmark": "sweep_queue", "members": 4, "epochs": args.epochs, "runs": rows, **extra,
                      "ratio_cap2_over_cap1": round(by["cap2"] / by["cap1"], 3),
                      "ratio_ray_over_cap1": round(by["ray"] / by["cap1"], 3),
                      "ratio_ray_warm_over_cap1": round(by["ray warm"] / by["cap1"], 3),
                      "ratio_ray_warm_over_cap2": round(by["ray warm"] / by["cap2"], 3),
                      "ray_submission_overhead_s": round(overhead, 3)}))
    return 0 if all(s == "completed" for row in rows for s in row["statuses"]) else 1


def _fresh_ray_memory(before: dict) -> dict:
    """A local Ray started the way the lab starts it (latentdeck_ray.session.connect), idle for 5 s."""
    from latentdeck_ray import session

    session.connect()
    try:
        return _settled_memory(before)
    finally:
        session.shutdown()
        time.sleep(2)


def _settled_memory(before: dict) -> dict:
    """The Ray processes' memory once the sweep's workers have been idle a few seconds."""
    time.sleep(5)
    now = ray_memory_mb()
    return {**now, "before_lab": before}


if __name__ == "__main__":
    raise SystemExit(main())
