"""PCA maps between consecutive epochs: how far points move on screen, with and without alignment.

Trains (or reuses, cached) the AE and the GM-VAE on mnist-5k for a few epochs, takes each epoch's
latents of the 500 held-out digits (the visualization subset of an mnist-5k run) and of all 5,000, and
projects them as the ``pca`` plugin does epoch after epoch, with each alignment rule:

- ``none``: plain principal axes (the loadings sign rule only): what a naive PCA per epoch shows;
- ``signs``: each axis flipped to match the previous epoch (the rule before Procrustes);
- ``procrustes``: the orthogonal rotation/reflection that best matches the previous epoch (the default).

Figure: for each pair of consecutive epochs, the median over points of |position(e) - position(e-1)|
divided by the plot span (the larger side of epoch e's bounding box); the table shows each pair and
the median over pairs. Procrustes cannot remove real motion of the latent space, only the rotation
and mirroring that PCA's arbitrary axes add.

    .venv/bin/python bench/pca_alignment.py [--epochs 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

RULES = {"none": {"sign_reference": "loadings"}, "signs": {"alignment": "signs"}, "procrustes": {}}


def displacements(per_epoch: list, dims: int, rule: str) -> list[float]:
    import numpy as np

    from latentdeck_pca.plugin import PCAOptions, fit

    options = PCAOptions(**RULES[rule])
    previous = None
    moved = []
    for latents in per_epoch:
        coords = fit(latents, dims, 0, options, init=previous).coords
        if previous is not None:
            span = float(np.ptp(coords, axis=0).max())
            moved.append(float(np.median(np.linalg.norm(coords - previous, axis=1))) / span)
        previous = coords
    return moved


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from latent_data import run_latents

    report = {}
    for model in ("ae", "gmvae"):
        data = run_latents(model, args.epochs, args.seed)
        epochs = [data["per_epoch"][e] for e in range(1, args.epochs + 1)]
        for subset, rows in (("heldout 500", slice(4500, 5000)), ("all 5000", slice(None))):
            for dims in (2, 3):
                per_rule = {rule: displacements([e[rows] for e in epochs], dims, rule) for rule in RULES}
                key = f"{model} {subset} {dims}-D"
                report[key] = {rule: {"pairs": [round(v, 3) for v in values], "median": round(statistics.median(values), 3)}
                               for rule, values in per_rule.items()}
                medians = {rule: report[key][rule]["median"] for rule in RULES}
                print(f"{key:26} median displacement / span: none {medians['none']:.3f}  signs {medians['signs']:.3f}  "
                      f"procrustes {medians['procrustes']:.3f}   pairs (signs -> procrustes): "
                      + ", ".join(f"{a:.2f}->{b:.2f}" for a, b in zip(per_rule['signs'], per_rule['procrustes'])))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
