"""A first run started the moment the lab starts, against a second run once the lab is warm (issue 11).

Starts `latentdeck serve` fresh (bench/common.LabServer: a new process with a cold UMAP, as `./lab`
gives), posts run A at once, waits for it, then posts run B (the same config) on the now-warm server.
Both train the AE on mnist-5k with every default artifact and projection (what a learner starts).

Figures, from each run's event log:
- per-epoch training seconds (``train.metrics.epoch_seconds``): the median of A over the median of B
  (goal <= 1.3);
- the first UMAP artifact: ``compute_ms`` of A's first umap 2-D fit and the seconds from the end of
  its first epoch's training (``train.metrics``) to ``projections/latent_2d_epoch_1_umap.json``'s
  ``artifact.created`` (goal <= 10 s);
- how long A waited for the warm-up before it started (``run.created`` -> ``run.started``), its start
  way (``worker.json``), and the wall time from posting each run to its end;
- from POST to the first map (issue 24): the first ``projections/latent_2d_epoch_1*.json``
  ``artifact.created`` after posting (goal <= 15 s for A, the first run on a lab that has just started).

Before the lab starts, the kernel cache is filled if it is not (``python -m latentdeck_umap.warm
--if-needed``, as ``scripts/setup.sh`` does), so A is the first run after a fresh ``./lab`` or a restart.
``--labs 2`` starts the lab twice (a restart) and reports both. The load average is printed beside them.

    .venv/bin/python bench/first_run.py [--epochs 3] [--model ae] [--labs 1]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LabServer  # noqa: E402


def figures(run_dir: Path, posted: float) -> dict:
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    by_type = lambda kind: [e for e in events if e["type"] == kind]  # noqa: E731
    metrics = [e for e in by_type("train.metrics")]
    first_metrics = metrics[0]["ts"] if metrics else None
    umap_done = [e["data"] for e in by_type("projection.progress")
                 if e["data"].get("method") == "umap" and e["data"].get("dims") == 2 and e["data"].get("stage") == "done"]
    umap_file = next((e["ts"] for e in by_type("artifact.created")
                      if e["data"]["name"] == "projections/latent_2d_epoch_1_umap.json"), None)
    first_map = next((e for e in by_type("artifact.created")
                      if e["data"]["name"].startswith("projections/latent_2d_epoch_1")
                      and e["data"]["name"].endswith(".json")), None)
    created, started = by_type("run.created")[0]["ts"], by_type("run.started")[0]["ts"]
    ended = (by_type("run.completed") or by_type("run.failed") or by_type("run.cancelled"))[0]["ts"]
    worker = json.loads((run_dir / "worker.json").read_text())
    return {
        "epoch_seconds": [m["data"]["epoch_seconds"] for m in metrics],
        "examples_per_s": [round(e["data"]["examples_per_s"]) for e in by_type("train.progress")
                           if e["data"]["batch"] == e["data"]["batches"]],
        "threads": [m["data"].get("threads") for m in metrics],
        "first_umap_2d_compute_s": round(umap_done[0]["compute_ms"] / 1000, 2) if umap_done else None,
        "first_umap_2d_after_epoch_s": round(umap_file - first_metrics, 2) if umap_file and first_metrics else None,
        "waited_s": round(started - created, 1), "start": worker.get("start"), "start_note": worker.get("start_note"),
        "posted_to_end_s": round(ended - posted, 1),
        "post_to_first_map_s": round(first_map["ts"] - posted, 1) if first_map else None,
        "first_map": first_map["data"]["name"] if first_map else None,
        "post_to_first_umap_map_s": round(umap_file - posted, 1) if umap_file else None,
        "post_to_started_s": round(started - posted, 1),
        "post_to_first_epoch_end_s": round(first_metrics - posted, 1) if first_metrics else None,
        "waiting_events": [e["data"].get("expected_s") for e in by_type("run.stage") if e["data"].get("stage") == "waiting"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--model", default="ae")
    parser.add_argument("--labs", type=int, default=1, help="start the lab this many times (2: a restart too)")
    parser.add_argument("--warmup", default="full", choices=("full", "import"), help="the lab's LATENTDECK_WARMUP")
    args = parser.parse_args()
    config = {"model": args.model, "dataset": "mnist-5k", "epochs": args.epochs, "seed": 0}
    report: dict = {}
    fill = subprocess.run([sys.executable, "-m", "latentdeck_umap.warm", "--if-needed"])
    report["kernel_cache_filled"] = fill.returncode == 0
    for lab_index in range(args.labs):
        suffix = "" if lab_index == 0 else f"_restart{lab_index}"
        with tempfile.TemporaryDirectory() as tmp:
            runs_dir = str(Path(tmp) / "runs")
            with LabServer(runs_dir, {"LATENTDECK_WARMUP": args.warmup}) as lab:
                for label in ("A_first", "B_second"):
                    load = "/".join(f"{x:.2f}" for x in os.getloadavg()[:2])
                    posted = time.time()
                    run_id = lab.start_run({**config, "name": label})
                    status = lab.wait_status(run_id, {"completed", "failed", "cancelled"}, timeout=1800)
                    report[label + suffix] = {"status": status, "load_at_post": load,
                                              **figures(Path(runs_dir) / run_id, posted)}
                    print(label + suffix, json.dumps(report[label + suffix]), flush=True)
    a, b = report["A_first"], report["B_second"]
    ratio = statistics.median(a["epoch_seconds"]) / statistics.median(b["epoch_seconds"])
    report["ratio_epoch_seconds_first_over_second"] = round(ratio, 3)
    print(f"per-epoch training time, first / second run: {ratio:.2f} (goal <= 1.3); first run's first UMAP 2-D: "
          f"fit {a['first_umap_2d_compute_s']} s, file {a['first_umap_2d_after_epoch_s']} s after its epoch "
          f"(goal <= 10 s); it waited {a['waited_s']} s for the warm-up ({a['start']})")
    for label in [key for key in report if key.startswith("A_first")]:
        r = report[label]
        print(f"{label}: POST -> first map ({r['first_map']}) {r['post_to_first_map_s']} s (goal <= 15 s: "
              f"{'met' if (r['post_to_first_map_s'] or 1e9) <= 15 else 'MISSED'}), UMAP map "
              f"{r['post_to_first_umap_map_s']} s; waited {r['waited_s']} s; load average {r['load_at_post']}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
