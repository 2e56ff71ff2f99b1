"""Process liveness helpers for executor plugins (public: ``from latentdeck.kit.procs import pid_alive``)."""

from __future__ import annotations

import os


def proc_start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (guards against a recycled pid), or None off Linux."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def pid_alive(pid: int, proc_start: int | None = None) -> bool:
    """True while ``pid`` runs and is not a zombie (and, when known, started at ``proc_start``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    if fields[0] in (b"Z", b"X"):
        return False
    return proc_start is None or int(fields[19]) == proc_start
