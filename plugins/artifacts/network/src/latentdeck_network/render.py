"""PNG rendering of activations, kernels and heatmaps (numpy + Pillow), at native resolution.

Images stay small (one pixel per value); the web UI scales them up with ``image-rendering: pixelated``.
Colormaps: ``sequential`` (dark blue -> teal -> yellow, for values of one sign), ``diverging``
(blue -> white -> red around 0, symmetric at ±max|v|) and ``heat`` (transparent -> orange -> yellow,
with alpha rising with the value, for overlays).
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

_SEQUENTIAL = np.array([[13, 8, 135], [84, 2, 163], [139, 10, 165], [185, 50, 137], [219, 92, 104],
                        [244, 136, 73], [254, 188, 43], [240, 249, 33]], dtype=np.float64)  # plasma-like
_DIVERGING = np.array([[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]],
                      dtype=np.float64)
_HEAT = np.array([[120, 20, 10], [230, 80, 20], [255, 170, 30], [255, 240, 120]], dtype=np.float64)


def _lut(anchors: np.ndarray, t: np.ndarray) -> np.ndarray:
    t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0) * (len(anchors) - 1)
    low = np.minimum(np.floor(t).astype(int), len(anchors) - 2)
    frac = (t - low)[..., None]
    return anchors[low] * (1 - frac) + anchors[low + 1] * frac


def scale_for(values: np.ndarray) -> dict[str, Any]:
    """How to colour ``values``: diverging around 0 when they have both signs, else sequential."""
    lo, hi = float(np.min(values)) if values.size else 0.0, float(np.max(values)) if values.size else 0.0
    if lo < 0 < hi:
        bound = max(-lo, hi)
        return {"colormap": "diverging", "min": -bound, "max": bound}
    return {"colormap": "sequential", "min": lo, "max": hi}


def colorize(values: np.ndarray, scale: dict[str, Any]) -> np.ndarray:
    """uint8 RGB (..., 3) of ``values`` under ``scale`` (from :func:`scale_for`)."""
    lo, hi = scale["min"], scale["max"]
    t = (values - lo) / (hi - lo) if hi > lo else np.full(values.shape, 0.5 if scale["colormap"] == "diverging" else 0.0)
    anchors = _DIVERGING if scale["colormap"] == "diverging" else _SEQUENTIAL
    return np.round(_lut(anchors, t)).astype(np.uint8)


def heat_rgba(values: np.ndarray) -> np.ndarray:
    """uint8 RGBA (h, w, 4): the heat colormap over min..max of ``values``, alpha rising with the value."""
    lo, hi = float(values.min()), float(values.max())
    t = (values - lo) / (hi - lo) if hi > lo else np.zeros(values.shape)
    rgb = _lut(_HEAT, t)
    alpha = 230 * np.clip(t, 0, 1) ** 0.8
    return np.round(np.concatenate([rgb, alpha[..., None]], axis=-1)).astype(np.uint8)


def upsample(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize of a 2-D array to (height, width)."""
    rows = np.minimum((np.arange(height) * values.shape[0]) // height, values.shape[0] - 1)
    cols = np.minimum((np.arange(width) * values.shape[1]) // width, values.shape[1] - 1)
    return values[rows][:, cols]


def image_u8(image) -> np.ndarray:
    """A (c, h, w) float tensor in [0, 1] as uint8 (h, w) (grey) or (h, w, 3)."""
    array = np.asarray(image.detach().cpu().float().clamp(0, 1).numpy())
    pixels = np.round(array * 255).astype(np.uint8)
    return pixels[0] if pixels.shape[0] == 1 else np.moveaxis(pixels[:3], 0, -1)


def overlay(base_u8: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The input image (grey or RGB) under an RGBA heatmap of the same size, as uint8 RGB."""
    base = np.repeat(base_u8[..., None], 3, axis=-1) if base_u8.ndim == 2 else base_u8
    alpha = heat[..., 3:4].astype(np.float64) / 255
    mixed = base.astype(np.float64) * (1 - alpha) + heat[..., :3].astype(np.float64) * alpha
    return np.round(mixed).astype(np.uint8)


def grid_layout(channels: int, height: int, width: int, pad: int = 1) -> dict[str, Any]:
    """Tile geometry for ``channels`` maps: channel c sits at row c // cols, column c % cols."""
    cols = max(1, math.ceil(math.sqrt(channels)))
    rows = math.ceil(channels / cols)
    return {"cols": cols, "rows": rows, "tile": [height, width], "pad": pad,
            "size": [rows * (height + pad) + pad, cols * (width + pad) + pad],
            "origin": "tile of channel c: top = pad + (c // cols) * (tile_h + pad), left = pad + (c % cols) * (tile_w + pad)"}


def channel_grid(maps: np.ndarray, scale: dict[str, Any], layout: dict[str, Any]) -> np.ndarray:
    """uint8 RGB grid of (C, H, W) ``maps``, one shared colour scale, on a dark background."""
    c, h, w = maps.shape
    pad, cols = layout["pad"], layout["cols"]
    canvas = np.full((*layout["size"], 3), 40, dtype=np.uint8)
    colored = colorize(maps, scale)
    for index in range(c):
        top, left = pad + (index // cols) * (h + pad), pad + (index % cols) * (w + pad)
        canvas[top:top + h, left:left + w] = colored[index]
    return canvas


def vector_layout(length: int, max_cols: int = 64) -> dict[str, Any]:
    cols = min(length, max_cols)
    return {"cols": cols, "rows": math.ceil(length / cols) if cols else 0,
            "origin": "value i at row i // cols, column i % cols; cells past the end are background"}


def vector_strip(values: np.ndarray, scale: dict[str, Any], layout: dict[str, Any]) -> np.ndarray:
    """uint8 RGB (rows, cols, 3): one pixel per value, row-major."""
    canvas = np.full((layout["rows"] * layout["cols"], 3), 40, dtype=np.uint8)
    canvas[:len(values)] = colorize(values, scale)
    return canvas.reshape(layout["rows"], layout["cols"], 3)


def png_bytes(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
