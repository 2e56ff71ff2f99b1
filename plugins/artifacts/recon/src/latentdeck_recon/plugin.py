"""Reconstruction grid: the fixed visualization examples next to the model's reconstructions.

Writes ``reconstructions/recon_grid_epoch_<N>.png`` (rows alternate originals / reconstructions)
and ``reconstructions/recon_grid_epoch_<N>.json`` (which held-out indices, labels and per-image MSE),
each with a ``*_latest`` mirror. Uses the first ``grid_size`` (``artifact_options.recon_grid.grid_size``,
default 16) of ``config.json: viz_indices``. ``grid_size`` was the run config's ``recon_grid_size`` before
it moved here: ``moved_from_config`` tells the host, so an old run's config still means the same and a
request that sends the old field is told where it went.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ArtifactSpec, ViewSpec, hookimpl

COLUMNS = 8
PAD = 2


class ReconOptions(BaseModel):
    """Options of the reconstruction grid (``artifact_options.recon_grid``)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    moved_from_config: ClassVar[dict[str, str]] = {"recon_grid_size": "grid_size"}  # the run config's old field

    grid_size: int = Field(16, ge=1, le=256, description="examples shown in the reconstruction grid (the first of "
                                                         "the visualization subset), at most 256")


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


def grid_size(ctx) -> int:
    """The ``grid_size`` option. A run made when it was the run config's ``recon_grid_size`` gets it moved into
    the options when the host resolves the run; a context made from config.json as stored (not resolved) may
    still carry it only at the top level, and it means the same there."""
    options = ctx.options if isinstance(ctx.options, ReconOptions) else ReconOptions()
    if "grid_size" not in options.model_fields_set and "recon_grid_size" in (ctx.config or {}):
        return int(ctx.config["recon_grid_size"])
    return options.grid_size


def generate(ctx) -> None:
    n = min(grid_size(ctx), len(ctx.viz.indices))
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
def register_artifacts():
    return [ArtifactSpec(
        name="recon_grid", generate=generate, requires=frozenset({"reconstruction"}), options=ReconOptions,
        folder="reconstructions", files=("recon_grid_{tag}.png", "recon_grid_{tag}.json"), view="image",
        description="held-out examples (fixed at run start) above their reconstructions, per epoch")]


@hookimpl
def register_views():
    return [ViewSpec(name="recon-grid", module=str(Path(__file__).parent / "views" / "recon-grid.js"), mount="run-panel",
                     title="Reconstructions", computations=("recon_grid",), order=10,
                     description="originals above their reconstructions, with an epoch slider")]
