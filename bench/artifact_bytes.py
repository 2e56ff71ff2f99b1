"""Bytes a run leaves on disk per epoch: trains the AE preset (ae-quick) for 2 epochs and measures its folder.

Reports (with the load average beside them):

- the run folder's bytes / epochs, counted as ``du`` does (a file with several hard links once: the
  ``*_latest`` mirrors and ``checkpoints/latest.pt`` are links), and per folder;
- projection bytes per point per 2-D epoch: each 2-D projection file of an epoch (JSON header plus its array
  file) / points, per method (issue 24's goal: <= 16; about 70 as JSON before array files);
- the 2-D projection array file alone per point (what the explorer downloads per epoch switch besides the header).

Defaults run offline in about a minute: mnist-5k, 500 points shown (its held-out split). Issue 24's figure
(10,000 points; before array files 55 MB per epoch, see the closing note) is

    .venv/bin/python bench/artifact_bytes.py --dataset fashion-mnist --limit 6000 --points 10000

(Fashion-MNIST from Debian's dataset-fashion-mnist, found in /usr/share/datasets/fashion-mnist). ``--runs-dir``
keeps the run (default: a temporary folder, removed); ``--run RUN_DIR`` measures an existing run instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def folder_bytes(run_dir: Path) -> dict[str, int]:
    """Bytes per top-level entry of the run folder (files at the top under "."), each inode counted once
    in the whole run (a mirror linked to an epoch file costs nothing)."""
    seen: set[tuple[int, int]] = set()
    out: dict[str, int] = {}
    for root, dirs, files in os.walk(run_dir):
        dirs.sort()
        rel = Path(root).relative_to(run_dir).parts
        key = rel[0] if rel else "."
        for name in sorted(files):
            info = os.lstat(os.path.join(root, name))
            if (info.st_dev, info.st_ino) in seen or not os.path.isfile(os.path.join(root, name)):
                continue
            seen.add((info.st_dev, info.st_ino))
            out[key] = out.get(key, 0) + info.st_size
    return out


def projection_bytes(run_dir: Path) -> dict[str, dict[str, float]]:
    """Per 2-D projection method: bytes per point per epoch (header + array file) and of the array file."""
    rows: dict[str, list[tuple[int, int, int]]] = {}
    for path in sorted((run_dir / "projections").glob("latent_2d_epoch_*.json")):
        match = re.match(r"latent_2d_epoch_(\d+)(?:_(.+))?\.json$", path.name)
        method = match.group(2) or "pca"
        header = json.loads(path.read_text())
        packed = path.with_name(header["arrays"]["file"]) if isinstance(header.get("arrays"), dict) else None
        array_size = packed.stat().st_size if packed is not None else 0
        rows.setdefault(method, []).append((int(header["n"]), path.stat().st_size + array_size, array_size))
    out = {}
    for method, r in rows.items():
        points = sum(n for n, _, _ in r)
        out[method] = {"epochs": len(r), "n": r[0][0], "bytes_per_point": round(sum(b for _, b, _ in r) / points, 2),
                       "array_bytes_per_point": round(sum(a for _, _, a in r) / points, 2)}
    return out


def measure(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    epochs = int(summary.get("epochs_completed") or json.loads((run_dir / "config.json").read_text())["epochs"])
    folders = folder_bytes(run_dir)
    total = sum(folders.values())
    return {"run_dir": str(run_dir), "status": summary.get("status"), "epochs": epochs, "bytes": total,
            "mb_per_epoch": round(total / epochs / 1e6, 2),
            "folders_mb_per_epoch": {k: round(v / epochs / 1e6, 3) for k, v in sorted(folders.items())},
            "projections": projection_bytes(run_dir), "loadavg": [round(x, 2) for x in os.getloadavg()]}


def train(args) -> tuple[Path, float]:
    command = [sys.executable, "-m", "latentdeck.cli", "train", "--preset", "ae-quick", "--epochs", str(args.epochs),
               "--dataset", args.dataset, "--set", f"viz_subset_size={args.points}", "--runs-dir", args.runs_dir,
               "--json", "--quiet"]
    if args.limit:
        command += ["--limit", str(args.limit)]
    for item in args.set or []:
        command += ["--set", item]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"training failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Path(json.loads(done.stdout)["run_dir"]), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--points", type=int, default=500, help="viz_subset_size (default 500)")
    parser.add_argument("--limit", type=int, help="training examples (--limit of latentdeck train)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--set", action="append", metavar="FIELD=VALUE", help="another config field (repeatable)")
    parser.add_argument("--runs-dir", help="keep the run here (default: a temporary folder)")
    parser.add_argument("--run", metavar="RUN_DIR", help="measure this run folder; train nothing")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.run:
        result = measure(Path(args.run))
    else:
        with tempfile.TemporaryDirectory(prefix="artifact-bytes-") as tmp:
            args.runs_dir = args.runs_dir or tmp
            run_dir, seconds = train(args)
            result = {**measure(run_dir), "train_wall_s": round(seconds, 1), "dataset": args.dataset,
                      "points": args.points, "limit": args.limit}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['run_dir']}: {result['bytes']:,} bytes over {result['epochs']} epochs = "
          f"{result['mb_per_epoch']} MB per epoch (load average {result['loadavg']})")
    for folder, mb in result["folders_mb_per_epoch"].items():
        print(f"  {folder:<16} {mb:8.3f} MB per epoch")
    for method, row in result["projections"].items():
        print(f"  projection {method} 2-D: {row['bytes_per_point']} bytes per point per epoch "
              f"({row['array_bytes_per_point']} in the array file; n = {row['n']}, {row['epochs']} epochs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
