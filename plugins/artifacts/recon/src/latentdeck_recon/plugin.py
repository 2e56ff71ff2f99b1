"""Reconstruction grid: the fixed visualization examples next to the model's reconstructions.

Writes ``reconstructions/recon_grid_epoch_<N>.png`` (rows alternate originals / reconstructions)
and ``reconstructions/recon_grid_epoch_<N>.json`` (which held-out indices, labels and per-image MSE),
each with a ``*_latest`` mirror. Uses the first ``recon_grid_size`` of ``config.json: viz_indices``.
"""

from __future__ import annotations

from pathlib import Path

from latentdeck import ComputationSpec, ViewSpec, hookimpl

COLUMNS = 8
PAD = 2


def grid_image(originals, reconstructions, columns: int = COLUMNS, pad: int = PAD):
    """uint8 (H, W) grid: for each row of ``columns`` examples, originals above reconstructions."""
    import numpy as np

    n, c, h, w = originals.shape
    rows = (n + columns - 1) // columns
    canvas = np.full(((h + pad) * rows * 2 + pad, (w + pad) * columns + pad), 32, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = pad + r * 2 * (h + pad), pad + col * (w + pad)
        for k, source in enumerate((originals, reconstructions)):
            pixels = (source[i].mean(0).clamp(0, 1) * 255).round().byte().numpy()  # (h, w)
            y = top + k * (h + pad)
            canvas[y:y + h, left:left + w] = pixels
    return canvas


def generate(ctx, request=None) -> None:
    n = min(ctx.config.get("recon_grid_size", 16), len(ctx.viz.indices))
    x, recon = ctx.viz.x[:n], ctx.outputs["recon"][:n]
    mse = ((recon - x) ** 2).flatten(1).mean(1)
    ctx.save_png("reconstructions", "recon_grid_{tag}.png", grid_image(x, recon))
    ctx.save_json("reconstructions", "recon_grid_{tag}.json", {
        "epoch": ctx.epoch, "indices": ctx.viz.indices[:n], "labels": ctx.viz.y[:n].tolist(),
        "mse": mse.tolist(), "mean_mse": float(mse.mean()) if n else None,
        "layout": {"columns": COLUMNS, "pad": PAD, "rows": "originals above reconstructions",
                   "image_shape": list(x.shape[1:])},
    })


@hookimpl
def register_computations():
    return [ComputationSpec(
        name="recon_grid", compute=generate, requires=frozenset({"reconstruction"}),
        folder="reconstructions", files=("recon_grid_{tag}.png", "recon_grid_{tag}.json"), view="image",
        description="held-out examples (fixed at run start) above their reconstructions, per epoch")]


@hookimpl
def register_views():
    return [ViewSpec(name="recon-grid", module=str(Path(__file__).parent / "views" / "recon-grid.js"), mount="run-panel",
                     title="Reconstructions", computations=("recon_grid",), order=10,
                     description="originals above their reconstructions, with an epoch slider")]
