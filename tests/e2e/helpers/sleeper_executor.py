"""A test executor with a capacity and the kit's run queue (:class:`latentdeck.kit.RunQueue`, like the local one) whose 'worker' is ``sleep 60``:
the test decides when a run ends (:func:`finish`), so run queue tests need no training."""

import subprocess
import time
import types
from pathlib import Path

from latentdeck import ExecutorSpec, hookimpl
from latentdeck.kit import RunQueue, pid_alive
from latentdeck.store.runs import update_summary


def sleeper_executor(started: list):
    """``started`` collects ``(run_id, Popen)`` in start order."""

    def start(job, runner):
        proc = subprocess.Popen(["sleep", "60"])
        started.append((Path(job.run_dir).name, proc))
        return {"pid": proc.pid}

    queue = RunQueue("sleeper", start=start, capacity=lambda: {"slots": None})

    def submit(job, runner):
        return queue.submit(job, runner)

    def poll(info):
        waiting = queue.poll(info)
        return waiting if waiting is not None else {"alive": pid_alive(info["pid"])}

    plugin = types.ModuleType("sleeper_executor")
    plugin.register_executors = hookimpl(lambda: [ExecutorSpec(
        name="sleeper", submit=submit, poll=poll, capacity=lambda: {"slots": None},
        cancel=lambda info: bool(queue.cancel(info)))])
    return plugin


def finish(store, run_id: str) -> None:
    """End a sleeper run as its worker would (running, then completed)."""
    run_dir = store.run_dir(run_id)
    update_summary(run_dir, status="running", started_at=time.time())
    update_summary(run_dir, status="completed", ended_at=time.time())
