"""Hostile input: a traversal corpus against every route that takes a run id, an artifact name or a
static path, plus oversized and malformed bodies.

Outside the runs folder and the UI export lie canary files (and a complete run folder); links
inside point at them (a run folder that is a link, an artifact that is a link, a UI file that is a
link). When the machine allows it (root), the canaries live on a tmpfs mounted ``strictatime``, so
every read of them moves their access time: a read is counted even when nothing leaks. Figures:
requests sent, responses carrying canary bytes, canary files read, files written or created
outside, and 5xx answers (all goals 0).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

from battery_lab import Lab, TINY_RUN

CANARY = "CANARY-7f3a-outside-the-lab"


@contextlib.contextmanager
def atime_disk(folder: Path) -> Iterator[bool]:
    """``folder`` on a tmpfs that updates access times on every read (yields False when not possible)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,strictatime", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted and subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def plant(work: Path, runs: Path, ui: Path, secret: Path, real_run: Path) -> dict[str, Path]:
    """Canaries outside, links inside."""
    (secret / "passwd").write_text(f"root:x:0:0:{CANARY}\n")
    run = secret / "run"
    shutil.copytree(real_run, run, symlinks=True)
    for name in ("summary.json", "config.json"):
        data = json.loads((run / name).read_text())
        data["name"] = CANARY
        (run / name).write_text(json.dumps(data))
    with open(run / "events.jsonl", "a") as handle:
        handle.write(json.dumps({"seq": 10_000, "type": "run.created", "data": {"x": CANARY}}) + "\n")
    (secret / "index.html").write_text(CANARY)
    (runs / "20260101-000000-c0ffee").symlink_to(run, target_is_directory=True)
    (real_run / "reconstructions" / "evil.png").symlink_to(secret / "passwd")
    (real_run / "summary.jsonl").symlink_to(secret / "passwd")
    (ui / "leak.html").symlink_to(secret / "passwd")
    (ui / "runs" / "_" / "linked").symlink_to(secret, target_is_directory=True)
    return {"passwd": secret / "passwd", "run": run}


def atimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_atime_ns for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def corpus(secret: Path, run_id: str) -> list[tuple[str, str]]:
    """(method, raw path) pairs: traversal in every encoding we know, at every place a name goes."""
    rel = "secret/passwd"
    ups = ["..", "%2e%2e", "%2E%2E", ".%2e", "%252e%252e", "..%00", "%c0%ae%c0%ae", "%uff0e%uff0e", "....", "..;"]
    seps = ["/", "%2f", "%2F", "%252f", "\\", "%5c", "%5C", "%c0%af", "%e0%80%af", "//"]
    names = set()
    for up in ups:
        for sep in seps:
            for depth in (1, 2, 3, 6):
                names.add(sep.join([up] * depth) + sep + rel.replace("/", sep))
    absolute = str(secret / "passwd")
    names |= {absolute, absolute.replace("/", "%2f"), "/" + absolute, "%2f" + absolute.lstrip("/"),
              absolute.replace("/", "\\"), "file://" + absolute, "reconstructions/evil.png",
              "reconstructions/../../" + rel, "reconstructions/./../../" + rel, "reconstructions%2f..%2f..%2f" + rel,
              "reconstructions/recon_grid_latest.png%00/../../" + rel, "reconstructions/recon_grid_latest.png\x00",
              "summary.jsonl", "config.json/../../" + rel, ".disk-reserve", "worker.json", "cancel_requested",
              "../" + run_id + "/summary.json", "reconstructions/" + "a" * 300, "/".join(["seg"] * 600),
              "reconstructions/" + "%2e%2e/" * 40 + rel, "x" * 5000}
    requests = []
    base = f"/api/runs/{run_id}"
    for name in sorted(names):
        requests.append(("GET", f"{base}/artifacts/{name}"))
    ids = ["..", "%2e%2e", "../secret", "..%2fsecret%2frun", "%2e%2e%2fsecret%2frun", "20260101-000000-c0ffee",
           ".", "%2e", absolute, "%2f" + absolute.lstrip("/").replace("/", "%2f"), "secret", "..\\secret\\run",
           run_id + "%00", run_id + "%2f..%2f..%2fsecret%2frun", "a" * 5000, "%00", "~root", "$HOME"]
    suffixes = ["", "/files", "/artifacts/summary.json", "/artifacts/config.json", "/artifacts/events.jsonl",
                "/events"]
    for rid in ids:
        for suffix in suffixes:
            requests.append(("GET", f"/api/runs/{rid}{suffix}"))
        requests += [("POST", f"/api/runs/{rid}/cancel"), ("DELETE", f"/api/runs/{rid}"),
                     ("POST", f"/api/runs/{rid}/compute/sampling", b'{"idx": 0}'),
                     ("POST", f"/api/runs/{rid}/compute/network-layers"),
                     ("POST", f"/api/runs/{rid}/compute/network-forward", b'{"idx": 0}'), ("POST", f"/api/runs/{rid}/backfill")]
    for name in sorted(names):
        requests.append(("GET", "/" + name))
        requests.append(("GET", "/runs/" + name))
        requests.append(("GET", "/_next/static/" + name))
    requests += [("GET", "/leak.html"), ("GET", "/runs/_/linked/passwd"), ("GET", "/runs/x/linked/passwd"),
                 ("GET", "/runs/20260101-000000-c0ffee/"), ("POST", f"/api/runs/{run_id}/compute/network-kernels",
                                                              json.dumps({"layer": f"../../{rel}", "out": 0}).encode()),
                 ("POST", f"/api/runs/{run_id}/compute/network-forward", json.dumps({"idx": 0, "epoch": f"../../{rel}"}).encode()),
                 ("POST", f"/api/runs/{run_id}/compute/walk", json.dumps({"from_idx": 0, "to_idx": 1, "method": f"../../{rel}"}).encode())]
    return requests


def send(url: str, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One request on a raw socket, the path byte for byte (control characters too)."""
    import socket

    host, port = url.removeprefix("http://").split(":")
    body = body if body is not None else (b"{}" if method == "POST" else b"")
    head = (f"{method} ".encode() + path.encode("utf-8", "surrogateescape") + b" HTTP/1.1\r\n"
            + f"Host: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
              "Connection: close\r\n\r\n".encode())
    try:
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(head + body)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
                if b"text/event-stream" in data[:2048] and len(data) > 1 << 20:
                    break  # an event stream: what came is enough to look for canaries
    except OSError as exc:
        return -1, str(exc).encode()
    status_line = data.split(b"\r\n", 1)[0].split(b" ")
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else -1
    return status, data


def traversal(work: Path, real_run: Path) -> dict[str, Any]:
    """Run the corpus against a lab whose runs folder holds ``real_run`` (a finished run, copied)."""
    runs, ui, secret = work / "runs", work / "ui", work / "secret"
    runs.mkdir(parents=True)
    (ui / "runs" / "_").mkdir(parents=True)
    (ui / "_next" / "static").mkdir(parents=True)
    (ui / "index.html").write_text("launch page")
    (ui / "runs" / "_" / "index.html").write_text("run page")
    run_dir = runs / real_run.name
    shutil.copytree(real_run, run_dir)
    with atime_disk(secret) as atime:
        plant(work, runs, ui, secret, run_dir)
        hashed_before = digests(secret)
        read_before = atimes(secret)  # after hashing, which reads them
        outside_before = {p.name for p in work.iterdir()}
        requests = corpus(secret, run_dir.name)
        leaks, errors, statuses = [], [], {}
        with Lab(runs, env={"LATENTDECK_UI_DIR": str(ui)}) as lab:
            for method, path, *payload in requests:
                status, body = send(lab.url, method, path, *payload)
                statuses[status] = statuses.get(status, 0) + 1
                if CANARY.encode() in body:
                    leaks.append(f"{method} {path[:120]} -> {status}")
                if status >= 500 or status < 0:
                    errors.append(f"{method} {path[:120]} -> {status}: {body[:200]!r}")
            still_up = send(lab.url, "GET", "/api/health")[0] == 200
        read_after = atimes(secret)  # before hashing again
        hashed_after = digests(secret)
        reads = sorted(name for name, ns in read_before.items() if read_after.get(name) != ns)
        written = sorted(name for name in set(hashed_before) | set(hashed_after)
                         if hashed_before.get(name) != hashed_after.get(name))
    created = sorted({p.name for p in work.iterdir()} - outside_before - {p.name for p in work.glob("server-*.log")})
    return {"requests": len(requests), "statuses": dict(sorted(statuses.items())), "responses_with_canary": len(leaks),
            "leaks": leaks[:10], "canary_files_read": len(reads) if atime else None, "reads": reads[:10],
            "atime_checked": atime, "files_written_outside": len(written) + len(created), "written": (written + created)[:10],
            "server_errors": len(errors), "errors": errors[:10], "server_still_up": still_up}


def bodies(lab: Lab) -> dict[str, Any]:
    """Oversized and malformed bodies: every one refused with a 4xx, small answers, nothing written."""
    cases = {
        "20 MB name": json.dumps({**TINY_RUN, "name": "x" * (20 << 20)}).encode(),
        "1 MB name": json.dumps({**TINY_RUN, "name": "x" * (900_000)}).encode(),
        "NaN epochs": b'{"epochs": NaN}',
        "Infinity lr": b'{"optimizer": {"lr": Infinity}}',
        "deep nesting": b'{"model_options": ' + b'{"a": ' * 10_000 + b"1" + b"}" * 10_001,
        "not JSON": b"\xff\xfe\x00garbage",
        "truncated": b'{"epochs": 1',
        "array": b"[1, 2, 3]",
        "huge int": b'{"seed": ' + b"9" * 5000 + b"}",
        "many fields": json.dumps({f"f{i}": i for i in range(20_000)}).encode(),
        "bool epochs": b'{"epochs": true}',
        "string epochs": b'{"epochs": "1"}',
    }
    host, port = lab.url.removeprefix("http://").split(":")
    results = {}
    before = sorted(p.name for p in lab.runs_dir.iterdir())
    for name, body in cases.items():
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            conn.request("POST", "/api/runs", body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            answer = response.read()
            results[name] = {"status": response.status, "answer_bytes": len(answer)}
        except (http.client.HTTPException, OSError) as exc:
            results[name] = {"status": -1, "error": str(exc)}
        finally:
            conn.close()
    after = sorted(p.name for p in lab.runs_dir.iterdir())
    return {"cases": results, "all_4xx": all(400 <= r["status"] < 500 for r in results.values()),
            "largest_answer_bytes": max(r.get("answer_bytes", 0) for r in results.values()),
            "runs_written": len(after) - len(before)}
