"""A latent dimension on its own scale: how far the model's codes spread along it, and whether the decoder
uses it at all (for the perturbation panel; the walk plugin states the same for a walk along a dimension).

- :func:`latent_spread`: the standard deviation of every latent dimension over the run's visualization
  subset at an epoch (``model.encode``: the AE's z, the GM-VAE's mu), computed once per checkpoint;
- :func:`direction_report`: decode the vector with the dimension moved by ``±SWEEP_SD`` standard deviations
  and compare with the unmoved decode. The change is the largest |pixel difference| as a fraction of the
  unmoved decode's value range; under :data:`IGNORED_BELOW` (1 %) the decoder is said to ignore the
  direction, in words a learner can read.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import torch

from latentdeck.kit import single_threaded

SWEEP_SD = 3.0
IGNORED_BELOW = 0.01
_lock = threading.Lock()
_cache: dict[tuple[str, int, float], tuple[list[float], int]] = {}


def latent_spread(run_dir: Path, loaded: Any) -> tuple[list[float], int]:
    """Per-dimension standard deviation (n - 1) of ``encode(x)`` over the visualization subset at this epoch,
    and the subset's size n."""
    checkpoint = Path(run_dir) / "checkpoints" / f"epoch_{loaded.epoch}.pt"
    key = (str(Path(run_dir).resolve()), int(loaded.epoch), checkpoint.stat().st_mtime if checkpoint.exists() else 0.0)
    with _lock:
        if key not in _cache:
            viz = loaded.viz_subset()
            with torch.no_grad(), single_threaded():
                codes = loaded.encode(viz.x).double()
            sd = codes.std(0, unbiased=True) if len(codes) > 1 else torch.zeros(codes.shape[1], dtype=torch.float64)
            if len(_cache) >= 8:
                _cache.clear()
            _cache[key] = ([float(v) for v in sd], len(codes))
        return _cache[key]


def image_change(moved: torch.Tensor, base: torch.Tensor) -> tuple[float, float]:
    """(largest |pixel difference|, that as a fraction of the base image's value range)."""
    largest = float((moved.double() - base.double()).abs().max())
    span = float(base.max() - base.min())
    return largest, largest / max(span, 1e-6)


def direction_report(model: Any, vector: torch.Tensor, key: str, dim: int, sd: float, n: int) -> dict[str, Any]:
    """Does the decoder use dimension ``dim`` of ``vector`` here? Decodes ``vector`` with ``vector[dim]``
    moved by ``-SWEEP_SD`` and ``+SWEEP_SD`` standard deviations (1 latent unit when the spread is 0) and
    reports the larger change."""
    step = SWEEP_SD * sd if sd > 0 else 1.0
    with torch.no_grad():
        base = model.decode(vector[None])[0]
        changes = []
        for sign in (-1.0, 1.0):
            moved = vector.clone()
            moved[dim] += sign * step
            changes.append(image_change(model.decode(moved[None])[0], base))
    largest, relative = max(changes, key=lambda c: c[1])
    ignored = relative < IGNORED_BELOW
    sweep = f"±{SWEEP_SD:g} sd (±{step:.3g})" if sd > 0 else "±1 latent unit (the dimension does not vary over the subset)"
    text = (f"{key}[{dim}] changes the decoded image by less than {IGNORED_BELOW:.0%} of its range over {sweep}: "
            "the decoder ignores this direction here" if ignored else
            f"moving {key}[{dim}] by {sweep} changes the decoded image by up to {relative:.0%} of its range")
    return {"sd": sd, "sd_over": f"the model's latents (encode) of the {n} visualization-subset digits at this epoch",
            "sweep": step, "sweep_sd": SWEEP_SD, "largest_change": round(largest, 6), "relative_change": round(relative, 6),
            "ignored": ignored, "ignored_below": IGNORED_BELOW, "text": text}
