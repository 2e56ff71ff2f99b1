"""Do the density overlays peak where the points are? Mean overlay value at the points ÷ mean over the visible map.

For each preset (``ae-quick``, ``gmvae-clusters``) a run is trained through latentdeck on mnist-5k
with no projections and no artifacts (cached in ``~/.cache/latentdeck/bench``: the before/after
comparison reuses the same trained model). With the last checkpoint the run's own visualization
subset is encoded, PCA and UMAP 2-D are fitted by their plugins, and the ``density`` generator runs
through the host's ``RunContext`` exactly as after an epoch.

Figure, per (preset, method, kind): the mean of the grid's value at the points' own positions
(bilinear between cell centres, as the browser's linear texture filter draws it; 0 outside the grid,
where nothing is drawn) divided by the mean value over the visible box. The visible box is the
explorer's first 2-D view (``frontend/src/lib/latent/scaling.ts``: PCA centred at its origin, other
methods at the box centre, the cloud fitted with an 8 % margin) on a canvas ``--aspect`` times wider
than tall (the explorer's map is about 870 x 620 px at 1440 px wide: 1.4). A ratio of 1 means the
overlay is no brighter on the points than anywhere in view; goal >= 3 for every kind. Signed
difference grids (a file with ``difference``) are listed with their total-variation distance, not
the ratio. Run it before and after a change to the estimator and compare the tables.

    .venv/bin/python bench/density_overlays.py [--presets ae-quick gmvae-clusters] [--seed 0] [--aspect 1.4]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CACHE = Path.home() / ".cache" / "latentdeck" / "bench"
GOAL = 3.0
MARGIN = 0.08  # fitZoom's margin on each side
LINEAR_ORIGIN_METHODS = {"pca"}  # scaling.ts: views of these keep the origin at the centre


def trained_run(pm, preset: str, seed: int, epochs: int | None) -> Path:
    """A completed mnist-5k run of ``preset`` (cached), with its checkpoints."""
    from latentdeck.launch import prepare_run
    from latentdeck.store import RunStore
    from latentdeck.engine.training import execute_run

    cached = CACHE / (f"density_{preset}_s{seed}" + ("" if epochs is None else f"_e{epochs}"))
    if (cached / "config.json").exists() and (cached / "checkpoints").exists():
        return cached
    request = {"preset": preset, "dataset": "mnist-5k", "seed": seed, "projections": [], "artifacts": []}
    if epochs is not None:
        request["epochs"] = epochs
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        stored = prepare_run(pm, request)
        store.create(stored)
        run_dir = store.run_dir(stored["run_id"])
        assert execute_run(run_dir, pm=pm) == "completed", f"the {preset} run did not complete"
        CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copytree(run_dir, cached)
    return cached


def visible_box(method: str, coords, aspect: float) -> list[list[float]]:
    """The explorer's first 2-D view of ``coords`` on a canvas ``aspect`` wide by 1 high, in projection units."""
    import numpy as np

    lo, hi = coords.min(0), coords.max(0)
    centre = np.zeros(2) if method in LINEAR_ORIGIN_METHODS else (lo + hi) / 2
    reach = np.maximum(np.abs(lo - centre), np.abs(hi - centre))
    half = reach / reach.max()  # world units, largest 1
    width, height = aspect, 1.0
    pixels_per_world = min(width * (1 - 2 * MARGIN) / (2 * half[0]), height * (1 - 2 * MARGIN) / (2 * half[1]))
    seen = np.array([width, height]) / (2 * pixels_per_world) * reach.max()
    return [[float(centre[0] - seen[0]), float(centre[0] + seen[0])], [float(centre[1] - seen[1]), float(centre[1] + seen[1])]]


def sample_grid(doc: dict, x, y):
    """Bilinear value of the grid between its cell centres at points (x, y); 0 outside the grid."""
    import numpy as np

    nx, ny = doc["grid"]["nx"], doc["grid"]["ny"]
    (x0, x1), (y0, y1) = doc["bounds"]
    values = np.nan_to_num(np.asarray([np.nan if v is None else v for v in np.asarray(doc["values"]).ravel().tolist()],
                                      dtype=np.float64)).reshape(ny, nx)  # old lists (None = no value) or an array
    fx = np.clip((x - x0) / (x1 - x0) * nx - 0.5, 0, nx - 1)
    fy = np.clip((y - y0) / (y1 - y0) * ny - 0.5, 0, ny - 1)
    c0, r0 = np.minimum(np.floor(fx).astype(int), nx - 2), np.minimum(np.floor(fy).astype(int), ny - 2)
    tx, ty = fx - c0, fy - r0
    v = (values[r0, c0] * (1 - tx) * (1 - ty) + values[r0, c0 + 1] * tx * (1 - ty)
         + values[r0 + 1, c0] * (1 - tx) * ty + values[r0 + 1, c0 + 1] * tx * ty)
    inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    return np.where(inside, v, 0.0)


def peak_ratio(doc: dict, coords, box) -> tuple[float, float, float, float, float]:
    """(mean at the points, mean over the visible box, their ratio, share of the box the grid covers, the
    ratio with the mean taken only where the grid covers the box: the smoothing's part, without the
    blank area a grid smaller than the view leaves)."""
    import numpy as np

    at_points = float(sample_grid(doc, coords[:, 0], coords[:, 1]).mean())
    (bx0, bx1), (by0, by1) = box
    steps = 240
    gx = bx0 + (np.arange(steps) + 0.5) * (bx1 - bx0) / steps
    gy = by0 + (np.arange(steps) + 0.5) * (by1 - by0) / steps
    xx, yy = np.meshgrid(gx, gy)
    values = sample_grid(doc, xx.ravel(), yy.ravel())
    box_mean = float(values.mean())
    (x0, x1), (y0, y1) = doc["bounds"]
    on_grid = (xx.ravel() >= x0) & (xx.ravel() <= x1) & (yy.ravel() >= y0) & (yy.ravel() <= y1)
    grid_mean = float(values[on_grid].mean()) if on_grid.any() else 0.0
    covered = ((np.clip(x1, bx0, bx1) - np.clip(x0, bx0, bx1)) * (np.clip(y1, by0, by1) - np.clip(y0, by0, by1))
               / ((bx1 - bx0) * (by1 - by0)))
    ratio = at_points / box_mean if box_mean > 0 else float("inf")
    return at_points, box_mean, ratio, float(covered), at_points / grid_mean if grid_mean > 0 else float("inf")


def measure(pm, preset: str, seed: int, epochs: int | None, aspect: float) -> list[dict]:
    import numpy as np
    import torch

    from latentdeck.engine.context import RunContext
    from latentdeck.kit import read_artifact
    from latentdeck.kit.atomic import read_json
    from latentdeck.engine.checkpoints import load_model
    from latentdeck.store.events import EventLog, read_events
    from latentdeck.registry import collect
    from latentdeck.engine.training import load_viz_subset

    run_dir = trained_run(pm, preset, seed, epochs)
    config = read_json(run_dir / "config.json")
    model_spec = collect(pm, "models")[config["model"]]
    dataset = collect(pm, "datasets")[config["dataset"]]
    viz = load_viz_subset(config, dataset)
    last = config["epochs"]
    model, _ = load_model(run_dir, pm, epoch=last)
    model.eval()
    with torch.no_grad():
        outputs = model(viz.x)
        latents = model.encode(viz.x).float().numpy()
    projections = collect(pm, "projections")
    fitted = {m: {2: projections[m].fit(latents, 2, config["seed"], projections[m].options(), None)} for m in ("pca", "umap")}
    spec = collect(pm, "computations")["density"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        events = EventLog(out / "events.jsonl", "bench")
        ctx = RunContext(run_id="bench", run_dir=out, epoch=last, config=config, model=model, model_spec=model_spec,
                              dataset_spec=dataset, viz=viz, outputs=outputs, generator="density",
                              options=spec.options.model_validate((config.get("artifact_options") or {}).get("density", {})),
                              events=events, latents=latents, projections=fitted)
        spec.compute(ctx, None)
        events.close()
        failed = [e for e in read_events(out / "events.jsonl") if e["type"] == "artifact.failed"]
        assert not failed, failed
        for path in sorted(out.glob(f"density/*_2d_epoch_{last}_*.json")):
            doc = read_artifact(path)  # the header with its arrays, or an old inline file
            method = doc["method"]
            coords = np.asarray(fitted[method][2].coords, dtype=np.float64)[:, :2]
            kind = path.name.split("_2d_")[0]
            row = {"preset": preset, "method": method, "kind": kind, "estimator": doc.get("estimator", ""),
                   "bandwidth": (doc.get("meta") or {}).get("bandwidth"), "tv": doc.get("tv_distance"),
                   "kib": round(sum(f.stat().st_size for f in (path, path.with_suffix(".safetensors"))
                                         if f.exists()) / 1024, 1)}
            if doc.get("difference"):
                row.update(ratio=None)
            else:
                at, mean, ratio, covered, on_grid = peak_ratio(doc, coords, visible_box(method, coords, aspect))
                row.update(at_points=at, box_mean=mean, ratio=ratio, grid_covers_view=covered, ratio_on_grid=on_grid)
            rows.append(row)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", nargs="+", default=["ae-quick", "gmvae-clusters"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the presets' epochs (quick checks only)")
    parser.add_argument("--aspect", type=float, default=1.4, help="the explorer canvas' width / height")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from latentdeck.registry import get_plugin_manager

    pm = get_plugin_manager()
    rows = [row for preset in args.presets for row in measure(pm, preset, args.seed, args.epochs, args.aspect)]
    print(f"{'preset':16} {'method':6} {'kind':22} {'estimator':18} {'at points':>10} {'box mean':>10} "
          f"{'ratio':>7} {'grid/view':>9} {'on grid':>7}  tv")
    for r in rows:
        tv = ", ".join(f"{k} {v:.3f}" for k, v in (r["tv"] or {}).items())
        if r["ratio"] is None:
            print(f"{r['preset']:16} {r['method']:6} {r['kind']:22} {r['estimator']:18} {'(signed difference)':>47}  {tv}")
            continue
        flag = "ok" if r["ratio"] >= GOAL else "LOW"
        print(f"{r['preset']:16} {r['method']:6} {r['kind']:22} {r['estimator']:18} {r['at_points']:10.4g} "
              f"{r['box_mean']:10.4g} {r['ratio']:7.2f} {r['grid_covers_view']:9.2f} {r['ratio_on_grid']:7.2f}  {tv} {flag}")
    ratios = [r["ratio"] for r in rows if r["ratio"] is not None]
    print(json.dumps({"benchmark": "density_overlays", "aspect": args.aspect, "goal": GOAL,
                      "min_ratio": round(min(ratios), 3), "meets_goal": min(ratios) >= GOAL, "rows": rows}, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
