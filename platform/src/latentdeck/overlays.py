"""Which model-based overlays a run has, per epoch: density grids, distortion maps and decoded samples.

Parsed from the file names alone (the specification's names), so the listing is cheap and knows
nothing of the generators that wrote the files:

- ``density/<family>_2d_<tag>_<method>.json`` with family ``posterior``, ``prior`` or ``prior_empirical``;
- ``distortion/metric_ratio_2d_<tag>_<method>.json``;
- ``samples/<kind>_<tag>_(idx|c)_<key>_m_<M>[_seed_<s>].json`` (see :mod:`latentdeck.samples`); a grid is
  listed once its JSON exists (written after its PNG), with both names.

``<tag>`` is ``epoch_<N>`` or ``latest``. Used by ``GET /api/runs/{id}/overlays`` and ``latentdeck overlays``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .checkpoints import checkpoint_epochs
from .samples import parse_name

TAG = r"(?:epoch_(?P<epoch>\d+)|(?P<latest>latest))"
DENSITY = re.compile(rf"^(?P<family>posterior|prior_empirical|prior)_2d_{TAG}_(?P<method>[a-z0-9-]+)\.json$")
DISTORTION = re.compile(rf"^(?P<metric>metric_ratio)_2d_{TAG}_(?P<method>[a-z0-9-]+)\.json$")
KINDS = ("density", "distortion", "samples")


def _parse(kind: str, filename: str) -> tuple[int | None, dict[str, Any]] | None:
    """(epoch or None for a latest mirror, the row) of one file, or None when it is not an overlay file."""
    if kind == "samples":
        parsed = parse_name(filename)
        if not parsed or parsed["ext"] != "json":
            return None
        row = {k: v for k, v in parsed.items() if k not in ("ext", "epoch", "latest")}
        return parsed["epoch"], {"name": f"samples/{filename}", "png": f"samples/{filename[:-5]}.png", **row}
    match = (DENSITY if kind == "density" else DISTORTION).match(filename)
    if not match:
        return None
    row = {"name": f"{kind}/{filename}", "method": match["method"]}
    if kind == "density":
        row["family"] = match["family"]
    else:
        row["metric"] = match["metric"]
    return (int(match["epoch"]) if match["epoch"] else None), row


def list_overlays(run_dir: Path | str, epoch: int | None = None) -> dict[str, Any]:
    """``{"epochs": [{epoch, checkpoint, density, distortion, samples}], "latest": {kind: [rows]}}``,
    epochs ascending (every epoch with a checkpoint or an overlay file; only ``epoch`` when given)."""
    run_dir = Path(run_dir)
    checkpoints = set(checkpoint_epochs(run_dir))
    per_epoch: dict[int, dict[str, list]] = {}
    latest: dict[str, list] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        folder = run_dir / kind
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            parsed = _parse(kind, path.name)
            if parsed is None or not path.is_file():
                continue
            number, row = parsed
            if kind == "samples" and not (run_dir / row["png"]).is_file():
                continue
            if number is None:
                latest[kind].append(row)
            else:
                per_epoch.setdefault(number, {k: [] for k in KINDS})[kind].append(row)
    numbers = sorted(set(per_epoch) | checkpoints) if epoch is None else [epoch]
    return {"epochs": [{"epoch": n, "checkpoint": n in checkpoints,
                        **per_epoch.get(n, {k: [] for k in KINDS})} for n in numbers],
            "latest": latest}
