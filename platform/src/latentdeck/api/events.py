"""``GET /api/runs/{run_id}/events``: a run's event log as Server-Sent Events.

Wire format (handcrafted, so every knob is ours): a ``retry: 2000`` line first, then per event
``id: <seq>`` and ``data: <the event JSON, one line>`` (no ``event:`` field, so ``onmessage`` sees
every event), ``: ping`` comments after ``heartbeat_s`` of silence. The stream ends right after a
terminal event, after ``max_stream_s`` (the client resumes with ``Last-Event-ID``) and when the
client goes away.

Fan-out: the app keeps one :class:`RunFeed` per followed run. It tails ``events.jsonl`` by byte
offset every ``poll_s`` (one poller however many subscribers), formats each new event once and
hands the frames to every :class:`Subscription`. A new subscriber registers with the feed *before*
it reads the file for its replay, so an event is either in what it read or delivered by the feed
(often both: it drops seqs it has already sent), never neither. A subscriber that falls far behind is
cut loose and re-reads the file from its last seq, so a slow client never grows memory without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from ..atomic import dumps
from ..backfill import backfill_active
from ..events import CLOSING_EVENTS, EventTail
from ..runs.lifecycle import TERMINAL
from ..runs.store import RunStoreError, read_summary

log = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

RETRY_MS = 2000
MAX_PENDING = 10_000  # frames buffered for one subscriber before it is made to re-read the file
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@dataclass(frozen=True)
class Frame:
    """One event, formatted once for every subscriber."""

    seq: int
    terminal: bool
    text: str


def to_frame(event: dict[str, Any]) -> Frame:
    return Frame(int(event["seq"]), event.get("type") in CLOSING_EVENTS,
                 f"id: {event['seq']}\ndata: {dumps(event)}\n\n")


def read_log(path: Path, after_seq: int) -> tuple[list[Frame], int | None]:
    """(frames of the complete events with ``seq > after_seq``, seq of the last closing event or None).

    Closing events end a run (``run.completed|cancelled|failed``) or a later backfill of it.

    Blocking: call it in a thread.
    """
    frames, terminal = [], None
    for event in EventTail(path).poll():
        if event.get("type") in CLOSING_EVENTS:
            terminal = int(event["seq"])
        if int(event["seq"]) > after_seq:
            frames.append(to_frame(event))
    return frames, terminal


def read_frames(path: Path, after_seq: int) -> list[Frame]:
    """Frames of the complete events with ``seq > after_seq`` (blocking: call it in a thread)."""
    return read_log(path, after_seq)[0]


def _complete_end(path: Path) -> int:
    """Byte offset just past the last newline of ``path`` (0 when it has none or does not exist)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            chunk = 65536
            while True:
                start = max(0, size - chunk)
                handle.seek(start)
                data = handle.read(size - start)
                cut = data.rfind(b"\n")
                if cut >= 0:
                    return start + cut + 1
                if start == 0:
                    return 0
                chunk *= 4
    except FileNotFoundError:
        return 0


class Subscription:
    """What one stream receives from its run's feed."""

    def __init__(self) -> None:
        self.pending: list[Frame] = []
        self.lagged = False  # frames were dropped: re-read the file from the last seq sent
        self.closed = False  # the feed stopped (run deleted, server shutting down)
        self._wake = asyncio.Event()

    def push(self, frames: list[Frame]) -> None:
        if len(self.pending) + len(frames) > MAX_PENDING:
            self.pending.clear()
            self.lagged = True
        else:
            self.pending.extend(frames)
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def wait(self, timeout: float) -> None:
        """Until something arrives or ``timeout`` seconds pass."""
        if self.pending or self.lagged or self.closed:
            return
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(timeout, 0.0))

    def take(self) -> list[Frame]:
        frames, self.pending = self.pending, []
        return frames


class RunFeed:
    """The single poller of one run's ``events.jsonl``, shared by all its subscribers."""

    def __init__(self, run_id: str, path: Path, poll_s: float):
        self.run_id, self.path, self.poll_s = run_id, path, poll_s
        self.tail = EventTail(path)
        self.subscribers: set[Subscription] = set()
        self.ready = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=f"latentdeck-feed-{run_id}")

    async def _run(self) -> None:
        try:
            # Start at the end of what is on disk now: subscribers replay that part themselves.
            self.tail.offset = await asyncio.to_thread(_complete_end, self.path)
            self.ready.set()
            last_check = time.monotonic()
            while True:
                await asyncio.sleep(self.poll_s)
                try:
                    events = self.tail.poll()  # a stat, and a small read when the file grew
                except OSError:
                    log.exception("reading %s failed", self.path)
                    events = []
                if events:
                    frames = [to_frame(e) for e in events]
                    for sub in list(self.subscribers):
                        sub.push(frames)
                elif time.monotonic() - last_check > 1.0:
                    last_check = time.monotonic()
                    if not self.path.exists():  # the run was deleted
                        break
        finally:
            self.ready.set()
            for sub in list(self.subscribers):
                sub.close()


class EventHub:
    """``run_id -> RunFeed`` for the runs someone is following; a feed stops with its last subscriber."""

    def __init__(self, poll_s: float = 0.02):
        self.poll_s = poll_s
        self.feeds: dict[str, RunFeed] = {}
        self.ending = False  # the server is shutting down: streams end, new ones end at once

    def end_streams(self) -> None:
        """End every live stream now (server shutdown); clients resume with Last-Event-ID."""
        self.ending = True
        for feed in list(self.feeds.values()):
            for sub in list(feed.subscribers):
                sub.close()

    def subscribe(self, run_id: str, path: Path) -> tuple[Subscription, RunFeed]:
        """Register a subscriber; await ``feed.ready`` before reading the file for the replay."""
        feed = self.feeds.get(run_id)
        if feed is None or feed.task.done():
            feed = self.feeds[run_id] = RunFeed(run_id, path, self.poll_s)
        sub = Subscription()
        feed.subscribers.add(sub)
        if self.ending:
            sub.close()
        return sub, feed

    def unsubscribe(self, sub: Subscription, feed: RunFeed) -> None:
        feed.subscribers.discard(sub)
        if not feed.subscribers:
            feed.task.cancel()
            if self.feeds.get(feed.run_id) is feed:
                del self.feeds[feed.run_id]

    async def close(self) -> None:
        feeds, self.feeds = list(self.feeds.values()), {}
        for feed in feeds:
            feed.task.cancel()
        for feed in feeds:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await feed.task


# --- the endpoint -------------------------------------------------------------------------------

def parse_cursor(raw: str | None, source: str) -> int:
    if raw is None or not raw.strip():
        return 0
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if value < 0:
        raise RunStoreError(
            f"{source} {raw!r} is not valid: it must be the integer seq (>= 0) of the last event received, "
            f"as sent in the stream's 'id:' field; leave it out to start from the first event")
    return value


def _terminal_state(path: Path, run_dir: Path, cursor: int) -> tuple[bool, list[Frame]]:
    """(whether the run has ended, its frames after ``cursor`` up to the terminal event)."""
    try:
        ended = read_summary(run_dir)["status"] in TERMINAL and not backfill_active(run_dir)
    except (FileNotFoundError, ValueError, KeyError):
        ended = False
    if not ended:
        return False, []
    frames, end = read_log(path, cursor)
    if end is None:  # summary says ended but the log has no terminal event: follow it like a live run
        return False, []
    return True, [f for f in frames if f.seq <= end]


async def _finite_stream(frames: list[Frame]) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    for start in range(0, len(frames), 500):
        yield "".join(f.text for f in frames[start:start + 500])


async def _live_stream(hub: EventHub, run_id: str, path: Path, cursor: int, heartbeat_s: float,
                       max_stream_s: float) -> AsyncIterator[str]:
    deadline = time.monotonic() + max_stream_s
    yield f"retry: {RETRY_MS}\n\n"
    sub, feed = hub.subscribe(run_id, path)
    try:
        await feed.ready.wait()  # the feed's start offset is fixed before we read the file
        if feed.task.done() or sub.closed:
            return
        last = cursor

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

        replay, end = await asyncio.to_thread(read_log, path, cursor)
        if end is not None and end <= cursor and not backfill_active(path.parent):
            return  # the client already has the terminal event (the summary lagged behind the log)
        text, done = fresh(replay)
        if text:
            yield text
        if done:
            return
        quiet_since = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            await sub.wait(min(quiet_since + heartbeat_s, deadline) - now)
            frames = sub.take()
            if sub.lagged or (frames and frames[0].seq > last + 1):
                sub.lagged = False  # dropped or missed frames: fill the hole from the file
                frames = await asyncio.to_thread(read_frames, path, last) + frames
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
    ended, frames = await asyncio.to_thread(_terminal_state, path, run_dir, cursor)
    if ended and not frames:
        return Response(status_code=204, headers={"Cache-Control": "no-cache"})
    stream = _finite_stream(frames) if ended else _live_stream(
        request.app.state.hub, run_id, path, cursor, settings.heartbeat_s, settings.max_stream_s)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)
