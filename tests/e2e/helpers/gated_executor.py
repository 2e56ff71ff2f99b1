"""A test executor whose capacity a test controls (``gate``): it gives 0 slots (with a reason) while the gate
is closed and queues its runs in the kit's run queue (:class:`latentdeck.kit.RunQueue`), like the local
executor, which starts ``python -m latentdeck.worker`` once the gate opens (or the wait limit passes)."""

import os
import subprocess
import threading
import types

from latentdeck import ExecutorSpec, hookimpl
from latentdeck.kit import RunQueue, pid_alive

REASON = "the gate is closed (test)"


def gated_executor(gate: threading.Event, started: list):
    def start(job, runner):
        proc = subprocess.Popen(runner.argv(job), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env={**os.environ})
        started.append(proc)
        return {"pid": proc.pid}

    def capacity():
        return {"slots": None if gate.is_set() else 0, "reason": None if gate.is_set() else REASON, "expected_s": 3}

    queue = RunQueue("gated", start=start, capacity=capacity)  # the kit's run queue, as the local executor's

    def submit(job, runner):
        return queue.submit(job, runner)

    def poll(info):
        waiting = queue.poll(info)
        if waiting is not None:
            return waiting
        proc = next((p for p in started if p.pid == info["pid"]), None)
        return {"alive": proc.poll() is None if proc else pid_alive(info["pid"])}

    plugin = types.ModuleType("gated_executor")
    plugin.register_executors = hookimpl(lambda: [ExecutorSpec(
        name="gated", submit=submit, poll=poll, capacity=capacity, cancel=lambda info: bool(queue.cancel(info)))])
    return plugin
