"""Sharing the cores between runs that train at the same time (across processes).

Two training processes with one intra-op thread per core each slow every step several-fold on a
small machine (measured here: 90-116 examples/s against 508 alone), far more than the share of CPU
they lose. So each training process registers itself while it trains, in one folder per machine
user (the cores are the machine's, whichever run store a run lives in): ``$LATENTDECK_ACTIVE_DIR``
or ``<tmp>/latentdeck-<uid>/active``. Before every epoch a run sets torch's thread count to its fair
share, ``max(1, cores // active runs)``; a run with ``num_threads`` in its config keeps that number.
Entries of processes that are gone (killed, crashed) do not count and are removed.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from .procs import pid_alive, proc_start_time

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.


def folder() -> Path:
    """Where training processes of this machine user register."""
    configured = os.environ.get("LATENTDECK_ACTIVE_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / f"latentdeck-{os.getuid()}" / "active"


def register(run_id: str) -> Path:
    """Mark this process as training ``run_id``; returns the entry to pass to :func:`unregister`."""
    where = folder()
    where.mkdir(parents=True, exist_ok=True)
    entry = where / f"{run_id}-{os.getpid()}"
    entry.write_text(json.dumps({"pid": os.getpid(), "proc_start": proc_start_time(os.getpid())}))
    return entry


def unregister(entry: Path) -> None:
    try:
        entry.unlink()
    except FileNotFoundError:
        pass


def active_runs() -> int:
    """Training processes registered on this machine that are still alive."""
    where = folder()
    alive = 0
    for entry in where.glob("*") if where.is_dir() else ():
        try:
            info = json.loads(entry.read_text())
            if pid_alive(int(info["pid"]), info.get("proc_start")):
                alive += 1
                continue
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a half-written or foreign entry: not a live run
        unregister(entry)
    return alive


def fair_share(cores: int | None = None) -> int:
    """Intra-op threads for one of the runs now training: ``max(1, cores // active runs)``.

    ``cores``: by default ``$LATENTDECK_CORES`` when set (an executor that gave the run a share of a
    machine, e.g. a Ray task's ``num_cpus``), else the cores this process may use."""
    if not cores:
        try:
            cores = int(float(os.environ.get("LATENTDECK_CORES", "0")))
        except ValueError:
            cores = 0
    cores = cores or len(os.sched_getaffinity(0)) or 1
    return max(1, cores // max(1, active_runs()))


__all__ = ["active_runs", "fair_share", "folder", "register", "unregister"]


_ONE_THREAD_LOCK = threading.RLock()


@contextmanager
def single_threaded():
    """Run torch on one thread meanwhile (process-wide, restored after; one caller at a time).

    An on-demand request (a sample grid, a latent walk) is a few small convolutions: a second intra-op
    thread gains nothing, and when the cores are busy (a run training next to the server) every op waits
    for the other thread to be scheduled — measured here under load: a one-example forward 3-27 ms on
    one thread, ~500 ms on two. Results never depend on the caller's thread count.
    """
    import torch

    with _ONE_THREAD_LOCK:
        before = torch.get_num_threads()
        if before != 1:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if before != 1:
                torch.set_num_threads(before)
