"""A test executor whose capacity a test controls (``gate``): it starts ``python -m latentdeck.worker``
only when asked, like the local executor, and gives 0 slots (with a reason) while the gate is closed."""

import os
import subprocess
import sys
import threading
import types

from latentdeck import ExecutorSpec, hookimpl
from latentdeck.kit.procs import pid_alive

REASON = "the gate is closed (test)"


def gated_executor(gate: threading.Event, started: list):
    def submit(job):
        proc = subprocess.Popen([sys.executable, "-m", "latentdeck.worker", job.run_dir, "--job", job.to_json()],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env={**os.environ})
        started.append(proc)
        return {"pid": proc.pid}

    def poll(info):
        proc = next((p for p in started if p.pid == info["pid"]), None)
        return {"alive": proc.poll() is None if proc else pid_alive(info["pid"])}

    plugin = types.ModuleType("gated_executor")
    plugin.register_executors = hookimpl(lambda: [ExecutorSpec(
        name="gated", submit=submit, poll=poll,
        capacity=lambda: {"slots": None if gate.is_set() else 0, "reason": None if gate.is_set() else REASON,
                          "expected_s": 3})])
    return plugin
