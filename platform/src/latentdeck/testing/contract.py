"""Contract helpers for a plugin's own tests (re-exported by :mod:`latentdeck.testing`): a dataset honours
its record, a model builds and trains a step, importing a plugin pulls in no heavy library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..types import Availability, DatasetSpec

def check_dataset(spec: DatasetSpec, data_dir: Path) -> None:
    """Assert a dataset plugin honours the contract (run it on a dataset that is available)."""
    import torch

    availability = spec.availability(data_dir)
    assert isinstance(availability, Availability)
    assert availability.ok, f"{spec.name} unavailable: {availability.reason}"
    for split in ("train", "heldout"):
        data = spec.load(data_dir, split)
        assert data.images.dtype == torch.uint8, f"{spec.name}/{split}: images must be uint8"
        assert data.labels.dtype == torch.int64, f"{spec.name}/{split}: labels must be int64"
        assert data.images.shape[-2:] == spec.image_shape[-2:], f"{spec.name}/{split}: wrong image size"
        assert int(data.labels.max()) < spec.num_classes


HEAVY_MODULES = ("torch", "torchvision", "numpy", "mlxtend", "umap", "sklearn", "numba")


def heavy_imports_of(module: str) -> list[str]:
    """The heavy libraries that importing ``module`` pulls in, in a fresh interpreter.

    Plugins must import torch, numpy and friends inside the functions that need them, so that
    ``latentdeck --help`` and ``latentdeck plugins`` stay fast: a plugin test asserts this is ``[]``.
    """
    import os
    import subprocess
    import sys

    code = (f"import sys, {module}; "
            f"print(','.join(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules)))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return [name for name in out.stdout.strip().split(",") if name]


def check_model(spec, dataset: DatasetSpec, pm) -> dict[str, Any]:
    """Build the model with default options, run a forward and a backward pass; returns the outputs."""
    import torch

    from ..registry import collect
    from ..types import Batch, Schedule

    options = spec.options()
    model = spec.build(options, dataset)
    x = torch.rand(4, *dataset.image_shape)
    y = torch.arange(4) % dataset.num_classes
    outputs = model(x)
    assert isinstance(outputs, dict), "forward() must return a dict of tensors"
    losses = collect(pm, "loss_components")
    weights = spec.loss_weights(options, Schedule(1, 1))
    total = sum(w * losses[name].compute(outputs, Batch(x, y)) for name, w in weights.items())
    total.backward()
    if "latents" in spec.capabilities:
        assert model.encode(x).shape[0] == 4
    if "decoder" in spec.capabilities:
        assert model.decode(model.encode(x)).shape == x.shape
    if "reconstruction" in spec.capabilities:
        assert outputs["recon"].shape == x.shape
    return outputs


