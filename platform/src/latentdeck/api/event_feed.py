"""The shared tail of a run's event log and its subscribers (one poller per followed run).

The app keeps one :class:`RunFeed` per followed run. It tails ``events.jsonl`` by byte offset every
``poll_s`` (one poller however many subscribers), formats each new event once and hands the frames
to every :class:`Subscription`. A subscriber that falls more than :data:`MAX_PENDING` frames or
:data:`MAX_PENDING_BYTES` behind is cut loose (its pending frames dropped, ``lagged`` set) and re-reads
the file from its last seq, in bounded pieces: a slow client never grows memory without bound, however
large the events (a frame is at most an event line, :data:`latentdeck.store.events.MAX_EVENT_BYTES`, and the
feed reads at most :data:`FEED_PIECE_BYTES` a poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..kit.atomic import dumps
from ..store.events import EventTail, closes, complete_end

log = logging.getLogger(__name__)

MAX_PENDING = 10_000  # frames buffered for one subscriber before it is made to re-read the file
# bytes buffered for one subscriber (a stalled reader on 16 KB events held 158 MB under the frame count alone)
MAX_PENDING_BYTES = 4 * 2**20
FEED_PIECE_BYTES = 2**20  # read from the log per poll at most (one line more when a line is longer)


@dataclass(frozen=True)
class Frame:
    """One event, formatted once for every subscriber."""

    seq: int
    terminal: bool
    text: str


def to_frame(event: dict[str, Any], line: bytes | None = None) -> Frame:
    """The SSE frame of an event; ``line`` is its line in the log (sent as is: the writer made it with
    the same JSON encoder, so it need not be encoded again)."""
    data = line.decode("utf-8", "replace") if line is not None and b"\r" not in line else dumps(event)
    return Frame(int(event["seq"]), closes(event), f"id: {event['seq']}\ndata: {data}\n\n")


class Subscription:
    """What one stream receives from its run's feed."""

    def __init__(self) -> None:
        self.pending: list[Frame] = []
        self.pending_bytes = 0  # characters of the pending frames' text (ASCII: bytes)
        self.lagged = False  # frames were dropped: re-read the file from the last seq sent
        self.closed = False  # the feed stopped (run deleted, server shutting down)
        self._wake = asyncio.Event()

    def push(self, frames: list[Frame]) -> None:
        size = sum(len(frame.text) for frame in frames)
        if len(self.pending) + len(frames) > MAX_PENDING or self.pending_bytes + size > MAX_PENDING_BYTES:
            self.pending.clear()  # the reader re-reads the file from its last seq, piece by piece
            self.pending_bytes = 0
            self.lagged = True
        else:
            self.pending.extend(frames)
            self.pending_bytes += size
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
        frames, self.pending, self.pending_bytes = self.pending, [], 0
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
            self.tail.offset = await asyncio.to_thread(complete_end, self.path)
            self.ready.set()
            last_check = time.monotonic()
            events: list = []
            while True:
                # at once again after a full piece: a log that grew by megabytes is caught up piece by piece
                await asyncio.sleep(0 if events else self.poll_s)
                try:
                    events = self.tail.poll(FEED_PIECE_BYTES)  # a stat, and a bounded read when the file grew
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
