"""A third-party-shaped test plugin: a ``quality`` artifact in its own folder (an image and a table per
epoch) and an on-demand ``quality-probe``; it uses only ``latentdeck`` and ``latentdeck.kit``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ArtifactSpec, OnDemandSpec, hookimpl


def generate(ctx) -> None:
    import numpy as np

    recon = ctx.outputs.get("recon")
    error = float(((recon - ctx.viz.x) ** 2).mean()) if recon is not None else 0.0
    image = np.full((8, 8), min(255, ctx.epoch * 40), dtype=np.uint8)
    ctx.save_png("quality", "swatch_{tag}.png", image)
    ctx.save_json("quality", "rows_{tag}.json", [{"epoch": ctx.epoch, "mse": error, "n": len(ctx.viz.indices)}])


class ProbeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # a number must be a JSON number (no true, no "1")
    idx: int = Field(ge=0, description="held-out index")
    epoch: int | None = None


def probe(ctx, r: ProbeRequest) -> dict:
    import json

    from latentdeck.kit import heldout_example

    loaded = ctx.load(r.epoch)
    _, label = heldout_example(loaded.config, loaded.dataset_spec, r.idx)
    relative = f"epoch_{loaded.epoch}/idx_{r.idx}"

    def produce(tmp):
        (tmp / "probe.json").write_text(json.dumps({"idx": r.idx, "label": label, "epoch": loaded.epoch}))

    files, created = ctx.persist(relative, produce, loaded.epoch)
    return {"folder": f"quality_probe/{relative}", "files": files, "created": created,
            "payload": {"idx": r.idx, "label": label}}


@hookimpl
def register_artifacts():
    return [ArtifactSpec(name="quality", generate=generate, folder="quality", view="image",
                         files=("swatch_{tag}.png", "rows_{tag}.json"), description="a test artifact in its own folder")]


@hookimpl
def register_ondemand():
    return [OnDemandSpec(name="quality-probe", request=ProbeRequest, compute=probe, folder="quality_probe",
                         files=("epoch_{epoch}/idx_{idx:int}/probe.json",), view="table",
                         description="the label of one held-out example (test)")]
