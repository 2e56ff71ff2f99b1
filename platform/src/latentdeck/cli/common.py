"""What the ``latentdeck`` sub-commands share: exit codes, usage errors, the run request built from flags,
and the progress drawn from train events."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def default_runs_dir() -> str:
    return os.environ.get("LATENTDECK_RUNS_DIR", "runs")


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def build_request(args: argparse.Namespace) -> dict[str, Any]:
    """Config file, then explicit flags, then ``--set`` (later wins)."""
    from ..launch.config import set_dotted

    request: dict[str, Any] = {}
    if args.config:
        try:
            request = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(_usage_error(f"cannot read --config {args.config}: {exc}; pass a JSON object file"))
        if not isinstance(request, dict):
            raise SystemExit(_usage_error(f"--config {args.config} must hold a JSON object of run config fields"))
    flags = {"preset": args.preset, "model": args.model, "dataset": args.dataset, "epochs": args.epochs, "batch_size": args.batch_size,
             "seed": args.seed, "limit": args.limit, "data_dir": args.data_dir, "name": args.name,
             "device": args.device}
    request.update({k: v for k, v in flags.items() if v is not None})
    if args.lr is not None:
        request.setdefault("optimizer", {})["lr"] = args.lr
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(_usage_error(f"--set {item!r}: use --set field=value, e.g. --set model_options.latent_dim=8"))
        try:
            set_dotted(request, key.strip(), _parse_value(value))
        except ValueError as exc:
            raise SystemExit(_usage_error(f"--set {item!r}: {exc}"))
    return request


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


class _Progress:
    """Draws train events: a bar per epoch, a line of metrics when an epoch ends."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None
        self.epoch = None

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        kind, data = event["type"], event["data"]
        if kind == "run.started":
            print(f"device {data.get('device')}  threads {data.get('threads')}", file=sys.stderr)
        elif kind == "train.progress":
            if self.epoch != data["epoch"]:
                self.close()
                self.epoch = data["epoch"]
                self.bar = tqdm(total=data["batches"], desc=f"epoch {data['epoch']}/{data['epochs']}",
                                unit="batch", leave=False, file=sys.stderr)
            self.bar.n = data["batch"]
            self.bar.set_postfix(loss=f"{data['loss']:.4f}", refresh=False)
            self.bar.refresh()
        elif kind == "train.metrics":
            self.close()
            parts = [f"epoch {data['epoch']}/{data['epochs']}", f"loss {data['loss']:.4f}"]
            parts += [f"{k} {data[k]:.4f}" for k in data.get("loss_weights", {})]
            if "heldout_accuracy" in data:
                parts.append(f"held-out acc {data['heldout_accuracy'] * 100:.2f}%")
            parts.append(f"{data['epoch_seconds']:.1f}s")
            print("  ".join(parts), file=sys.stderr)
            for warning in data.get("warnings") or []:
                print(f"warning: {warning.get('title', '')} {warning.get('detail', '')}".rstrip(), file=sys.stderr)
        elif kind == "artifact.failed":
            print(f"warning: artifact {data['generator']} failed: {data['error']}", file=sys.stderr)
        elif kind in ("run.cancelled", "run.failed", "run.completed"):
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
