"""Cost: one GM-VAE training epoch divided by one AE training epoch with the same conv encoder and
decoder (latentdeck.kit.nn), latent size and batch size, both trained through latentdeck on mnist-5k.
Target: ratio <= 1.5. Rounds alternate which model goes first; medians are compared.

The epoch time is ``train.metrics.epoch_seconds`` (the optimisation pass over the 4,500 training
digits); the whole run (held-out metrics, diagnostics, checkpoint, no artifacts) is reported too.

    .venv/bin/python bench/gmvae_cost.py [--rounds 3] [--batch-size 128] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time


def one_epoch(pm, store, model: str, options: dict, batch_size: int, seed: int, threads: int | None) -> tuple[float, float]:
    """(epoch_seconds, whole-run seconds) of a 1-epoch run."""
    from latentdeck.launch.config import RunConfig
    from latentdeck.store.events import read_events
    from latentdeck.launch import prepare_run
    from latentdeck.engine.training import execute_run

    request = {"model": model, "model_options": options, "dataset": "mnist-5k", "epochs": 1,
               "batch_size": batch_size, "seed": seed, "artifacts": [], "num_threads": threads}
    if "projections" in RunConfig.model_fields:
        request["projections"] = []
    stored = prepare_run(pm, request)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    started = time.perf_counter()
    status = execute_run(run_dir, pm=pm)
    seconds = time.perf_counter() - started
    assert status == "completed", status
    (metrics,) = [e["data"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "train.metrics"]
    return metrics["epoch_seconds"], seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    from latentdeck.registry import get_plugin_manager
    from latentdeck.store import RunStore

    pm = get_plugin_manager()
    shared = {"latent_dim": 16, "channels": [32, 64], "batch_norm": True}  # the AE's defaults
    models = {"ae": shared, "gmvae": {**shared, "num_components": 10}}
    epoch_s: dict[str, list[float]] = {name: [] for name in models}
    run_s: dict[str, list[float]] = {name: [] for name in models}
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        for name, options in models.items():  # warm-up: dataset cache, allocator, kernels
            one_epoch(pm, store, name, options, args.batch_size, 99, args.threads)
        for round_ in range(args.rounds):
            order = list(models) if round_ % 2 == 0 else list(reversed(models))
            for name in order:
                epoch, whole = one_epoch(pm, store, name, models[name], args.batch_size, round_, args.threads)
                epoch_s[name].append(epoch)
                run_s[name].append(whole)
            print(f"round {round_ + 1}: ae {epoch_s['ae'][-1]:.2f}s  gmvae {epoch_s['gmvae'][-1]:.2f}s  "
                  f"ratio {epoch_s['gmvae'][-1] / epoch_s['ae'][-1]:.3f}", file=sys.stderr)
    ratio = statistics.median(epoch_s["gmvae"]) / statistics.median(epoch_s["ae"])
    run_ratio = statistics.median(run_s["gmvae"]) / statistics.median(run_s["ae"])
    print(json.dumps({"benchmark": "gmvae_cost", "examples": 4500, "batch_size": args.batch_size,
                      "shared": shared, "ae_epoch_s": epoch_s["ae"], "gmvae_epoch_s": epoch_s["gmvae"],
                      "ratio_median": round(ratio, 3), "whole_run_ratio_median": round(run_ratio, 3),
                      "target": 1.5, "meets_target": ratio <= 1.5}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
