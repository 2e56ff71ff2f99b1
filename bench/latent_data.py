"""Latents for the projection/kNN benchmarks: the AE trained through latentdeck on mnist-5k.

``ae_latents()`` trains the default AE (latent_dim 16) for a few epochs with ``execute_run`` (no
projections, no artifacts), then encodes with each epoch's checkpoint all 5,000 mnist-5k digits
(train 4,500 + held-out 500; ``per_epoch[e]`` is (5000, 16)) and, with the last checkpoint, the
10,000 real MNIST test digits (``t10k``, (10000, 16)). Cached in ``~/.cache/latentdeck/bench``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

CACHE = Path.home() / ".cache" / "latentdeck" / "bench"


def warm_numba() -> float:
    """Compile umap-learn and pynndescent (both the exact path and the >4,096-point NNDescent path)."""
    import warnings

    import numpy as np
    import umap
    from pynndescent import NNDescent

    warnings.filterwarnings("ignore", message="n_jobs value")
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    small = rng.normal(size=(200, 16)).astype(np.float32)
    big = rng.normal(size=(4200, 16)).astype(np.float32)
    for n_components in (2, 3):
        umap.UMAP(n_components=n_components, random_state=0, n_epochs=20).fit_transform(small)
        prev = umap.UMAP(n_components=n_components, random_state=0, n_epochs=20).fit_transform(big)
        umap.UMAP(n_components=n_components, random_state=0, n_epochs=10, init=prev).fit_transform(big)
    NNDescent(big, n_neighbors=16, random_state=0).neighbor_graph
    NNDescent(big, n_neighbors=16).neighbor_graph
    return time.perf_counter() - started


class HostEngine:
    """The host's projection path (``ArtifactEngine._project``: fit, payload with trustworthiness, atomic
    files, events) and its generators, over given latents of a subset of ``n`` points."""

    def __init__(self, n: int, labels, projections: list[str], generators: list[str] = ()):
        import torch

        from latentdeck.engine.artifacts import ArtifactEngine, VizSubset
        from latentdeck.store.events import EventLog
        from latentdeck.registry import collect, get_plugin_manager

        pm = get_plugin_manager()
        self.tmp = tempfile.TemporaryDirectory()
        run_dir = Path(self.tmp.name)
        self.events = EventLog(run_dir / "events.jsonl", "bench")
        config = {"run_id": "bench", "seed": 0, "projections": projections, "artifacts": list(generators)}
        viz = VizSubset(list(range(n)), None, torch.as_tensor(labels[:n]))
        self.engine = ArtifactEngine(pm, run_dir, config, collect(pm, "models")["ae"], None, viz, self.events)
        self.run_dir = run_dir

    def project(self, latents, epoch: int):
        return self.engine._project(latents, {}, epoch, self.engine.projections)

    def generate(self, latents, projections, epoch: int) -> None:
        from latentdeck.engine.artifacts import run_generators

        def make_context(name):
            spec = next(g for g in self.engine.generators if g.name == name)
            return self.engine._context(epoch, None, {}, latents, projections, generator=name, options=spec.options())

        run_generators(make_context, self.engine.generators, self.events)

    def close(self) -> None:
        self.events.close()
        self.tmp.cleanup()


def ae_latents(epochs: int = 4, seed: int = 0):
    return run_latents("ae", epochs, seed)


def run_latents(model_name: str = "ae", epochs: int = 4, seed: int = 0):
    """Per-epoch latents (``encode``: the AE's z, the GM-VAE's mu) of all 5,000 mnist-5k digits."""
    import numpy as np

    path = CACHE / (f"ae16_mnist5k_e{epochs}_s{seed}.npz" if model_name == "ae" else
                    f"{model_name}16_mnist5k_e{epochs}_s{seed}.npz")
    if path.exists():
        data = np.load(path)
        return {"per_epoch": {e: data[f"epoch_{e}"] for e in range(1, epochs + 1)}, "t10k": data["t10k"],
                "labels": data["labels"], "t10k_labels": data["t10k_labels"],
                "epoch_seconds": data["epoch_seconds"].tolist()}
    import torch

    from common import load_t10k
    from latentdeck.engine.checkpoints import load_model
    from latentdeck.store.events import read_events
    from latentdeck.launch import prepare_run
    from latentdeck.registry import collect, get_plugin_manager
    from latentdeck.store import RunStore
    from latentdeck.engine.training import execute_run
    from latentdeck.kit.images import to_float_images

    pm = get_plugin_manager()
    dataset = collect(pm, "datasets")["mnist-5k"]
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        stored = prepare_run(pm, {"model": model_name, "dataset": "mnist-5k", "epochs": epochs, "seed": seed,
                                  "projections": [], "artifacts": []})
        store.create(stored)
        run_dir = store.run_dir(stored["run_id"])
        assert execute_run(run_dir, pm=pm) == "completed"
        seconds = [e["data"]["epoch_seconds"] for e in read_events(run_dir / "events.jsonl")
                   if e["type"] == "train.metrics"]
        splits = [dataset.load(None, s) for s in ("train", "heldout")]
        x = to_float_images(torch.cat([s.images for s in splits]), dataset.image_shape)
        labels = torch.cat([s.labels for s in splits]).numpy()
        x_test, y_test = load_t10k()
        out = {"labels": labels, "t10k_labels": y_test.numpy(), "epoch_seconds": np.array(seconds)}
        with torch.no_grad():
            for e in range(1, epochs + 1):
                model, _ = load_model(run_dir, pm, epoch=e)
                out[f"epoch_{e}"] = model.encode(x).float().numpy()
            out["t10k"] = model.encode(x_test).float().numpy()
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return run_latents(model_name, epochs, seed)


if __name__ == "__main__":
    import json

    started = time.perf_counter()
    data = ae_latents()
    print(json.dumps({"epochs": len(data["per_epoch"]), "shape": list(data["per_epoch"][1].shape),
                      "t10k": list(data["t10k"].shape), "epoch_seconds": data["epoch_seconds"],
                      "seconds": round(time.perf_counter() - started, 1)}))
