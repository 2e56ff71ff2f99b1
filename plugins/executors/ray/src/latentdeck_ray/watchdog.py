"""Stop a local Ray's processes when the lab that started it dies: ``python -m latentdeck_ray.watchdog``.

Ray starts its GCS and raylet with a parent-death signal, so they die with a SIGKILLed lab, but the
raylet's children do not: the dashboard and runtime-env agents notice within two seconds, then try to
report to the dead GCS for about a minute before they exit (61 s measured, bench/ray_linger.py).

The lab starts this process (a session of its own, no Ray or latentdeck imports: about 12 MB) right
after ``ray.init`` with its pid, that pid's start time and Ray's session folder. While the lab lives it
notes every 2 s the processes of that Ray: the lab's children whose command line names the session
folder (GCS, raylet, log monitor ...) and all their descendants (the agents rename themselves
``ray::...``, so only their parentage tells). Once the lab is gone (checked every 0.2 s) it sends
SIGTERM to each noted process that still runs with the same start time, plus any process carrying
``RAY_RAYLET_PID`` of a noted raylet (Ray workers started since), waits up to 2 s, SIGKILLs what is left,
says what it did on stderr (the session's ``logs/latentdeck_watchdog.log``) and exits. A lab that
stops Ray itself (:func:`latentdeck_ray.session.shutdown`) ends this process with SIGTERM first.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Iterable

POLL_S = 0.2
NOTE_EVERY_S = 2.0
GRACE_S = 2.0


def start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (tells a recycled pid apart), None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def alive(pid: int, started: int | None) -> bool:
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def parent_args(pid: int) -> list[str]:
    """The command-line arguments naming ``pid`` (this lab) as the parent to watch."""
    return ["--parent", str(pid), "--parent-start", str(start_time(pid) or 0)]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def processes() -> dict[int, int]:
    """Every process's parent: ``{pid: ppid}``."""
    parents = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _read(f"/proc/{name}/stat")
            try:
                parents[int(name)] = int(stat.rsplit(b")", 1)[1].split()[1])
            except (IndexError, ValueError):
                continue
    return parents


def ray_processes(parent: int, session_dir: str, parents: dict[int, int] | None = None) -> dict[int, int | None]:
    """The processes of the Ray that ``parent`` started with session folder ``session_dir``: ``{pid: start time}``.

    ``parent``'s children that name the folder on their command line, and all their descendants (never
    this process, nor another process that merely names the folder, such as a ``tail`` of a log)."""
    parents = processes() if parents is None else parents
    marker = session_dir.encode()
    roots = [pid for pid, ppid in parents.items()
             if ppid == parent and pid != os.getpid() and marker in _read(f"/proc/{pid}/cmdline")]
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found and pid != os.getpid():
            found.add(pid)
            todo.extend(children.get(pid, []))
    return {pid: start_time(pid) for pid in found}


def raylets(noted: dict[int, int | None]) -> set[int]:
    return {pid for pid in noted if _read(f"/proc/{pid}/cmdline").split(b"\0", 1)[0].endswith(b"/raylet")}


def workers_of(raylet_pids: Iterable[int]) -> dict[int, int | None]:
    """Processes whose environment names one of ``raylet_pids`` as their raylet (Ray workers)."""
    wanted = {f"RAY_RAYLET_PID={pid}".encode() for pid in raylet_pids}
    if not wanted:
        return {}
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            if wanted & set(_read(f"/proc/{name}/environ").split(b"\0")):
                found[int(name)] = start_time(int(name))
    return found


def stop(targets: dict[int, int | None], grace_s: float = GRACE_S) -> tuple[list[int], list[int]]:
    """SIGTERM every target still alive (same start time), SIGKILL those left after ``grace_s``:
    (pids terminated, pids killed)."""
    def signal_all(sig: int) -> list[int]:
        sent = []
        for pid, started in targets.items():
            if alive(pid, started):
                try:
                    os.kill(pid, sig)
                    sent.append(pid)
                except OSError:
                    pass
        return sent

    termed = signal_all(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(alive(pid, started) for pid, started in targets.items()):
        time.sleep(0.05)
    return termed, signal_all(signal.SIGKILL)


def watch(parent: int, parent_start: int | None, session_dir: str, poll_s: float = POLL_S,
          note_every_s: float = NOTE_EVERY_S, grace_s: float = GRACE_S) -> dict[str, list[int]]:
    """Note Ray's processes while ``parent`` lives; once it is gone, stop them. Returns what it stopped."""
    noted: dict[int, int | None] = {}
    found_raylets: set[int] = set()
    last = 0.0
    while alive(parent, parent_start or None):
        if time.monotonic() - last >= note_every_s:
            fresh = ray_processes(parent, session_dir)
            noted.update(fresh)
            found_raylets |= raylets(fresh)
            last = time.monotonic()
        time.sleep(poll_s)
    targets = {**noted, **workers_of(found_raylets)}
    termed, killed = stop(targets, grace_s)
    return {"noted": sorted(targets), "terminated": termed, "killed": killed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latentdeck_ray.watchdog", description=__doc__.splitlines()[0])
    parser.add_argument("--parent", type=int, required=True, help="the lab's pid")
    parser.add_argument("--parent-start", type=int, default=0, help="its start time (/proc/PID/stat field 22)")
    parser.add_argument("--session-dir", required=True, help="the local Ray's session folder")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the lab's to handle
    began = time.monotonic()
    report = watch(args.parent, args.parent_start, args.session_dir)
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} latentdeck watchdog: lab {args.parent} is gone after "
          f"{time.monotonic() - began:.0f} s; stopped {len(report['terminated'])} Ray processes of "
          f"{args.session_dir} (SIGTERM {report['terminated']}, then SIGKILL {report['killed']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
