"""Start-up cleanup of the runs folder: what killed writers and interrupted deletes left behind.

- **Interrupted deletes.** ``RunStore.delete`` renames a run to ``.deleting-<id>-<4 hex>`` (it leaves
  the listings at once) and then removes it; a server killed in between leaves that folder through
  every restart (33,790 files in one case). Each is removed.
- **Stale temporary files.** Every atomic write goes through a hidden temporary name beside its target:
  ``.epoch_3.pt.<random>.tmp``, ``.latest.pt.<random>.tmp``, ``.summary.json.<random>.tmp`` (files),
  ``.<folder>.<random>.tmp`` (``persist_once``'s folders). A killed worker leaves them (2.7 MB for
  one checkpoint). Inside a run folder, such a name (``.*.tmp``) is removed when it was last modified
  more than :data:`STALE_AFTER_S` ago **and** the run is not active (its ``summary.json`` says
  ``completed``, ``cancelled`` or ``failed``) **and** no backfill is working on it: a run that is
  training, or whose summary cannot be read, is not touched. The sweep records' folder is cleaned the
  same way (its writers live only in a server, and none is running yet).

Links are never followed: the walk uses ``lstat``/``scandir(follow_symlinks=False)``, a link named like
a temporary file is unlinked (its target is untouched), and a linked folder is not entered.

:func:`start_cleanup` runs it on a daemon thread when the server starts (the server does not wait) and
logs what it did: how many files and bytes, in how many runs.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from ..kit.atomic import read_json
from .lifecycle import TERMINAL
from .runs import backfill_active

log = logging.getLogger(__name__)

STALE_AFTER_S = 60.0
DELETING_PREFIX = ".deleting-"
SWEEPS = "sweeps"


@dataclass
class CleanupReport:
    """What one cleanup did (and what it left, and why)."""

    temp_files: int = 0  # stale temporary files and folders removed (a folder counts once)
    temp_bytes: int = 0
    runs_cleaned: int = 0  # runs that had any
    deletes_finished: int = 0  # .deleting-* folders removed
    deleted_files: int = 0
    deleted_bytes: int = 0
    runs_skipped: list[str] = field(default_factory=list)  # active, backfilling or unreadable: not touched
    errors: list[str] = field(default_factory=list)

    def sentence(self, root: Path) -> str:
        return (f"start-up cleanup of {root}: removed {self.temp_files} stale temporary file(s) "
                f"({self.temp_bytes:,} bytes) in {self.runs_cleaned} run(s); finished {self.deletes_finished} "
                f"interrupted delete(s) ({self.deleted_files:,} files, {self.deleted_bytes:,} bytes)"
                + (f"; left {len(self.runs_skipped)} active run(s) alone" if self.runs_skipped else "")
                + (f"; {len(self.errors)} error(s): {'; '.join(self.errors[:3])}" if self.errors else ""))


# The artifact pipeline's hidden folder of epoch snapshots in a run (latentdeck.engine.pipeline): emptied as the
# pipeline reads them, left behind only when the training process itself was killed.
PIPELINE_SNAPSHOTS = ".pipeline"


def is_temporary(name: str) -> bool:
    """The names latentdeck's atomic writers use for work in progress: ``.<target>.<random>.tmp``."""
    return name.startswith(".") and name.endswith(".tmp") and len(name) > len("..tmp")


def clean_runs_folder(root: Path | str, stale_after_s: float = STALE_AFTER_S, now: float | None = None) -> CleanupReport:
    """Finish interrupted deletes and remove stale temporary files under ``root`` (see the module)."""
    root, report = Path(root), CleanupReport()
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(root))
    except OSError as exc:
        report.errors.append(f"cannot list {root}: {exc}")
        return report
    for entry in entries:
        try:
            if entry.name.startswith(DELETING_PREFIX):
                files, size = _remove(entry.path)
                report.deletes_finished += 1
                report.deleted_files += files
                report.deleted_bytes += size
            elif entry.name == SWEEPS and entry.is_dir(follow_symlinks=False):
                _clean_tree(Path(entry.path), now - stale_after_s, report, recurse=False)
            elif entry.is_dir(follow_symlinks=False) and not entry.name.startswith("."):
                if not _idle(Path(entry.path)):
                    report.runs_skipped.append(entry.name)
                    continue
                before = report.temp_files
                _clean_tree(Path(entry.path), now - stale_after_s, report)
                snapshots = Path(entry.path) / PIPELINE_SNAPSHOTS  # a killed trainer's epoch snapshots
                if _is_folder(snapshots):
                    files, size = _remove(str(snapshots))
                    report.temp_files += files
                    report.temp_bytes += size
                report.runs_cleaned += report.temp_files > before
        except OSError as exc:
            report.errors.append(f"{entry.name}: {type(exc).__name__}: {exc}")
    return report


def _is_folder(path: Path) -> bool:
    """A real folder (a link to one is not entered, nor removed)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _idle(run_dir: Path) -> bool:
    """A run nothing may be writing into: finished (by its own summary, read without following links) and
    without a live backfill. Unreadable or unknown: not idle."""
    summary = run_dir / "summary.json"
    try:
        if not stat.S_ISREG(os.lstat(summary).st_mode):
            return False
        status = read_json(summary).get("status")
    except (OSError, ValueError, AttributeError):
        return False
    return status in TERMINAL and not backfill_active(run_dir)


def _clean_tree(folder: Path, older_than: float, report: CleanupReport, recurse: bool = True) -> None:
    """Remove temporary names last modified before ``older_than`` under ``folder``; never enter a link."""
    todo = [folder]
    while todo:
        current = todo.pop()
        try:
            entries = list(os.scandir(current))
        except OSError as exc:
            report.errors.append(f"cannot list {current}: {exc}")
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
                if is_temporary(entry.name):
                    if info.st_mtime < older_than:
                        files, size = _remove(entry.path)
                        report.temp_files += 1
                        report.temp_bytes += size
                elif recurse and stat.S_ISDIR(info.st_mode):
                    todo.append(Path(entry.path))
            except FileNotFoundError:
                continue  # gone meanwhile (a writer renamed it into place)
            except OSError as exc:
                report.errors.append(f"{entry.path}: {type(exc).__name__}: {exc}")


def _remove(path: str) -> tuple[int, int]:
    """Remove ``path`` (a link, file or folder) without following links: (files, bytes) it held."""
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):  # a file, a link (never its target), a FIFO ...
        os.unlink(path)
        return 1, info.st_size if stat.S_ISREG(info.st_mode) else 0
    files, size = _measure(path)
    shutil.rmtree(path, ignore_errors=True)  # fd-based on Linux: never follows a link inside
    if os.path.lexists(path):
        raise OSError(f"could not remove everything in {path} (permissions?)")
    return files, size


def _measure(folder: str) -> tuple[int, int]:
    files = size = 0
    todo = [folder]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                else:
                    files += 1
                    size += entry.stat(follow_symlinks=False).st_size if entry.is_file(follow_symlinks=False) else 0
            except OSError:
                continue
    return files, size


def start_cleanup(root: Path | str) -> Future:
    """Run :func:`clean_runs_folder` on a daemon thread and log its report; the Future holds the report."""
    done: Future = Future()

    def run() -> None:
        try:
            report = clean_runs_folder(root)
        except Exception as exc:  # a cleanup must never take the server down
            log.exception("start-up cleanup of %s failed", root)
            done.set_exception(exc)
            return
        if report.temp_files or report.deletes_finished or report.errors:
            log.warning("%s", report.sentence(Path(root)))
        else:
            log.info("%s", report.sentence(Path(root)))
        done.set_result(report)

    threading.Thread(target=run, name="latentdeck-startup-cleanup", daemon=True).start()
    return done
