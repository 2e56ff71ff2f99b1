"""The on-disk run store: ``runs/<run_id>/{config.json, summary.json, events.jsonl, checkpoints/, ...}``.

Every JSON file is written atomically. ``summary.json`` carries the lifecycle status; the event log
carries the history. Artifact files are addressed by validated relative names, never raw paths.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from ..kit import safepath
from ..kit.atomic import read_json, write_json
from ..kit.errors import RunStoreError, is_disk_full, short_repr
from .events import TERMINAL_EVENTS, EventLog, last_event
from ..registry.namespace import READABLE_TOP, name_problem
from ..kit.procs import pid_alive, proc_start_time  # noqa: F401  (re-exported)
from .lifecycle import ACTIVE, TERMINAL, check_transition
from .resolved import load_config
from .. import registry as plugin_registry  # get_plugin_manager is looked up when called: tests swap it
from ..registry import declared_folders

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LINK_FREE = ("config.json", "events.jsonl")  # besides summary.json: read for every run request
CANCEL_FLAG = "cancel_requested"
# Headroom for a run's last words: while the run is active a small file of zeros holds some disk
# space, released when the disk fills up so that run.failed and the summary can still be written.
RESERVE = ".disk-reserve"
RESERVE_BYTES = 64 * 1024
WORKER_INFO = "worker.json"
BACKFILL_LOCK = "backfill.lock"  # {"pid", "proc_start", "started_at"} of the backfill working on a run


class RunNotFound(RunStoreError):
    status = 404


class RunConflict(RunStoreError):
    status = 409


class DiskFull(RunStoreError):
    status = 507


def disk_full_error(folder: Path) -> DiskFull:
    return DiskFull(f"the disk holding {folder} is full ({free_bytes(folder):,} bytes free): free some space "
                    "(e.g. delete old runs) and retry; nothing was written")


def free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return -1


def reserve_space(run_dir: Path) -> None:
    with open(Path(run_dir) / RESERVE, "wb") as handle:
        handle.write(bytes(RESERVE_BYTES))
        handle.flush()
        os.fsync(handle.fileno())


def release_space(run_dir: Path) -> bool:
    """Free the run's reserve (when it still has one); True when something was freed."""
    try:
        os.unlink(Path(run_dir) / RESERVE)
        return True
    except OSError:
        return False


def _plain(path: Path, kind) -> bool:
    """Whether ``path`` exists as ``kind`` (``stat.S_ISDIR``/``S_ISREG``) itself, not through a symbolic link."""
    try:
        return kind(os.lstat(path).st_mode)
    except (OSError, ValueError):
        return False


def _config_preset(run_dir: Path) -> str | None:
    """The preset a run's config names (None when it names none or cannot be read)."""
    try:
        preset = load_config(run_dir).get("preset")
    except (OSError, ValueError, RunStoreError):
        return None
    return preset if isinstance(preset, str) else None


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def now() -> float:
    return round(time.time(), 3)


# --- helpers that work on a run directory (the worker has only that) ---------------------------

def read_summary(run_dir: Path) -> dict[str, Any]:
    return read_json(Path(run_dir) / "summary.json")


def update_summary(run_dir: Path, **fields: Any) -> dict[str, Any]:
    """Rewrite ``summary.json`` with ``fields``; a ``status`` change must be a legal transition."""
    summary = read_summary(run_dir)
    if "status" in fields and fields["status"] != summary["status"]:
        check_transition(summary["status"], fields["status"])
    summary.update(fields)
    write_json(Path(run_dir) / "summary.json", summary)
    return summary


def cancel_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / CANCEL_FLAG).exists()


def write_worker_info(run_dir: Path, executor: str, pid: int | None, **extra: Any) -> dict[str, Any]:
    """``worker.json``: who started the run's worker; ``pid`` None when it is not a process of this machine."""
    info = {"executor": executor, "pid": pid, "proc_start": None if pid is None else proc_start_time(pid),
            "started_at": now(), **extra}
    write_json(Path(run_dir) / WORKER_INFO, info)
    return info


def read_worker_info(run_dir: Path) -> dict[str, Any] | None:
    try:
        return read_json(Path(run_dir) / WORKER_INFO)
    except (OSError, ValueError):
        return None


def running_backfill(run_dir: Path) -> dict[str, Any] | None:
    """The lock of the backfill process working on this run now (``pid``, ``proc_start``, ``started_at``)."""
    try:
        info = read_json(Path(run_dir) / BACKFILL_LOCK)
        alive = pid_alive(int(info.get("pid", -1)), info.get("proc_start"))
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return info if alive else None


def backfill_active(run_dir: Path) -> bool:
    """Whether a backfill process is working on this run now."""
    return running_backfill(run_dir) is not None


END_STATUS = {"run.completed": "completed", "run.cancelled": "cancelled", "run.failed": "failed"}


def _append_failed(path: Path, run_id: str, reason: str, error: str | None, epochs_completed: int) -> None:
    with EventLog(path / "events.jsonl", run_id) as log:
        log.emit("run.failed", {"reason": reason, "error": error, "epochs_completed": epochs_completed})


def with_headroom(run_dir: Path, write):
    """``write()``; when the disk is full, once more after freeing the run's reserve."""
    try:
        return write()
    except OSError as exc:
        if not (is_disk_full(exc) and release_space(run_dir)):
            raise
        return write()


# --- the store ------------------------------------------------------------------------------------

class RunStore:
    """``folders``: the artifact folders it serves (the host's and those installed plugins declare,
    :func:`latentdeck.registry.declared_folders`); None asks the process's plugin manager when needed."""

    def __init__(self, root: Path | str, folders: Any = None):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._folders = tuple(sorted(folders)) if folders is not None else None

    @property
    def folders(self) -> tuple[str, ...]:
        if self._folders is None:
            self._folders = tuple(sorted(declared_folders(plugin_registry.get_plugin_manager())))
        return self._folders

    def run_dir(self, run_id: str) -> Path:
        """The folder of a run: a real directory inside the runs folder, never reached through a link."""
        if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
            raise RunNotFound(f"{short_repr(run_id)} is not a valid run id; list runs with GET /api/runs or `latentdeck runs`")
        path = self.root / run_id
        if not _plain(path / "summary.json", stat.S_ISREG) or not _plain(path, stat.S_ISDIR):
            if os.path.islink(path):
                raise RunNotFound(
                    f"{run_id!r} in {self.root} is a symbolic link, and runs are served only from inside the runs "
                    "folder itself; to keep runs elsewhere, point --runs-dir (or $LATENTDECK_RUNS_DIR) there")
            raise RunNotFound(f"no run {run_id!r} in {self.root}; list runs with GET /api/runs or `latentdeck runs`")
        linked = [name for name in LINK_FREE if os.path.islink(path / name)]
        if linked:
            raise RunNotFound(f"run {run_id!r} is not served: its {', '.join(linked)} "
                              f"{'is a symbolic link' if len(linked) == 1 else 'are symbolic links'} (latentdeck never "
                              "makes links and reads nothing through them); replace the link with the file")
        return path

    def create(self, stored_config: Mapping[str, Any]) -> dict[str, Any]:
        """Write a new run (``created``): config.json, summary.json and the ``run.created`` event.
        ``stored_config``: a :class:`~latentdeck.types.ResolvedRun` (``prepare_run``) or its config."""
        stored_config = dict(stored_config)
        run_id = stored_config["run_id"]
        path = self.root / run_id
        path.mkdir(parents=True, exist_ok=False)
        try:
            return self._write_new(path, run_id, stored_config)
        except BaseException as exc:
            shutil.rmtree(path, ignore_errors=True)  # never leave a half-made run behind
            if is_disk_full(exc):
                raise disk_full_error(self.root) from None
            raise

    def _write_new(self, path: Path, run_id: str, stored_config: dict[str, Any]) -> dict[str, Any]:
        reserve_space(path)
        write_json(path / "config.json", stored_config)
        summary = {
            "run_id": run_id, "status": "created", "name": stored_config.get("name"), "preset": stored_config.get("preset"),
            "model": stored_config["model"], "dataset": stored_config["dataset"],
            "epochs": stored_config["epochs"], "epochs_completed": 0,
            "created_at": stored_config["created_at"], "started_at": None, "ended_at": None,
            "reason": None, "error": None, "metrics": None, "last_checkpoint": None,
        }
        if stored_config.get("sweep_id"):
            summary["sweep_id"] = stored_config["sweep_id"]
        write_json(path / "summary.json", summary)
        with EventLog(path / "events.jsonl", run_id) as log:
            log.emit("run.created", {"config": stored_config})
        return summary

    def read_config(self, run_id: str) -> dict[str, Any]:
        """The run's ``config.json`` as stored (a copy), read from disk only when it changed."""
        return load_config(self.run_dir(run_id))

    def summary(self, run_id: str) -> dict[str, Any]:
        return read_summary(self.run_dir(run_id))

    def list(self) -> list[dict[str, Any]]:
        rows = []
        for entry in os.scandir(self.root):
            if not entry.is_dir(follow_symlinks=False) or not RUN_ID_RE.match(entry.name):
                continue  # links are never followed (see run_dir)
            summary = Path(entry.path) / "summary.json"
            if not _plain(summary, stat.S_ISREG):
                continue  # a run being created, a link, or a foreign folder
            try:
                row = read_json(summary)
                if "preset" not in row:  # written before summaries named the preset: read it from the config
                    row["preset"] = _config_preset(Path(entry.path))
                rows.append(row)
            except (OSError, ValueError):
                continue
        return sorted(rows, key=lambda s: (s.get("created_at") or 0, s["run_id"]), reverse=True)

    def active_run_ids(self) -> list[str]:
        return [s["run_id"] for s in self.list() if s["status"] in ACTIVE]

    def request_cancel(self, run_id: str) -> dict[str, Any]:
        path = self.run_dir(run_id)
        summary = read_summary(path)
        if summary["status"] in TERMINAL:
            raise RunConflict(
                f"run {run_id!r} is already {summary['status']}; only a created or running run can be cancelled")
        write_json(path / CANCEL_FLAG, {"requested_at": now()})
        return summary

    def delete(self, run_id: str, stop_work: Callable[[Path], None] | None = None) -> None:
        """Remove a finished run. ``stop_work(run_dir)`` first stops what still writes into it (its backfill,
        on-demand computations; :func:`latentdeck.api.runs.delete_run`), raising ``RunConflict`` to keep it."""
        path = self.run_dir(run_id)
        status = read_summary(path)["status"]
        if status in ACTIVE:
            raise RunConflict(f"run {run_id!r} is {status}; cancel it first (POST /api/runs/{run_id}/cancel)")
        if stop_work is not None:
            stop_work(path)
        trash = self.root / f".deleting-{run_id}-{secrets.token_hex(2)}"
        os.replace(path, trash)  # disappears from listings at once, even if removal takes a while
        shutil.rmtree(trash, ignore_errors=True)

    def mark_failed(self, run_id: str, reason: str, error: str | None = None) -> dict[str, Any] | None:
        """Fail a run whose worker is gone (the worker can no longer write its own events)."""
        path = self.run_dir(run_id)
        summary = read_summary(path)
        if summary["status"] not in ACTIVE:
            return None

        fields: dict[str, Any] = {"status": "failed", "reason": reason, "error": error, "ended_at": now()}
        last = last_event(path / "events.jsonl")
        if last is not None and last.get("type") in TERMINAL_EVENTS:
            # the worker wrote its own end but died before its summary: the log is the truth
            data = last.get("data") or {}
            fields.update(status=END_STATUS[last["type"]], reason=data.get("reason", fields["reason"]),
                          error=data.get("error"))
        else:
            with_headroom(path, lambda: _append_failed(path, run_id, reason, error, summary["epochs_completed"]))
        result = with_headroom(path, lambda: update_summary(path, **fields))
        release_space(path)
        return result

    # --- artifacts --------------------------------------------------------------------------------

    def artifact_path(self, run_id: str, name: str) -> Path:
        """Resolve a relative artifact name safely; never a path outside the run directory."""
        path = self.run_dir(run_id)
        bad = RunStoreError(
            f"{short_repr(name)} is not a valid artifact name: use a relative name from GET /api/runs/{run_id}/files, "
            f"e.g. 'reconstructions/recon_grid_latest.png'")
        if name_problem(name):
            raise bad
        top = name.split("/", 1)[0]
        if not (name in READABLE_TOP or (top in self.folders and "/" in name)):
            raise bad
        missing = RunNotFound(f"run {run_id!r} has no artifact {short_repr(name)}; list them with GET /api/runs/{run_id}/files")
        try:  # no link is followed inside a run (the file is opened the same way: api/files.open_snapshot)
            if not safepath.is_regular_file(path, name):
                raise missing
        except safepath.UnsafePath as exc:
            raise RunNotFound(f"run {run_id!r} has no artifact {short_repr(name)}: {exc}") from None
        except OSError:
            raise missing from None
        return path / name

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        path = self.run_dir(run_id)
        rows = []
        for folder in self.folders:
            base = path / folder
            if not _plain(base, stat.S_ISDIR):
                continue  # absent, or a link: never walked
            for dirpath, dirnames, filenames in os.walk(base):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for filename in sorted(filenames):
                    if filename.startswith("."):
                        continue
                    full = Path(dirpath) / filename
                    try:
                        info = full.lstat()
                    except OSError:
                        continue  # removed while listing (a delete, a replaced mirror)
                    if not stat.S_ISREG(info.st_mode):
                        continue  # a link or special file: never advertise what artifact_path refuses
                    rows.append({"name": full.relative_to(path).as_posix(), "kind": folder,
                                 "size": info.st_size, "mtime": info.st_mtime})
        return rows
