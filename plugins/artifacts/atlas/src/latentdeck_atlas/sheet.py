"""One epoch's reconstructions sheet, asked for: above ``sheet_max_n`` points the epoch loop writes no sheet
(a 10,000-point sheet is 4.9 MB, half the run's per-epoch budget), and the explorer asks for it the first time
it needs that epoch's reconstructions (the epoch's JSON index names the request: ``png_on_demand``).

The answer is keyed by epoch (the host computes it once and serves it from disk afterwards)::

    atlas/sheets/epoch_<N>/reconstructions.png

It loads the epoch's checkpoint, decodes the visualization subset in chunks (eval mode, as the epoch loop's
outputs) and tiles the reconstructions exactly as the per-epoch sheet does (:func:`latentdeck_atlas.plugin.tile`),
so the same layout as the JSON index's ``n, tile, columns, rows``. The forward pass is the cost: the default AE
on one thread took 17 s for 10,000 points and 110 s for 70,000 on this 2-core machine under load ~4-5 (the
server's default budget for an asked computation is 120 s; a stopped request ends between 4,096-image passes).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationResult

KEY = "sheets/epoch_{epoch}"  # one answer's folder inside atlas/
SHEET = "reconstructions.png"
CHUNK = 4096  # images per forward pass


class SheetRequest(BaseModel):
    """The reconstructions sheet of one epoch."""

    model_config = ConfigDict(extra="forbid", strict=True)

    epoch: Annotated[int, Field(ge=1, le=10_000)] | Literal["latest"] | None = Field(
        None, description="an epoch with a checkpoint, or latest (default: the newest)")


def on_demand(epoch: int, n: int, limit: int) -> dict[str, Any]:
    """What the epoch's JSON index says instead of a PNG name: how to get the sheet."""
    return {"computation": "atlas", "request": {"epoch": epoch}, "png": f"atlas/{KEY.format(epoch=epoch)}/{SHEET}",
            "why": f"{n:,} points are more than sheet_max_n ({limit:,}): the sheet is drawn when first asked for"}


def draw(ctx, request: SheetRequest) -> ComputationResult:
    """The sheet of the epoch the host resolved, written into ``ctx.folder``."""
    import torch

    from latentdeck.kit import OnDemandError, png_bytes, single_threaded

    from .plugin import PIXELS, tile

    started = time.perf_counter()
    loaded = ctx.load(ctx.epoch)
    if "reconstruction" not in set(loaded.model_spec.capabilities):
        raise OnDemandError(f"model {loaded.config['model']!r} makes no reconstructions, so it has no "
                            "reconstructions sheet", 422)
    x = loaded.viz_subset().x
    parts = []
    for start in range(0, len(x), CHUNK):
        fence = getattr(ctx, "fence", None)
        if fence is not None and fence.reason is not None:  # stopped or out of its budget: end between passes
            raise OnDemandError(f"the reconstructions sheet was stopped: {fence.reason}", 409)
        with torch.no_grad(), single_threaded():  # the server's other requests keep the second core
            parts.append(loaded.model(x[start:start + CHUNK])["recon"])
    sheet, layout = tile(torch.cat(parts))
    (ctx.folder / SHEET).write_bytes(png_bytes(sheet))
    return ComputationResult(payload={
        "kind": "reconstructions", "epoch": loaded.epoch, **layout, "png": ctx.answer_file(SHEET), "pixels": PIXELS,
        "compute_ms": round((time.perf_counter() - started) * 1000, 2)})
