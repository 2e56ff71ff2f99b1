"""A whole dataset as one map: the AE on full Fashion-MNIST (60,000 training images) with 10,000 and 70,000
shown points (``viz_split: all``: the 10,000 held-out images first, then training ones).

For each size one run trains through latentdeck (``execute_run``, every artifact and projection the AE
supports, in this process) and reports, from its events and its folder:

- ``train_s``: training seconds per epoch (``train.metrics.epoch_seconds``);
- ``artifacts_s``: artifact seconds per epoch, cold (epoch 1: UMAP from scratch, numba compiled in this
  process if it was not cached) and warm (epoch 2: UMAP warm-started), from the epoch's first
  ``run.stage`` ``artifacts`` event to the first event after its artifacts; ``steps_s``: each step of it
  (each projection fit and generator), from consecutive ``run.stage`` events;
- ``warm_over_train``: warm artifact seconds / training seconds (goal: <= 0.5 at 10,000, <= 1 at 70,000);
- ``bytes_per_epoch``: the run folder's size / epochs;
- ``heldout_accuracy`` per epoch.

With ``--explorer`` it also calls ``bench/latent_explorer.py --points N`` (the explorer's load, frame and
epoch-switch ratios against bare deck.gl; it needs Chromium) and includes its JSON output.

Needs Fashion-MNIST: ``apt-get install dataset-fashion-mnist`` (or the four IDX files in
``<data_dir>/FashionMNIST/raw/``). Prints one JSON object; ``uptime``'s load average is included.

    .venv/bin/python bench/scale.py [--points 10000 70000] [--epochs 2] [--threads N] [--budget-s S] [--keep DIR]
        [--explorer]
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

ARTIFACT_EVENTS = {"run.stage", "artifact.created", "artifact.failed", "projection.progress"}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def epoch_timings(events: list[dict], epoch: int) -> tuple[float | None, dict[str, float]]:
    """(artifact seconds of ``epoch``, {step: seconds}) from its ``run.stage`` ``artifacts`` events."""
    start = next((i for i, e in enumerate(events) if e["type"] == "run.stage"
                  and e["data"].get("stage") == "artifacts" and e["data"].get("epoch") == epoch), None)
    if start is None:
        return None, {}
    end = next((i for i in range(start + 1, len(events)) if events[i]["type"] not in ARTIFACT_EVENTS
                or (events[i]["type"] == "run.stage" and events[i]["data"].get("stage") != "artifacts")), len(events) - 1)
    steps: dict[str, float] = {}
    marks = [i for i in range(start, end) if events[i]["type"] == "run.stage"] + [end]
    for a, b in zip(marks, marks[1:]):
        name = str(events[a]["data"].get("step") or events[a]["data"].get("text"))
        steps[name] = round(steps.get(name, 0.0) + events[b]["ts"] - events[a]["ts"], 2)
    return round(events[end]["ts"] - events[start]["ts"], 2), steps


def run_once(pm, store, points: int, epochs: int, threads: int | None, budget_s: float | None) -> dict:
    from latentdeck.engine.training import execute_run
    from latentdeck.launch import prepare_run
    from latentdeck.store.events import read_events

    request = {"model": "ae", "dataset": "fashion-mnist", "epochs": epochs, "seed": 0, "viz_split": "all",
               "viz_subset_size": points, "num_threads": threads, "name": f"bench/scale {points}"}
    if budget_s is not None:
        request["generator_budget_s"] = budget_s
    stored = prepare_run(pm, request)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    started = time.perf_counter()
    status = execute_run(run_dir, pm=pm)
    wall = time.perf_counter() - started
    events = list(read_events(run_dir / "events.jsonl"))
    metrics = {e["data"]["epoch"]: e["data"] for e in events if e["type"] == "train.metrics"}
    per_epoch = []
    for epoch in sorted(metrics):
        seconds, steps = epoch_timings(events, epoch)
        per_epoch.append({"epoch": epoch, "umap": "cold" if epoch == 1 else "warm",
                          "train_s": metrics[epoch].get("epoch_seconds"), "artifacts_s": seconds,
                          "heldout_accuracy": metrics[epoch].get("heldout_accuracy"), "steps_s": steps})
    failed = [e["data"] for e in events if e["type"] == "artifact.failed"]
    warm = per_epoch[1] if len(per_epoch) > 1 else None
    size = folder_bytes(run_dir)
    return {"points": points, "status": status, "wall_s": round(wall, 1), "epochs": per_epoch,
            "warm_over_train": round(warm["artifacts_s"] / warm["train_s"], 3) if warm and warm["artifacts_s"] else None,
            "run_bytes": size, "bytes_per_epoch": size // max(1, len(per_epoch)),
            "failed": [{k: f.get(k) for k in ("generator", "name", "reason", "error")} for f in failed],
            "run_dir": str(run_dir)}


def explorer(points: int) -> dict:
    script = Path(__file__).with_name("latent_explorer.py")
    done = subprocess.run([sys.executable, str(script), "--points", str(points)], capture_output=True, text=True,
                          timeout=1800)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout)[-600:]}
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"output": done.stdout[-600:]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, nargs="+", default=[10_000, 70_000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--budget-s", type=float, default=None,
                        help="generator_budget_s of the runs (default: the run default, 120 s; a cold UMAP fit at "
                             "70,000 points may need more, else it fails with reason timeout and the bench says so)")
    parser.add_argument("--keep", default=None, help="keep the runs in this folder (default: a temporary one)")
    parser.add_argument("--explorer", action="store_true", help="also run bench/latent_explorer.py --points N")
    args = parser.parse_args()

    from latentdeck.registry import collect, get_plugin_manager
    from latentdeck.store import RunStore
    from latentdeck.launch.config import default_data_dir

    pm = get_plugin_manager()
    availability = collect(pm, "datasets")["fashion-mnist"].availability(default_data_dir())
    if not availability.ok:
        print(json.dumps({"error": availability.reason}))
        return 2
    tmp = None if args.keep else tempfile.TemporaryDirectory()
    store = RunStore(Path(args.keep or tmp.name))
    results = []
    for points in args.points:
        result = run_once(pm, store, points, args.epochs, args.threads, args.budget_s)
        if args.explorer:
            result["explorer"] = explorer(points)
        result["load_average"] = [round(x, 2) for x in os.getloadavg()]
        results.append(result)
        print(json.dumps(result), file=sys.stderr, flush=True)
    print(json.dumps({"bench": "scale", "cpus": os.cpu_count(), "runs": results,
                      "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}, indent=1))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
