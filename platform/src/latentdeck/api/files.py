"""Serving a run's files as consistent snapshots.

Run files change while they are read: ``*_latest`` mirrors and ``summary.json`` are replaced
atomically every epoch, ``events.jsonl`` grows. A response that declares a path's size and then
streams whatever the path holds by the time it reads can send more or less than it declared (the
battery saw h11 "Too much data for declared Content-Length" hundreds of times a minute, and 6.5% of
requests failing under load). :class:`FileSnapshot` opens the file once, when the request is
answered, and sends exactly the bytes of that open file up to its size then: a replaced file keeps
its old content behind the open handle, and a growing log is cut at its last complete line. The open
follows no link below the run folder and refuses a FIFO or device without blocking (:func:`open_snapshot`).
"""

from __future__ import annotations

import os
from email.utils import formatdate
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..kit import safepath

MEDIA_TYPES = {".json": "application/json", ".png": "image/png", ".jsonl": "application/x-ndjson"}
CHUNK = 1 << 16
SMALL = 1 << 20  # files up to this size are read at once


def _complete_lines_end(handle: BinaryIO, size: int) -> int:
    """Offset just past the last newline before ``size`` (0 when there is none)."""
    step = CHUNK
    while True:
        start = max(0, size - step)
        handle.seek(start)
        cut = handle.read(size - start).rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        if start == 0:
            return 0
        step *= 4


def open_snapshot(path: Path, root: Path | None = None) -> int:
    """A descriptor of the regular file ``path``, never through a link and never blocking on a FIFO: with
    ``root`` (the run folder) every part below it is entered without following links; without it, the last
    part is opened with ``O_NOFOLLOW``. Refusals are :class:`latentdeck.kit.safepath.UnsafePath` (409)."""
    if root is not None:
        return safepath.open_file(root, safepath.relative(root, path))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    mode = os.fstat(fd).st_mode
    if not S_ISREG(mode):
        os.close(fd)
        raise safepath.refusal(safepath.shown(Path(path).parent, [Path(path).name]), mode, "file")
    os.set_blocking(fd, True)
    return fd


class FileSnapshot(Response):
    """The file at ``path`` as it is when the response is made; ``lines`` cuts it after its last newline."""

    def __init__(self, path: Path, headers: dict[str, str] | None = None, media_type: str | None = None,
                 lines: bool = False, status_code: int = 200, root: Path | None = None):
        fd = open_snapshot(path, root)
        self.handle = os.fdopen(fd, "rb")
        try:
            stat = os.fstat(fd)
            size = stat.st_size
            if lines:
                size = _complete_lines_end(self.handle, size)
            self.handle.seek(0)
            self.size = size
            self.body_bytes = self.handle.read(size) if size <= SMALL else None
        except BaseException:
            self.handle.close()
            raise
        if self.body_bytes is not None:
            self.handle.close()
        media_type = media_type or MEDIA_TYPES.get(Path(path).suffix, "application/octet-stream")
        super().__init__(content=None, status_code=status_code, headers=headers, media_type=media_type)
        self.headers["content-length"] = str(size)
        self.headers.setdefault("last-modified", formatdate(stat.st_mtime, usegmt=True))
        self.headers.setdefault("etag", f'"{stat.st_mtime_ns:x}-{size:x}"')

    def _close(self) -> None:
        if not self.handle.closed:
            self.handle.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if scope.get("method") == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            if self.body_bytes is not None:
                await send({"type": "http.response.body", "body": self.body_bytes, "more_body": False})
                return
            left = self.size
            while left > 0:
                chunk = await anyio.to_thread.run_sync(self.handle.read, min(CHUNK, left))
                if not chunk:  # truncated in place (no latentdeck writer does that): stop short, loudly
                    raise OSError(f"{self.handle.name} shrank while it was being sent")
                left -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
        finally:
            self._close()
