"""A test executor with a capacity (``ExecutorSpec.capacity``, like the local one: the server's run queue holds its runs) whose 'worker' is ``sleep 60``:
the test decides when a run ends (:func:`finish`), so run queue tests need no training."""

import subprocess
import time
import types
from pathlib import Path

from latentdeck import ExecutorSpec, hookimpl
from latentdeck.kit.procs import pid_alive
from latentdeck.store.runs import update_summary


def sleeper_executor(started: list):
    """``started`` collects ``(run_id, Popen)`` in start order."""

    def submit(job):
        proc = subprocess.Popen(["sleep", "60"])
        started.append((Path(job.run_dir).name, proc))
        return {"pid": proc.pid}

    plugin = types.ModuleType("sleeper_executor")
    plugin.register_executors = hookimpl(lambda: [ExecutorSpec(
        name="sleeper", submit=submit, poll=lambda info: {"alive": pid_alive(info["pid"])},
        capacity=lambda: {"slots": None})])
    return plugin


def finish(store, run_id: str) -> None:
    """End a sleeper run as its worker would (running, then completed)."""
    run_dir = store.run_dir(run_id)
    update_summary(run_dir, status="running", started_at=time.time())
    update_summary(run_dir, status="completed", ended_at=time.time())
