"""Atomic file writes: temp file in the same folder, flush, fsync, ``os.replace``, fsync the folder.

A reader never sees a half-written file, and a crash leaves either the old or the new version.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_stream(path: Path | str, source: BinaryIO) -> None:
    """Copy the file object ``source`` to ``path`` atomically (large files stream in 1 MiB chunks)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            shutil.copyfileobj(source, handle, length=1 << 20)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def write_bytes(path: Path | str, data: bytes) -> None:
    write_stream(path, io.BytesIO(data))


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


def write_json(path: Path | str, value: Any, indent: int | None = 2) -> None:
    write_bytes(path, (dumps(value, indent=indent) + "\n").encode())


def copy_atomic(src: Path | str, dst: Path | str) -> None:
    """Mirror ``src`` to ``dst`` by replace (used for ``*_latest`` mirrors)."""
    write_bytes(dst, Path(src).read_bytes())


def read_json(path: Path | str) -> Any:
    with open(path, "rb") as handle:
        return json.loads(handle.read())
