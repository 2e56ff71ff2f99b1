"""The append-only event log: sequence numbers, torn tails, tailing and JSON safety."""

from __future__ import annotations

import json
import math

from latentdeck.store.events import TERMINAL_EVENTS, EventLog, EventTail, read_events


def lines(path):
    return path.read_bytes().decode().splitlines()


def test_seq_increments_and_event_shape(tmp_path):
    path = tmp_path / "run" / "events.jsonl"  # the folder is created
    seen = []
    with EventLog(path, "run-1") as log:
        log.listeners.append(seen.append)
        first = log.emit("run.created", {"a": 1})
        second = log.emit("run.started")
    assert (first["seq"], second["seq"]) == (1, 2)
    assert [e["seq"] for e in seen] == [1, 2]  # listeners see each event after it is written
    parsed = [json.loads(line) for line in lines(path)]
    assert parsed == [first, second]
    assert parsed[0]["type"] == "run.created" and parsed[0]["run_id"] == "run-1" and parsed[0]["data"] == {"a": 1}
    assert parsed[1]["data"] == {}
    assert isinstance(parsed[0]["ts"], float)


def test_seq_resumes_after_reopen(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        for _ in range(3):
            log.emit("train.progress")
    with EventLog(path, "r") as log:
        assert log.seq == 3
        assert log.emit("run.completed")["seq"] == 4
    assert [e["seq"] for e in read_events(path)] == [1, 2, 3, 4]


def test_seq_resumes_after_reopen_with_a_long_log(tmp_path):
    """The last seq is found by reading backwards in growing chunks, past lines longer than one chunk."""
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        for i in range(5):
            log.emit("train.metrics", {"blob": "x" * 9000, "i": i})
    with EventLog(path, "r") as log:
        assert log.seq == 5
        assert log.emit("x")["seq"] == 6


def test_empty_file_starts_at_one(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"")
    with EventLog(path, "r") as log:
        assert log.emit("run.created")["seq"] == 1


def test_torn_tail_is_removed_by_the_next_writer(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("run.started")
        log.emit("train.progress", {"batch": 1})
    with open(path, "ab") as handle:  # a writer died mid-line
        handle.write(b'{"seq": 3, "type": "train.prog')

    assert [e["seq"] for e in read_events(path)] == [1, 2]  # readers stop at the last newline

    with EventLog(path, "r") as log:
        assert log.seq == 2  # the torn line never counted
        event = log.emit("run.failed", {"reason": "worker gone"})
    assert event["seq"] == 3
    raw = lines(path)
    assert len(raw) == 3 and json.loads(raw[2]) == event  # the cut line was truncated, not kept


def test_readers_see_every_event_after_a_torn_line_and_a_later_writer(tmp_path):
    """After a crash mid-line and a later writer (which removes the torn line), read_events returns every event."""
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("run.started")
    with open(path, "ab") as handle:
        handle.write(b'{"seq": 2, "ty')
    with EventLog(path, "r") as log:
        log.emit("run.failed")
    assert [(e["seq"], e["type"]) for e in read_events(path)] == [(1, "run.started"), (2, "run.failed")]


def test_event_tail_returns_only_complete_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    assert tail.poll() == []  # no file yet

    first = json.dumps({"seq": 1, "type": "a", "data": {}})
    second = json.dumps({"seq": 2, "type": "b", "data": {"k": "v"}})
    with open(path, "wb") as handle:
        handle.write((first + "\n" + second[:10]).encode())
    assert [e["seq"] for e in tail.poll()] == [1]
    assert tail.poll() == []  # nothing new
    with open(path, "ab") as handle:
        handle.write(second[10:-3].encode())
    assert tail.poll() == []  # still no newline
    with open(path, "ab") as handle:
        handle.write((second[-3:] + "\n").encode())
    events = tail.poll()
    assert events == [{"seq": 2, "type": "b", "data": {"k": "v"}}]
    assert tail.offset == path.stat().st_size


def test_event_tail_follows_a_live_writer(tmp_path):
    path = tmp_path / "events.jsonl"
    tail = EventTail(path)
    with EventLog(path, "r") as log:
        log.emit("a")
        assert [e["type"] for e in tail.poll()] == ["a"]
        log.emit("b")
        log.emit("c")
        assert [e["type"] for e in tail.poll()] == ["b", "c"]
        assert tail.poll() == []


def test_nan_and_inf_are_written_as_null(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("train.metrics", {"loss": float("nan"), "up": math.inf, "down": -math.inf,
                                   "nested": {"parts": [1.5, float("nan")]}, "ok": 0.25})
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    (event,) = read_events(path)
    assert event["data"] == {"loss": None, "up": None, "down": None, "nested": {"parts": [1.5, None]}, "ok": 0.25}


def test_tensor_and_numpy_scalars_are_plain_numbers(tmp_path):
    import numpy as np
    import torch

    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("x", {"t": torch.tensor(2.5), "n": np.float32(0.5), "v": torch.tensor([1, 2]),
                       "bad": torch.tensor(float("inf"))})
    (event,) = read_events(path)
    assert event["data"] == {"t": 2.5, "n": 0.5, "v": [1, 2], "bad": None}


def test_read_events_after_seq(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        for kind in ("run.created", "run.started", "train.progress", "run.completed"):
            log.emit(kind)
    assert [e["type"] for e in read_events(path, after_seq=2)] == ["train.progress", "run.completed"]
    assert [e["seq"] for e in read_events(path)] == [1, 2, 3, 4]
    assert list(read_events(path, after_seq=4)) == []
    assert list(read_events(tmp_path / "missing.jsonl")) == []


def test_terminal_events_are_the_three_endings():
    assert TERMINAL_EVENTS == {"run.completed", "run.cancelled", "run.failed"}


def test_reopen_after_a_removed_torn_line_without_a_later_event(tmp_path):
    """A writer that removed a torn line and stopped before emitting must not break the next writer."""
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("run.started")
    with open(path, "ab") as handle:
        handle.write(b'{"seq": 2, "ty')
    EventLog(path, "r").close()  # removes the torn line, emits nothing
    with EventLog(path, "r") as log:
        assert log.seq == 1
        assert log.emit("run.failed")["seq"] == 2
