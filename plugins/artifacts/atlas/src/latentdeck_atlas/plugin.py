"""Sprite atlases of the visualization subset, so the latent explorer can show the digit behind a point.

One PNG holds every point's image as a tile, in the subset's order (the order of every projection file's
``indices``), row-major, no padding: tile ``i`` is at column ``i % columns``, row ``i // columns``, i.e.
pixel ``(x, y) = ((i % columns) * w, (i // columns) * h)``. A JSON index beside it says where and what; its
per-point values are numpy arrays in the payload, so the host stores them in ``<stem>.safetensors`` beside
the JSON (read both formats with ``latentdeck.kit.read_artifact``).

* ``atlas/atlas_inputs.png`` + ``.json`` — the subset's input images. They never change, so
  they are written once per run (the first epoch the generator runs, or a backfill), with no epoch tag.
  Arrays: ``indices`` I32, ``labels`` U8 (U16 above 255).
* ``atlas/atlas_epoch_<N>.json`` and its ``atlas_latest.json`` mirror — per epoch, what the explorer's hover
  shows per point (models with ``reconstruction``): the reconstruction error ``mse``, q(c|x) ``qc`` /
  ``qc_max`` (models with ``mixture``), the classifier's ``softmax`` / ``softmax_max`` (models with
  ``classifier``), all F32, and ``indices`` I32.
* ``atlas/atlas_epoch_<N>.png`` (+ ``atlas_latest.png``) — the reconstructions' sheet, drawn per epoch only
  up to ``sheet_max_n`` points (default 4,096: 0.2 MB at the default 512; a 10,000-point sheet is 4.9 MB, half
  the run's 10 MB-per-epoch budget). Above it the epoch's JSON says ``png: null`` and ``png_on_demand``
  names the request that draws it: the same computation asked for (``POST /api/runs/{id}/compute/atlas``
  ``{"epoch": N}``) writes ``atlas/sheets/epoch_<N>/reconstructions.png`` once (:mod:`latentdeck_atlas.sheet`).

The files live in the plugin's own folder ``atlas/``. Multi-channel images are stored as the mean over channels
(grayscale), as the reconstruction grid does.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, hookimpl

ORDER = "subset order (as the projection files' indices), row-major: tile i at column i % columns, row i // columns"
PIXELS = "uint8 grayscale (mean over channels), 0 = black"
FOLDER = "atlas"
INPUTS = "atlas_inputs"


class AtlasOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    qc_decimals: int = Field(3, ge=1, le=8, description="decimals kept for q(c|x) and confidences in the JSON index")
    sheet_max_n: int = Field(4096, ge=0, le=100_000, description="the reconstructions' sheet is drawn every epoch up "
                                                                 "to this many points; above, when asked for (the "
                                                                 "epoch's JSON says how: png_on_demand)")


def layout_of(n: int, h: int, w: int) -> dict[str, Any]:
    """The sheet's layout for ``n`` tiles of ``h`` x ``w`` pixels (``columns = ceil(sqrt(n))``)."""
    columns = max(1, math.ceil(math.sqrt(n)))
    return {"n": int(n), "tile": [int(h), int(w)], "columns": columns, "rows": max(1, math.ceil(n / columns)),
            "order": ORDER}


def tile(images) -> tuple[Any, dict[str, Any]]:
    """Tile images (n, c, h, w) in [0, 1] into one uint8 grayscale sheet; the sheet and its layout."""
    import numpy as np
    import torch

    n, _, h, w = images.shape
    layout = layout_of(n, h, w)
    rows, columns = layout["rows"], layout["columns"]
    padded = np.zeros((rows * columns, h, w), dtype=np.uint8)
    for start in range(0, n, 4096):  # a block at a time: no float copy of a 70,000-image subset
        block = images[start:start + 4096]
        padded[start:start + len(block)] = (block.float().mean(1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    sheet = padded.reshape(rows, columns, h, w).transpose(0, 2, 1, 3).reshape(rows * h, columns * w)
    return sheet, layout


def _f32(values, decimals: int | None = None):
    import numpy as np

    a = np.asarray(values, dtype=np.float64)
    return (np.round(a, decimals) if decimals is not None else a).astype(np.float32)


def _points(ctx, decimals: int) -> dict[str, Any]:
    """Per-point values the hover shows at this epoch (each only when the model produces it), as float32."""
    outputs, x = ctx.outputs, ctx.viz.x
    fields: dict[str, Any] = {}
    if "recon" in outputs:
        mse = ((outputs["recon"].float() - x.float()) ** 2).flatten(1).mean(1)
        fields["mse"] = _f32(mse.double().numpy(), 6)
    if "qc" in outputs:
        qc = outputs["qc"].double().numpy()
        fields["qc"] = _f32(qc, decimals)
        fields["qc_max"] = _f32(qc.max(1), decimals)
    if "logits" in outputs:
        probs = outputs["logits"].double().softmax(1).numpy()
        fields["softmax"] = _f32(probs, decimals)  # the classifier's probabilities, for "why is it here?"
        fields["softmax_max"] = _f32(probs.max(1), decimals)
    return fields


def _labels(values):
    import numpy as np

    a = np.asarray(values, dtype=np.int64).reshape(-1)
    return a.astype(np.uint16 if a.size and a.max() > 255 else np.uint8)


def generate(ctx, request=None) -> None:
    import numpy as np

    from .sheet import on_demand

    options: AtlasOptions = ctx.options or AtlasOptions()
    indices = np.asarray(ctx.viz.indices, dtype=np.int64).astype(np.int32)
    folder = ctx.run_dir / FOLDER
    if not (folder / f"{INPUTS}.json").exists() or not (folder / f"{INPUTS}.png").exists():
        sheet, layout = tile(ctx.viz.x)
        ctx.save_run_file(FOLDER, f"{INPUTS}.png", sheet)  # the PNG first: an index whose JSON exists is complete
        (folder / f"{INPUTS}.json").unlink(missing_ok=True)
        ctx.save_run_file(FOLDER, f"{INPUTS}.json", {
            "kind": "inputs", **layout, "indices": indices, "labels": _labels(ctx.viz.y),
            "png": f"{FOLDER}/{INPUTS}.png",
            "pixels": PIXELS})
    if "recon" not in ctx.outputs:
        return
    n = len(indices)
    if n <= options.sheet_max_n:
        sheet, layout = tile(ctx.outputs["recon"])
        png, deferred = ctx.save_png(FOLDER, "atlas_{tag}.png", sheet), None
    else:
        layout = layout_of(n, *ctx.outputs["recon"].shape[-2:])
        png, deferred = None, on_demand(ctx.epoch, n, options.sheet_max_n)
    ctx.save_json(FOLDER, "atlas_{tag}.json", {
        "kind": "reconstructions", "epoch": ctx.epoch, **layout, "indices": indices, "png": png,
        **({"png_on_demand": deferred} if deferred else {}), "pixels": PIXELS, **_points(ctx, options.qc_decimals)})


def compute(ctx, request=None) -> Any:
    """Each epoch (``request`` None): the files above; asked for: one epoch's reconstructions sheet."""
    if request is None:
        return generate(ctx)
    from .sheet import draw

    return draw(ctx, request)


@hookimpl
def register_computations():
    from .sheet import KEY, SHEET, SheetRequest

    return [ComputationSpec(
        name="atlas", compute=compute, requires=frozenset(), options=AtlasOptions, request=SheetRequest, key=KEY,
        folder=FOLDER, files=(f"{INPUTS}.png", f"{INPUTS}.json", "atlas_{tag}.png", "atlas_{tag}.json",
                              f"sheets/epoch_{{epoch:int}}/{SHEET}"), view="image",
        provides={f"{INPUTS}.json": "input-thumbnails", "atlas_{tag}.json": "reconstruction-thumbnails"},
        description="sprite atlases of the visualization subset: input digits once per run "
                    "(atlas/atlas_inputs.png) and reconstructions per epoch (atlas/atlas_<tag>.png up to "
                    "sheet_max_n points, else asked for: atlas/sheets/epoch_<N>/reconstructions.png), each with a "
                    "JSON index")]
