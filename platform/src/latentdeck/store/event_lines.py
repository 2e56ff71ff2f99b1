"""Reading ``events.jsonl`` line by line with bounded memory, however long a line is.

An event line is at most :data:`MAX_EVENT_BYTES` (newline excluded): :class:`latentdeck.store.events.EventLog`
refuses to write a longer one. A longer line written by someone else (an older version, another tool, a
damaged file) is never read whole: readers pass over it in blocks and put a small placeholder event in its
place, ``{"seq": <its seq>, "type": "event.too_large", "data": {"type": <its type>, "bytes": <its length>,
"limit": MAX_EVENT_BYTES}}``, read from the line's first bytes. A placeholder rather than a silent skip,
because a follower then knows what happened at that seq, and because the line may be the run's end: a
placeholder for a closing event closes a stream (:func:`is_closing`) where a skipped one would leave the
follower waiting forever. A long line whose start names no seq is skipped with a logged warning, like any
other line that is not an event.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, BinaryIO, Iterator

log = logging.getLogger("latentdeck.store.events")

MAX_EVENT_BYTES = 1 << 20  # 1 MiB: the largest events written here are a few KB (run.created's config)
TOO_LARGE = "event.too_large"
BLOCK_BYTES = 64 * 1024  # what a scan for a newline holds at a time
HEAD_BYTES = 512  # the start of an over-long line that is read to name it
_HEAD = re.compile(rb'^\{"seq":\s*(\d{1,18})\s*(?:,\s*"type":\s*"([A-Za-z0-9_.:-]{1,100})"\s*'
                   rb'(?:,\s*"ts":\s*(-?\d[0-9.eE+-]{0,40})\s*(?:,\s*"run_id":\s*"([A-Za-z0-9._-]{1,128})")?)?)?')

Line = tuple[dict[str, Any], "bytes | None"]  # an event and its line (None for a placeholder)


def parse(line: bytes) -> dict[str, Any] | None:
    """An event, or None for anything else: a fragment, or an object whose ``seq`` is not a
    non-negative integer (a string, null, 1e400, true) or whose ``type`` is not a string. Readers
    compare seqs and look types up, so such a line would stop every stream of the run."""
    try:
        event = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if not isinstance(event, dict):
        return None
    seq = event.get("seq")
    valid = type(seq) is int and seq >= 0 and isinstance(event.get("type"), str)
    return event if valid else None


def parse_or_warn(line: bytes, path: Path | str) -> dict[str, Any] | None:
    """:func:`parse` for a complete line read forwards: a line that is not an event is logged and skipped."""
    event = parse(line)
    if event is None:
        log.warning("%s: skipping a line that is not a valid event (%d bytes): %r", path, len(line), line[:160])
    return event


def too_large(head: bytes, size: int, path: Path | str, warn: bool = True) -> dict[str, Any] | None:
    """The placeholder of a line of ``size`` bytes starting with ``head`` (None when its seq cannot be read)."""
    match = _HEAD.match(head)
    if warn:
        log.warning("%s: an event line of %d bytes is over the %d-byte limit; %s: %r", path, size, MAX_EVENT_BYTES,
                    "sent as event.too_large" if match else "skipped (no seq at its start)", head[:160])
    if match is None:
        return None
    seq, kind, ts, run_id = match.groups()
    try:
        when = float(ts) if ts is not None else None
    except ValueError:
        when = None
    return {"seq": int(seq), "type": TOO_LARGE, "ts": when, "run_id": run_id.decode() if run_id else None,
            "data": {"type": kind.decode() if kind else None, "bytes": size, "limit": MAX_EVENT_BYTES}}


def is_closing(event: dict[str, Any], closing: frozenset[str]) -> bool:
    """Whether ``event`` closes a stretch of the log (a placeholder counts as the event it stands for)."""
    kind = event.get("type")
    if kind == TOO_LARGE:
        kind = (event.get("data") or {}).get("type")
    return kind in closing


def complete_end_of(handle: BinaryIO, size: int) -> int:
    """Byte offset just past the last newline before ``size`` (0 when there is none), scanning back in blocks."""
    position = size
    while position > 0:
        start = max(0, position - BLOCK_BYTES)
        handle.seek(start)
        cut = handle.read(position - start).rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        position = start
    return 0


def _newline_after(handle: BinaryIO, position: int) -> int | None:
    """The offset of the first newline at or after ``position`` (None before the end of the file)."""
    handle.seek(position)
    while True:
        block = handle.read(BLOCK_BYTES)
        if not block:
            return None
        cut = block.find(b"\n")
        if cut >= 0:
            return position + cut
        position += len(block)


def read_lines(handle: BinaryIO, offset: int, max_bytes: int, path: Path | str) -> tuple[list[Line], int]:
    """The events of the complete lines from ``offset``, about ``max_bytes`` of them (at least one line),
    each with its line; and the offset after them (``offset`` itself when no line is complete yet). Holds at
    most ``max(max_bytes, MAX_EVENT_BYTES + 1)`` bytes of the file: a longer line becomes its placeholder."""
    handle.seek(offset)
    data = handle.read(max_bytes)
    cut = data.rfind(b"\n")
    if cut < 0 and len(data) == max_bytes:  # the first line is longer than max_bytes: read on to the limit
        if len(data) <= MAX_EVENT_BYTES:
            data += handle.read(MAX_EVENT_BYTES + 1 - len(data))
            cut = data.rfind(b"\n")
        if cut < 0 and len(data) > MAX_EVENT_BYTES:
            newline = _newline_after(handle, offset + len(data))
            if newline is None:  # not ended yet: read it again once it is
                return [], offset
            event = too_large(data[:HEAD_BYTES], newline - offset, path)
            return ([(event, None)] if event is not None else []), newline + 1
    if cut < 0:
        return [], offset
    found: list[Line] = []
    for line in data[:cut].split(b"\n"):
        if not line.strip():
            continue
        if len(line) > MAX_EVENT_BYTES:
            event, kept = too_large(line[:HEAD_BYTES], len(line), path), None
        else:
            event, kept = parse_or_warn(line, path), line
        if event is not None:
            found.append((event, kept))
    return found, offset + cut + 1


def _lines_backward(handle: BinaryIO, stop: int, block: int) -> Iterator[tuple[int, int, bytes | None]]:
    """``(start, length, line)`` of each line before offset ``stop`` (a newline's offset, or the end), last
    first; ``line`` is None for one longer than :data:`MAX_EVENT_BYTES`, which is never held whole."""
    end, tail, position = stop, b"", stop  # tail: the part of the current line seen so far (None: too long)
    while position > 0:
        begin = max(0, position - block)
        handle.seek(begin)
        data = handle.read(position - begin)
        cut = len(data)
        while (newline := data.rfind(b"\n", 0, cut)) >= 0:
            start = begin + newline + 1
            line = None if tail is None else data[newline + 1:cut] + tail
            yield start, end - start, line if line is None or len(line) <= MAX_EVENT_BYTES else None
            end, tail, cut = begin + newline, b"", newline
        if tail is not None:
            tail = data[:cut] + tail
            tail = tail if len(tail) <= MAX_EVENT_BYTES else None
        position = begin
    yield 0, end, tail


def events_backward(handle: BinaryIO, path: Path | str, end: int, block: int = BLOCK_BYTES,
                    needle: bytes | None = None) -> Iterator[dict[str, Any]]:
    """The events of the complete lines before offset ``end`` (just past a newline), last first, over-long
    lines as placeholders. With ``needle``, lines that do not contain it are passed over unparsed."""
    if end <= 0:
        return
    for start, length, line in _lines_backward(handle, end - 1, block):
        if length == 0:
            continue
        if line is None:
            handle.seek(start)
            event = too_large(handle.read(HEAD_BYTES), length, path, warn=False)
        elif needle is not None and needle not in line:
            continue
        else:
            event = parse(line) if line.strip() else None
        if event is not None:
            yield event
