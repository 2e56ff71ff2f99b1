"""Per-epoch latent statistics: mean and standard deviation per latent dimension, overall and per class."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, hookimpl

FOLDER = "latent_stats"  # this plugin's own run folder: runs/<id>/latent_stats/


class LatentStatsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    per_class: bool = Field(True, description="also write statistics per class label")


def generate(ctx, request=None) -> None:
    z = ctx.model.encode(ctx.viz.x)  # (n, d)
    mean, std = z.mean(0), z.std(0)
    payload = {"epoch": ctx.epoch, "n": len(z), "mean_norm": float(mean.norm()), "std_mean": float(std.mean()),
               "std_min": float(std.min()), "mean": mean.tolist(), "std": std.tolist()}
    if ctx.options.per_class:
        payload["per_class"] = {
            str(label): {"n": int((ctx.viz.y == label).sum()), "mean": z[ctx.viz.y == label].mean(0).tolist()}
            for label in sorted(set(ctx.viz.y.tolist()))}
    ctx.save_json(FOLDER, "latent_stats_{tag}.json", payload)


@hookimpl
def register_computations():
    return [ComputationSpec(name="latent_stats", compute=generate, requires=frozenset({"latents"}),
                         options=LatentStatsOptions, folder=FOLDER, files=("latent_stats_{tag}.json",),
                         view="metric_series",  # the run page charts mean_norm, std_mean, std_min over epochs
                         page=str(Path(__file__).parent / "page"),  # ... and embeds this plugin's own page
                         description="per-dimension latent mean and std of the visualization subset")]
