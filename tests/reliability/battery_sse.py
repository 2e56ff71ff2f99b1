"""SSE under abuse: random hang-ups and resumes during a live run, clients that never read, a fast writer.

Each function returns a dict of figures; the tests assert on the correctness ones (lost, duplicated,
order, bounded memory) and bench/reliability.py prints them all (latencies are reported, not asserted).
"""

from __future__ import annotations

import random
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from battery_lab import Lab, RawSSE, read_log, synthetic_run

CLOSING = {"run.completed", "run.cancelled", "run.failed", "backfill.completed", "backfill.failed"}


def chaos(lab: Lab, run_id: str, min_reconnects: int, seed: int = 0, max_s: float = 600) -> dict[str, Any]:
    """Follow a run through random hang-ups (before the headers, mid-frame, between frames), resuming
    each time with the Last-Event-ID header, the last_event_id query parameter, or both (a stale query
    that the header must win over); now and then a fresh connection without a cursor must replay the
    log's head exactly. Ends once the terminal event arrived and ``min_reconnects`` were made."""
    rng = random.Random(seed)
    path = f"/api/runs/{run_id}/events"
    received: list[dict[str, Any]] = []
    fresh_replays: list[list[dict[str, Any]]] = []
    modes = {"header": 0, "query": 0, "both": 0, "fresh": 0}
    reconnects = while_running = mid_frame = no_content = 0
    finished_at = None
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        last = received[-1]["seq"] if received else 0
        mode = rng.choice(["header", "header", "query", "both", "fresh"] if reconnects else ["header"])
        modes[mode] += 1
        headers, query = {}, ""
        if mode in ("header", "both") and last:
            headers["Last-Event-ID"] = str(last)
        if mode == "query" and last:
            query = f"?last_event_id={last}"
        if mode == "both":
            query = f"?last_event_id={rng.randint(0, max(last - 1, 0))}"
        client = RawSSE(lab.url, path + query, headers).open()
        cut = rng.choice([0, rng.randint(1, 400), rng.randint(400, 20_000)])
        client.read(cut, timeout=rng.uniform(0.01, 0.3))
        client.close()
        got = client.events()
        if client.status == 204:
            no_content += 1
        if client.buffer.rstrip(b"\r\n").split(b"\n")[-1:] != [b""] and got:
            mid_frame += 1  # hung up with part of a frame in hand
        if mode == "fresh":
            fresh_replays.append(got)
        else:
            received += [e for e in got]
        reconnects += 1
        if finished_at is None:
            while_running += 1
            if any(e["type"] in CLOSING for e in received):
                finished_at = time.monotonic()
        if finished_at is not None and reconnects >= min_reconnects and (client.status == 204 or mode != "fresh"):
            break
        time.sleep(rng.uniform(0, 0.03))
    log = read_log(lab.runs_dir / run_id)
    seqs = [e["seq"] for e in received]
    expected = [e["seq"] for e in log]
    head_ok = all(replay == log[:len(replay)] for replay in fresh_replays)
    return {
        "reconnects": reconnects, "reconnects_while_running": while_running, "modes": modes,
        "hung_up_mid_frame": mid_frame, "answered_204": no_content, "events_in_log": len(log),
        "events_received": len(received), "lost": len(set(expected) - set(seqs)),
        "duplicated": len(seqs) - len(set(seqs)), "order_kept": seqs == sorted(seqs),
        "identical_to_log": received == log, "fresh_replays_checked": len(fresh_replays),
        "fresh_replays_match_log_head": head_ok,
    }


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "3600"])


def stalled_readers(lab: Lab, log_mb: float, readers: int, live: bool) -> dict[str, Any]:
    """``readers`` clients open the event stream of a run with a ``log_mb`` log and never read; the
    server's resident memory is sampled meanwhile, and one normal client replays the whole log."""
    events = int(log_mb * 1024 * 1024 / 1000)
    sleeper = _sleeper() if live else None
    run_id = f"20260101-000000-{'11' if live else '22'}{readers:04x}"
    run_dir = synthetic_run(lab.runs_dir, run_id, events, status="running" if live else "completed",
                            worker_pid=sleeper.pid if sleeper else None)
    path = f"/api/runs/{run_id}/events"
    expected = len(read_log(run_dir))
    try:
        with httpx.Client(base_url=lab.url, timeout=60) as client:
            def replay_all() -> int:
                count = 0
                with client.stream("GET", path) as response:
                    for line in response.iter_lines():
                        if line.startswith("data: "):
                            count += 1
                            if live and count == expected:
                                break
                return count

            replay_all()  # warm: every module imported, buffers sized
            time.sleep(0.5)
            baseline = lab.rss_mb()
            stalled = [RawSSE(lab.url, path).open(rcvbuf=4096) for _ in range(readers)]
            peak, started = baseline, time.monotonic()
            normal = {}
            thread = threading.Thread(target=lambda: normal.setdefault("count", replay_all()))
            thread.start()
            while time.monotonic() - started < 4 or thread.is_alive():
                peak = max(peak, lab.rss_mb())
                time.sleep(0.05)
                if time.monotonic() - started > 120:
                    break
            thread.join(60)
            for sock in stalled:
                sock.close()
    finally:
        if sleeper is not None:
            sleeper.kill()
            sleeper.wait()
    return {"log_mb": round((run_dir / "events.jsonl").stat().st_size / 2**20, 1), "stalled_readers": readers,
            "live": live, "rss_baseline_mb": round(baseline, 1), "rss_peak_mb": round(peak, 1),
            "rss_growth_mb": round(peak - baseline, 1), "normal_reader_events": normal.get("count"),
            "events_in_log": expected}


def fast_writer(lab: Lab, rate: int, seconds: float, stalled: int) -> dict[str, Any]:
    """A run whose log grows by ``rate`` events a second for ``seconds``, followed by one normal
    client while ``stalled`` others never read: the normal client's delivery delay, what it lost or
    got twice, and the server's memory growth."""
    from latentdeck.store.events import EventLog

    sleeper = _sleeper()
    run_id = f"20260101-000000-33{stalled:04x}"
    run_dir = synthetic_run(lab.runs_dir, run_id, 1, status="running", worker_pid=sleeper.pid)
    path = f"/api/runs/{run_id}/events"
    delays: list[float] = []
    seqs: list[int] = []
    baseline = lab.rss_mb()
    try:
        sockets = [RawSSE(lab.url, path).open(rcvbuf=4096) for _ in range(stalled)]
        ready = threading.Event()

        def follow() -> None:
            with httpx.Client(base_url=lab.url, timeout=60) as client, client.stream("GET", path) as response:
                ready.set()
                import json

                for line in response.iter_lines():
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        delays.append(time.time() - event["ts"])
                        seqs.append(event["seq"])
                        if event["type"] == "run.completed":
                            return

        reader = threading.Thread(target=follow)
        reader.start()
        ready.wait(30)
        time.sleep(0.3)
        peak = baseline
        with EventLog(run_dir / "events.jsonl", run_id) as log:
            total = int(rate * seconds)
            started = time.monotonic()
            for i in range(total):
                log.emit("train.progress", {"step": i, "filler": "x" * 600})
                ahead = started + (i + 1) / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
                if i % 200 == 0:
                    peak = max(peak, lab.rss_mb())
            log.emit("run.completed", {})
        reader.join(120)
        peak = max(peak, lab.rss_mb())
        for sock in sockets:
            sock.close()
    finally:
        sleeper.kill()
        sleeper.wait()
    expected = [e["seq"] for e in read_log(run_dir)]
    live_delays = delays[1:]  # the first is the replayed head
    return {"rate_per_s": rate, "seconds": seconds, "stalled_readers": stalled, "events": len(expected),
            "lost": len(set(expected) - set(seqs)), "duplicated": len(seqs) - len(set(seqs)),
            "delay_p50_ms": round(statistics.median(live_delays) * 1000, 1) if live_delays else None,
            "delay_p95_ms": round(statistics.quantiles(live_delays, n=20)[18] * 1000, 1) if len(live_delays) > 20 else None,
            "rss_growth_mb": round(peak - baseline, 1)}
