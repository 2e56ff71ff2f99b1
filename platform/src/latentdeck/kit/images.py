"""Image helpers: dataset tensors to float images, arrays to PNG bytes, a strip of images as one PNG.

Heavy libraries (torch, numpy, PIL) are imported inside the functions on purpose: importing the kit stays cheap.
"""

from __future__ import annotations

import io
from typing import Any


def to_float_images(images, image_shape: tuple[int, int, int]):
    """uint8 (n, h, w) or (n, c, h, w) -> float32 (n, c, h, w) in [0, 1]."""
    import torch

    x = images if images.dtype == torch.float32 else images.float().div_(255.0)
    return x.reshape(len(x), *image_shape).contiguous()


def png_bytes(image: Any) -> bytes:
    """PNG bytes of a uint8 array (h, w) or (h, w, 3|4), or of a PIL image (no optimisation: fast, stable)."""
    from PIL import Image

    if not isinstance(image, Image.Image):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def image_strip(images: Any, pad: int = 2, order: str = "left to right") -> tuple[bytes, dict[str, Any]]:
    """Images (n, c, h, w) in [0, 1] side by side, ``pad`` px apart on a dark grey (32) ground, as a grayscale
    PNG (the mean over channels), with its layout ``{tiles, tile: [h, w], pad, order}``: tile i is at
    ``x = pad + i * (w + pad)``, ``y = pad``."""
    import numpy as np

    n, _, h, w = images.shape
    canvas = np.full((h + 2 * pad, n * (w + pad) + pad), 32, dtype=np.uint8)
    pixels = (images.float().mean(1).clamp(0, 1) * 255).round().byte().numpy()
    for i in range(n):
        canvas[pad:pad + h, pad + i * (w + pad):pad + i * (w + pad) + w] = pixels[i]
    return png_bytes(canvas), {"tiles": int(n), "tile": [int(h), int(w)], "pad": pad, "order": order}
