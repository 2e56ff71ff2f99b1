"""Rewrite a run written before array files in the current format, in place (``latentdeck migrate``).

- Every JSON artifact whose large per-point lists belong in an array file (projections, neighbours, atlas,
  density, distortion: :func:`convert`, with the array names and dtypes the writers use) becomes a small JSON
  header plus ``<stem>.safetensors`` beside it, exactly as :meth:`ArtifactWriter.write_with_arrays` writes
  them. kNN ``edge_lengths`` are dropped (readers compute them from the projection of the same method and
  epoch); ``extent`` keeps ``{dims, scale}`` per dims, the radii go to ``radius_<dims>d``.
- Every ``*_latest`` mirror (``checkpoints/latest.pt`` too) whose bytes equal an epoch's file becomes a hard
  link of that file (the newest such epoch), so the run stores each file once. A JSON mirror is matched
  before conversion and linked to its epoch's new header, whose ``arrays.file`` names the epoch's array file.
- Each file is replaced atomically: the array file is written (temp file, fsync, rename) before its JSON
  header replaces the old JSON, and a link is made under a temporary name, then renamed over the copy. A
  failure leaves the old file, which every reader still reads (:func:`latentdeck.kit.read_artifact`).
- Sizes are counted as ``du`` does: a file with several links once.

A run still training or being backfilled is refused (:func:`refusal`): its writers would race the rewrite.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..kit import safepath
from ..kit.arrays import encode, sibling, write_arrays
from ..kit.atomic import dumps, read_bytes, read_json, write_json
from .projections import point_arrays
from .writer import array_pointer

EDGE_LENGTHS_TEXT = "computed by readers from the projection coordinates (same method and epoch)"
LATEST = re.compile(r"(?<![A-Za-z0-9])latest(?![A-Za-z0-9])")


def _f32(values: Any) -> Any:
    import numpy as np

    return np.array(values, dtype=np.float64).astype(np.float32)  # JSON null (an undefined cell) -> NaN


def _i32(values: Any) -> Any:
    import numpy as np

    return np.array(values, dtype=np.int64).reshape(-1).astype(np.int32)


def _small(values: Any) -> Any:
    from .projections import small_ints

    return small_ints(values)


def _take(doc: dict[str, Any], kinds: dict[str, Callable[[Any], Any]]) -> dict[str, Any]:
    """Move each field of ``kinds`` that ``doc`` holds as a list into an array of its kind."""
    return {name: to(doc.pop(name)) for name, to in kinds.items() if isinstance(doc.get(name), list)}


def _projection(doc: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    names = ("coords", "indices", "labels", "split", "trained", "predicted", "component")
    fields = {k: doc.pop(k, None) for k in names}
    arrays = point_arrays(**fields)
    arrays["coords"] = np.asarray(arrays["coords"], dtype=np.float32).reshape(len(fields["coords"]), int(doc["dims"]))
    doc["split_values"] = arrays.pop("split_values", doc.get("split_values"))
    if doc["split_values"] is None:
        doc.pop("split_values")
    return arrays


def _knn(doc: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    n = len(doc["neighbors"])
    k = int(doc.get("k") or 0)
    neighbors = np.array(doc.pop("neighbors"), dtype=np.int64).reshape(n, -1 if n else k)
    arrays = {"neighbors": neighbors.astype(np.uint16 if n <= 65536 else np.int32),
              **_take(doc, {"distances": _f32, "d_k": _f32, "indices": _i32, "labels": _small})}
    if "distances" in arrays:
        arrays["distances"] = arrays["distances"].reshape(neighbors.shape)
    extent = doc.get("extent")
    if isinstance(extent, dict):
        for key, entry in extent.items():
            if isinstance(entry, dict):
                if isinstance(entry.get("radius"), list):
                    arrays[f"radius_{entry.get('dims', key.rstrip('d'))}d"] = _f32(entry["radius"])
                extent[key] = {k: v for k, v in entry.items() if k not in ("radius", "edge_lengths")}
        doc["edge_lengths"] = EDGE_LENGTHS_TEXT
    return arrays


def convert(folder: str, doc: Any, name: str = "") -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(header fields, arrays)`` of the old inline artifact ``name`` of ``folder``; None when it has nothing to
    move (already a header, or not one of the files with per-point lists)."""
    if not isinstance(doc, dict) or isinstance(doc.get("arrays"), dict):
        return None
    doc = dict(doc)
    if folder == "projections" and isinstance(doc.get("coords"), list):
        arrays = _projection(doc)
    elif folder == "neighbors" and name.startswith("knn_") and isinstance(doc.get("neighbors"), list):
        arrays = _knn(doc)
    elif folder == "atlas" and name.startswith("atlas_"):
        arrays = _take(doc, {"mse": _f32, "qc": _f32, "qc_max": _f32, "softmax": _f32, "softmax_max": _f32,
                             "indices": _i32, "labels": _small})
    elif folder == "density":
        arrays = _take(doc, {"values": _f32})
    elif folder == "distortion":
        arrays = _take(doc, {"values": _f32, "point_ratio": _f32})
    else:
        return None
    return (doc, arrays) if arrays else None


CONVERTED = ("projections", "neighbors", "atlas", "density", "distortion")


@dataclass
class Report:
    """What :func:`migrate_run` did (or, with ``dry_run``, would do) to one run."""

    run_id: str
    bytes_before: int
    bytes_after: int = 0
    converted: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dry_run: bool = False

    def line(self) -> str:
        verb = "would become" if self.dry_run else "->"
        return (f"{self.run_id}: {self.bytes_before:,} bytes {verb} {self.bytes_after:,} bytes "
                f"({len(self.converted)} files converted to header + array file, {len(self.linked)} mirrors "
                f"linked{f', {len(self.failed)} failed' if self.failed else ''})")


def disk_bytes(run_dir: Path | str) -> int:
    """The bytes of the run's regular files, a file with several hard links counted once (as ``du``)."""
    seen, total = set(), 0
    for root, dirs, files in os.walk(run_dir):  # never follows links
        for name in files:
            info = os.lstat(os.path.join(root, name))
            if stat.S_ISREG(info.st_mode) and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                total += info.st_size
    return total


def _files(run_dir: Path) -> list[str]:
    names: list[str] = []
    for entry in sorted(os.scandir(run_dir), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
            names += safepath.list_tree(run_dir, entry.name)
    return names


def _twin(run_dir: Path, rel: str, names: set[str]) -> tuple[str, bool] | None:
    """The newest epoch file of which the mirror ``rel`` is a byte-for-byte copy or a hard link, and whether it
    is a link already (None: no epoch file has its bytes)."""
    pattern = re.compile("^" + LATEST.sub(r"epoch_(\\d+)", re.escape(rel)) + "$")
    candidates = sorted(((int(m.group(1)), n) for n in names if (m := pattern.match(n))), reverse=True)
    mine = os.lstat(run_dir / rel)
    data = None
    for _, name in candidates:
        other = os.lstat(run_dir / name)
        if other.st_size != mine.st_size:
            continue
        if (other.st_dev, other.st_ino) == (mine.st_dev, mine.st_ino):
            return name, True
        data = read_bytes(run_dir / rel, run_dir) if data is None else data
        if read_bytes(run_dir / name, run_dir) == data:
            return name, False
    return None


def _link(run_dir: Path, source: str, mirror: str) -> None:
    target = run_dir / mirror
    tmp = target.with_name(f".{target.name}.migrate-{os.getpid()}")
    try:
        os.link(run_dir / source, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def migrate_run(run_dir: Path | str, dry_run: bool = False) -> Report:
    """Rewrite ``run_dir`` in the current format (see the module docstring); returns what changed."""
    run_dir = Path(run_dir)
    report = Report(run_dir.name, disk_bytes(run_dir), dry_run=dry_run)
    names = _files(run_dir)
    mirrors = {rel: twin for rel in names if LATEST.search(rel.rpartition("/")[2])
               and (twin := _twin(run_dir, rel, set(names))) is not None}
    saved, converted = 0, set()
    for rel in names:
        folder = rel.partition("/")[0]
        if rel in mirrors or folder not in CONVERTED or not rel.endswith(".json"):
            continue
        try:
            old = read_bytes(run_dir / rel, run_dir)
            found = convert(folder, read_json(run_dir / rel, run_dir), rel.rpartition("/")[2])
            if found is None:
                continue
            header, arrays = found
            packed = sibling(rel)
            document = {**header, "arrays": array_pointer(packed.rpartition("/")[2], arrays)}
            if dry_run:
                saved += len(old) - len(encode(arrays, header)) - len(dumps(document, indent=2)) - 1
            else:
                write_arrays(run_dir / packed, arrays, header, root=run_dir)
                write_json(run_dir / rel, document, root=run_dir)
            report.converted.append(rel)
            converted.add(rel)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            report.failed.append(f"{rel}: {type(exc).__name__}: {exc}")
    for mirror, (twin, was_linked) in sorted(mirrors.items()):
        if was_linked and twin not in converted:
            continue  # a link of its epoch's file already, and that file is unchanged
        try:
            if not was_linked and dry_run:
                saved += os.lstat(run_dir / mirror).st_size
            elif not dry_run:
                _link(run_dir, twin, mirror)  # a rewritten epoch file is a new file: its mirror is linked again
            if not was_linked:
                report.linked.append(mirror)
        except OSError as exc:
            report.failed.append(f"{mirror}: {type(exc).__name__}: {exc}")
    report.bytes_after = report.bytes_before - saved if dry_run else disk_bytes(run_dir)
    return report


def refusal(run_dir: Path | str) -> str | None:
    """Why ``run_dir`` may not be migrated now (409-like), or None: a run training or being backfilled."""
    from ..store.lifecycle import ACTIVE
    from ..store.runs import backfill_active, read_summary

    name = Path(run_dir).name
    try:
        status = read_summary(Path(run_dir)).get("status")
    except (OSError, ValueError, AttributeError) as exc:
        return f"409 Conflict: run {name!r} has no readable summary.json ({type(exc).__name__}: {exc})"
    if status in ACTIVE:
        return (f"409 Conflict: run {name!r} is {status}; migrate rewrites its files in place, so migrate it once "
                "it has finished (or cancel it first)")
    if backfill_active(Path(run_dir)):
        return f"409 Conflict: run {name!r} has a backfill running; migrate it once the backfill has ended"
    return None
