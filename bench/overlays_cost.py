"""Cost of the model-based overlays vs training: density (posterior + uniform prior for PCA and UMAP = 4
grids, plus the two empirical-prior grids) and distortion (PCA and UMAP = 2 grids), 128x128, on a
5,000-point subset, divided by one GM-VAE training epoch on mnist-5k. Goal: <= 0.25.

A GM-VAE (the default options, 10 components) is trained through latentdeck for ``--epochs`` epochs
(no artifacts, no projections); the training time is the last epoch's ``train.metrics.epoch_seconds``.
With that epoch's checkpoint the model runs on all 5,000 mnist-5k digits (held-out has only 500, so
the subset is train + held-out, as bench/pipeline.py does); PCA and UMAP 2-D are fitted (UMAP's numba
JIT, transform included, is compiled first and not counted), the knn artifact is computed (counted
separately: the distortion map reuses it, the run computes it anyway), then the density and distortion
generators run through the host's RunContext exactly as after an epoch. Each is timed end to end
(files written included); the per-grid ``compute_ms`` of the files is reported too.

    .venv/bin/python bench/overlays_cost.py [--epochs 2] [--n 5000] [--threads N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path


def train(pm, store, epochs: int, threads: int | None) -> tuple[Path, float]:
    from latentdeck.store.events import read_events
    from latentdeck.launch import prepare_run
    from latentdeck.engine.training import execute_run

    stored = prepare_run(pm, {"model": "gmvae", "dataset": "mnist-5k", "epochs": epochs, "seed": 0,
                              "projections": [], "artifacts": [], "num_threads": threads})
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=pm) == "completed"
    seconds = [e["data"]["epoch_seconds"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "train.metrics"]
    return run_dir, seconds[-1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--keep", default=None, help="write the overlay files into this folder to look at them")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    import numpy as np
    import torch

    from latent_data import warm_numba
    from latentdeck.engine.context import RunContext, VizSubset
    from latentdeck.kit.atomic import read_json
    from latentdeck.engine.checkpoints import load_model
    from latentdeck.store.events import EventLog, read_events
    from latentdeck.registry import collect, get_plugin_manager
    from latentdeck.store import RunStore
    from latentdeck.kit.images import to_float_images

    if args.threads:
        torch.set_num_threads(args.threads)
    pm = get_plugin_manager()
    generators, projections = collect(pm, "computations"), collect(pm, "projections")
    dataset, model_spec = collect(pm, "datasets")["mnist-5k"], collect(pm, "models")["gmvae"]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir, epoch_s = train(pm, RunStore(tmp), args.epochs, args.threads)
        model, _ = load_model(run_dir, pm, epoch=args.epochs)
        splits = [dataset.load(None, s) for s in ("train", "heldout")]
        x = to_float_images(torch.cat([s.images for s in splits]), dataset.image_shape)[: args.n]
        y = torch.cat([s.labels for s in splits])[: args.n]
        with torch.no_grad():
            outputs = model(x)
            latents = model.encode(x).float().numpy()

        jit_s = warm_numba()
        import umap

        probe = umap.UMAP(n_components=2, random_state=0, n_epochs=20).fit(latents[:4200])
        started = time.perf_counter()
        probe.transform(latents[:64])  # compile the transform path (warm workers do this too)
        jit_s += time.perf_counter() - started

        fitted, fit_s = {}, {}
        for method in ("pca", "umap"):
            spec = projections[method]
            started = time.perf_counter()
            fitted[method] = {2: spec.fit(latents, 2, 0, spec.options(), None)}
            fit_s[method] = round(time.perf_counter() - started, 2)

        out_dir = Path(args.keep) if args.keep else Path(tmp) / "overlays"
        out_dir.mkdir(parents=True, exist_ok=True)
        events = EventLog(out_dir / "events.jsonl", "bench")
        config = {"run_id": "bench", "seed": 0}
        viz = VizSubset(list(range(len(latents))), x, y)

        def run(name: str) -> float:
            spec = generators[name]
            ctx = RunContext(run_id="bench", run_dir=out_dir, epoch=args.epochs, config=config, model=model,
                                  model_spec=model_spec, dataset_spec=dataset, viz=viz, outputs=outputs,
                                  generator=name, options=spec.options(), events=events, latents=latents,
                                  projections=fitted)
            began = time.perf_counter()
            spec.compute(ctx, None)
            return time.perf_counter() - began

        knn_s = run("knn")
        density_s = run("density")
        distortion_s = run("distortion")
        events.close()
        failures = [e for e in read_events(out_dir / "events.jsonl") if e["type"] == "artifact.failed"]
        assert not failures, failures
        grids = {}
        for path in sorted(out_dir.glob("density/*_epoch_*.json")) + sorted(out_dir.glob("distortion/*_epoch_*.json")):
            doc = read_json(path)
            grids[path.name] = {"compute_ms": doc["meta"]["compute_ms"], "estimator": doc.get("estimator"),
                                "mass_in_bounds": doc["stats"].get("mass_in_bounds"),
                                "kib": round(sum(f.stat().st_size for f in (path, path.with_suffix(".safetensors"))
                                         if f.exists()) / 1024, 1)}
        four = sum(v["compute_ms"] for k, v in grids.items()
                   if k.startswith(("posterior_", "prior_2d")) and k.endswith(("_pca.json", "_umap.json"))) / 1000
        two = sum(v["compute_ms"] for k, v in grids.items() if k.startswith("metric_ratio")) / 1000
    ratio = (density_s + distortion_s) / epoch_s
    print(json.dumps({
        "benchmark": "overlays_cost", "dataset": "mnist-5k", "subset_n": int(len(latents)), "grid": "128x128",
        "training_epoch_s": round(epoch_s, 2), "epochs_trained": args.epochs,
        "density_s_all_6_grids": round(density_s, 2), "distortion_s_2_grids": round(distortion_s, 2),
        "density_4_grids_compute_s": round(four, 2), "distortion_2_grids_compute_s": round(two, 2),
        "knn_s_not_counted": round(knn_s, 2), "projection_fit_s_not_counted": fit_s,
        "numba_jit_s_not_counted": round(jit_s, 1),
        "ratio": round(ratio, 3), "ratio_4_density_grids_plus_distortion": round((four + two) / epoch_s, 3),
        "goal": 0.25, "meets_goal": ratio <= 0.25,
        "load_average_at_start": [round(v, 2) for v in load], "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "grids": grids,
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
