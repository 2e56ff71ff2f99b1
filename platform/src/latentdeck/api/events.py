"""``GET /api/runs/{run_id}/events``: a run's event log as Server-Sent Events.

Wire format (handcrafted, so every knob is ours): a ``retry: 2000`` line first, then per event
``id: <seq>`` and ``data: <the event JSON, one line>`` (no ``event:`` field, so ``onmessage`` sees
every event), ``: ping`` comments after ``heartbeat_s`` of silence. The stream ends right after a
terminal event, after ``max_stream_s`` (the client resumes with ``Last-Event-ID``) and when the
client goes away.

Memory is bounded whatever the log's size and however slowly a client reads: replays and catch-ups
read the file in pieces of about :data:`latentdeck.store.events.CHUNK_BYTES` (starting at the cursor,
found by a binary search over byte offsets), and each piece is handed to the connection only after
the previous one was taken (uvicorn waits for a paused transport to drain), so a client that stops
reading holds one piece, not the log, and a line over :data:`latentdeck.store.events.MAX_EVENT_BYTES` is
never read whole (it is sent as a small ``event.too_large`` placeholder naming its seq, type and size).
Live events come from the run's shared feed (:mod:`.event_feed`), which buffers at most
:data:`.event_feed.MAX_PENDING_BYTES` for a client that does not read. A new subscriber registers with the feed *before* it reads the file for its
replay, so an event is either in what it read or delivered by the feed (often both: it drops seqs
it has already sent), never neither.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import AsyncIterator

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from ..engine.backfill import backfill_active
from ..store.events import closes, last_closing_seq, offset_after, read_chunk
from ..store.lifecycle import TERMINAL
from ..store.runs import RunStoreError, read_summary
from .event_feed import EventHub, Frame, to_frame
from .params import CANONICAL_RULE, is_canonical_int

router = APIRouter(tags=["events"])

RETRY_MS = 2000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def replay(path: Path, after: int, until: int | None = None,
                 stop_at_closing: bool = False) -> AsyncIterator[tuple[str, int, bool]]:
    """``(SSE text, last seq in it, whether it ends with a closing event)`` for the complete events
    with ``seq > after`` as they are in the file now, in bounded pieces; up to ``until`` when given,
    else to the end of the file or (``stop_at_closing``) the first closing event."""
    offset = await asyncio.to_thread(offset_after, path, after)
    last = after
    while True:
        events, following = await asyncio.to_thread(read_chunk, path, offset)
        if following == offset:  # the end of the complete lines (a piece of skipped lines is not)
            return
        offset = following
        parts, closing, done = [], False, False
        for event, line in events:
            seq = int(event["seq"])
            if seq <= last:
                continue
            if until is not None and seq > until:
                done = True
                break
            parts.append(to_frame(event, line).text)
            last = seq
            if stop_at_closing and closes(event):
                closing = done = True
                break
        if parts:
            yield "".join(parts), last, closing
        if done or (until is not None and last >= until):
            return


def parse_cursor(raw: str | None, source: str) -> int:
    if not raw:  # absent or empty: from the first event
        return 0
    if not is_canonical_int(raw):  # int() would also take '+3', ' 3', '1_0', '٣' (see api/params.py)
        raise RunStoreError(
            f"{source} {raw!r} is not valid: it must be the integer seq (>= 0) of the last event received, "
            f"as sent in the stream's 'id:' field ({CANONICAL_RULE}); leave it out to start from the first event")
    return int(raw)


def _ended_at(path: Path, run_dir: Path) -> int | None:
    """The seq of the run's last closing event when the run has ended (and no backfill runs), else None."""
    try:
        ended = read_summary(run_dir)["status"] in TERMINAL and not backfill_active(run_dir)
    except (OSError, ValueError, KeyError):
        ended = False
    return last_closing_seq(path) if ended else None  # None too when the log lacks it: follow it live


async def _finite_stream(path: Path, cursor: int, end: int) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    async for text, _, _ in replay(path, cursor, until=end):
        yield text


async def _live_stream(hub: EventHub, run_id: str, path: Path, cursor: int, heartbeat_s: float,
                       max_stream_s: float) -> AsyncIterator[str]:
    deadline = time.monotonic() + max_stream_s
    yield f"retry: {RETRY_MS}\n\n"
    if hub.ending:  # the server is stopping: start no feed it would never run; the client resumes later
        return
    sub, feed = hub.subscribe(run_id, path)
    try:
        await feed.ready.wait()  # the feed's start offset is fixed before we read the file
        if feed.task.done() or sub.closed:
            return
        end = await asyncio.to_thread(last_closing_seq, path)
        if end is not None and end <= cursor and not backfill_active(path.parent):
            return  # the client already has the terminal event (the summary lagged behind the log)
        last = cursor
        async for text, last, closing in replay(path, cursor, stop_at_closing=True):
            yield text
            if closing:
                return

        def fresh(frames: list[Frame]) -> tuple[str, bool]:
            """SSE text of the frames not sent yet, in order; and whether a terminal one was among them."""
            nonlocal last
            parts = []
            for frame in frames:
                if frame.seq <= last:
                    continue
                parts.append(frame.text)
                last = frame.seq
                if frame.terminal:
                    return "".join(parts), True
            return "".join(parts), False

        quiet_since = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            await sub.wait(min(quiet_since + heartbeat_s, deadline) - now)
            frames = sub.take()
            if sub.lagged or (frames and frames[0].seq > last + 1):
                sub.lagged = False  # dropped or missed frames: fill the hole from the file, piece by piece
                async for text, last, closing in replay(path, last, stop_at_closing=True):
                    yield text
                    quiet_since = time.monotonic()
                    if closing:
                        return
            if frames:
                text, done = fresh(frames)
                if text:
                    yield text
                    quiet_since = time.monotonic()
                if done:
                    return
            elif sub.closed:
                return
            if time.monotonic() - quiet_since >= heartbeat_s:
                yield ": ping\n\n"
                quiet_since = time.monotonic()
    finally:
        hub.unsubscribe(sub, feed)


@router.get(
    "/api/runs/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"description": "the event stream (text/event-stream)", "content": {"text/event-stream": {}}},
        204: {"description": "the run has ended and the cursor is at or past its terminal event: stop reconnecting"},
        400: {"description": "Last-Event-ID / last_event_id is not a non-negative integer"},
        404: {"description": "no such run"},
    },
)
async def run_events(
    run_id: str,
    request: Request,
    last_event_id: str | None = Query(
        None, description="resume after this seq (the Last-Event-ID header wins when both are given)"),
    last_event_id_header: str | None = Header(
        None, alias="Last-Event-ID", description="seq of the last event received (sent by EventSource on reconnect)"),
) -> Response:
    """Replay the events with ``seq`` after the cursor, then follow the run live until its terminal event."""
    if last_event_id_header is not None and last_event_id_header.strip():
        cursor = parse_cursor(last_event_id_header, "Last-Event-ID header")
    else:
        cursor = parse_cursor(last_event_id, "last_event_id query parameter")
    store, settings = request.app.state.store, request.app.state.settings
    run_dir = await asyncio.to_thread(store.run_dir, run_id)  # RunNotFound -> 404
    path = run_dir / "events.jsonl"
    end = await asyncio.to_thread(_ended_at, path, run_dir)
    if end is not None and end <= cursor:
        return Response(status_code=204, headers={"Cache-Control": "no-cache"})
    stream = _finite_stream(path, cursor, end) if end is not None else _live_stream(
        request.app.state.hub, run_id, path, cursor, settings.heartbeat_s, settings.max_stream_s)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)
