"""Creating a sweep all or nothing: the record first, then every member out of sight, then all of them at once.

1. The sweep record is written first, marked ``creating`` with its creator (pid and start time).
2. Every member is created (``RunStore.create``: config, summary, ``run.created``, its disk reserve) inside
   ``<runs>/.sweep-<sweep_id>/``, a folder the run listing, the run queue and a restarted server never look
   into (run ids start with a letter or digit). A failure there (a full disk, any error) removes that folder
   and the record, so nothing of the sweep is left, and is raised: a full disk as :class:`DiskFull` (507).
3. The record is rewritten without ``creating``, then each member is moved into the runs folder (a rename:
   no new space). Only then are members started (the API) or trained one by one (the CLI moves each just
   before it trains, so a server never finds it waiting).

A crash in step 2 leaves a ``creating`` record whose creator is gone and a staging folder: nothing was
ever visible, and :func:`recover` (run by every sweep listing) removes both. A crash in step 3 leaves a
complete record naming members some of which are absent (listed as ``missing``), and a staging folder
that :func:`recover` removes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

from ..kit.atomic import read_json, write_json
from ..kit.errors import is_disk_full
from ..kit.procs import pid_alive, proc_start_time
from ..store.runs import DiskFull, RunConflict, RunStore, disk_full_error

log = logging.getLogger(__name__)

STAGING_PREFIX = ".sweep-"
OWNER = "owner.json"
# a staging folder without a readable owner is someone's first instant (mkdir, then the owner file) or debris
OWNERLESS_GRACE_S = 60.0


def staging_dir(store: RunStore, sweep_id: str) -> Path:
    return store.root / f"{STAGING_PREFIX}{sweep_id}"


def creator() -> dict[str, Any]:
    """Who is creating a sweep: this process (its pid and kernel start time, against recycled pids)."""
    pid = os.getpid()
    return {"pid": pid, "proc_start": proc_start_time(pid), "since": round(time.time(), 3)}


def creator_gone(owner: Any) -> bool:
    if not isinstance(owner, dict) or not isinstance(owner.get("pid"), int):
        return True
    return not pid_alive(owner["pid"], owner.get("proc_start"))


def creation_abandoned(record: dict[str, Any]) -> bool:
    """Whether the record is marked ``creating`` by a process that has ended (a crash in step 2)."""
    return "creating" in record and creator_gone(record["creating"])


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, DiskFull) or (isinstance(exc, OSError) and is_disk_full(exc))


def discard(store: RunStore, sweeps, sweep_id: str) -> None:
    """Remove a sweep that was never published: its staging folder and its record."""
    shutil.rmtree(staging_dir(store, sweep_id), ignore_errors=True)
    sweeps.remove(sweep_id)


@contextlib.contextmanager
def all_or_nothing(store: RunStore, sweeps, sweep_id: str):
    """On any error inside: discard the sweep and raise (a full disk as :class:`DiskFull`, naming the runs folder)."""
    try:
        yield
    except BaseException as exc:
        discard(store, sweeps, sweep_id)
        if _disk_full(exc):
            raise disk_full_error(store.root) from None
        raise


def stage(store: RunStore, sweeps, record: dict[str, Any], configs: list[dict[str, Any]]) -> Path:
    """Steps 1 and 2: the record (``creating``), then every member in the staging folder. All or nothing:
    on any error the sweep is discarded and the error raised (a full disk as :class:`DiskFull`, naming the
    runs folder). Returns the staging folder."""
    staging = staging_dir(store, record["sweep_id"])
    owner = creator()
    with all_or_nothing(store, sweeps, record["sweep_id"]):
        sweeps.write({**record, "creating": owner})
        staging.mkdir()
        write_json(staging / OWNER, {**owner, "sweep_id": record["sweep_id"]})
        members = RunStore(staging, folders=())
        for stored in configs:
            members.create(stored)
    return staging


def publish(store: RunStore, sweeps, record: dict[str, Any]) -> None:
    """Step 3's first half: the record without ``creating`` (a failure discards the sweep)."""
    with all_or_nothing(store, sweeps, record["sweep_id"]):
        sweeps.write(record)


def place(store: RunStore, staging: Path, run_id: str) -> None:
    """Move a staged member into the runs folder (a rename within one folder tree: no new space)."""
    target = store.root / run_id
    if os.path.lexists(target):
        raise RunConflict(f"cannot add sweep member {run_id!r}: {target} already exists")
    os.rename(staging / run_id, target)


def place_all(store: RunStore, sweeps, record: dict[str, Any], staging: Path, run_ids: list[str]) -> None:
    """Step 3 for the API: publish the record, then move every member in; on an error, every member moved
    so far goes again with the record (nothing has started yet)."""
    publish(store, sweeps, record)
    placed: list[str] = []
    try:
        for run_id in run_ids:
            place(store, staging, run_id)
            placed.append(run_id)
    except BaseException:
        for run_id in placed:
            shutil.rmtree(store.root / run_id, ignore_errors=True)
        discard(store, sweeps, record["sweep_id"])
        raise
    remove_staging(staging)


def remove_staging(staging: Path) -> None:
    """The staging folder and the members still in it (the CLI's after Ctrl-C: they show as missing)."""
    shutil.rmtree(staging, ignore_errors=True)


def recover(store: RunStore) -> list[str]:
    """Remove staging folders whose creator has ended (a crash or a kill mid-creation); the names removed.
    A staging folder without a readable owner is removed once it is older than a minute."""
    removed = []
    try:
        entries = [e for e in os.scandir(store.root) if e.name.startswith(STAGING_PREFIX)]
    except OSError:
        return removed
    for entry in entries:
        try:
            info = os.lstat(entry.path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode):
            continue
        try:
            owner = read_json(Path(entry.path) / OWNER)
        except (OSError, ValueError):
            owner = None
        if owner is None and time.time() - info.st_mtime < OWNERLESS_GRACE_S:
            continue
        if owner is not None and not creator_gone(owner):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(entry.path)
            removed.append(entry.name)
            log.warning("removed %s: the sweep creation that owned it ended before its members were all "
                        "placed (those members show as missing)", entry.path)
    return removed
