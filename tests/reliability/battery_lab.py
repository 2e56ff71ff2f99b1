"""Shared pieces of the reliability battery (tests/reliability/test_*.py and bench/reliability.py).

- :class:`Lab`: ``latentdeck serve`` in its own process on a free 127.0.0.1 port, as a user runs it
  (so it can be SIGKILLed, restarted, and its memory measured), with the test plugins loaded.
- :func:`synthetic_run`: a run folder with an event log of any size, written directly (no training).
- :func:`check_files`: every file of a run folder is valid (JSON parses, PNG decodes, checkpoints
  load with ``weights_only``, the event log's complete lines parse with contiguous seqs).
- :class:`RawSSE`: an SSE client on a raw socket that can stop reading, or hang up, at any byte.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TINY_RUN = {"model": "ae", "dataset": "tiny-digits", "seed": 0, "projections": ["first-dims"],
            "viz_subset_size": 16, "num_threads": 1, "batch_size": 32,
            "artifact_options": {"recon_grid": {"grid_size": 4}},
            "model_options": {"latent_dim": 4, "channels": [4, 4], "head_hidden": 8}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class Lab:
    """``latentdeck serve`` in a subprocess; ``start()`` again after ``kill()`` restarts it on the same port."""

    def __init__(self, runs_dir: Path, env: dict[str, str] | None = None, port: int | None = None,
                 log_dir: Path | None = None):
        self.runs_dir = Path(runs_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing", "LATENTDECK_WARMUP": "off",
                    **(env or {})}
        self.env.pop("LATENTDECK_TOKEN", None)
        self.proc: subprocess.Popen | None = None
        self.log = Path(log_dir or self.runs_dir.parent) / f"server-{self.port}.log"

    def start(self, timeout: float = 60) -> "Lab":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "latentdeck.cli", "serve", "--port", str(self.port), "--runs-dir",
                 str(self.runs_dir)], env=self.env, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the server did not start")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)

    def stop(self) -> None:
        self.kill(signal.SIGINT)

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def create(self, client: httpx.Client, **config: Any) -> str:
        response = client.post("/api/runs", json={**TINY_RUN, **config})
        assert response.status_code == 201, response.text
        return response.json()["summary"]["run_id"]

    def wait_status(self, client: httpx.Client, run_id: str, statuses: set[str], timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            summary = client.get(f"/api/runs/{run_id}").json()["summary"]
            if summary["status"] in statuses:
                return summary
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not become {statuses} in {timeout}s (last: {summary})")


def kill_workers(runs_dir: Path) -> None:
    """SIGKILL every worker recorded under ``runs_dir`` that still runs (a failed test's leftovers)."""
    from latentdeck.kit.procs import pid_alive
    from latentdeck.store.runs import read_worker_info

    for run_dir in Path(runs_dir).iterdir() if Path(runs_dir).is_dir() else ():
        info = read_worker_info(run_dir) if run_dir.is_dir() else None
        if info and isinstance(info.get("pid"), int) and pid_alive(info["pid"], info.get("proc_start")):
            try:
                os.kill(info["pid"], signal.SIGKILL)
            except OSError:
                pass


def synthetic_run(runs_dir: Path, run_id: str, events: int, payload_bytes: int = 800, status: str = "completed",
                  worker_pid: int | None = None) -> Path:
    """A run folder whose log holds ``events`` events of about ``payload_bytes`` each (and a closing
    ``run.completed`` when ``status`` is completed), written in one go."""
    from latentdeck.kit.atomic import dumps, write_json
    from latentdeck.kit.procs import proc_start_time

    run_dir = Path(runs_dir) / run_id
    run_dir.mkdir(parents=True)
    write_json(run_dir / "config.json", {"run_id": run_id, "model": "ae", "dataset": "tiny-digits", "epochs": 1})
    write_json(run_dir / "summary.json", {
        "run_id": run_id, "status": status, "model": "ae", "dataset": "tiny-digits", "epochs": 1,
        "epochs_completed": 0, "created_at": time.time(), "started_at": time.time(),
        "ended_at": time.time() if status == "completed" else None, "reason": None, "error": None})
    if worker_pid is not None:
        write_json(run_dir / "worker.json", {"executor": "local", "pid": worker_pid,
                                             "proc_start": proc_start_time(worker_pid), "started_at": time.time()})
    filler = "x" * payload_bytes
    with open(run_dir / "events.jsonl", "w") as handle:
        for seq in range(1, events + 1):
            handle.write(dumps({"seq": seq, "type": "train.progress", "ts": time.time(), "run_id": run_id,
                                "data": {"step": seq, "filler": filler}}) + "\n")
        if status == "completed":
            handle.write(dumps({"seq": events + 1, "type": "run.completed", "ts": time.time(), "run_id": run_id,
                                "data": {}}) + "\n")
    return run_dir


def read_log(run_dir: Path) -> list[dict[str, Any]]:
    from latentdeck.store.events import read_events

    return list(read_events(Path(run_dir) / "events.jsonl"))


# --- file validity --------------------------------------------------------------------------------

def check_file(path: Path) -> str | None:
    """Why ``path`` is not a valid file of its kind (None when it is)."""
    name = path.name
    try:
        if name.endswith(".json"):
            json.loads(path.read_bytes())
        elif name.endswith(".png"):
            from PIL import Image

            with Image.open(path) as image:
                image.load()
        elif name.endswith(".pt"):
            import torch

            state = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(state, dict) or "model" not in state:
                return "checkpoint without a model state"
        elif name == "events.jsonl":
            seqs = [e["seq"] for e in read_log(path.parent)]
            if seqs != list(range(1, len(seqs) + 1)):
                return f"event seqs are not 1..n in order: {seqs[:5]}...{seqs[-5:]}"
    except Exception as exc:  # any failure to read it as its kind
        return f"{type(exc).__name__}: {exc}"
    return None


def check_files(run_dir: Path) -> dict[str, str]:
    """``{relative name: problem}`` for every invalid file of a run (temp files of unfinished writes are
    hidden dot-files, never read by anyone, and skipped)."""
    problems = {}
    for path in sorted(Path(run_dir).rglob("*")):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(run_dir).parts):
            problem = check_file(path)
            if problem:
                problems[str(path.relative_to(run_dir))] = problem
    return problems


def digests(run_dir: Path) -> dict[str, str]:
    import hashlib

    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(run_dir).rglob("*")) if p.is_file()}


# --- a raw SSE client -------------------------------------------------------------------------------

@dataclass
class RawSSE:
    """A GET on a raw socket: read as much as wanted, stop reading, or hang up anywhere (mid-frame)."""

    url: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    sock: socket.socket | None = None
    buffer: bytes = b""
    status: int | None = None

    def open(self, rcvbuf: int | None = None) -> "RawSSE":
        host, port = self.url.removeprefix("http://").split(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, int(port)))
        lines = [f"GET {self.path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self

    def read(self, limit: int, timeout: float = 10.0) -> bytes:
        """Up to ``limit`` more bytes (fewer when the server ends the response)."""
        assert self.sock is not None
        self.sock.settimeout(timeout)
        got = b""
        while len(got) < limit:
            try:
                chunk = self.sock.recv(min(65536, limit - len(got)))
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
        self.buffer += got
        return got

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def events(self) -> list[dict[str, Any]]:
        """The complete events received so far (a frame is complete at its blank line, as in EventSource)."""
        head, sep, body = self.buffer.partition(b"\r\n\r\n")
        if not sep:
            return []
        self.status = int(head.split(b" ", 2)[1])
        if b"chunked" in head.lower():
            body = _dechunk(body)
        found = []
        for block in body.split(b"\n\n")[:-1]:  # the last piece is unterminated
            data = [line[6:] for line in block.split(b"\n") if line.startswith(b"data: ")]
            if data:
                found.append(json.loads(b"\n".join(data)))
        return found


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2:]
    return out
