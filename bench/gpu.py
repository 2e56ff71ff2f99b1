"""The AE preset on a CUDA GPU against the CPU of the same machine (issue 24, item 5).

Trains the same run twice through the CLI (`latentdeck train --preset ae-quick`, same seed and data), once with
``--device cuda`` and once with ``--device cpu``, and reports:

- training seconds per epoch (``train.metrics.epoch_seconds``, median over epochs) on each, and CPU / GPU;
- the wall time of each whole run (training plus every per-epoch artifact, which run on the CPU either way);
- held-out accuracy of each (not expected to be equal bit for bit: cuDNN and the CPU sum in different orders);
- whether the two runs are identical in shape: the same files (names), the same checkpoint tensors (names,
  shapes, dtypes), the same metric names per epoch, and the same array shapes and dtypes in every JSON artifact
  and its array file. Any difference is printed and makes the exit code 1.

Nothing depends on a GPU: without one (``torch.cuda.is_available()`` false) it says so and exits 2.
Run it whenever a GPU machine is available:

    .venv/bin/python bench/gpu.py [--dataset mnist-5k] [--epochs 3] [--set viz_subset_size=2000]
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


def train(runs: Path, device: str, args) -> tuple[Path, float]:
    command = [sys.executable, "-m", "latentdeck.cli", "train", "--preset", "ae-quick", "--device", device,
               "--dataset", args.dataset, "--epochs", str(args.epochs), "--runs-dir", str(runs), "--json", "--quiet"]
    for item in args.set:
        command += ["--set", item]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "LATENTDECK_WARMUP": "off"})
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{device} run failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["status"] != "completed":
        raise SystemExit(f"{device} run ended {result['status']}: {result.get('error')}")
    return Path(result["run_dir"]), wall


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]


def shape(run_dir: Path) -> dict[str, object]:
    """Everything that must agree between the devices: file names, checkpoint tensors, metric names, array shapes."""
    import torch

    from latentdeck.kit import read_artifact

    files = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                   if p.is_file() and p.name not in {"worker.json", "worker.log"})
    out: dict[str, object] = {"files": files}
    state = torch.load(run_dir / "checkpoints" / "latest.pt", map_location="cpu", weights_only=False)
    model = state.get("model", state) if isinstance(state, dict) else state
    out["checkpoint"] = {k: (tuple(v.shape), str(v.dtype)) for k, v in model.items() if hasattr(v, "shape")}
    out["metrics"] = [sorted(k for k in e["data"] if k not in {"device"}) for e in events(run_dir)
                      if e["type"] == "train.metrics"]
    arrays = {}
    for name in files:
        if name.endswith(".json") and not name.startswith(("checkpoints/", "config", "summary")):
            try:
                document = read_artifact(run_dir / name)
            except (ValueError, OSError):
                continue
            if isinstance(document, dict):
                arrays[name] = {k: (tuple(getattr(v, "shape", ())), str(getattr(v, "dtype", type(v).__name__)))
                                for k, v in document.items() if hasattr(v, "shape")}
    out["arrays"] = arrays
    return out


def differences(a: dict, b: dict) -> list[str]:
    found = []
    for key in a:
        if a[key] != b[key]:
            if isinstance(a[key], dict):
                keys = sorted(set(a[key]) | set(b[key]))
                bad = [k for k in keys if a[key].get(k) != b[key].get(k)]
                found.append(f"{key}: {len(bad)} differ, e.g. {bad[:3]}")
            elif isinstance(a[key], list) and key == "files":
                found.append(f"files: only in the first run {sorted(set(a[key]) - set(b[key]))[:5]}, "
                             f"only in the second {sorted(set(b[key]) - set(a[key]))[:5]}")
            else:
                found.append(f"{key} differs")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--devices", default="cuda,cpu", help="the two devices compared (cpu,cpu checks the bench "
                        "itself on a machine without a GPU)")
    args = parser.parse_args()
    import torch

    first, second = args.devices.split(",")
    if "cuda" in (first, second) and not torch.cuda.is_available():
        print("no CUDA device here (torch.cuda.is_available() is false): nothing measured; run this on a GPU machine")
        return 2
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; CPU threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        a, b = (first, second) if first != second else (f"{first}#1", f"{second}#2")
        runs = {a: train(Path(tmp) / "a", first, args), b: train(Path(tmp) / "b", second, args)}
        report = {}
        for device, (run_dir, wall) in runs.items():
            metrics = [e["data"] for e in events(run_dir) if e["type"] == "train.metrics"]
            report[device] = {"epoch_seconds": statistics.median(m["epoch_seconds"] for m in metrics),
                              "wall_s": round(wall, 2), "heldout_accuracy": metrics[-1].get("heldout_accuracy"),
                              "device": metrics[-1].get("device")}
        report[f"{b}_over_{a}_epoch_seconds"] = round(report[b]["epoch_seconds"] / report[a]["epoch_seconds"], 2)
        report[f"{b}_over_{a}_wall"] = round(report[b]["wall_s"] / report[a]["wall_s"], 2)
        found = differences(shape(runs[a][0]), shape(runs[b][0]))
        report["identical_in_shape"] = not found
        print(json.dumps(report, indent=2))
        for line in found:
            print("DIFFERENT:", line)
        return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
