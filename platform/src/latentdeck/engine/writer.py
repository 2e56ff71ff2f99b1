"""The one artifact writer: every file a plugin produces, per epoch or on demand, goes through here.

- ``save_json`` / ``save_png``: ``<folder>/<template>`` with ``{tag}`` = ``epoch_<N>``, then its
  ``tag=latest`` mirror, each atomic (temp file, fsync, ``os.replace``); with ``keep_newer_latest`` (backfill,
  on-demand requests) a mirror never moves back to an older epoch; ``mirror=False`` writes no mirror.
- ``save_latest``: the ``*_latest`` mirror alone, of a file already written under another name (a keyed answer's).
- ``save_run_file``: a file that is the same for every epoch, written once.
- ``persist_folder``: a folder of files produced once (into a hidden temporary folder, synced, renamed
  into place), then served from disk.

Every new file is announced once as ``artifact.created`` (``name``, ``latest``, ``kind`` = its folder,
``epoch``, ``generator``) in the run's event log, which appends under its lock (a worker, a backfill and
the server may all write). Names are checked by :mod:`latentdeck.registry.namespace`: only the writer's declared
folders, nothing outside them.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..kit import safepath
from ..kit.images import png_bytes
from ..kit.atomic import copy_atomic, write_bytes, write_json
from ..registry.namespace import ArtifactNameError, check_write
from ..store.events import EventLog


class AppendingLog:
    """An event sink that opens the run's log for each event (the server's on-demand writes)."""

    def __init__(self, run_dir: Path, run_id: str):
        self.path, self.run_id = Path(run_dir) / "events.jsonl", run_id

    def emit(self, type: str, data: dict[str, Any]) -> None:
        with EventLog(self.path, self.run_id) as log:
            log.emit(type, data)


@dataclass
class ArtifactWriter:
    run_dir: Path
    epoch: int
    generator: str
    events: Any = None  # anything with emit(type, data): an open EventLog, an AppendingLog, or None
    folders: frozenset[str] | None = None  # the declared folders (None: any folder but the host's)
    keep_newer_latest: bool = False
    written: list[str] = field(default_factory=list)

    def emit(self, type: str, data: dict[str, Any]) -> None:
        if self.events is not None:
            self.events.emit(type, {"epoch": self.epoch, "generator": self.generator, **data})

    def _names(self, folder: str, template: str) -> tuple[str, str]:
        if not isinstance(template, str) or "{tag}" not in template:
            raise ArtifactNameError(f"artifact template {template!r:.80} needs a {{tag}} placeholder (it becomes "
                                    "epoch_<N> and latest)")
        return (check_write(folder, template.replace("{tag}", f"epoch_{self.epoch}"), self.folders),
                check_write(folder, template.replace("{tag}", "latest"), self.folders))

    def _newer_epoch_exists(self, folder: str, template: str) -> bool:
        pattern = re.compile(re.escape(template).replace(re.escape("{tag}"), r"epoch_(\d+)") + "$")
        base = Path(self.run_dir) / folder
        for path in base.glob(template.replace("{tag}", "epoch_*")):
            match = pattern.match(path.relative_to(base).as_posix())
            if match and int(match.group(1)) > self.epoch:
                return True
        return False

    def announce(self, name: str, latest: str | None, kind: str) -> None:
        self.written.append(name)
        if self.events is not None:
            self.events.emit("artifact.created", {
                "name": name, "latest": latest, "kind": kind, "epoch": self.epoch, "generator": self.generator})

    def _publish(self, name: str, latest: str | None, kind: str, template: str = "") -> None:
        if latest and self.keep_newer_latest and self._newer_epoch_exists(kind, template):
            latest = None
        if latest:
            copy_atomic(Path(self.run_dir) / name, Path(self.run_dir) / latest, root=self.run_dir)
        self.announce(name, latest, kind)

    def save_json(self, folder: str, template: str, payload: Any, mirror: bool = True) -> str:
        """Write ``<folder>/<template with tag=epoch_N>`` and (``mirror``) its ``tag=latest`` mirror. The numpy
        arrays among ``payload``'s top-level values go to an array file beside it (:func:`write_with_arrays`)."""
        name, latest = self._names(folder, template)
        self.write_with_arrays(folder, name, payload)
        self._publish(name, latest if mirror else None, folder, template)
        return name

    def write_with_arrays(self, folder: str, name: str, payload: Any) -> None:
        """Write the JSON artifact ``name``; its top-level numpy arrays (if any) go first to the array file
        beside it (``<stem>.safetensors``, :mod:`latentdeck.kit.arrays`, announced), and the JSON keeps the
        other fields plus ``arrays``: the array file's name and each array's dtype and shape. A ``*_latest``
        mirror of the JSON points at the same array file."""
        document, arrays = split_arrays(payload)
        if arrays:
            from ..kit.arrays import sibling, write_arrays

            packed = sibling(name)  # checked with name: only the extension differs
            write_arrays(Path(self.run_dir) / packed, arrays, document, root=self.run_dir)
            self.announce(packed, None, folder)
            document = {**document, "arrays": array_pointer(packed.rpartition("/")[2], arrays)}
        write_json(Path(self.run_dir) / name, document, root=self.run_dir)

    def save_png(self, folder: str, template: str, image: Any, mirror: bool = True) -> str:
        """``image``: PNG bytes, a uint8 array (h, w) or (h, w, 3|4), or a PIL image."""
        name, latest = self._names(folder, template)
        write_bytes(Path(self.run_dir) / name, image if isinstance(image, bytes) else png_bytes(image), root=self.run_dir)
        self._publish(name, latest if mirror else None, folder, template)
        return name

    def save_latest(self, folder: str, template: str, source: str) -> str | None:
        """The ``*_latest`` mirror of a file written under another name (a keyed answer's file, which has no
        flat per-epoch name): copy ``<folder>/<source with tag=epoch_N>`` to ``<folder>/<template with tag=latest>``
        (both templates hold ``{tag}``), unless ``keep_newer_latest`` and a newer epoch's source exists. The
        mirror is announced (``name`` the mirror, ``latest`` null). Returns its name, or None when skipped."""
        _, latest = self._names(folder, template)
        name, _ = self._names(folder, source)
        if self.keep_newer_latest and self._newer_epoch_exists(folder, source):
            return None
        copy_atomic(Path(self.run_dir) / name, Path(self.run_dir) / latest, root=self.run_dir)
        self.announce(latest, None, folder)
        return latest

    def save_run_file(self, folder: str, filename: str, content: Any) -> str | None:
        """A file written once and never replaced (the fixed subset's input images; a network probe in an
        existing folder): no tag, no ``*_latest`` mirror. ``filename`` may hold sub-folders. ``content``:
        bytes, a uint8 array / PIL image (PNG) for ``.png`` names, otherwise a JSON payload. Returns the
        name when written now, None when the file already exists (kept as it is, nothing announced)."""
        if not isinstance(filename, str) or "{tag}" in filename:
            raise ArtifactNameError(f"a file written once has a plain name without {{tag}}, got {filename!r:.80}")
        name = check_write(folder, filename, self.folders)
        path = Path(self.run_dir) / name
        if safepath.entry_mode(self.run_dir, name) is not None:
            safepath.is_regular_file(self.run_dir, name)  # a link or special file there is refused, not kept
            return None
        if isinstance(content, bytes):
            write_bytes(path, content, root=self.run_dir)
        elif filename.endswith(".png"):
            write_bytes(path, png_bytes(content), root=self.run_dir)
        else:
            self.write_with_arrays(folder, name, content)
        self._publish(name, None, folder)
        return name

    def persist_folder(self, folder: str, relative: str, produce: Callable[[Path], None]) -> tuple[list[str], bool]:
        """Produce ``<folder>/<relative>/`` once: ``produce(tmp)`` writes every file into a hidden temporary
        folder, which is synced and renamed into place only when it returns (an exception leaves nothing).
        Returns (its files by artifact name, whether this call produced them); new files are announced."""
        name = check_write(folder, relative, self.folders)
        created = persist_once(Path(self.run_dir) / name, _durable(produce), root=self.run_dir)
        names = safepath.list_tree(self.run_dir, name)  # a link or special file in an existing folder is refused
        if created:
            for file in names:
                self.announce(file, None, folder)
        return names, created


def array_pointer(file: str, arrays: dict[str, Any]) -> dict[str, Any]:
    """The ``arrays`` field of a JSON header: the array file beside it and each array's dtype and shape."""
    return {"file": file, "format": "safetensors",
            "names": {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()}}


def split_arrays(payload: Any) -> tuple[Any, dict[str, Any]]:
    """``(the payload without its arrays, {name: numpy array})``: the top-level values of a dict payload that
    are numpy arrays of one or more dimensions (lists stay JSON)."""
    if not isinstance(payload, dict):
        return payload, {}
    arrays = {k: v for k, v in payload.items()
              if type(v).__module__ == "numpy" and getattr(v, "ndim", 0) >= 1 and hasattr(v, "dtype")}
    if not arrays:
        return payload, {}
    if "arrays" in payload:
        raise ArtifactNameError("a payload with numpy arrays may not have its own 'arrays' field (the host "
                                "writes it: the array file's name and each array's dtype and shape)")
    return {k: v for k, v in payload.items() if k not in arrays}, arrays


_PATH_LOCKS: dict[str, threading.Lock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


def path_lock(path: Path | str) -> threading.Lock:
    """The lock of one answer's path in this process (a folder, or a keyed file stem): its producers wait
    for one another, so the second finds the first's files."""
    with _PATH_LOCKS_GUARD:
        return _PATH_LOCKS.setdefault(str(path), threading.Lock())


def persist_once(folder: Path, produce: Callable[[Path], None], root: Path | str | None = None) -> bool:
    """Create ``folder`` by calling ``produce(tmp_folder)`` unless it already exists.

    ``produce`` writes every file into the temporary folder it is given (beside ``folder``, hidden);
    the folder is renamed into place only when ``produce`` returns. On an exception the temporary
    folder is removed and the exception propagates. Returns True when it produced the files, False
    when they were already on disk. Concurrent callers for the same folder wait for one another.
    With ``root`` (the run folder above ``folder``) no link below ``root`` is followed, an existing
    ``folder`` must be a real one, and the rename happens inside the folder entered
    (:func:`latentdeck.kit.safepath.persist_folder`).
    """
    folder = Path(folder)
    with path_lock(folder):
        if root is not None:
            return safepath.persist_folder(root, safepath.relative(root, folder), produce)
        if folder.is_dir():
            return False
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        try:
            produce(tmp)
            os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return True


def _durable(produce: Callable[[Path], None]) -> Callable[[Path], None]:
    """``produce``, then the folder's files flushed to disk before it is renamed into place.

    One ``syncfs`` of the file system costs about a millisecond where ~60 ``fsync`` calls cost
    ~200 ms (most of a network forward capture); where ``syncfs`` is missing, each file is fsynced.
    """
    def run(tmp: Path) -> None:
        produce(tmp)
        sync_tree(tmp)

    return run


def sync_tree(tmp: Path) -> None:
    """Flush the files of the temporary folder ``tmp`` to disk before they are renamed into place."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        if _syncfs(fd) == 0:
            return
    finally:
        os.close(fd)
    for path in Path(tmp).rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb+") as handle:
                os.fsync(handle.fileno())


def _syncfs(fd: int) -> int:
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs(fd)
    except (OSError, AttributeError):
        return -1
