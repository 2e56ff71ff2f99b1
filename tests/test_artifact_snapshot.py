"""Files that are replaced or grow while they are served arrive whole (issue 13, finding 1).

The server used to declare a file's size and then stream whatever the path held by then: h11's
"Too much data for declared Content-Length" cut responses off whenever a ``*_latest`` mirror or
``summary.json`` was replaced, or ``events.jsonl`` grew, during the request."""

from __future__ import annotations

import threading

import httpx

from latentdeck.kit.atomic import write_bytes


def test_replaced_and_growing_files_are_served_as_consistent_snapshots(trained_run, serve_api):
    run_dir = trained_run()
    run_id = run_dir.name
    live = serve_api()
    big, small = b"B" * 300_000 + b"\n", b"s" * 700 + b"\n"
    mirror = run_dir / "reconstructions" / "recon_grid_latest.png"
    huge, tiny = b"H" * 3_000_000, b"t" * 10
    checkpoint = run_dir / "checkpoints" / "latest.pt"
    write_bytes(mirror, big)
    write_bytes(checkpoint, huge)
    log = run_dir / "events.jsonl"
    stop = threading.Event()

    def writer() -> None:
        flip = False
        line = b'{"seq": 0, "type": "noise", "data": {"x": "' + b"y" * 2000 + b'"}}\n'
        with open(log, "ab") as handle:
            while not stop.is_set():
                flip = not flip
                write_bytes(mirror, big if flip else small)
                write_bytes(checkpoint, huge if flip else tiny)
                handle.write(line[: len(line) // 2])  # a line in two writes: a reader may see half of it
                handle.flush()
                handle.write(line[len(line) // 2:])
                handle.flush()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    failures, bodies = [], {"png": set(), "pt": set()}
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:  # one keep-alive connection
            for i in range(150):
                for name, kind in (("reconstructions/recon_grid_latest.png", "png"), ("checkpoints/latest.pt", "pt"),
                                   ("events.jsonl", "log"), ("summary.json", "json")):
                    try:
                        response = client.get(f"/api/runs/{run_id}/artifacts/{name}")
                    except httpx.HTTPError as exc:
                        failures.append(f"{name}: {type(exc).__name__}: {exc}")
                        continue
                    if response.status_code != 200:
                        failures.append(f"{name}: {response.status_code}")
                    elif kind in bodies:
                        if response.content not in ((big, small) if kind == "png" else (huge, tiny)):
                            failures.append(f"{name}: a body of {len(response.content)} bytes that was never written")
                        bodies[kind].add(len(response.content))
                    elif kind == "log" and not response.content.endswith(b"\n"):
                        failures.append("events.jsonl: ends inside a line")
                    elif kind == "json":
                        response.json()
    finally:
        stop.set()
        thread.join(10)
    assert not failures, f"{len(failures)} of 600 requests failed: {failures[:5]}"
    assert len(bodies["png"]) == 2 and len(bodies["pt"]) == 2, "both versions were served"
