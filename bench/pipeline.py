"""Per-epoch visualization cost vs training cost: PCA + UMAP (2-D and 3-D) + kNN artifacts on a
5,000-point subset, through the host's engine, divided by one AE training epoch on mnist-5k.

Epoch 1 (cold UMAP) and epoch 2 (warm-started from epoch 1) of the same AE run's latents; the
training seconds are that run's ``train.metrics.epoch_seconds`` (bench/latent_data.py; the default
subset is 512 points, this uses 5,000 to show the upper range). numba is compiled first. Just reported.

    .venv/bin/python bench/pipeline.py [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="n_jobs value")

    from latent_data import HostEngine, ae_latents, warm_numba
    from latentdeck.store.events import read_events

    data = ae_latents()
    jit_s = warm_numba()
    engine = HostEngine(args.n, data["labels"], ["pca", "umap"], ["knn"])
    train_s = statistics.median(data["epoch_seconds"])
    epochs = []
    for epoch in (1, 2):
        x = data["per_epoch"][epoch][: args.n]
        started = time.perf_counter()
        projections = engine.project(x, epoch)
        projected = time.perf_counter() - started
        engine.generate(x, projections, epoch)
        total = time.perf_counter() - started
        fits = {f"{e['data']['method']}_{e['data']['dims']}d": round(e["data"]["compute_ms"] / 1000, 3)
                for e in read_events(engine.run_dir / "events.jsonl")
                if e["type"] == "projection.progress" and e["data"].get("stage") == "done" and e["data"]["epoch"] == epoch}
        epochs.append({"epoch": epoch, "umap": "cold" if epoch == 1 else "warm", "projections_s": round(projected, 2),
                       "fits_s": fits, "knn_s": round(total - projected, 2), "total_s": round(total, 2),
                       "over_training_epoch": round(total / train_s, 3)})
    failures = [e for e in read_events(engine.run_dir / "events.jsonl") if e["type"] == "artifact.failed"]
    engine.close()
    assert not failures, failures
    print(json.dumps({"n": args.n, "numba_warmup_s": round(jit_s, 1),
                      "training_epoch_s_median": round(train_s, 2), "training_epoch_s": data["epoch_seconds"],
                      "epochs": epochs}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
