"""Event streams bounded in bytes (issue 22 item 4, finding 10), measured on a real server process.

- :func:`stalled_reader_on_large_events`: a live run whose log grows by events of ``event_kb`` each while
  ``stalled`` clients never read; one normal follower must get every event. Before, each stalled
  subscription buffered up to 10,000 frames whatever their size (16 KB events: 158 MB per reader).
- :func:`long_lines_replayed`: an ended run whose log holds ``lines`` lines of ``line_mb`` each, replayed to
  ``stalled`` clients that never read, and to one normal client. Before, lines were read whole (four 16 MB
  lines to 10 stalled clients: 1.1 GB).

Each returns a dict of figures (RSS in MB: the server's baseline, its peak while the clients hang on, the
growth); tests/reliability/test_event_bytes.py asserts on them and bench scripts can print them.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any

import httpx

from battery_lab import Lab, RawSSE, synthetic_run


def _follow(lab: Lab, path: str, out: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    """Read the stream to its end; ``out``: the seqs and types received."""
    seqs, kinds = [], []
    with httpx.Client(base_url=lab.url, timeout=120) as client, client.stream("GET", path, headers=headers) as response:
        out["ready"] = True
        for line in response.iter_lines():
            if line.startswith("data: "):
                event = json.loads(line[6:])
                seqs.append(event["seq"])
                kinds.append(event["type"])
    out.update(seqs=seqs, types=kinds)


def _sample(lab: Lab, peak: float) -> float:
    return max(peak, lab.rss_mb())


def stalled_reader_on_large_events(lab: Lab, events: int, event_kb: int = 16, stalled: int = 1) -> dict[str, Any]:
    from latentdeck.store.events import EventLog

    sleeper = subprocess.Popen(["sleep", "3600"])
    run_id = f"20260101-000000-44{stalled:04x}"
    run_dir = synthetic_run(lab.runs_dir, run_id, 1, status="running", worker_pid=sleeper.pid)
    path = f"/api/runs/{run_id}/events"
    filler = "x" * (event_kb * 1024 - 120)
    try:
        with httpx.Client(base_url=lab.url, timeout=30) as client:  # warm: modules imported, buffers sized
            client.get("/api/health")
        time.sleep(0.3)
        baseline = peak = lab.rss_mb()
        sockets = [RawSSE(lab.url, path).open(rcvbuf=4096) for _ in range(stalled)]
        follower: dict[str, Any] = {}
        thread = threading.Thread(target=_follow, args=(lab, path, follower))
        thread.start()
        deadline = time.monotonic() + 30
        while "ready" not in follower and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        started = time.monotonic()
        with EventLog(run_dir / "events.jsonl", run_id) as log:
            for i in range(events):
                log.emit("train.progress", {"step": i, "filler": filler})
                if i % 100 == 0:
                    peak = _sample(lab, peak)
            write_s = time.monotonic() - started
            for _ in range(20):  # the feed catches up and the stalled subscriptions fill
                peak = _sample(lab, peak)
                time.sleep(0.05)
            log.emit("run.completed", {})
        thread.join(120)
        peak = _sample(lab, peak)
        for sock in sockets:
            sock.close()
    finally:
        sleeper.kill()
        sleeper.wait()
    expected = list(range(1, events + 3))
    return {"events": events, "event_kb": event_kb, "log_mb": round((run_dir / "events.jsonl").stat().st_size / 2**20, 1),
            "stalled_readers": stalled, "write_s": round(write_s, 1), "rss_baseline_mb": round(baseline, 1),
            "rss_peak_mb": round(peak, 1), "rss_growth_mb": round(peak - baseline, 1),
            "follower_complete": follower.get("seqs") == expected,
            "follower_lost": len(set(expected) - set(follower.get("seqs") or []))}


def long_line_log(run_dir, run_id: str, lines: int, line_mb: float) -> list[int]:
    """Rewrite the run's log: a small event, then ``lines`` lines of ``line_mb`` (train.metrics) each
    between small events, then run.completed; the seqs of the long lines."""
    filler = "y" * int(line_mb * 2**20)
    long_seqs = []
    with open(run_dir / "events.jsonl", "w") as handle:
        seq = 1
        handle.write(json.dumps({"seq": seq, "type": "run.created", "ts": time.time(), "run_id": run_id,
                                 "data": {}}) + "\n")
        for _ in range(lines):
            seq += 1
            long_seqs.append(seq)
            handle.write(json.dumps({"seq": seq, "type": "train.metrics", "ts": time.time(), "run_id": run_id,
                                     "data": {"filler": filler}}) + "\n")
            seq += 1
            handle.write(json.dumps({"seq": seq, "type": "train.progress", "ts": time.time(), "run_id": run_id,
                                     "data": {"step": seq}}) + "\n")
        handle.write(json.dumps({"seq": seq + 1, "type": "run.completed", "ts": time.time(), "run_id": run_id,
                                 "data": {}}) + "\n")
    return long_seqs


def long_lines_replayed(lab: Lab, lines: int = 4, line_mb: float = 16, stalled: int = 10) -> dict[str, Any]:
    run_id = f"20260101-000000-55{stalled:04x}"
    run_dir = synthetic_run(lab.runs_dir, run_id, 1, status="completed")
    long_seqs = long_line_log(run_dir, run_id, lines, line_mb)
    path = f"/api/runs/{run_id}/events"
    with httpx.Client(base_url=lab.url, timeout=30) as client:
        client.get("/api/health")
    time.sleep(0.3)
    baseline = peak = lab.rss_mb()
    sockets = [RawSSE(lab.url, path).open(rcvbuf=4096) for _ in range(stalled)]
    started = time.monotonic()
    while time.monotonic() - started < 4:
        peak = _sample(lab, peak)
        time.sleep(0.05)
    normal: dict[str, Any] = {}
    _follow(lab, path, normal)
    peak = _sample(lab, peak)
    for sock in sockets:
        sock.close()
    placeholders = [s for s, t in zip(normal.get("seqs", []), normal.get("types", [])) if t == "event.too_large"]
    return {"lines": lines, "line_mb": line_mb, "log_mb": round((run_dir / "events.jsonl").stat().st_size / 2**20, 1),
            "stalled_readers": stalled, "rss_baseline_mb": round(baseline, 1), "rss_peak_mb": round(peak, 1),
            "rss_growth_mb": round(peak - baseline, 1), "normal_reader_events": len(normal.get("seqs") or []),
            "normal_reader_types": normal.get("types"), "placeholders_at": placeholders, "long_seqs": long_seqs}
