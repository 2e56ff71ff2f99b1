"""The append-only event log ``events.jsonl``: one JSON object a line with a per-run ``seq``.

The worker is the main writer while it lives; the server also appends (``run.created`` before a
worker starts, ``run.failed`` for a vanished worker, ``artifact.created`` for artifacts computed on
demand while a worker may still be running). Every append holds an exclusive ``flock`` on the file
and, when the file grew since this writer's last append, re-reads the last ``seq`` first, so
concurrent writers in different processes never interleave lines or reuse a ``seq``.

A line cut short (its writer killed, or a full disk accepting all but its end, even all but its
newline) is removed, never completed: the failing writer truncates it at once, and otherwise the next
writer does, under the lock, before it appends. Its append was reported as failed and readers consume
only up to the last newline, so nobody saw it; keeping it would reuse its ``seq`` or turn a failed
append into an event. Readers skip, with a logged warning, any line that is not an event (a fragment
an older version closed, or a ``seq`` that is not a non-negative integer), and read on.

A line is at most :data:`MAX_EVENT_BYTES` (1 MiB): :meth:`EventLog.emit` refuses a longer event with
:class:`EventTooLarge`, and readers never hold a longer line whole (:mod:`latentdeck.store.event_lines`: it
stands as an ``event.too_large`` placeholder), so memory per reader is bounded by the limit, not the file.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ..kit.atomic import dumps
from .event_lines import (MAX_EVENT_BYTES, TOO_LARGE, complete_end_of, events_backward, is_closing, parse,
                          read_lines)
from ..registry.health import note_event

log = logging.getLogger(__name__)

TERMINAL_EVENTS = frozenset({"run.completed", "run.cancelled", "run.failed"})
# Events that close a stretch of the log: a run's end, or the end of a later backfill of it.
CLOSING_EVENTS = TERMINAL_EVENTS | {"backfill.completed", "backfill.failed"}
EVENT_TYPES = (
    "run.created", "run.started", "train.progress", "train.metrics", "artifact.created",
    "projection.progress", "checkpoint.saved", "artifact.failed", "run.completed", "run.cancelled", "run.failed",
    "backfill.started", "backfill.completed", "backfill.failed", TOO_LARGE,
)


FAILURE_EVENTS = frozenset({"artifact.failed", "backfill.failed", "projection.failed"})
LONG_TEXT = 16_384  # characters of one string kept in a shortened failure event (head and tail)


def shorten_strings(value: Any, limit: int = LONG_TEXT) -> Any:
    """``value`` with every string longer than ``limit`` cut to its head and tail around a note of how many
    characters were cut (failure events carry errors and tracebacks of any size)."""
    if isinstance(value, str) and len(value) > limit:
        half = limit // 2
        return f"{value[:half]}\n… [{len(value) - 2 * half:,} characters cut] …\n{value[-half:]}"
    if isinstance(value, dict):
        return {k: shorten_strings(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten_strings(v, limit) for v in value]
    return value


class EventTooLarge(ValueError):
    """An event whose line would be longer than :data:`MAX_EVENT_BYTES`; nothing was written."""


def closes(event: dict[str, Any]) -> bool:
    """Whether ``event`` closes a stretch of the log (an ``event.too_large`` placeholder of one counts)."""
    return is_closing(event, CLOSING_EVENTS)


def complete_end(path: Path | str) -> int:
    """Byte offset just past the last newline of ``path`` (0 when it has none or does not exist)."""
    try:
        with open(path, "rb") as handle:
            return complete_end_of(handle, handle.seek(0, os.SEEK_END))
    except FileNotFoundError:
        return 0


def _last_seq(path: Path) -> tuple[int, int]:
    """(last valid seq, offset just past the last newline): bytes after that offset are a line cut short."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return 0, 0
    with handle:
        end = complete_end_of(handle, handle.seek(0, os.SEEK_END))
        for event in events_backward(handle, path, end, block=4096):
            return event["seq"], end
        return 0, end


def _from_the_end(path: Path | str, block: int, needle: bytes | None = None) -> Iterator[dict[str, Any]]:
    """The log's complete events, newest first (nothing for a missing log): :func:`events_backward` over the file."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        end = complete_end_of(handle, handle.seek(0, os.SEEK_END))
        yield from events_backward(handle, path, end, block=block, needle=needle)


def last_event(path: Path | str) -> dict[str, Any] | None:
    """The log's last complete event (None for an empty or missing log)."""
    return next(_from_the_end(path, 4096), None)


class EventLog:
    """Appends events with increasing ``seq``; ``listeners`` see each event after it is written."""

    def __init__(self, path: Path | str, run_id: str, fsync: bool = False):
        self.path = Path(path)
        self.run_id = run_id
        self.fsync = fsync
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # unbuffered (a failed write leaves nothing queued to land later), and never through a link
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
        self._handle = os.fdopen(fd, "ab", buffering=0)
        self.seq = 0
        self._end = -1  # file size after this writer's last append; -1: never synced
        with self._locked():
            self._sync()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)

    def _sync(self) -> None:
        """Under the lock: catch up with appends by other writers, and remove a line one cut short."""
        fd = self._handle.fileno()
        size = os.fstat(fd).st_size
        if size == self._end:
            return
        self.seq, end = _last_seq(self.path)
        if end < size:
            # A writer died (or the disk filled) before this line's newline. Its append failed and no
            # reader consumed it; closing it instead would make it an event whose seq the next one reuses.
            log.warning("%s: removing %d bytes of a line cut short (after seq %d)", self.path, size - end, self.seq)
            os.ftruncate(fd, end)
        self._end = os.fstat(fd).st_size

    def _write(self, data: bytes) -> None:
        """All of ``data`` or an OSError (a full disk can accept part of it: :meth:`emit` removes it)."""
        view = memoryview(data)
        while view:
            written = self._handle.write(view)
            if not written:
                raise OSError(errno.ENOSPC, "no space left on device", str(self.path))
            view = view[written:]

    def emit(self, type: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Append the event; :class:`EventTooLarge` (nothing written) when its line would pass the limit."""
        with self._locked():
            self._sync()
            event = {"seq": self.seq + 1, "type": type, "ts": time.time(), "run_id": self.run_id, "data": data or {}}
            line = (dumps(event) + "\n").encode()
            if len(line) - 1 > MAX_EVENT_BYTES and type in TERMINAL_EVENTS | FAILURE_EVENTS:
                # a failure must reach its followers: an enormous error message or traceback is shortened
                event["data"] = shorten_strings(event["data"])
                line = (dumps(event) + "\n").encode()
            if len(line) - 1 > MAX_EVENT_BYTES:
                raise EventTooLarge(
                    f"{self.path}: a {type} event of {len(line) - 1:,} bytes is over the {MAX_EVENT_BYTES:,}-byte "
                    "limit of an event line, so it was not written: keep large data in a file (an artifact) and "
                    "name the file in the event")
            start = self._end  # the file's size now, just past its last newline
            try:
                self._write(line)
            except BaseException:
                self._end = -1  # re-read the file before the next append
                # Roll the cut line back now (shrinking needs no space); if this fails too, the next
                # append (ours or another writer's) removes it.
                with contextlib.suppress(OSError):
                    os.ftruncate(self._handle.fileno(), start)
                raise
            self.seq += 1
            self._end = os.fstat(self._handle.fileno()).st_size
            if self.fsync or type in TERMINAL_EVENTS:
                os.fsync(self._handle.fileno())
        if type == "artifact.failed":  # counted per plugin for /plugins (latentdeck.registry.health)
            note_event(self.path, event)
        for listener in self.listeners:
            listener(event)
        return event

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "EventLog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventTail:
    """Follows a growing ``events.jsonl`` by byte offset; ``poll()`` returns new complete events.

    ``offset`` only moves past newlines, and a line not yet ended is read again at the next poll
    rather than kept: a writer may remove such a line (see :class:`EventLog`) and append another."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.offset = 0

    def poll(self, max_bytes: int | None = None) -> list[dict[str, Any]]:
        """The new complete events: all of them, or (``max_bytes``) about that many bytes' worth, at least
        one line. The file is read in pieces either way, so no line over the limit is held whole."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size <= self.offset:
            return []
        events: list[dict[str, Any]] = []
        with open(self.path, "rb") as handle:
            while True:
                found, offset = read_lines(handle, self.offset, max_bytes or CHUNK_BYTES * 4, self.path)
                if offset == self.offset:
                    break
                self.offset = offset
                events += [event for event, _ in found]
                if max_bytes is not None:
                    break
        return events


def read_events(path: Path | str, after_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Every complete event with ``seq > after_seq``."""
    for event in EventTail(path).poll():
        if event["seq"] > after_seq:
            yield event


# --- reading a log of any size in bounded pieces (SSE replays) ----------------------------------

CHUNK_BYTES = 256 * 1024
_SEQ_PREFIX = re.compile(rb'^\{"seq":\s*(\d+)\s*,')


def _line_seq(line: bytes) -> int | None:
    match = _SEQ_PREFIX.match(line)
    if match:
        return int(match.group(1))
    event = parse(line) if len(line) <= MAX_EVENT_BYTES else None
    return int(event["seq"]) if event is not None else None


def _next_line_start(handle, position: int, limit: int) -> int | None:
    """The offset just after the first newline at or after ``position - 1`` (None past ``limit``)."""
    if position == 0:
        return 0
    handle.seek(position - 1)
    scanned = position - 1
    while scanned < limit:
        block = handle.read(min(65536, limit - scanned))
        if not block:
            return None
        cut = block.find(b"\n")
        if cut >= 0:
            return scanned + cut + 1
        scanned += len(block)
    return None


def offset_after(path: Path | str, seq: int) -> int:
    """A line start at or before the first event with a ``seq`` greater than ``seq`` (a binary search
    over byte offsets: seqs grow with the file), so a resume near the end of a huge log reads little."""
    if seq <= 0:
        return 0
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return 0
    with handle:
        size = handle.seek(0, os.SEEK_END)
        low, high = 0, size  # the line at `low` has seq <= `seq` (or low == 0)
        while high - low > 16384:
            middle = (low + high) // 2
            start = _next_line_start(handle, middle, high)
            if start is None or start >= high:
                high = middle
                continue
            handle.seek(start)
            line_seq = _line_seq(handle.readline(MAX_EVENT_BYTES + 1).rstrip(b"\n"))
            if line_seq is not None and line_seq <= seq:
                low = start
            else:
                high = middle
        return low


def read_chunk(path: Path | str, offset: int, max_bytes: int = CHUNK_BYTES) -> tuple[list[tuple[dict[str, Any], bytes | None]], int]:
    """The complete events from byte ``offset`` on, about ``max_bytes`` of them (at least one line when
    the file has one), each with its line (None for an ``event.too_large`` placeholder); and the offset
    after them. ``([], offset)`` at the end; an empty list with a greater offset when the piece held only
    lines that are not events (skipped). Holds at most ``max(max_bytes, MAX_EVENT_BYTES + 1)`` bytes."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return [], offset
    with handle:
        return read_lines(handle, offset, max_bytes, path)


def last_closing_seq(path: Path | str) -> int | None:
    """The seq of the last closing event in the log (read backwards in blocks), or None."""
    for event in _from_the_end(path, CHUNK_BYTES, b'"type"'):
        if closes(event):
            return int(event["seq"])
    return None
