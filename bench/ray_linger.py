"""How long the local Ray's processes outlive a SIGKILLed lab (issue 22, item 8).

Starts `latentdeck serve` (tiny-digits, no warm-up), trains one tiny run on the ray executor so the lab
starts its local Ray, records every process descended from the lab (GCS, raylet, dashboard and
runtime-env agents, workers, the watchdog), SIGKILLs the lab and polls until none of them is left.
Prints each process's name and how long it lived after the kill, and the longest.

    .venv/bin/python bench/ray_linger.py [--timeout 150]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

from battery_lab import Lab  # noqa: E402

from latentdeck.kit.procs import pid_alive, proc_start_time  # noqa: E402


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                ppid = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def title(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = handle.read().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(w.decode(errors="replace") for w in words if w)
    for word in text.split():
        if word.startswith("ray::") or word.endswith(("gcs_server", "raylet")) or word.endswith(".py"):
            return os.path.basename(word)
    return text[:60]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=150.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ldlinger-") as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        lab = Lab(runs)  # no address: the lab starts a local Ray
        lab.env.pop("LATENTDECK_RAY_ADDRESS", None)
        lab.env.pop("RAY_ADDRESS", None)
        lab.start()
        try:
            with lab.client() as client:
                run_id = lab.create(client, executor="ray", epochs=1, executor_options={"num_cpus": 1})
                lab.wait_status(client, run_id, {"completed", "failed"}, timeout=300)
            time.sleep(3.0)  # agents and idle workers settle
            procs = {pid: (proc_start_time(pid), title(pid)) for pid in descendants(lab.pid)}
            print(f"lab pid {lab.pid}: {len(procs)} descendants before the kill")
            for pid, (_, name) in sorted(procs.items()):
                print(f"  {pid:>7}  {name}")
            killed = time.monotonic()
            os.kill(lab.pid, signal.SIGKILL)
            lab.proc.wait(10)
            gone: dict[int, float] = {}
            while time.monotonic() - killed < args.timeout and len(gone) < len(procs):
                for pid, (start, _) in procs.items():
                    if pid not in gone and not pid_alive(pid, start):
                        gone[pid] = time.monotonic() - killed
                time.sleep(0.1)
        finally:
            lab.kill()
        print("after SIGKILL of the lab:")
        for pid, (start, name) in sorted(procs.items(), key=lambda item: gone.get(item[0], 1e9)):
            lived = gone.get(pid)
            print(f"  {pid:>7}  {name:<32} {'still alive' if lived is None else f'gone after {lived:5.1f} s'}")
            if lived is None:
                os.kill(pid, signal.SIGKILL)
        left = [pid for pid in procs if pid not in gone]
        longest = max(gone.values(), default=0.0)
        print(f"longest: {longest:.1f} s; still alive after {args.timeout:g} s: {len(left)}")
        with open("/proc/loadavg") as handle:
            print(f"loadavg: {handle.read().strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
