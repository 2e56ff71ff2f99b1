"""Starts each run's worker as a child process of the server (``python -m latentdeck.worker``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from latentdeck import ExecutorSpec, hookimpl

# Popen handles of the workers this process started, so they are reaped (no zombies).
_children: dict[int, subprocess.Popen] = {}


def start(run_dir: Path) -> dict:
    run_dir = Path(run_dir)
    log = open(run_dir / "worker.log", "ab")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "latentdeck.worker", str(run_dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C on the server does not kill training mid-write
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    finally:
        log.close()
    _children[proc.pid] = proc
    return {"pid": proc.pid, "log": "worker.log"}


def is_alive(info: dict) -> bool:
    from latentdeck.procs import pid_alive

    pid = int(info["pid"])
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)
        return False
    return pid_alive(pid, info.get("proc_start"))


@hookimpl
def register_executors():
    return [ExecutorSpec(
        name="local", start=start, is_alive=is_alive,
        description="one worker process per run on this machine (python -m latentdeck.worker)")]
