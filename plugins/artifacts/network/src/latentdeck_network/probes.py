"""Network inspection beyond one example's forward pass: a conv layer's kernels, a decoded latent
perturbation and the held-out digits that excite a channel most (the :class:`Inspector`'s base; the
folder layout and the write-once rules are in :mod:`.inspection`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from latentdeck.kit import OnDemandError, read_json

from . import compute, render
from .folders import _check_range, _json, _write
from .direction import direction_report, latent_spread
from .layers import capture, layer_id, leaf_modules

TOP_IN_CHANNELS = 4  # input-channel slices kept per multi-channel kernel (all of them when fewer)
MAX_TOPK_SUBSET = 10_000
MAX_TOPK_K = 64
TOPK_BATCH = 500
METRICS = ("max", "mean")


class ModelProbes:
    """``kernels``, ``perturb`` and ``topk``; the subclass provides ``load``, ``example``, ``_layer``, ``_out``
    (the folder an answer is written into) and ``run_dir``."""

    # --- 4. kernels -----------------------------------------------------------------------------

    def kernels(self, epoch: int | str | None, lid: str, out: int) -> dict[str, Any]:
        loaded = self.load(epoch)
        convs = {layer_id(name): module for name, module in leaf_modules(loaded.model) if isinstance(module, nn.Conv2d)}
        if lid not in convs:
            known = {layer_id(name) for name, _ in leaf_modules(loaded.model)}
            what = "is not a Conv2d layer" if lid in known else "is not a layer of this model"
            raise OnDemandError(f"{lid!r} {what}; layers with kernels: {', '.join(convs)}", 404 if lid not in known else 422)
        module = convs[lid]
        weight = module.weight.detach()  # (C_out, C_in / groups, kh, kw)
        _check_range(f"output channel of {lid} ({weight.shape[0]} channels):", out, weight.shape[0])
        c_in = weight.shape[1]
        bias = float(module.bias.detach()[out]) if module.bias is not None else None
        base = {"epoch": loaded.epoch, "layer_id": lid, "out_channel": out, "in_channels": c_in,
                "kernel_size": list(weight.shape[2:]), "bias": bias}

        tmp = self._out()
        if c_in == 1:
            values = weight[out, 0].double().numpy()
            scale = render.scale_for(values)
            _json(tmp, "kernel.json", {**base, "values": values.tolist(), "scale": scale,
                                       "min": float(values.min()), "max": float(values.max())})
            _write(tmp, "kernel.png", render.png_bytes(render.colorize(values, scale)))
            return _kernels_payload(tmp)
        agg = compute.aggregate_kernel(weight[out], min(TOP_IN_CHANNELS, c_in))
        stencil = np.asarray(agg["values"])
        scale = {"colormap": "sequential", "min": 0.0, "max": float(stencil.max())}
        _json(tmp, "kernel_agg.json", {**base, "values": agg["values"], "in_channel_l2": agg["in_channel_l2"],
                                       "scale": scale, "aggregation": "L2 over input channels: sqrt(sum_c w[c,i,j]^2)"})
        _write(tmp, "kernel_agg.png", render.png_bytes(render.colorize(stencil, scale)))
        bound = max(abs(v) for item in agg["top"] for row in item["values"] for v in row) or 1.0
        slice_scale = {"colormap": "diverging", "min": -bound, "max": bound}
        _json(tmp, "top_in_channels.json", {**base, "top": agg["top"], "count": len(agg["top"]),
                                            "ranking": "L2 norm of w[out, c] (descending; ties: lower c first)",
                                            "scale": slice_scale})
        for item in agg["top"]:
            _write(tmp, f"kernel_in_{item['in_channel']}.png",
                   render.png_bytes(render.colorize(np.asarray(item["values"]), slice_scale)))

        return _kernels_payload(tmp)

    # --- 5. perturbation ------------------------------------------------------------------------

    def perturb(self, epoch: int | str | None, index: int, key: str, dim: int, delta: float) -> dict[str, Any]:
        try:
            tag = compute.delta_tag(float(delta))
        except ValueError as exc:
            raise OnDemandError(str(exc), 422) from None
        loaded = self.load(epoch)
        if "decoder" not in loaded.model_spec.capabilities:
            raise OnDemandError(f"model {loaded.config['model']!r} has no decoder capability: nothing to decode", 422)
        x, label = self.example(loaded, index)
        cap = capture(loaded.model, x, keep=set())
        vectors, decodable, sampling = compute.latent_vectors(
            loaded.model, cap, loaded.model_spec.capabilities, loaded.config["seed"], index)
        if key not in decodable:
            raise OnDemandError(f"vector {key!r} cannot be perturbed; decodable vectors of this model: "
                                f"{', '.join(decodable) or 'none'}", 422)
        base = vectors[key]
        _check_range(f"dim of {key} ({base.shape[0]} dims):", dim, base.shape[0])

        tmp = self._out()
        changed = base.clone()
        changed[dim] += float(delta)  # + 0.0 leaves the value bit for bit: delta 0 decodes the base vector
        with torch.no_grad():
            recon = loaded.model.decode(changed[None])
        spread, n = latent_spread(self.run_dir, loaded)
        sd = spread[dim] if dim < len(spread) else 0.0  # z_sample has mu's dimensions
        report = direction_report(loaded.model, base, key, dim, sd, n)
        _write(tmp, "recon.png", render.png_bytes(render.image_u8(recon[0])))
        _json(tmp, "meta.json", {
            "epoch": loaded.epoch, "index": index, "label": label, "vector_key": key, "dim": dim,
            "delta": float(delta), "delta_tag": tag, "base_value": float(base[dim]), "new_value": float(changed[dim]),
            "decode_input": key, "decode_path": f"decode({key} with {key}[{dim}] += delta)",
            "sample_id": sampling["sample_id"] if key == "z_sample" and sampling else None,
            "vector": changed.tolist(), "direction": report})

        return read_json(tmp / "meta.json")

    # --- 6. top-K activations -------------------------------------------------------------------

    def topk(self, epoch: int | str | None, lid: str, channel: int, metric: str, subset: int, k: int) -> dict[str, Any]:
        if metric not in METRICS:
            raise OnDemandError(f"metric {metric!r} is unknown: use one of {', '.join(METRICS)}", 422)
        loaded = self.load(epoch)
        images, labels = loaded.heldout_split()
        limit = min(len(images), MAX_TOPK_SUBSET)
        if not 1 <= subset <= limit:
            raise OnDemandError(f"subset {subset} is out of range: use 1..{limit} (the first n held-out examples; "
                                f"the split has {len(images)}, at most {MAX_TOPK_SUBSET} per scan)", 422)
        if not 1 <= k <= min(subset, MAX_TOPK_K):
            raise OnDemandError(f"k {k} is out of range: use 1..{min(subset, MAX_TOPK_K)}", 422)
        probe = capture(loaded.model, images[:1], keep=set(), stop_after=lid)
        call = self._layer(probe, lid, "spatial")
        _check_range(f"channel of {lid} ({call.shape[0]} channels):", channel, call.shape[0])

        tmp = self._out()
        started = time.perf_counter()
        scores, where = [], []
        for start in range(0, subset, TOPK_BATCH):
            batch = images[start:min(subset, start + TOPK_BATCH)]
            cap = capture(loaded.model, batch, keep={lid}, stop_after=lid)
            score, at = compute.channel_scores(cap.by_id()[lid].output[:, channel], metric)
            scores.append(score.double())
            if at is not None:
                where.append(at)
        all_scores = torch.cat(scores)
        positions = torch.cat(where) if where else None
        order = sorted(range(subset), key=lambda i: (-float(all_scores[i]), i))[:k]
        width = call.shape[2]
        items = []
        for rank, i in enumerate(order):
            item = {"rank": rank, "dataset_idx": i, "label": int(labels[i]), "score": float(all_scores[i]),
                    "input": f"input_{i}.png"}
            if positions is not None:
                item["xy"] = {"x": int(positions[i]) % width, "y": int(positions[i]) // width}
            items.append(item)
            _write(tmp, f"input_{i}.png", render.png_bytes(render.image_u8(images[i])))
        _json(tmp, "topk.json", {
            "epoch": loaded.epoch, "layer_id": lid, "channel": channel, "metric": metric, "subset_n": subset,
            "k": k, "subset": f"held-out indices 0..{subset - 1}", "shape": list(call.shape[1:]),
            "score": "max over positions (xy = first maximum, row-major)" if metric == "max" else "mean over positions",
            "items": items, "compute_ms": round((time.perf_counter() - started) * 1000, 2)})

        return read_json(tmp / "topk.json")


def _kernels_payload(folder: Path) -> dict[str, Any]:
    if (folder / "kernel.json").exists():
        return {"kind": "single", "kernel": read_json(folder / "kernel.json")}
    return {"kind": "aggregate", "kernel_agg": read_json(folder / "kernel_agg.json"),
            "top_in_channels": read_json(folder / "top_in_channels.json")}
