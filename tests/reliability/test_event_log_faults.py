"""The event log under faults (issue 22, item 2): a line the disk cut off before its newline, and
lines that are not events. seqs stay strictly increasing, followers get the terminal event, and
one bad line never stops a run's stream."""

from __future__ import annotations

import errno
import json
import logging
import threading
import time

import pytest

from latentdeck import launch
from latentdeck.store.events import CHUNK_BYTES, EventLog, read_events

CUT = b'{"seq": 2, "type": "train.progress", "ts": 1.0, "run_id": "r", "data": {"batch": 1}}'  # no newline


def file_seqs(path) -> list[int]:
    return [json.loads(line)["seq"] for line in path.read_bytes().splitlines()]


@pytest.fixture
def warnings_of_the_log():
    """Warnings of ``latentdeck.store.events``, caught by our own handler (other tests reconfigure logging)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("latentdeck.store.events")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_a_line_cut_before_its_newline_does_not_lend_its_seq(tmp_path, warnings_of_the_log):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("run.started")
    with open(path, "ab") as handle:  # ENOSPC took exactly the newline
        handle.write(CUT)
    with EventLog(path, "r") as log:  # e.g. the server failing the vanished worker
        assert log.emit("run.failed", {"reason": "disk_full"})["seq"] == 2
    assert file_seqs(path) == [1, 2]  # before the fix: [1, 2, 2]
    assert [e["type"] for e in read_events(path)] == ["run.started", "run.failed"]
    assert any("cut short" in r.getMessage() for r in warnings_of_the_log)


def test_an_append_the_disk_cut_short_is_rolled_back_at_once(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("run.started")
        write = log._write

        def full_disk(data: bytes) -> None:
            write(data[:-1])  # everything but the newline, then the disk is full
            raise OSError(errno.ENOSPC, "no space left on device")

        log._write = full_disk
        with pytest.raises(OSError):
            log.emit("train.progress")
        assert path.read_bytes().endswith(b"\n") and file_seqs(path) == [1]  # nothing of it stays
        log._write = write
        assert log.emit("run.failed")["seq"] == 2
    assert file_seqs(path) == [1, 2]


@pytest.mark.parametrize("seq", ['"abc"', "null", "1e400", "true", "-3"])
def test_a_writer_after_a_malformed_last_line_counts_from_the_last_event(tmp_path, seq):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("run.started")
    with open(path, "ab") as handle:
        handle.write(b'{"seq": %s, "type": "x"}\n' % seq.encode())
    with EventLog(path, "r") as log:
        assert log.emit("run.completed")["seq"] == 2
    assert [(e["seq"], e["type"]) for e in read_events(path)] == [(1, "run.started"), (2, "run.completed")]


def _follow(live, run_id, sse, max_s=15.0):
    """Start an SSE reader of the run in a thread: (thread, list its events land in)."""
    got: list[dict] = []
    thread = threading.Thread(target=lambda: got.extend(
        sse.read(live.client, f"/api/runs/{run_id}/events", max_s=max_s).events), daemon=True)
    thread.start()
    return thread, got


def _unstarted_run(live, plugin_manager, tiny_config) -> str:
    stored = launch.prepare_run(plugin_manager, tiny_config)
    live.store.create(stored)  # run.created is seq 1; no worker ever starts
    return stored["run_id"]


def test_a_follower_gets_run_failed_after_a_line_cut_before_its_newline(serve_api, plugin_manager, tiny_config,
                                                                       sse):
    live = serve_api(heartbeat_s=0.2)
    run_id = _unstarted_run(live, plugin_manager, tiny_config)
    path = live.store.root / run_id / "events.jsonl"
    reader, got = _follow(live, run_id, sse)
    time.sleep(0.3)
    with open(path, "ab") as handle:
        handle.write(CUT.replace(b'"run_id": "r"', b'"run_id": "%s"' % run_id.encode()))
    time.sleep(0.1)
    live.store.mark_failed(run_id, "disk_full", "the disk filled up")
    reader.join(20)
    # before the fix: the follower got seq 2 twice-numbered, dropped run.failed and pinged until max_s
    assert [(e["seq"], e["type"]) for e in got] == [(1, "run.created"), (2, "run.failed")]
    assert file_seqs(path) == [1, 2]
    url = f"/api/runs/{run_id}/events"
    assert live.client.get(url, headers={"Last-Event-ID": "2"}).status_code == 204
    assert [e["type"] for e in sse.read(live.client, url, headers={"Last-Event-ID": "1"}, max_s=5).events] == [
        "run.failed"]


@pytest.mark.parametrize("line", [
    b'{"seq": "abc", "type": "x"}', b'{"seq": null, "type": "x"}', b'{"seq": 1e400, "type": "x"}',
    b'{"seq": 7, "type": ["not", "a", "string"]}',
    # two replay pieces of bad lines: a piece with no event in it is not the end of the log
    b"\n".join([b'{"seq": null, "type": "x", "pad": "' + b"p" * 10_000 + b'"}'] * (2 * CHUNK_BYTES // 10_000 + 5)),
], ids=["string", "null", "1e400", "list-type", "a-piece-of-bad-lines"])
def test_a_malformed_line_is_skipped_and_the_stream_goes_on(serve_api, plugin_manager, tiny_config, sse, line,
                                                            warnings_of_the_log):
    live = serve_api(heartbeat_s=0.2)
    run_id = _unstarted_run(live, plugin_manager, tiny_config)
    path = live.store.root / run_id / "events.jsonl"
    with EventLog(path, run_id) as log:
        log.emit("train.progress", {"batch": 1})
    reader, live_got = _follow(live, run_id, sse)  # follows the log live across the bad line
    time.sleep(0.3)
    with open(path, "ab") as handle:
        handle.write(line + b"\n")
    with EventLog(path, run_id) as log:
        log.emit("train.progress", {"batch": 2})
    live.store.mark_failed(run_id, "test", "ended by the test")
    reader.join(20)
    expected = [(1, "run.created"), (2, "train.progress"), (3, "train.progress"), (4, "run.failed")]
    assert [(e["seq"], e["type"]) for e in live_got] == expected
    url = f"/api/runs/{run_id}/events"
    replayed = sse.read(live.client, url, max_s=5)  # before the fix: an incomplete chunked read, 0 events
    assert replayed.closed_by_server and [(e["seq"], e["type"]) for e in replayed.events] == expected
    resumed = sse.read(live.client, url, headers={"Last-Event-ID": "2"}, max_s=5)
    assert [(e["seq"], e["type"]) for e in resumed.events] == expected[2:]
    assert any("not a valid event" in r.getMessage() for r in warnings_of_the_log)
