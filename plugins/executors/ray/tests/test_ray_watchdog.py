"""The watchdog that stops a local Ray's processes when the lab dies, with dummy processes for the lab
and Ray (a real Ray's figure: bench/ray_linger.py). A "lab" starts a "raylet" naming the session folder,
which starts an "agent" (a grandchild: found by parentage only), and a "worker" of its own that does not
name the folder (a local run's worker, which must outlive the lab); an outside process that merely names
the folder (a ``tail`` of a log) is left alone too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from latentdeck_ray import watchdog

LAB = r"""
import subprocess, sys, time
session = sys.argv[1]
raylet = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                           "a = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
                           "print(a.pid, flush=True); time.sleep(600)", "--session-dir=" + session],
                          stdout=subprocess.PIPE, text=True)
agent = raylet.stdout.readline().strip()
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(raylet.pid, agent, worker.pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int, started, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not watchdog.alive(pid, started):
            return True
        time.sleep(0.05)
    return False


def test_the_lab_s_death_stops_its_ray_processes_and_nothing_else(tmp_path):
    session_dir = str(tmp_path / "session_2026-01-01_00-00-00_000000_1")
    lab = subprocess.Popen([sys.executable, "-c", LAB, session_dir], stdout=subprocess.PIPE, text=True)
    outsider = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", session_dir + "/logs/raylet.out"])
    pids = []
    try:
        raylet, agent, worker = (int(p) for p in lab.stdout.readline().split())
        pids = [raylet, agent, worker, outsider.pid]
        starts = {pid: watchdog.start_time(pid) for pid in pids}
        guard = subprocess.Popen([sys.executable, "-m", "latentdeck_ray.watchdog", *watchdog.parent_args(lab.pid),
                                  "--session-dir", session_dir], stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # it notes Ray's processes as soon as it starts
        assert guard.poll() is None and all(watchdog.alive(pid, starts[pid]) for pid in pids)
        lab.kill()
        lab.wait(5)
        assert _gone(raylet, starts[raylet], 5) and _gone(agent, starts[agent], 5)
        assert guard.wait(10) == 0
        said = guard.stderr.read()
        assert f"lab {lab.pid} is gone" in said and str(agent) in said and str(raylet) in said, said
        # a local run's worker and a process that only names the folder live on
        assert watchdog.alive(worker, starts[worker]) and watchdog.alive(outsider.pid, starts[outsider.pid])
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        lab.kill()
        outsider.kill()


def test_stop_terminates_then_kills_what_ignores_sigterm():
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                                 "signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"], stdout=subprocess.PIPE)
    polite = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        stubborn.stdout.readline()
        targets = {p.pid: watchdog.start_time(p.pid) for p in (stubborn, polite)}
        targets[polite.pid + 10**7] = None  # a pid that does not exist is skipped
        termed, killed = watchdog.stop(targets, grace_s=0.5)
        assert set(termed) == {stubborn.pid, polite.pid} and killed == [stubborn.pid]
        assert stubborn.wait(5) == -signal.SIGKILL and polite.wait(5) == -signal.SIGTERM
        # a recycled pid (another start time) is never signalled
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        assert watchdog.stop({other.pid: 1}, grace_s=0.1) == ([], [])
        assert other.poll() is None
        other.kill()
    finally:
        stubborn.kill()
        polite.kill()
