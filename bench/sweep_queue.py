"""A 4-run sweep of identical tiny runs through the local run queue: cap 1 against cap 2 (issue 15).

Starts `latentdeck serve` fresh for each cap (LATENTDECK_MAX_CONCURRENT_RUNS, no UMAP warm-up, the
tiny-digits dataset of latentdeck.testing), posts one sweep of 4 members (seeds 0-3 of the same
config) and waits for every member to end. Figures: wall time from the POST to the last member's end
per cap, and the ratio cap 2 / cap 1 (on 2 cores the runs share the cores through fair torch threads,
so the gain is the overlap of one run's start-up and artifacts with another's training: 0.79 measured,
21.6 s vs 17.0 s). The Ray executor is not built yet, so it has no column.

    .venv/bin/python bench/sweep_queue.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LabServer  # noqa: E402


def sweep_wall_time(cap: int, epochs: int) -> dict:
    import httpx

    from latentdeck.testing import tiny_run_config

    env = {"LATENTDECK_MAX_CONCURRENT_RUNS": str(cap), "LATENTDECK_WARMUP": "off",
           "LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing"}
    with tempfile.TemporaryDirectory() as tmp, LabServer(str(Path(tmp) / "runs"), env) as lab:
        config = {**tiny_run_config(), "epochs": epochs, "num_threads": None}
        config.pop("seed")
        started = time.perf_counter()
        answer = httpx.post(lab.url + "/api/sweeps", json={"name": f"cap {cap}", "config": config,
                                                          "seeds": [0, 1, 2, 3]}, timeout=60)
        answer.raise_for_status()
        sweep_id = answer.json()["sweep_id"]
        most_running, statuses = 0, []
        while time.perf_counter() - started < 600:
            members = httpx.get(f"{lab.url}/api/sweeps/{sweep_id}", timeout=30).json()["members"]
            statuses = [m["status"] for m in members]
            most_running = max(most_running, statuses.count("running"))
            if all(s in ("completed", "failed", "cancelled") for s in statuses):
                break
            time.sleep(0.2)
        return {"cap": cap, "wall_s": round(time.perf_counter() - started, 2), "statuses": statuses,
                "most_running_seen": most_running}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    rows = [sweep_wall_time(cap, args.epochs) for cap in (1, 2)]
    for row in rows:
        print(f"cap {row['cap']}: 4 members in {row['wall_s']} s (at most {row['most_running_seen']} running at once)")
    ratio = rows[1]["wall_s"] / rows[0]["wall_s"]
    print(json.dumps({"benchmark": "sweep_queue", "members": 4, "epochs": args.epochs, "runs": rows,
                      "ratio_cap2_over_cap1": round(ratio, 3)}))
    return 0 if all(s == "completed" for row in rows for s in row["statuses"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
