"""A test executor whose readiness a test controls (``gate``): it starts ``python -m latentdeck.worker``
only when asked, like the local executor, and says it is not ready while the gate is closed."""

import os
import subprocess
import sys
import threading
import types

from latentdeck import ExecutorSpec, hookimpl
from latentdeck.kit.procs import pid_alive

REASON = "the gate is closed (test)"


def gated_executor(gate: threading.Event, started: list):
    def start(run_dir):
        proc = subprocess.Popen([sys.executable, "-m", "latentdeck.worker", str(run_dir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env={**os.environ})
        started.append(proc)
        return {"pid": proc.pid}

    def alive(info):
        proc = next((p for p in started if p.pid == info["pid"]), None)
        return proc.poll() is None if proc else pid_alive(info["pid"])

    plugin = types.ModuleType("gated_executor")
    plugin.register_executors = hookimpl(lambda: [ExecutorSpec(
        name="gated", start=start, is_alive=alive,
        ready=lambda: {"ready": gate.is_set(), "reason": None if gate.is_set() else REASON, "expected_s": 3})])
    return plugin
