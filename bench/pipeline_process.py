"""The artifact pipeline (issue 24, item 3): training with the per-epoch artifacts in a process beside it
(``artifact_pipeline: process``) against between epochs (``inline``), side by side in one bench run.

Each run is a fresh ``latentdeck train --json`` process (as a worker trains: a cold process, numba compiled
there), alternating the two modes ``--reps`` times. Figures, from each run's event log:

1. the AE preset (``ae-quick``: 5 epochs, 6,000 training digits, default projections and artifacts, on
   ``--dataset``): wall time from start to ``run.completed`` with the pipeline over without (median over reps);
   the sum of ``train.metrics.epoch_seconds``; the sum of ``epoch_done.artifact_seconds``;
2. a 30-second generator (``sleeper``, this module loaded as a plugin: its compute sleeps ``--sleep`` s each
   epoch) added to a short AE run (``--sleep-epochs`` epochs, no other artifact): the sum of ``epoch_seconds``
   with it over without it, in pipeline mode (goal: 1 ± 0.1), and the wall time inline for contrast.

The load average is printed beside the figures (the machine is shared).

    .venv/bin/python bench/pipeline_process.py [--reps 1] [--dataset mnist-5k] [--sleep 30] [--sleep-epochs 3]
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
from pathlib import Path

from latentdeck import ComputationSpec, hookimpl

HERE = Path(__file__).resolve().parent


def sleep_then_write(ctx, request=None) -> None:
    time.sleep(float(os.environ.get("LATENTDECK_BENCH_SLEEP", "30")))
    ctx.save_json("sleeper", "sleeper_{tag}.json", {"epoch": ctx.epoch})


@hookimpl
def register_computations():
    return [ComputationSpec(name="sleeper", compute=sleep_then_write, folder="sleeper", files=("sleeper_{tag}.json",),
                            description="sleeps, then writes a small file (bench/pipeline_process.py)")]


def train(runs: Path, args: list[str], env: dict[str, str]) -> dict:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "latentdeck.cli", "train", "--runs-dir", str(runs), "--json",
                           "--quiet", *args], capture_output=True, text=True, env=env)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"latentdeck train {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    from latentdeck.store.events import read_events

    events = list(read_events(Path(result["run_dir"]) / "events.jsonl"))
    metrics = [e["data"] for e in events if e["type"] == "train.metrics"]
    done_events = [e["data"] for e in events if e["type"] == "run.stage" and e["data"].get("stage") == "epoch_done"]
    first, last = events[0]["ts"], next(e["ts"] for e in events if e["type"] == "run.completed")
    started_at = next(e["ts"] for e in events if e["type"] == "run.started")
    return {"status": result["status"], "process_wall_s": round(wall, 2), "run_s": round(last - started_at, 2),
            "created_to_completed_s": round(last - first, 2),
            "train_s": round(sum(m["epoch_seconds"] for m in metrics), 2),
            "artifact_s": round(sum(d["artifact_seconds"] for d in done_events), 2),
            "pipeline": sorted({d.get("pipeline", "inline") for d in done_events}),
            "failed": sum(1 for e in events if e["type"] == "artifact.failed"),
            "heldout_accuracy": metrics[-1].get("heldout_accuracy") if metrics else None}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--sleep", type=float, default=30.0)
    parser.add_argument("--sleep-epochs", type=int, default=3)
    parser.add_argument("--skip-preset", action="store_true")
    parser.add_argument("--skip-sleeper", action="store_true")
    parser.add_argument("--skip-inline-sleeper", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "LATENTDECK_WARMUP": "off", "LATENTDECK_BENCH_SLEEP": str(args.sleep),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    report: dict = {"cpus": os.cpu_count(), "load_before": load()}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        if not args.skip_preset:
            rows: dict[str, list[dict]] = {"process": [], "inline": []}
            for rep in range(args.reps):
                for mode in (("process", "inline") if rep % 2 == 0 else ("inline", "process")):
                    row = train(runs, ["--preset", "ae-quick", "--dataset", args.dataset,
                                       "--set", f"artifact_pipeline={mode}"], env)
                    row["load"] = load()
                    rows[mode].append(row)
                    print(mode, json.dumps(row), file=sys.stderr)
            median = {mode: statistics.median(r["run_s"] for r in rows[mode]) for mode in rows}
            report["ae_preset"] = {"runs": rows, "median_run_s": median,
                                   "wall_ratio_process_over_inline": round(median["process"] / median["inline"], 3)}
        if not args.skip_sleeper:
            base = ["--preset", "ae-quick", "--dataset", args.dataset, "--epochs", str(args.sleep_epochs),
                    "--set", "projections=[]"]
            with_sleeper = {**env, "LATENTDECK_EXTRA_PLUGINS": "pipeline_process"}
            plain = ["--set", "artifacts=[\"recon_grid\"]", "--set", "artifact_pipeline=process"]
            slow = ["--set", "artifacts=[\"recon_grid\",\"sleeper\"]"]
            rows: dict[str, list[dict]] = {"process_without": [], "process_with_sleeper": [], "inline_with_sleeper": []}
            for rep in range(args.reps):  # alternating, so that the machine's other load falls on both alike
                order = [("process_without", plain, env), ("process_with_sleeper", [*slow, "--set",
                                                                                   "artifact_pipeline=process"], with_sleeper)]
                for name, extra, environ in (order if rep % 2 == 0 else order[::-1]):
                    row = train(runs, [*base, *extra], environ)
                    row["load"] = load()
                    rows[name].append(row)
                    print(name, json.dumps(row), file=sys.stderr)
            if not args.skip_inline_sleeper:  # for contrast: training waits for the sleeper every epoch
                row = train(runs, [*base, *slow, "--set", "artifact_pipeline=inline"], with_sleeper)
                row["load"] = load()
                rows["inline_with_sleeper"].append(row)
                print("inline_with_sleeper", json.dumps(row), file=sys.stderr)
            train_s = {name: statistics.median(r["train_s"] for r in got) for name, got in rows.items() if got}
            report["sleeper"] = {
                "sleep_s": args.sleep, "epochs": args.sleep_epochs, "runs": rows, "median_train_s": train_s,
                "train_s_ratio_with_over_without": round(train_s["process_with_sleeper"] / train_s["process_without"], 3),
                "per_rep_ratio": [round(w["train_s"] / o["train_s"], 3) for w, o in
                                  zip(rows["process_with_sleeper"], rows["process_without"])]}
    report["load_after"] = load()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
