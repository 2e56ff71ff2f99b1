"""Writes the explorer's array-file test fixture (frontend/src/lib/testdata/) with the host's own writer, so the
TypeScript reader (src/lib/arrays.ts, artifacts.ts) is tested against bytes Python produced.

Run from the repository root after a change to latentdeck.kit.arrays or the writer:
  python frontend/scripts/array-fixture.py
src/lib/arrays.test.ts holds the values written here; it fails when the bytes no longer read as them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from latentdeck.engine.writer import ArtifactWriter

OUT = Path(__file__).resolve().parents[1] / "src" / "lib" / "testdata"


def payload() -> dict:
    """A 3-point 2-D projection in the decided names and dtypes (format24), plus a kNN-like U16 matrix."""
    return {
        "epoch": 3, "method": "pca", "dims": 2, "n": 3, "latent": "z", "latent_dim": 4,
        "bounds": [[-1.5, 2.25], [0.0, 4.0]], "params": {"whiten": False}, "split_values": ["heldout", "train"],
        "coords": np.array([[-1.5, 0.0], [0.25, 4.0], [2.25, 1.0]], dtype=np.float32),
        "indices": np.array([7, 70000, 12], dtype=np.int32),
        "labels": np.array([3, 9, 0], dtype=np.uint8),
        "split": np.array([0, 1, 1], dtype=np.uint8),
        "trained": np.array([True, True, False]),
        "neighbors": np.array([[1, 2], [0, 2], [1, 0]], dtype=np.uint16),
        "d_k": np.array([0.5, 0.125, 2.0], dtype=np.float32),
    }


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        (tmp / "projections").mkdir()
        writer = ArtifactWriter(run_dir=tmp, epoch=3, generator="fixture")
        writer.write_with_arrays("projections", "projections/latent_2d_epoch_3.json", payload())
        OUT.mkdir(parents=True, exist_ok=True)
        for name in ("latent_2d_epoch_3.json", "latent_2d_epoch_3.safetensors"):
            shutil.copyfile(tmp / "projections" / name, OUT / name)
            print("wrote", OUT / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
