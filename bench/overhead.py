"""Platform overhead: one epoch through latentdeck (events, held-out metrics, checkpoint, recon grid)
divided by one epoch of the same model, data and batch size in a bare PyTorch loop.
Target: ratio <= 1.10. Both are timed alternately in this process, several rounds, medians compared.

    .venv/bin/python bench/overhead.py [--rounds 3] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time


def bare_epoch(model_spec, dataset_spec, options, x, y, batch_size: int, seed: int) -> float:
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    model = model_spec.build(options, dataset_spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    model.train()
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    for idx in order.split(batch_size):
        xb, yb = x[idx], y[idx]
        out = model(xb)
        loss = F.mse_loss(out["recon"], xb) + options.class_weight * F.cross_entropy(out["logits"], yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def latentdeck_epoch(pm, store, batch_size: int, seed: int) -> float:
    from latentdeck.launch import prepare_run
    from latentdeck.engine.training import execute_run

    stored = prepare_run(pm, {"model": "ae", "dataset": "mnist-5k", "epochs": 1, "batch_size": batch_size,
                              "seed": seed})
    store.create(stored)
    started = time.perf_counter()
    status = execute_run(store.run_dir(stored["run_id"]), pm=pm)
    seconds = time.perf_counter() - started
    assert status == "completed", status
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()

    from latentdeck.registry import collect, get_plugin_manager
    from latentdeck.store import RunStore
    from latentdeck.kit.images import to_float_images

    pm = get_plugin_manager()
    model_spec = collect(pm, "models")["ae"]
    dataset_spec = collect(pm, "datasets")["mnist-5k"]
    options = model_spec.options()
    train = dataset_spec.load(None, "train")  # warms the in-process dataset cache for both sides
    x, y = to_float_images(train.images, dataset_spec.image_shape), train.labels.long()
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        bare_epoch(model_spec, dataset_spec, options, x[:512], y[:512], args.batch_size, 0)  # warm-up
        for round_ in range(args.rounds):
            bare.append(bare_epoch(model_spec, dataset_spec, options, x, y, args.batch_size, round_))
            ours.append(latentdeck_epoch(pm, store, args.batch_size, round_))
            print(f"round {round_ + 1}: bare {bare[-1]:.2f}s  latentdeck {ours[-1]:.2f}s  "
                  f"ratio {ours[-1] / bare[-1]:.3f}", file=sys.stderr)
    ratio = statistics.median(ours) / statistics.median(bare)
    print(json.dumps({"benchmark": "overhead", "examples": len(x), "batch_size": args.batch_size,
                      "bare_s": [round(s, 3) for s in bare], "latentdeck_s": [round(s, 3) for s in ours],
                      "ratio_median": round(ratio, 3), "target": 1.10, "meets_target": ratio <= 1.10}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
