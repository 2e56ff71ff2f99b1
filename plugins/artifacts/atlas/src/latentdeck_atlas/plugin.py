"""Sprite atlases of the visualization subset, so the latent explorer can show the digit behind a point.

One PNG holds every point's image as a tile, in the subset's order (the order of every projection file's
``indices``), row-major, no padding: tile ``i`` is at column ``i % columns``, row ``i // columns``, i.e.
pixel ``(x, y) = ((i % columns) * w, (i // columns) * h)``. A JSON index beside it says where and what.

* ``atlas/atlas_inputs.png`` + ``.json`` — the subset's input images. They never change, so
  they are written once per run (the first epoch the generator runs, or a backfill), with no epoch tag.
* ``atlas/atlas_epoch_<N>.png|.json`` and the ``atlas/atlas_latest.png|.json`` mirrors — the model's
  reconstructions at that epoch (models with ``reconstruction``). The JSON also carries what the
  explorer's hover shows per point at that epoch: the reconstruction error, q(c|x) (models with
  ``mixture``) and the classifier's softmax maximum (models with ``classifier``).

The files live in the plugin's own folder ``atlas/``. Multi-channel images are stored as the mean over channels (grayscale), as the reconstruction grid does.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, hookimpl

ORDER = "subset order (as the projection files' indices), row-major: tile i at column i % columns, row i // columns"


class AtlasOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    qc_decimals: int = Field(3, ge=1, le=8, description="decimals kept for q(c|x) and confidences in the JSON index")


def tile(images) -> tuple[Any, dict[str, Any]]:
    """Tile images (n, c, h, w) in [0, 1] into one uint8 grayscale sheet; the sheet and its layout."""
    import numpy as np

    n, _, h, w = images.shape
    columns = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    pixels = (images.float().mean(1).clamp(0, 1) * 255).round().byte().numpy()  # (n, h, w)
    sheet = np.zeros((rows * h, columns * w), dtype=np.uint8)
    padded = np.zeros((rows * columns, h, w), dtype=np.uint8)
    padded[:n] = pixels
    sheet[:] = padded.reshape(rows, columns, h, w).transpose(0, 2, 1, 3).reshape(rows * h, columns * w)
    return sheet, {"n": int(n), "tile": [int(h), int(w)], "columns": columns, "rows": rows, "order": ORDER}


def _points(ctx, decimals: int) -> dict[str, Any]:
    """Per-point values the hover shows at this epoch (each only when the model produces it)."""
    import numpy as np

    outputs, x = ctx.outputs, ctx.viz.x
    fields: dict[str, Any] = {}
    if "recon" in outputs:
        mse = ((outputs["recon"].float() - x.float()) ** 2).flatten(1).mean(1)
        fields["mse"] = np.round(mse.double().numpy(), 6).tolist()
    if "qc" in outputs:
        qc = outputs["qc"].double().numpy()
        fields["qc"] = np.round(qc, decimals).tolist()
        fields["qc_max"] = np.round(qc.max(1), decimals).tolist()
    if "logits" in outputs:
        probs = outputs["logits"].double().softmax(1).numpy()
        fields["softmax"] = np.round(probs, decimals).tolist()  # the classifier's probabilities, for "why is it here?"
        fields["softmax_max"] = np.round(probs.max(1), decimals).tolist()
    return fields


FOLDER = "atlas"
INPUTS = "atlas_inputs"


def generate(ctx, request=None) -> None:
    options: AtlasOptions = ctx.options or AtlasOptions()
    common = {"indices": [int(i) for i in ctx.viz.indices]}
    folder = ctx.run_dir / FOLDER
    if not (folder / f"{INPUTS}.json").exists() or not (folder / f"{INPUTS}.png").exists():
        sheet, layout = tile(ctx.viz.x)
        ctx.save_run_file(FOLDER, f"{INPUTS}.png", sheet)  # the PNG first: an index whose JSON exists is complete
        (folder / f"{INPUTS}.json").unlink(missing_ok=True)
        ctx.save_run_file(FOLDER, f"{INPUTS}.json", {
            "kind": "inputs", **layout, **common, "labels": ctx.viz.y.tolist(), "png": f"{FOLDER}/{INPUTS}.png",
            "pixels": "uint8 grayscale (mean over channels), 0 = black"})
    if "recon" not in ctx.outputs:
        return
    sheet, layout = tile(ctx.outputs["recon"])
    png = ctx.save_png(FOLDER, "atlas_{tag}.png", sheet)
    ctx.save_json(FOLDER, "atlas_{tag}.json", {
        "kind": "reconstructions", "epoch": ctx.epoch, **layout, **common, "png": png,
        "pixels": "uint8 grayscale (mean over channels), 0 = black", **_points(ctx, options.qc_decimals)})


@hookimpl
def register_computations():
    return [ComputationSpec(
        name="atlas", compute=generate, requires=frozenset(), options=AtlasOptions,
        folder=FOLDER, files=(f"{INPUTS}.png", f"{INPUTS}.json", "atlas_{tag}.png", "atlas_{tag}.json"), view="image",
        provides={f"{INPUTS}.json": "input-thumbnails", "atlas_{tag}.json": "reconstruction-thumbnails"},
        description="sprite atlases of the visualization subset: input digits once per run "
                    "(atlas/atlas_inputs.png) and reconstructions per epoch (atlas/atlas_<tag>.png), "
                    "each with a JSON index")]
