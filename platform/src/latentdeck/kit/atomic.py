"""Atomic file writes: temp file in the same folder, flush, fsync, ``os.replace``, fsync the folder.

A reader never sees a half-written file, and a crash leaves either the old or the new version. Reads
refuse FIFOs and devices without blocking. Given ``root`` (the run folder), reads and writes reach the
file without following any link below it (:mod:`latentdeck.kit.safepath`).
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any, BinaryIO

from . import safepath


def write_stream(path: Path | str, source: BinaryIO, root: Path | str | None = None) -> None:
    """Copy the file object ``source`` to ``path`` atomically (large files stream in 1 MiB chunks). With
    ``root`` (the run folder above ``path``) no link is followed from ``root`` down, and a link or special
    file at ``path`` is refused (:mod:`latentdeck.kit.safepath`)."""
    safepath.write_stream(path, source, root)


def write_bytes(path: Path | str, data: bytes, root: Path | str | None = None) -> None:
    write_stream(path, io.BytesIO(data), root)


def json_safe(value: Any) -> Any:
    """Replace NaN and ±Inf by None (``JSON.parse`` rejects them) and numpy/torch scalars by floats."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return json_safe(value.item())
    if hasattr(value, "tolist") and callable(value.tolist):
        return json_safe(value.tolist())
    return value


def dumps(value: Any, indent: int | None = None) -> str:
    return json.dumps(json_safe(value), indent=indent, allow_nan=False)


def write_json(path: Path | str, value: Any, indent: int | None = 2, root: Path | str | None = None) -> None:
    write_bytes(path, (dumps(value, indent=indent) + "\n").encode(), root)


def copy_atomic(src: Path | str, dst: Path | str, root: Path | str | None = None) -> None:
    """Mirror ``src`` to ``dst`` by replace (used for ``*_latest`` mirrors); ``root`` as for :func:`write_stream`.
    With ``root`` the mirror is a hard link (no second copy) where the file system has them, else a copy."""
    from .mirrors import link_mirror

    if root is not None and link_mirror(root, safepath.relative(root, src), safepath.relative(root, dst)):
        return
    write_bytes(dst, read_bytes(src, root), root)


def read_bytes(path: Path | str, root: Path | str | None = None) -> bytes:
    """The bytes of the regular file ``path`` (itself never a link); a FIFO, socket or device is refused
    without blocking (:class:`latentdeck.kit.safepath.UnsafePath`). With ``root`` (the run folder above ``path``)
    no link is followed from ``root`` down either."""
    if root is not None:
        return safepath.read_bytes(root, safepath.relative(root, path))
    path = Path(path)
    return safepath.read_bytes(path.parent, path.name, root_links=True)


def read_json(path: Path | str, root: Path | str | None = None) -> Any:
    """The JSON in ``path``; ``root`` as for :func:`read_bytes`."""
    return json.loads(read_bytes(path, root))
