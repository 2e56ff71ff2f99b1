"""A queued test executor (``ExecutorSpec.queued``, like the local one) whose 'worker' is ``sleep 60``:
the test decides when a run ends (:func:`finish`), so run queue tests need no training."""

import subprocess
import time
import types

from latentdeck import ExecutorSpec, hookimpl
from latentdeck.kit.procs import pid_alive
from latentdeck.store.runs import update_summary


def sleeper_executor(started: list):
    """``started`` collects ``(run_id, Popen)`` in start order."""

    def start(run_dir):
        proc = subprocess.Popen(["sleep", "60"])
        started.append((run_dir.name, proc))
        return {"pid": proc.pid}

    plugin = types.ModuleType("sleeper_executor")
    plugin.register_executors = hookimpl(lambda: [ExecutorSpec(
        name="sleeper", start=start, is_alive=lambda info: pid_alive(info["pid"]), queued=True)])
    return plugin


def finish(store, run_id: str) -> None:
    """End a sleeper run as its worker would (running, then completed)."""
    run_dir = store.run_dir(run_id)
    update_summary(run_dir, status="running", started_at=time.time())
    update_summary(run_dir, status="completed", ended_at=time.time())
