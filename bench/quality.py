"""Quality: the supervised AE trained through latentdeck on mnist-5k, scored on the real MNIST test
split (10,000 digits, none of them in mnist-5k) after each epoch. Target: >= 97% within 10 epochs.

    .venv/bin/python bench/quality.py [--epochs 10] [--seed 0] [--set field=value ...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

from common import accuracy, load_t10k


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()

    from latentdeck.engine.checkpoints import load_model
    from latentdeck.launch.config import set_dotted
    from latentdeck.launch import prepare_run
    from latentdeck.registry import get_plugin_manager
    from latentdeck.store import RunStore
    from latentdeck.engine.training import execute_run

    x_test, y_test = load_t10k()
    pm = get_plugin_manager()
    request = {"model": "ae", "dataset": "mnist-5k", "epochs": args.epochs, "seed": args.seed}
    for item in args.set:
        key, _, value = item.partition("=")
        set_dotted(request, key, json.loads(value))
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        stored = prepare_run(pm, request)
        store.create(stored)
        run_dir = store.run_dir(stored["run_id"])
        per_epoch = []

        def on_event(event):
            if event["type"] == "checkpoint.saved":
                model, _ = load_model(run_dir, pm, epoch=event["data"]["epoch"])
                per_epoch.append(accuracy(model, x_test, y_test))
                print(f"epoch {event['data']['epoch']:2d}  MNIST test accuracy {per_epoch[-1] * 100:.2f}%", flush=True)

        started = time.perf_counter()
        status = execute_run(run_dir, pm=pm, listeners=(on_event,))
        seconds = time.perf_counter() - started
    best = max(per_epoch) if per_epoch else 0.0
    print(json.dumps({"benchmark": "quality", "status": status, "dataset": "mnist-5k (train split, 4,500)",
                      "test_split": "MNIST t10k (10,000)", "epochs": args.epochs,
                      "final_test_accuracy": per_epoch[-1] if per_epoch else None, "best_test_accuracy": best,
                      "target": 0.97, "meets_target": per_epoch[-1] >= 0.97 if per_epoch else False,
                      "seconds": round(seconds, 1)}))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    sys.exit(main())
