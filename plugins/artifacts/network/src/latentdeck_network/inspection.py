"""Network inspection on demand: each request computes one folder of files under ``network/``.

:class:`Inspector` serves one run. Every method validates its arguments (a 4xx
``OnDemandError`` naming the valid range), writes its folder once through the context's ``persist`` (synced;
nothing half-written after an error; a repeat is read from disk; each new file announced once), and returns a :class:`Result`
whose payload is read back from the persisted JSON, so a first and a repeated answer are identical.

Folders (``<N>`` epoch, ``<i>`` held-out index, ``<L>`` layer id):

    network/forward/epoch_<N>/idx_<i>/
    network/inspect/epoch_<N>/idx_<i>/layer_<L>/ch_<c>/        (+ probe_x_<x>_y_<y>.json per probe)
    network/conv_step/epoch_<N>/idx_<i>/layer_<L>/out_<c>/x_<x>_y_<y>/
    network/kernels/epoch_<N>/layer_<L>/out_<c>/
    network/perturb/epoch_<N>/idx_<i>/vector_<key>/dim_<d>/delta_<tag>/
    network/topk/epoch_<N>/layer_<L>/ch_<c>/metric_<m>/subset_<n>/k_<k>/
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from latentdeck.kit import read_json
from latentdeck.kit import OnDemandError, list_tree

from . import compute, render
from .folders import Result, _check_range, _json, _write
from .probes import MAX_TOPK_K, MAX_TOPK_SUBSET, ModelProbes
from .layers import Call, Capture, capture, layer_rows, receptive_field

SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PROBE_LOCK = threading.Lock()  # a probe file is written once even when two requests race
MAX_LISTED_VALUES = 512  # vector layers longer than this keep their values in vector.png only


class Inspector(ModelProbes):
    """Network artifacts of the run of ``ctx`` (a run context: models through ``ctx.load``, each folder
    published through ``ctx.persist``: produced in a temporary folder, renamed into place, announced once)."""

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

    def _publish(self, folder: Path, produce: Callable[[Path], None], epoch: int) -> tuple[list[str], bool]:
        return self.ctx.persist(folder.relative_to(self.run_dir / "network").as_posix(), produce, epoch)

    def _rel(self, folder: Path) -> str:
        return folder.relative_to(self.run_dir).as_posix()

    def _folder(self, kind: str, epoch: int, *parts: str) -> Path:
        return self.run_dir.joinpath("network", kind, f"epoch_{epoch}", *parts)

    def _on_disk(self, folder: Path, read: Callable[[Path], dict[str, Any]], extra: str | None = None) -> Result | None:
        """The persisted answer, without loading the model, when ``folder`` (and file ``extra``) exist.

        Only for folders named by safe parts: anything else is validated by the full path first
        (nothing is ever created for an invalid request, so an existing folder proves the arguments)."""
        parts = folder.relative_to(self.run_dir).parts
        if not all(SAFE_PART.match(part) for part in parts):
            return None
        try:  # entered without following links: a linked folder or file in it is a 409 naming it
            found = list_tree(self.run_dir, self._rel(folder))
        except FileNotFoundError:
            return None
        if extra is not None and f"{self._rel(folder)}/{extra}" not in found:
            return None
        files = [name for name in found if not name.rsplit("/", 1)[-1].startswith("probe_") or name.endswith(f"/{extra}")]
        return Result(self._rel(folder), files, False, read(folder))

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

    def forward(self, epoch: int | str | None, index: int) -> Result:
        folder = self._folder("forward", self.resolve_epoch(epoch), f"idx_{index}")
        if (hit := self._on_disk(folder, self._forward_payload)) is not None:
            return hit
        loaded = self.load(epoch)
        x, label = self.example(loaded, index)

        def produce(tmp: Path) -> None:
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

        files, created = self._publish(folder, produce, loaded.epoch)
        return Result(self._rel(folder), files, created, self._forward_payload(folder))

    def _forward_payload(self, folder: Path) -> dict[str, Any]:
        layers = read_json(folder / "layers.json")
        for row in layers["layers"]:
            row["summary"] = read_json(folder / f"layer_{row['id']}" / "summary.json")
        return {"meta": read_json(folder / "forward_meta.json"), "latent": read_json(folder / "latent.json"),
                "layers": layers["layers"], "input_shape": layers["input_shape"],
                "input": "input.png", "recon": "recon.png" if (folder / "recon.png").exists() else None}

    # --- 2. channel inspect -------------------------------------------------------------------

    def inspect(self, epoch: int | str | None, index: int, lid: str, channel: int,
                probe: tuple[int, int] | None = None) -> Result:
        folder = self._folder("inspect", self.resolve_epoch(epoch), f"idx_{index}", f"layer_{lid}", f"ch_{channel}")
        probe_name = f"probe_x_{probe[0]}_y_{probe[1]}.json" if probe is not None else None
        hit = self._on_disk(folder, lambda f: read_json(f / (probe_name or "inspect.json")), probe_name)
        if hit is not None:
            return hit
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

        def produce(tmp: Path) -> None:
            in_h, in_w = x.shape[-2:]
            scale = {"colormap": "sequential", "min": float(values.min()), "max": float(values.max())}
            heat = render.heat_rgba(render.upsample(values, in_h, in_w))
            _write(tmp, "channel.png", render.png_bytes(render.colorize(values, scale)))
            _write(tmp, "heat_rgba.png", render.png_bytes(heat))
            _write(tmp, "overlay.png", render.png_bytes(render.overlay(render.image_u8(x[0]), heat)))
            flat = int(np.argmax(values))
            _json(tmp, "inspect.json", {
                "epoch": loaded.epoch, "index": index, "label": label, "layer_id": lid,
                "type": type(call.module).__name__, "channel": channel, "channels": channels,
                "shape": [height, width], "input_shape": [in_h, in_w], "values": values.tolist(),
                "stats": {"min": float(values.min()), "max": float(values.max()), "mean": float(values.mean()),
                          "std": float(values.std())},
                "argmax": {"x": flat % width, "y": flat // width, "value": float(values.flat[flat])},
                "scale": scale, "heat": "heat colormap over min..max, upsampled (nearest) to the input size",
                "rf_support": _rf_support(cap, call),
            })

        files, created = self._publish(folder, produce, loaded.epoch)
        payload = read_json(folder / "inspect.json")
        if probe is not None and probe_name is not None:
            px, py = probe
            probe_payload = {"xy": {"x": px, "y": py, "value": float(values[py, px])},
                             "rf": receptive_field(cap, call, px, py)}
            with _PROBE_LOCK:
                inside = folder.relative_to(self.run_dir / "network").as_posix()
                if loaded.save_run_file("network", f"{inside}/{probe_name}", {**payload, **probe_payload}):
                    created = True  # written and announced once
            payload = read_json(folder / probe_name)
            files = sorted({*files, f"{self._rel(folder)}/{probe_name}"})
        files = [f for f in files if "/probe_" not in f or f.endswith(f"/{probe_name}")]  # this probe's file only
        return Result(self._rel(folder), files, created, payload)

    # --- 3. single conv step ------------------------------------------------------------------

    def conv_step(self, epoch: int | str | None, index: int, lid: str, out: int, x_pos: int, y_pos: int) -> Result:
        folder = self._folder("conv_step", self.resolve_epoch(epoch), f"idx_{index}", f"layer_{lid}",
                              f"out_{out}", f"x_{x_pos}_y_{y_pos}")
        if (hit := self._on_disk(folder, lambda f: read_json(f / "conv_step.json"))) is not None:
            return hit
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

        def produce(tmp: Path) -> None:
            step = compute.conv_step(cap, call, out, x_pos, y_pos)
            _json(tmp, "conv_step.json", {"epoch": loaded.epoch, "index": index, "label": label, **step})

        files, created = self._publish(folder, produce, loaded.epoch)
        return Result(self._rel(folder), files, created, read_json(folder / "conv_step.json"))

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

