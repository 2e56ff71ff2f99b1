"""Which model-based overlays a run has, per epoch, derived from what the plugins declare.

A per-epoch computation that sets ``ComputationSpec.overlay`` (the built-ins: density grids, distortion maps,
decoded samples) has its files listed here, parsed with its own declared ``files`` patterns: each JSON
file that matches gives a row with its ``name`` and the pattern's fields (``family``, ``method``,
``kind``, ``idx`` ...; absent ones are null). When the spec also declares the same pattern as ``.png``,
the row carries ``png`` and is listed only once that PNG exists. Files in sub-folders count (a keyed
answer's folder; its ``result.json`` is the host's, not an overlay). The listing is keyed by each spec's
folder, so it knows no generator by name.

``<tag>`` is ``epoch_<N>`` or ``latest``. Used by ``latentdeck overlays`` (the HTTP API lists every file with its keys:
:mod:`latentdeck.engine.run_files`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..kit import safepath
from .checkpoints import checkpoint_epochs
from .keyed import RESULT
from ..registry.namespace import match_file, placeholders
from ..registry import per_epoch


def overlay_specs(pm) -> list[Any]:
    """The installed generators whose files are overlays, by folder."""
    return sorted((spec for spec in per_epoch(pm).values() if spec.overlay), key=lambda s: s.folder)


def _row(spec, relname: str) -> tuple[int | None, dict[str, Any]] | None:
    if not relname.endswith(".json"):
        return None
    found = match_file(spec.files, relname)
    if found is None:
        return None
    pattern, fields = found
    row: dict[str, Any] = {"name": f"{spec.folder}/{relname}"}
    for pat in spec.files:
        for field in placeholders(pat):
            row.setdefault(field, None)
    row.update({k: v for k, v in fields.items() if k != "epoch"})
    if pattern[:-len(".json")] + ".png" in spec.files:
        row["png"] = f"{spec.folder}/{relname[:-len('.json')]}.png"
    return fields.get("epoch"), row  # type: ignore[return-value]


def list_overlays(run_dir: Path | str, specs: list[Any], epoch: int | None = None) -> dict[str, Any]:
    """``{"kinds": [folder], "epochs": [{epoch, checkpoint, <folder>: [rows]}], "latest": {folder: [rows]}}``,
    epochs ascending (every epoch with a checkpoint or an overlay file; only ``epoch`` when given)."""
    run_dir = Path(run_dir)
    kinds = [spec.folder for spec in specs]
    checkpoints = set(checkpoint_epochs(run_dir))
    per_epoch: dict[int, dict[str, list]] = {}
    latest: dict[str, list] = {kind: [] for kind in kinds}
    for spec in specs:
        try:  # sub-folders too (a keyed answer's folder); no link followed, a linked folder lists nothing
            names = safepath.list_tree(run_dir, spec.folder)
        except OSError:
            continue
        for name in names:
            relname = name.split("/", 1)[1]
            parsed = None if relname.rsplit("/", 1)[-1] == RESULT else _row(spec, relname)
            if parsed is None:
                continue
            number, row = parsed
            if "png" in row and not (run_dir / row["png"]).is_file():
                continue  # the PNG is written first: without it the entry is not complete
            if number is None:
                latest[spec.folder].append(row)
            else:
                per_epoch.setdefault(number, {k: [] for k in kinds})[spec.folder].append(row)
    numbers = sorted(set(per_epoch) | checkpoints) if epoch is None else [epoch]
    return {"kinds": kinds,
            "epochs": [{"epoch": n, "checkpoint": n in checkpoints, **per_epoch.get(n, {k: [] for k in kinds})}
                       for n in numbers],
            "latest": latest}
