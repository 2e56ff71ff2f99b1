"""PCA maps between consecutive epochs: how far points and class clusters move on screen, per alignment rule.

Trains (or reuses, cached in ``~/.cache/latentdeck/bench``) a run of each preset (default ``ae-quick`` and
``gmvae-clusters``, their own models, epochs and options) on mnist-5k, takes each epoch's latents (the
model's ``encode``: the AE's z, the GM-VAE's mu) of the 500 held-out digits (the visualization subset of
an mnist-5k run) and of all 5,000, and projects them as the ``pca`` plugin does epoch after epoch
(``fit(latents, dims, seed, options, init=previous coords)``, like the host), with each rule:

- ``none``: plain principal axes (the loadings sign rule only): what a naive PCA per epoch shows;
- ``signs``: each axis flipped to match the previous epoch;
- ``procrustes``: the epoch's own principal axes, rotated/reflected to best match the previous epoch (the
  default before the carried basis);
- ``default``: the plugin's default options (``PCAOptions()``: the carried basis, see the plugin README).

Figures, for each pair of consecutive epochs, divided by the plot span (the larger side of epoch e's
bounding box):

- ``move``: the median over points of |position(e) - position(e-1)|;
- ``centroid``: the largest move of a class centroid (the mean position of one digit's points), i.e.
  whether some class cluster jumps across the map;
- ``screen_move`` / ``screen_centroid``: the same on screen, where the explorer scales each epoch's PCA
  file by its largest |coordinate| around the origin: a latent cloud that grows as a whole (the AE's
  doubles between epochs 1 and 2) does not move points there;
- ``learning``: the median move left after the best similarity transform (rotation or reflection, one scale,
  a shift) of epoch e's map onto epoch e-1's, / span: the part of the move that no re-orientation, growth or
  shift of the whole map explains, so no alignment of the shown map can go below it;
- ``kept``: the variance the shown axes keep / what the epoch's own principal axes keep (1 for own axes;
  the carried basis keeps >= ``min_variance_share``, 0.9), with the lowest epoch in brackets.

Each figure is the median over the epoch pairs, with the worst pair in brackets.

    .venv/bin/python bench/pca_alignment.py [--presets ae-quick gmvae-clusters] [--seed 0] [--subsets heldout all]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CACHE = Path.home() / ".cache" / "latentdeck" / "bench"
RULES = {"none": {"sign_reference": "loadings"}, "signs": {"alignment": "signs"},
         "procrustes": {"alignment": "procrustes", "basis": "own"}, "default": {}}
SUBSETS = {"heldout": ("500 held-out", slice(4500, 5000)), "all": ("all 5000", slice(None))}


def preset_latents(preset: str, seed: int = 0) -> dict:
    """Per-epoch latents of all 5,000 mnist-5k digits (train 4,500 then held-out 500) from a run of ``preset``."""
    import numpy as np

    path = CACHE / f"{preset}_mnist5k_s{seed}.npz"
    if not path.exists():
        import torch

        from latentdeck.engine.checkpoints import load_model
        from latentdeck.launch import prepare_run
        from latentdeck.registry import collect, get_plugin_manager
        from latentdeck.store import RunStore
        from latentdeck.engine.training import execute_run
        from latentdeck.kit.images import to_float_images

        pm = get_plugin_manager()
        dataset = collect(pm, "datasets")["mnist-5k"]
        with tempfile.TemporaryDirectory() as tmp:
            store = RunStore(tmp)
            stored = prepare_run(pm, {"preset": preset, "dataset": "mnist-5k", "seed": seed,
                                      "projections": [], "artifacts": []})
            store.create(stored)
            run_dir = store.run_dir(stored["run_id"])
            assert execute_run(run_dir, pm=pm) == "completed"
            splits = [dataset.load(None, s) for s in ("train", "heldout")]
            x = to_float_images(torch.cat([s.images for s in splits]), dataset.image_shape)
            out = {"labels": torch.cat([s.labels for s in splits]).numpy()}
            with torch.no_grad():
                for e in range(1, stored["epochs"] + 1):
                    model, _ = load_model(run_dir, pm, epoch=e)
                    out[f"epoch_{e}"] = model.encode(x).float().numpy()
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out)
    data = np.load(path)
    epochs = sorted(int(k.split("_")[1]) for k in data.files if k.startswith("epoch_"))
    return {"per_epoch": [data[f"epoch_{e}"] for e in epochs], "labels": data["labels"]}


def pair_moves(coords, previous, labels, classes) -> tuple[float, float]:
    """Median point move and largest class-centroid move from ``previous`` to ``coords``, / span of ``coords``."""
    import numpy as np

    span = float(np.ptp(coords, axis=0).max())
    median = float(np.median(np.linalg.norm(coords - previous, axis=1)))
    centroid = max(float(np.linalg.norm(coords[labels == c].mean(0) - previous[labels == c].mean(0))) for c in classes)
    return median / span, centroid / span


def residual_move(coords, previous) -> float:
    """Median |similarity(coords) - previous| / span of coords: what is left after the best rotation/reflection,
    uniform scale and shift of the whole map onto the previous one (least squares, Umeyama)."""
    import numpy as np

    a, b = coords - coords.mean(0), previous - previous.mean(0)
    u, sing, vt = np.linalg.svd(a.T @ b)
    rotation = u @ vt
    scale = sing.sum() / max(float((a * a).sum()), 1e-300)
    fitted = scale * a @ rotation
    span = float(np.ptp(fitted, axis=0).max())
    return float(np.median(np.linalg.norm(fitted - b, axis=1))) / span


def moves(per_epoch: list, labels, dims: int, options: dict) -> dict[str, list[float]]:
    """Per consecutive pair: the median point move and the largest class-centroid move, both / span, in latent
    units (``move``, ``centroid``) and on screen (``screen_move``, ``screen_centroid``: each epoch scaled by its
    largest |coordinate| around the origin, as the explorer draws a PCA file, so growth of the whole cloud
    does not count)."""
    import numpy as np

    from latentdeck_pca.plugin import PCAOptions, fit

    options = PCAOptions(**options)
    classes = np.unique(labels)
    previous = None
    out: dict[str, list[float]] = {"move": [], "centroid": [], "screen_move": [], "screen_centroid": [], "learning": [],
                                   "kept": []}
    for latents in per_epoch:
        result = fit(latents, dims, 0, options, init=previous)
        coords = result.coords
        if previous is not None:
            shown = result.coords.var(0, ddof=1).sum()
            out["kept"].append(float(shown / sum(result.extra["explained_variance"])))
            out["learning"].append(residual_move(coords, previous))
            for prefix, (a, b) in (("", (coords, previous)),
                                   ("screen_", (coords / np.abs(coords).max(), previous / np.abs(previous).max()))):
                move, centroid = pair_moves(a, b, labels, classes)
                out[f"{prefix}move"].append(move)
                out[f"{prefix}centroid"].append(centroid)
        previous = coords
    return out


def summary(values: list[float]) -> dict:
    return {"pairs": [round(v, 3) for v in values], "median": round(statistics.median(values), 3),
            "max": round(max(values), 3), "min": round(min(values), 3)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="+", default=["ae-quick", "gmvae-clusters"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subsets", nargs="+", choices=list(SUBSETS), default=list(SUBSETS))
    parser.add_argument("--rules", nargs="+", choices=list(RULES), default=list(RULES))
    args = parser.parse_args()

    report = {}
    for preset in args.presets:
        data = preset_latents(preset, args.seed)
        for subset in args.subsets:
            name, rows = SUBSETS[subset]
            epochs, labels = [e[rows] for e in data["per_epoch"]], data["labels"][rows]
            for dims in (2, 3):
                key = f"{preset} {name} {dims}-D"
                report[key] = {rule: {metric: summary(values) for metric, values in
                                      moves(epochs, labels, dims, RULES[rule]).items()} for rule in args.rules}
                print(key, flush=True)
                for rule in args.rules:
                    cells = "  ".join(
                        f"{metric} {values['median']:.3f} [{values['min' if metric == 'kept' else 'max']:.3f}]"
                        for metric, values in report[key][rule].items())
                    print(f"    {rule:10} {cells}", flush=True)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
