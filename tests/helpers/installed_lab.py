"""The examples installed as a user would: each built as a wheel, installed with ``pip install --no-deps
--target <dir>`` beside a broken package (its import raises), and a real ``latentdeck serve`` started
with that directory on its path. Used by tests/test_examples_installed.py and the browser test."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("latentdeck-latent-stats", "latentdeck-nearest")
BROKEN = "latentdeck_broken_example"


@dataclass
class InstalledLab:
    url: str
    client: httpx.Client
    runs: Path
    target: Path

    def train(self, config: dict, timeout: float = 120) -> str:
        created = self.client.post("/api/runs", json=config)
        assert created.status_code == 201, created.text
        run_id = created.json()["summary"]["run_id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.client.get(f"/api/runs/{run_id}").json()["summary"]["status"]
            if status in ("completed", "failed", "cancelled"):
                assert status == "completed", (self.runs / run_id / "worker.log").read_text()[-3000:]
                return run_id
            time.sleep(0.2)
        raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def _install(target: Path, wheels: Path) -> None:
    for example in EXAMPLES:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT / "examples" / example)],
                       check=True, capture_output=True, timeout=300)
    built = sorted(str(p) for p in wheels.glob("*.whl"))
    assert len(built) == len(EXAMPLES), built
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), *built],
                   check=True, capture_output=True, timeout=300)
    # a broken third-party package: installed metadata with an entry point whose module fails to import
    dist = target / f"{BROKEN}-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {BROKEN.replace('_', '-')}\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(f"[latentdeck.plugins]\nbroken_example = {BROKEN}.plugin\n")
    (target / BROKEN).mkdir()
    (target / BROKEN / "__init__.py").write_text("")
    (target / BROKEN / "plugin.py").write_text("import a_module_nobody_installed_xyz  # the bug\n")


@contextlib.contextmanager
def installed_lab(tmp_path: Path) -> Iterator[InstalledLab]:
    target, wheels, runs = tmp_path / "site", tmp_path / "wheels", tmp_path / "runs"
    _install(target, wheels)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH")) if p), "LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing",
           "LATENTDECK_WARMUP": "off", "PYTHONUNBUFFERED": "1"}
    env.pop("LATENTDECK_LOAD_PLUGINS", None)
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "latentdeck.cli", "serve", "--port", str(port), "--runs-dir", str(runs)],
                            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=60)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get("/api/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()[-3000:]
            time.sleep(0.2)
        yield InstalledLab(url, client, runs, target)
    finally:
        client.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
