"""Plugin health: how often each plugin's components failed at run time, and the last error.

A computation (per epoch or on demand) or projection that raised or ran past its budget (an
``artifact.failed`` event, ``reason: "timeout"`` for the budget) is counted per component in one small record
in the runs folder, ``<runs>/.plugin-health.json``::

    {"computations/recon": {"failures": 3, "over_budget": 1, "first_at": ..., "last_error": {
        "message": "...", "at": 1765000000.0, "run_id": "...", "epoch": 2, "reason": "error" | "timeout"}}}

Why a record and not a scan of every run's ``events.jsonl``: runs happen in worker processes, backfills in
processes of their own and on-demand computations in the server, and all of them already share the runs
folder, so each writes its failure where it happens (one choke point: :meth:`EventLog.emit` of an
``artifact.failed`` event, which the epoch loop, backfill and on-demand requests all emit); and
``GET /api/plugins`` and ``latentdeck plugins`` read one small file, however many runs and events there are
(the listing must stay under half a second). A failure stays counted after its run is deleted: it is a fact
about the plugin, cleared by ``latentdeck plugins --clear-failures`` once the plugin is fixed.

Writers hold an exclusive ``flock`` on ``.plugin-health.lock`` while they read, update and atomically
replace the record (temporary file and rename), so concurrent processes never lose a count and readers never
see half a file. The record names components, not plugins: the reader maps each to the plugin that provides
it now (``providers``), so a component whose plugin is no longer installed is simply not shown.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Any, Iterator

from ..kit.atomic import read_json, write_json

log = logging.getLogger(__name__)

RECORD = ".plugin-health.json"
LOCK = ".plugin-health.lock"
MESSAGE_CHARS = 2000  # of the last error kept (the run's events keep the whole traceback)


@contextlib.contextmanager
def _locked(runs_dir: Path) -> Iterator[None]:
    fd = os.open(runs_dir / LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read(runs_dir: Path | str) -> dict[str, Any]:
    """The record (``{}`` when nothing failed yet, or it cannot be read: that is logged)."""
    path = Path(runs_dir) / RECORD
    if not path.exists():
        return {}
    try:
        found = read_json(path)
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError) as exc:
        log.warning("%s cannot be read (%s); plugin failures are not shown until it is removed", path, exc)
        return {}


def note_failure(runs_dir: Path | str, kind: str, name: str, message: str, run_id: str | None,
                 epoch: int | None = None, reason: str = "error") -> None:
    """Count one runtime failure (``reason="timeout"``: over its budget) of component ``kind/name``."""
    runs_dir = Path(runs_dir)
    key = f"{kind}/{name}"
    now = time.time()
    with _locked(runs_dir):
        record = read(runs_dir)
        entry = record.setdefault(key, {"failures": 0, "over_budget": 0, "first_at": now})
        entry["over_budget" if reason == "timeout" else "failures"] += 1
        entry["last_error"] = {"message": str(message)[:MESSAGE_CHARS], "at": now, "run_id": run_id,
                               "epoch": epoch, "reason": reason}
        write_json(runs_dir / RECORD, record)


def note_event(events_path: Path, event: dict[str, Any]) -> None:
    """Count an ``artifact.failed`` event of a run's log (called by :meth:`EventLog.emit`). Only logs of a
    run folder in a runs folder count (a ``config.json`` beside the log); a failure to write the record is
    logged and never stops the run (the event itself is written)."""
    if event.get("type") != "artifact.failed":
        return
    run_dir = Path(events_path).parent
    if not (run_dir / "config.json").is_file():
        return
    data = event.get("data") or {}
    generator = str(data.get("generator") or "")
    kind, _, name = generator.partition(":") if generator.startswith("projection:") else ("", "", generator)
    kind = "projections" if kind else "computations"
    name = name.removesuffix(":on_demand")  # an on-demand request's generator is "<name>:on_demand"
    try:
        note_failure(run_dir.parent, kind, name, data.get("error") or "", event.get("run_id"), data.get("epoch"),
                     "timeout" if data.get("reason") == "timeout" else "error")
    except OSError as exc:
        log.warning("could not count the failure of %s in %s: %s", generator, run_dir.parent / RECORD, exc)


def clear(runs_dir: Path | str) -> int:
    """Forget every counted failure; returns how many components had some."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return 0
    with _locked(runs_dir):
        count = len(read(runs_dir))
        (runs_dir / RECORD).unlink(missing_ok=True)
    return count
