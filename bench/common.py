"""Shared helpers for the benchmarks (run them from the repo root with .venv/bin/python bench/<name>.py)."""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
T10K = Path(os.environ.get("LATENTDECK_T10K", REPO.parent / "shared" / "data" / "mnist-t10k"))


def load_t10k():
    """The real MNIST test split (10,000 digits) as float (n, 1, 28, 28) in [0, 1] and int64 labels."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    if not (T10K / "t10k-images-idx3-ubyte.gz").exists():
        raise SystemExit(f"MNIST test split not found in {T10K}; set LATENTDECK_T10K to its folder")
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            out = Path(tmp) / stem
            out.write_bytes(gzip.decompress((T10K / f"{stem}.gz").read_bytes()))
            paths[stem] = str(out)
        images = read_image_file(paths["t10k-images-idx3-ubyte"])
        labels = read_label_file(paths["t10k-labels-idx1-ubyte"])
    return images.float().div(255).unsqueeze(1), labels.long()


def accuracy(model, x, y, batch: int = 2000) -> float:
    import torch

    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), batch):
            correct += int((model(x[start:start + batch])["logits"].argmax(1) == y[start:start + batch]).sum())
    return correct / len(x)


class LabServer:
    """``latentdeck serve`` in a subprocess on a free 127.0.0.1 port (a real server, like a user's)."""

    def __init__(self, runs_dir: str, extra_env: dict[str, str] | None = None):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.runs_dir = runs_dir
        self.env = {**os.environ, **(extra_env or {})}
        self.proc = None

    def __enter__(self) -> "LabServer":
        import subprocess
        import sys
        import time

        import httpx

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "latentdeck.cli", "serve", "--port", str(self.port), "--runs-dir", self.runs_dir],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start within 60 s")

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)

    def start_run(self, config: dict) -> str:
        import httpx

        response = httpx.post(self.url + "/api/runs", json=config, timeout=30)
        response.raise_for_status()
        return response.json()["summary"]["run_id"]

    def wait_status(self, run_id: str, statuses: set[str], timeout: float = 600) -> str:
        import time

        import httpx

        deadline = time.time() + timeout
        while time.time() < deadline:
            status = httpx.get(f"{self.url}/api/runs/{run_id}", timeout=10).json()["summary"]["status"]
            if status in statuses:
                return status
            time.sleep(0.2)
        raise RuntimeError(f"run {run_id} never reached {statuses}")
