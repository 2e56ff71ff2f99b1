"""``nearest``: the k training digits closest to a held-out digit in a run's latent space, at an epoch.

An on-demand computation (``OnDemandSpec``) added with no change to latentdeck: the host serves it at
``POST /api/runs/<id>/compute/nearest`` (body ``{"idx": 3, "k": 8, "epoch": null}``) and as
``latentdeck compute nearest RUN_ID --set idx=3``. It encodes the held-out digit and (a seeded subset
of) the training split with the run's model at that epoch, and writes, once, into its own folder::

    nearest/epoch_<N>/idx_<i>_k_<k>/nearest.json   rows {rank, train_idx, label, distance}
    nearest/epoch_<N>/idx_<i>_k_<k>/strip.png      the query digit, then its neighbours

A repeat is read from disk. Its view (``frontend/nearest-panel.tsx``, mount ``explorer-side``) asks for the focused
held-out digit from the explorer's side panel and shows the strip and the rows; the run page's Actions form runs it too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import OnDemandSpec, ViewSpec, hookimpl

FOLDER = "nearest"
MAX_TRAIN = 5000  # training digits searched (a seeded subset above this)


class NearestRequest(BaseModel):
    """Which held-out digit, how many neighbours, at which epoch."""

    model_config = ConfigDict(extra="forbid", strict=True)  # a number must be a JSON number (no true, no "1")

    idx: int = Field(ge=0, description="held-out index of the query digit")
    k: int = Field(8, ge=1, le=32, description="how many nearest training digits")
    epoch: int | None = Field(None, ge=1, description="an epoch with a checkpoint (default: the newest)")


def nearest(ctx, r: NearestRequest) -> dict[str, Any]:
    from latentdeck.kit import OnDemandError, heldout_example, png_bytes, single_threaded, to_float_images

    loaded = ctx.load(r.epoch)
    x, label = heldout_example(loaded.config, loaded.dataset_spec, r.idx)  # 422 naming the range
    relative = f"epoch_{loaded.epoch}/idx_{r.idx}_k_{r.k}"

    def produce(tmp) -> None:
        import numpy as np
        import torch

        train = loaded.dataset_spec.load(Path(loaded.config["data_dir"]), "train")
        n = len(train.labels)
        if n < r.k:
            raise OnDemandError(f"k={r.k} is more than the {n} training digits; use k <= {n}", 422)
        chosen = torch.randperm(n, generator=torch.Generator().manual_seed(0))[:MAX_TRAIN].sort().values
        images = to_float_images(train.images[chosen], tuple(loaded.dataset_spec.image_shape))
        with torch.no_grad(), single_threaded():
            query = loaded.model.encode(x).float()
            codes = torch.cat([loaded.model.encode(images[i:i + 500]).float() for i in range(0, len(images), 500)])
        distances = torch.cdist(query, codes)[0]
        order = torch.argsort(distances, stable=True)[:r.k]
        rows = [{"rank": rank, "train_idx": int(chosen[i]), "label": int(train.labels[chosen[i]]),
                 "distance": round(float(distances[i]), 6)} for rank, i in enumerate(order.tolist())]
        (tmp / "nearest.json").write_text(json.dumps(rows) + "\n")
        tiles = [x[0], *[images[i] for i in order.tolist()]]
        strip = np.concatenate([(t.mean(0).clamp(0, 1).numpy() * 255).astype(np.uint8) for t in tiles], axis=1)
        (tmp / "strip.png").write_bytes(png_bytes(strip))

    files, created = ctx.persist(relative, produce, loaded.epoch)
    rows = json.loads((ctx.run_dir / FOLDER / relative / "nearest.json").read_text())
    return {"folder": f"{FOLDER}/{relative}", "files": files, "created": created,
            "payload": {"epoch": loaded.epoch, "idx": r.idx, "label": label, "neighbours": rows}}


@hookimpl
def register_ondemand():
    return [OnDemandSpec(
        name="nearest", request=NearestRequest, compute=nearest, folder=FOLDER, view="table",
        files=("epoch_{epoch}/idx_{idx:int}_k_{k:int}/nearest.json", "epoch_{epoch}/idx_{idx:int}_k_{k:int}/strip.png"),
        requires=frozenset({"latents"}),
        description="the k training digits nearest to a held-out digit in the run's latent space")]


@hookimpl
def register_views():
    # frontend/nearest-panel.tsx, bundled into views/ by latentdeck's build-views script and carried in the wheel
    return [ViewSpec(name="nearest-panel", module=str(Path(__file__).parent / "views" / "nearest-panel.js"),
                     mount="explorer-side", title="Nearest training digits (example)", computations=("nearest",),
                     order=90, description="the focused held-out digit's nearest training digits, computed on demand")]
