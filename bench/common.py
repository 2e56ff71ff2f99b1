"""Shared helpers for the benchmarks (run them from the repo root with .venv/bin/python bench/<name>.py)."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
T10K = Path(os.environ.get("LATENTDECK_T10K", REPO.parent / "shared" / "data" / "mnist-t10k"))


def load_t10k():
    """The real MNIST test split (10,000 digits) as float (n, 1, 28, 28) in [0, 1] and int64 labels."""
    import torch
    from torchvision.datasets.mnist import read_image_file, read_label_file

    if not (T10K / "t10k-images-idx3-ubyte.gz").exists():
        raise SystemExit(f"MNIST test split not found in {T10K}; set LATENTDECK_T10K to its folder")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            out = Path(tmp) / stem
            out.write_bytes(gzip.decompress((T10K / f"{stem}.gz").read_bytes()))
            paths[stem] = str(out)
        images = read_image_file(paths["t10k-images-idx3-ubyte"])
        labels = read_label_file(paths["t10k-labels-idx1-ubyte"])
    return images.float().div(255).unsqueeze(1), labels.long()


def accuracy(model, x, y, batch: int = 2000) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch):
            correct += int((model(x[start:start + batch])["logits"].argmax(1) == y[start:start + batch]).sum())
    return correct / len(x)
