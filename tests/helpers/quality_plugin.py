"""A third-party-shaped test plugin: a ``quality`` artifact in its own folder (an image and a table per
epoch), a ``quality-series`` (one number per epoch, shown as a metric series) and an on-demand ``quality-probe``; it uses only ``latentdeck`` and ``latentdeck.kit``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, hookimpl


def generate(ctx, request=None) -> None:
    import numpy as np

    recon = ctx.outputs.get("recon")
    error = float(((recon - ctx.viz.x) ** 2).mean()) if recon is not None else 0.0
    image = np.full((8, 8), min(255, ctx.epoch * 40), dtype=np.uint8)
    ctx.save_png("quality", "swatch_{tag}.png", image)
    ctx.save_json("quality", "rows_{tag}.json", [{"epoch": ctx.epoch, "mse": error, "n": len(ctx.viz.indices)}])


def series(ctx, request=None) -> None:
    ctx.save_json("quality_series", "score_{tag}.json", {"epoch": ctx.epoch, "score": round(1.0 / ctx.epoch, 6)})


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # a number must be a JSON number (no true, no "1")
    idx: int = Field(ge=0, description="held-out index")
    epoch: int | None = None


def probe(ctx, r: ProbeRequest) -> dict:
    """Keyed: the host publishes quality_probe/epoch_<N>/idx_<i>/ once and answers repeats from disk."""
    import json

    _, label = ctx.heldout_example(r.idx)
    (ctx.folder / "probe.json").write_text(json.dumps({"idx": r.idx, "label": label, "epoch": ctx.epoch}))
    return {"idx": r.idx, "label": label}


@hookimpl
def register_computations():
    return [ComputationSpec(name="quality", compute=generate, folder="quality", view="image",
                            files=("swatch_{tag}.png", "rows_{tag}.json"), description="a test artifact in its own folder"),
            ComputationSpec(name="quality-series", compute=series, folder="quality_series", view="metric_series",
                            files=("score_{tag}.json",), description="one number per epoch (test)"),
            ComputationSpec(name="quality-probe", runs="on_demand", request=ProbeRequest, compute=probe,
                            key="epoch_{epoch}/idx_{idx}", folder="quality_probe",
                            files=("epoch_{epoch}/idx_{idx:int}/probe.json",), view="table",
                            description="the label of one held-out example (test)")]
