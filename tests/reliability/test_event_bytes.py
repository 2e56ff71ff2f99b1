"""Issue 22 (4, third bullet; finding 10): event streams are bounded in bytes, not only in frames.

- The writer refuses an event whose line would pass ``MAX_EVENT_BYTES`` (1 MiB), naming it; nothing is written.
- A reader meeting a longer line (written by someone else) never holds it whole: it stands as a small
  ``event.too_large`` event with its seq, type and size (a closing one still closes the stream); a long line
  that names no seq is skipped with a warning.
- A subscription buffers at most ``MAX_PENDING_BYTES`` (4 MiB) for a client that does not read; past it the
  client is made to re-read the file from its last seq, in pieces.
Measured on a server process: a stalled reader on 16 KB events, and four 16 MB lines replayed to 10 stalled
clients (before: 158 MB per reader / 590 MB on a 188 MB log here, and 1.1-1.4 GB)."""

from __future__ import annotations

import json
import logging
import tracemalloc

import pytest

from latentdeck.api.event_feed import MAX_PENDING_BYTES, Frame, Subscription
from latentdeck.store.events import (MAX_EVENT_BYTES, EventLog, EventTooLarge, last_closing_seq, last_event, offset_after,
                               read_chunk, read_events)
from latentdeck.store.runs import update_summary

BIG = 16 * 2**20  # a 16 MB line


def _line(seq: int, type: str, filler_bytes: int = 0) -> str:
    data = {"filler": "z" * filler_bytes} if filler_bytes else {}
    return json.dumps({"seq": seq, "type": type, "ts": 1.5, "run_id": "r", "data": data}) + "\n"


@pytest.fixture
def long_log(tmp_path):
    """seq 1 small, 2 a 16 MB train.metrics, 3 small, 4 a 16 MB run.failed (a log written by someone else)."""
    path = tmp_path / "events.jsonl"
    path.write_text(_line(1, "run.created") + _line(2, "train.metrics", BIG) + _line(3, "train.progress")
                    + _line(4, "run.failed", BIG))
    return path


def _peak(call):
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = call()
        return result, tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_the_writer_refuses_an_event_over_the_limit_and_writes_nothing(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("run.created", {"config": {}})
        size = path.stat().st_size
        with pytest.raises(EventTooLarge) as refused:
            log.emit("train.metrics", {"filler": "x" * MAX_EVENT_BYTES})
        assert path.stat().st_size == size
        assert "train.metrics" in str(refused.value) and "1,048,576-byte limit" in str(refused.value)
        log.emit("train.metrics", {"filler": "x" * (MAX_EVENT_BYTES - 200)})  # just under the limit: written
        log.emit("run.completed", {})
    assert [e["seq"] for e in read_events(path)] == [1, 2, 3]


def test_a_failure_with_an_enormous_error_is_shortened_not_lost(tmp_path):
    path = tmp_path / "events.jsonl"
    trace = "x" * (3 * MAX_EVENT_BYTES)
    with EventLog(path, "r") as log:
        log.emit("epoch_done", {"epoch": 1})
        log.emit("run.failed", {"reason": "error", "error": "ValueError: " + "y" * 40_000, "traceback": trace})
        with pytest.raises(EventTooLarge):
            log.emit("note", {"blob": trace})  # not a failure: refused as before
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and all(len(line) <= MAX_EVENT_BYTES for line in lines)
    failed = json.loads(lines[1])
    assert failed["seq"] == 2 and failed["type"] == "run.failed" and failed["data"]["reason"] == "error"
    assert failed["data"]["error"].startswith("ValueError: yyy") and "characters cut" in failed["data"]["error"]
    assert f"[{3 * MAX_EVENT_BYTES - 16_384:,} characters cut]" in failed["data"]["traceback"]


def test_readers_stand_a_long_line_in_with_a_small_event_holding_little_memory(long_log, caplog):
    caplog.set_level(logging.WARNING, logger="latentdeck.store.events")
    events, peak = _peak(lambda: list(read_events(long_log)))
    assert [(e["seq"], e["type"]) for e in events] == [
        (1, "run.created"), (2, "event.too_large"), (3, "train.progress"), (4, "event.too_large")]
    assert events[1]["data"]["type"] == "train.metrics" and events[1]["data"]["bytes"] > BIG
    assert events[1]["data"]["limit"] == MAX_EVENT_BYTES and events[1]["run_id"] == "r" and events[1]["ts"] == 1.5
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MB to read a log of two 16 MB lines"
    assert "over the 1048576-byte limit" in caplog.text

    (chunk, after), peak = _peak(lambda: read_chunk(long_log, 0))
    assert [e["type"] for e, _ in chunk] == ["run.created"] and peak < 4 * 2**20
    (chunk, _), peak = _peak(lambda: read_chunk(long_log, after))
    assert [(e["seq"], line) for e, line in chunk] == [(2, None)] and peak < 4 * 2**20

    for name, call, expected in [("last_closing_seq", lambda: last_closing_seq(long_log), 4),
                                 ("last_event", lambda: last_event(long_log)["data"]["type"], "run.failed"),
                                 ("offset_after", lambda: offset_after(long_log, 3) <= long_log.stat().st_size, True)]:
        got, peak = _peak(call)
        assert got == expected, name
        assert peak < 4 * 2**20, f"{name}: {peak / 2**20:.1f} MB"


def test_a_writer_after_a_long_last_line_counts_on_from_its_seq(long_log):
    def append():
        with EventLog(long_log, "r") as log:
            return log.emit("run.failed", {"reason": "worker_died"})["seq"]

    seq, peak = _peak(append)
    assert seq == 5 and peak < 4 * 2**20, (seq, peak)


def test_a_long_line_that_names_no_seq_is_skipped_with_a_warning(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="latentdeck.store.events")
    path = tmp_path / "events.jsonl"
    path.write_text(_line(1, "run.created") + '{"type": "x", "seq": 2, "pad": "' + "q" * (2 * 2**20) + '"}\n'
                    + _line(3, "run.completed"))
    assert [e["seq"] for e in read_events(path)] == [1, 3]
    assert "skipped (no seq at its start)" in caplog.text


def test_a_subscription_buffers_a_bounded_number_of_bytes():
    sub = Subscription()
    frame = Frame(1, False, "x" * 16 * 1024)
    for _ in range(MAX_PENDING_BYTES // len(frame.text)):
        sub.push([frame])
    assert not sub.lagged and sub.pending_bytes == MAX_PENDING_BYTES
    sub.push([frame])  # one more: dropped, and the reader re-reads the file from its last seq
    assert sub.lagged and sub.pending == [] and sub.pending_bytes == 0
    sub.lagged = False
    sub.push([frame])
    assert len(sub.take()) == 1 and sub.pending_bytes == 0


def _run_with_log(runs_dir, tiny_config, plugin_manager, status: str, text: str) -> str:
    from latentdeck.launch import prepare_run
    from latentdeck.store.runs import RunStore

    stored = prepare_run(plugin_manager, {**tiny_config, "epochs": 1})
    RunStore(runs_dir).create(stored)
    run_dir = runs_dir / stored["run_id"]
    update_summary(run_dir, status="running")
    if status != "running":
        update_summary(run_dir, status=status)
    with open(run_dir / "events.jsonl", "a") as handle:
        handle.write(text)
    return stored["run_id"]


def test_sse_sends_a_closing_long_line_as_too_large_and_ends(serve_api, runs_dir, tiny_config, plugin_manager, sse):
    """Replay of an ended run, then a live follower: both get the placeholders, and the stream ends at the
    placeholder of run.failed (skipping it silently would leave a follower waiting forever)."""
    run_id = _run_with_log(runs_dir, tiny_config, plugin_manager, "failed",
                           _line(2, "train.metrics", 3 * 2**20) + _line(3, "run.failed", 3 * 2**20))
    live = serve_api()
    replayed = sse.read(live.client, f"/api/runs/{run_id}/events", max_s=20)
    assert replayed.closed_by_server
    assert [(e["seq"], e["type"], e["data"].get("type")) for e in replayed.events][1:] == [
        (2, "event.too_large", "train.metrics"), (3, "event.too_large", "run.failed")]

    follow_id = _run_with_log(runs_dir, tiny_config, plugin_manager, "running", "")
    import threading

    got = {}
    reader = threading.Thread(target=lambda: got.setdefault("r", sse.read(
        live.client, f"/api/runs/{follow_id}/events", max_s=20)))
    reader.start()
    sse.wait_for(lambda: live.app.state.hub.feeds.get(follow_id), timeout=10, what="the follower's feed")
    with open(runs_dir / follow_id / "events.jsonl", "a") as handle:
        handle.write(_line(2, "train.metrics", 3 * 2**20) + _line(3, "run.failed", 3 * 2**20))
    reader.join(30)
    followed = got["r"]
    assert followed.closed_by_server
    assert [(e["seq"], e["type"]) for e in followed.events][-2:] == [(2, "event.too_large"), (3, "event.too_large")]


# --- measured on a server process ------------------------------------------------------------------

def test_a_stalled_reader_on_16_kb_events_costs_bounded_memory(lab_runs, battery_long):
    from battery_event_bytes import stalled_reader_on_large_events
    from battery_lab import Lab

    with Lab(lab_runs) as lab:
        figures = stalled_reader_on_large_events(lab, events=12_000 if battery_long else 4_000)
    assert figures["follower_complete"] and figures["follower_lost"] == 0, figures
    # before: the stalled subscription held every 16 KB frame (10,000 of them: 158 MB; 590 MB peak here on
    # a 188 MB log, since the feed also read the whole new part at once); now 4 MB plus pieces of 1 MB
    assert figures["rss_growth_mb"] < 60, figures


def test_four_16_mb_lines_replayed_to_10_stalled_clients_cost_bounded_memory(lab_runs):
    from battery_event_bytes import long_lines_replayed
    from battery_lab import Lab

    with Lab(lab_runs) as lab:
        figures = long_lines_replayed(lab, lines=4, line_mb=16, stalled=10)
    assert figures["placeholders_at"] == figures["long_seqs"] == [2, 4, 6, 8], figures
    assert figures["normal_reader_types"][-1] == "run.completed", figures
    assert figures["rss_growth_mb"] < 60, figures  # before: 1.1-1.4 GB (each client read each line whole)
