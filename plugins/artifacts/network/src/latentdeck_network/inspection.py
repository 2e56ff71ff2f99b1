"""Network inspection on demand: each request computes one folder of files under ``network/``.

:class:`Inspector` serves one run. Every method validates its arguments (a 4xx ``OnDemandError`` naming the
valid range), writes its files into ``ctx.folder`` and returns the payload, read back from the JSON it wrote.
The host keeps each answer as ``network/<key>/`` (the request's ``key``, :mod:`.folders`): published
atomically with its ``result.json`` (nothing half-written after an error), announced once, and a repeat is
served from disk without loading the model.

Folders (``<N>`` epoch, ``<i>`` held-out index, ``<L>`` layer id):

    network/forward/epoch_<N>/idx_<i>/
    network/inspect/epoch_<N>/idx_<i>/layer_<L>/ch_<c>/                     (no probe)
    network/inspect/epoch_<N>/idx_<i>/layer_<L>/ch_<c>_probe_x_<x>_y_<y>/   (a probe: inspect.json has xy, rf)
    network/conv_step/epoch_<N>/idx_<i>/layer_<L>/out_<c>/x_<x>_y_<y>/
    network/kernels/epoch_<N>/layer_<L>/out_<c>/
    network/perturb/epoch_<N>/idx_<i>/vector_<key>/dim_<d>/delta_<tag>/
    network/topk/epoch_<N>/layer_<L>/ch_<c>/metric_<m>/subset_<n>/k_<k>/
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentdeck.kit import read_json
from latentdeck.kit import OnDemandError

from . import compute, render
from .folders import _check_range, _json, _write
from .probes import MAX_TOPK_K, MAX_TOPK_SUBSET, ModelProbes
from .layers import Call, Capture, capture, layer_rows, receptive_field

MAX_LISTED_VALUES = 512  # vector layers longer than this keep their values in vector.png only


class Inspector(ModelProbes):
    """Network artifacts of the run of ``ctx`` (a run context: models through ``ctx.load``; each answer's files
    are written into ``ctx.folder``, which the host publishes as ``network/<key>/`` and serves from disk after)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.run_dir = Path(ctx.run_dir)

    # --- shared steps ---------------------------------------------------------------------------

    def load(self, epoch: int | str | None):
        return self.ctx.load(epoch)

    def resolve_epoch(self, epoch: int | str | None) -> int:
        return self.ctx.resolve_epoch(epoch)

    def example(self, loaded, index: int) -> tuple[torch.Tensor, int]:
        return loaded.heldout_example(int(index))

    def _layer(self, cap: Capture, lid: str, kind: str | None = None) -> Call:
        calls = cap.by_id()
        if lid not in calls:
            raise OnDemandError(f"unknown layer {lid!r}; layers of this model: {', '.join(calls)} "
                                "(GET /api/runs/<run>/network/layers lists them)", 404)
        call = calls[lid]
        if kind is not None and call.kind != kind:
            valid = [c.id for c in cap.calls if c.kind == kind]
            raise OnDemandError(f"layer {lid!r} is a {call.kind} layer; this needs a {kind} layer: {', '.join(valid)}", 422)
        return call

    def _out(self) -> Path:
        """The folder this answer is written into (the host publishes it as ``network/<key>/``)."""
        return Path(self.ctx.folder)

    # --- layers ---------------------------------------------------------------------------------

    def layers(self, epoch: int | str | None = None) -> dict[str, Any]:
        """Every layer of the model (ids, types, shapes, kinds) from one forward pass, the epochs with a
        checkpoint and the held-out split's size; nothing is written."""
        loaded = self.load(epoch)
        x, _ = self.example(loaded, 0)
        cap = capture(loaded.model, x, keep=set())
        return {"epoch": loaded.epoch, "epochs": loaded.epochs(), "model": loaded.config["model"],
                "input_shape": list(x.shape[1:]), "heldout_size": len(loaded.heldout_split()[0]),
                "max_topk_subset": MAX_TOPK_SUBSET, "max_topk_k": MAX_TOPK_K, "layers": layer_rows(cap)}

    # --- 1. forward capture -------------------------------------------------------------------

    def forward(self, epoch: int | str | None, index: int) -> dict[str, Any]:
        loaded = self.load(epoch)
        x, label = self.example(loaded, index)

        tmp = self._out()
        started = time.perf_counter()
        cap = capture(loaded.model, x)
        rows = layer_rows(cap)
        _write(tmp, "input.png", render.png_bytes(render.image_u8(x[0])))
        recon = cap.outputs.get("recon")
        if isinstance(recon, torch.Tensor):
            _write(tmp, "recon.png", render.png_bytes(render.image_u8(recon[0])))
        for call, row in zip(cap.calls, rows):
            sub = tmp / f"layer_{call.id}"
            sub.mkdir()
            summary, image_name, pixels = _layer_summary(call, row)
            _write(sub, image_name, render.png_bytes(pixels))
            _json(sub, "summary.json", summary)
        _json(tmp, "layers.json", {"epoch": loaded.epoch, "index": index, "input_shape": list(x.shape[1:]),
                                   "layers": rows})
        vectors, decodable, sampling = compute.latent_vectors(
            loaded.model, cap, loaded.model_spec.capabilities, loaded.config["seed"], index)
        _json(tmp, "latent.json", {"epoch": loaded.epoch, "index": index,
                                   "vectors": {k: v.tolist() for k, v in vectors.items()},
                                   "decodable": decodable, "latent_name": loaded.model_spec.latent_name})
        _json(tmp, "forward_meta.json", {
            "model": loaded.config["model"], "dataset": loaded.config["dataset"], "run_id": loaded.config["run_id"],
            "epoch": loaded.epoch, "index": index, "split": "heldout", "label": label,
            "layer_count": len(rows), "has_recon": isinstance(recon, torch.Tensor),
            "sample_id": sampling["sample_id"] if sampling else None, "sampling": sampling,
            "mode": "eval (batch norm running statistics, no dropout, no sampling in forward)",
            "compute_ms": round((time.perf_counter() - started) * 1000, 2)})

        return self._forward_payload(tmp)

    def _forward_payload(self, folder: Path) -> dict[str, Any]:
        layers = read_json(folder / "layers.json")
        for row in layers["layers"]:
            row["summary"] = read_json(folder / f"layer_{row['id']}" / "summary.json")
        return {"meta": read_json(folder / "forward_meta.json"), "latent": read_json(folder / "latent.json"),
                "layers": layers["layers"], "input_shape": layers["input_shape"],
                "input": "input.png", "recon": "recon.png" if (folder / "recon.png").exists() else None}

    # --- 2. channel inspect -------------------------------------------------------------------

    def inspect(self, epoch: int | str | None, index: int, lid: str, channel: int,
                probe: tuple[int, int] | None = None) -> dict[str, Any]:
        loaded = self.load(epoch)
        x, label = self.example(loaded, index)
        cap = capture(loaded.model, x, keep={lid}, stop_after=lid)
        call = self._layer(cap, lid, "spatial")
        channels, height, width = call.shape
        _check_range(f"channel of {lid} ({channels} channels):", channel, channels)
        if probe is not None:
            _check_range(f"probe x of {lid} (width {width}):", probe[0], width)
            _check_range(f"probe y of {lid} (height {height}):", probe[1], height)
        values = call.output[0, channel].double().numpy()

        tmp = self._out()
        in_h, in_w = x.shape[-2:]
        scale = {"colormap": "sequential", "min": float(values.min()), "max": float(values.max())}
        heat = render.heat_rgba(render.upsample(values, in_h, in_w))
        _write(tmp, "channel.png", render.png_bytes(render.colorize(values, scale)))
        _write(tmp, "heat_rgba.png", render.png_bytes(heat))
        _write(tmp, "overlay.png", render.png_bytes(render.overlay(render.image_u8(x[0]), heat)))
        flat = int(np.argmax(values))
        record = {
            "epoch": loaded.epoch, "index": index, "label": label, "layer_id": lid,
            "type": type(call.module).__name__, "channel": channel, "channels": channels,
            "shape": [height, width], "input_shape": [in_h, in_w], "values": values.tolist(),
            "stats": {"min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
                      "std": float(values.std())},
            "argmax": {"x": flat % width, "y": flat // width, "value": float(values.flat[flat])},
            "scale": scale, "heat": "heat colormap over min..max, upsampled (nearest) to the input size",
            "rf_support": _rf_support(cap, call),
        }
        if probe is not None:  # the seed specification's optional probe fields of inspect.json
            px, py = probe
            record.update(xy={"x": px, "y": py, "value": float(values[py, px])}, rf=receptive_field(cap, call, px, py))
        _json(tmp, "inspect.json", record)

        return read_json(tmp / "inspect.json")

    # --- 3. single conv step ------------------------------------------------------------------

    def conv_step(self, epoch: int | str | None, index: int, lid: str, out: int, x_pos: int, y_pos: int) -> dict[str, Any]:
        loaded = self.load(epoch)
        x, label = self.example(loaded, index)
        cap = capture(loaded.model, x, inputs={lid})
        call = self._layer(cap, lid, "spatial")
        rows = {row["id"]: row for row in layer_rows(cap)}
        if not rows[lid]["conv1_like"]:
            valid = [r for r, row in rows.items() if row["conv1_like"]]
            raise OnDemandError(
                f"layer {lid!r} ({rows[lid]['type']}) is not conv1-like: the single conv step needs a Conv2d that "
                f"reads the image, with 1 input channel and a 3x3 kernel; conv1-like layers here: "
                f"{', '.join(valid) or 'none'}", 422)
        channels, height, width = call.shape
        _check_range(f"output channel of {lid} ({channels} channels):", out, channels)
        _check_range(f"x of {lid} (width {width}):", x_pos, width)
        _check_range(f"y of {lid} (height {height}):", y_pos, height)

        tmp = self._out()
        step = compute.conv_step(cap, call, out, x_pos, y_pos)
        _json(tmp, "conv_step.json", {"epoch": loaded.epoch, "index": index, "label": label, **step})

        return read_json(tmp / "conv_step.json")


def _rf_support(cap: Capture, call: Call) -> dict[str, Any]:
    """Whether probes of this layer get a receptive field (checked at the centre)."""
    rf = receptive_field(cap, call, call.shape[2] // 2, call.shape[1] // 2)
    return {"status": rf["status"], **({"reason": rf["reason"]} if rf["status"] != "ok" else {"size": rf["size"]})}


def _layer_summary(call: Call, row: dict[str, Any]) -> tuple[dict[str, Any], str, np.ndarray]:
    """``summary.json`` of one layer, the name of its image and the image's pixels."""
    values = call.output[0].double().numpy()
    scale = render.scale_for(values)
    summary = {**row, "stats": {"min": float(values.min()), "max": float(values.max()),
                                "mean": float(values.mean()), "std": float(values.std())}, "scale": scale}
    if call.kind == "spatial":
        layout = render.grid_layout(*values.shape)
        per_channel = values.reshape(values.shape[0], -1)
        summary.update(image="grid.png", layout=layout, channel_max=per_channel.max(1).tolist(),
                       channel_mean=per_channel.mean(1).tolist())
        return summary, "grid.png", render.channel_grid(values, scale, layout)
    layout = render.vector_layout(len(values))
    # long vectors (a flattened feature map) are drawn, not listed: their JSON would dominate the capture
    summary.update(image="vector.png", layout=layout,
                   values=values.tolist() if len(values) <= MAX_LISTED_VALUES else None)
    return summary, "vector.png", render.vector_strip(values, scale, layout)

