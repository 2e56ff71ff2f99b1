"""The reliability and security battery (issue 13), with every figure printed as JSON.

    .venv/bin/python bench/reliability.py            # the long variants (about 15-25 minutes on 2 cores)
    .venv/bin/python bench/reliability.py --quick    # the sizes ./test runs (a few minutes)
    .venv/bin/python bench/reliability.py --only sse,load

Figures: events lost / duplicated over N random reconnects; server memory with clients that never
read; delivery delay with and without stalled readers (side by side); seconds from SIGKILL to
`failed` and files left invalid after each fault (goal 0); schemathesis cases, 5xx and schema
violations (goal 0); traversal requests that read or wrote outside the lab (goal 0); p95 latency
and errors under load. Latencies depend on the machine's load: the load average is printed with them.
The batteries themselves live in tests/reliability/ (the tests assert the same figures).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "reliability"))
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
os.environ.setdefault("LATENTDECK_WARMUP", "off")

SECTIONS = ("sse", "faults", "disk", "fuzz", "hostile", "load")


def fresh(work: Path, name: str) -> Path:
    runs = work / name / "runs"
    runs.mkdir(parents=True)
    return runs


def sse(work: Path, quick: bool) -> dict:
    from battery_lab import Lab
    from battery_sse import chaos, fast_writer, stalled_readers

    runs = fresh(work, "sse")
    with Lab(runs) as lab, lab.client() as client:
        run_id = lab.create(client, epochs=6 if quick else 20, batch_size=8, progress_interval_s=0)
        out = {"chaos": chaos(lab, run_id, min_reconnects=100 if quick else 500, seed=13)}
        lab.wait_status(client, run_id, {"completed", "failed"})
        size = (24, 8) if quick else (86, 10)
        out["stalled_readers_replay"] = stalled_readers(lab, log_mb=size[0], readers=size[1], live=False)
        out["stalled_readers_live"] = stalled_readers(lab, log_mb=size[0], readers=size[1], live=True)
        seconds = 3 if quick else 10
        out["fast_writer_alone"] = fast_writer(lab, rate=1000, seconds=seconds, stalled=0)
        out["fast_writer_with_stalled"] = fast_writer(lab, rate=1000, seconds=seconds, stalled=5)
    return out


def faults(work: Path, quick: bool) -> dict:
    from battery_faults import (damaged_checkpoint, fault_lab, kill_server_while_training, kill_worker_at,
                                kill_worker_randomly, restart_is_clean, torn_log_then_restart)

    rng = random.Random(13)
    points = [("checkpoint", 2), ("artifact", 5), ("event", 30)]
    if not quick:
        points += [("checkpoint", rng.randint(1, 3)) for _ in range(3)] + [("artifact", rng.randint(1, 40)) for _ in range(6)]
        points += [("event", rng.randint(3, 90)) for _ in range(6)]
    out = {}
    with fault_lab(fresh(work, "faults")) as lab:
        kills = [kill_worker_at(lab, point, nth) for point, nth in points]
        randoms = [kill_worker_randomly(lab, rng) for _ in range(2 if quick else 8)]
        seconds = [k["seconds_to_failed"] for k in kills + randoms if k.get("seconds_to_failed") is not None]
        out["worker_sigkill"] = {
            "kills": len(kills) + len(randoms), "failed_worker_died": sum(k["reason"] == "worker_died" for k in kills + randoms),
            "seconds_to_failed_min": min(seconds), "seconds_to_failed_max": max(seconds),
            "seconds_to_failed_median": sorted(seconds)[len(seconds) // 2],
            "files_corrupted": sum(k["files_corrupted"] for k in kills + randoms),
            "per_fault": [{k: v for k, v in kill.items() if k != "problems"} for kill in kills],
            "random_moments": [{k: v for k, v in kill.items() if k != "problems"} for kill in randoms]}
        out["server_sigkill"] = kill_server_while_training(lab, runs=2, epochs=4 if quick else 8)
        out["torn_log_restart"] = torn_log_then_restart(lab)
        out["damaged_checkpoint"] = damaged_checkpoint(lab)
        out["restart_clean"] = restart_is_clean(lab)
    return out


def disk(work: Path, quick: bool) -> dict:
    from battery_faults import CannotMount, disk_full

    try:
        return disk_full(work / "disk")
    except CannotMount as exc:
        return {"skipped": str(exc)}


def fuzz(work: Path, quick: bool) -> dict:
    from battery_fuzz import fuzz_plugin_manager, run_schemathesis, seed_runs
    from conftest import start_server
    from latentdeck.api import create_app

    runs = fresh(work, "fuzz")
    pm = fuzz_plugin_manager()
    ids = seed_runs(pm, runs)
    live = start_server(create_app(pm, runs))
    try:
        passes = {}
        for label, fixed in (("generated_ids", None), ("gmvae_run", ids["gmvae"]), ("ae_run", ids["ae"])):
            result = run_schemathesis(live.url, runs.parent, 3 if quick else 100, seed=13, fixed_run_id=fixed)
            result["details"] = [d[:1500] for d in result.get("details", []) if "ST202" not in d.split("\n", 1)[0]]
            passes[label] = result
    finally:
        live.stop()
    return {"cases": sum(p["cases"] or 0 for p in passes.values()),
            "server_errors": sum(p["server_errors"] for p in passes.values()),
            "schema_violations": sum(p["schema_violations"] for p in passes.values()), "passes": passes}


def hostile(work: Path, quick: bool) -> dict:
    from battery_fuzz import seed_runs
    from battery_hostile import bodies, traversal
    from battery_lab import Lab
    from latentdeck import testing
    from latentdeck.registry import make_plugin_manager

    seeds = fresh(work, "hostile-seed")
    ids = seed_runs(make_plugin_manager(plugins=[testing]), seeds)
    out = {"traversal": traversal(work / "hostile", seeds / ids["ae"])}
    with Lab(fresh(work, "bodies")) as lab:
        out["bodies"] = bodies(lab)
    return out


def load(work: Path, quick: bool) -> dict:
    from battery_lab import Lab
    from battery_load import load as run_load

    with Lab(fresh(work, "load")) as lab:
        return run_load(lab, pollers=10 if quick else 50, subscribers=6 if quick else 20, epochs=3 if quick else 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short variants ./test runs")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {', '.join(SECTIONS)}")
    args = parser.parse_args()
    results = {"load_average_start": [round(x, 2) for x in os.getloadavg()], "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="latentdeck-reliability-") as tmp:
        for name in args.only.split(","):
            started = time.monotonic()
            results[name] = globals()[name](Path(tmp), args.quick)
            results[name]["section_seconds"] = round(time.monotonic() - started, 1)
            results[name]["load_average"] = [round(x, 2) for x in os.getloadavg()]
            print(json.dumps({name: results[name]}, default=str), flush=True)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
