"""Per-epoch latent statistics: mean and standard deviation per latent dimension, overall and per class.

A per-epoch computation (``ComputationSpec``, runs every epoch) with a view of its own on the run page
(``frontend/latent-stats.tsx``, mount ``run-panel``): the summary numbers charted over the epochs and the spread
of each latent dimension at one epoch. The spec's ``view`` (``metric_series``) still says, in the run's file
listing, how its files read for a client that shows them generically."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationSpec, ViewSpec, hookimpl

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
                         view="metric_series",  # how its files read generically (the run page shows the view below)
                         description="per-dimension latent mean and std of the visualization subset")]


@hookimpl
def register_views():
    # frontend/latent-stats.tsx, bundled into views/ by latentdeck's build-views script and carried in the wheel
    return [ViewSpec(name="latent-stats", module=str(Path(__file__).parent / "views" / "latent-stats.js"),
                     mount="run-panel", title="Latent statistics (example)", computations=("latent_stats",), order=90,
                     description="the spread of each latent dimension over the epochs")]
