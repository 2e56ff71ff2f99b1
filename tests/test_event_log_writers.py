"""Two writers of one events.jsonl (a run's worker and the API announcing on-demand artifacts)."""

from __future__ import annotations

import subprocess
import sys

from latentdeck.store.events import EventLog, read_events


def test_interleaved_writers_never_reuse_a_seq(tmp_path):
    path = tmp_path / "events.jsonl"
    worker = EventLog(path, "r")
    worker.emit("run.started")
    for i in range(3):
        with EventLog(path, "r") as api:  # opened mid-run, as the API does per request
            api.emit("artifact.created", {"name": f"network/a{i}"})
        worker.emit("train.progress", {"i": i})  # the worker's counter must catch up
    worker.close()
    events = list(read_events(path))
    assert [e["seq"] for e in events] == list(range(1, 8))
    assert [e["type"] for e in events][:3] == ["run.started", "artifact.created", "train.progress"]


def test_concurrent_processes_append_whole_lines_with_unique_seqs(tmp_path):
    path = tmp_path / "events.jsonl"
    code = ("import sys; from latentdeck.store.events import EventLog\n"
            "log = EventLog(sys.argv[1], 'r')\n"
            "[log.emit('train.progress', {'w': sys.argv[2], 'i': i, 'pad': 'x' * 3000}) for i in range(200)]\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(w)]) for w in range(3)]
    assert [p.wait(60) for p in procs] == [0, 0, 0]
    events = list(read_events(path))
    assert len(events) == 600 and sorted(e["seq"] for e in events) == list(range(1, 601))
    assert [e["seq"] for e in events] == list(range(1, 601))  # file order is seq order


def test_a_torn_line_left_by_a_dead_writer_is_closed(tmp_path):
    path = tmp_path / "events.jsonl"
    with EventLog(path, "r") as log:
        log.emit("run.started")
    with open(path, "ab") as handle:
        handle.write(b'{"seq": 2, "type": "tr')
    with EventLog(path, "r") as log:
        assert log.emit("run.failed")["seq"] == 2
    assert [e["seq"] for e in read_events(path)] == [1, 2]
