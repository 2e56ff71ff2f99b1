"""Files inside the runs folder, reached without following links and never blocking on special files.

Every read and write under a run's folder (and the sweep records beside the runs) goes through here.
A name is opened one part at a time, each part relative to the folder opened before it, with
``O_NOFOLLOW``: a symbolic link anywhere on the way, or a FIFO, socket or device where a file or
folder belongs, is refused with :class:`UnsafePath` naming it (``runs/<id>/samples is a symbolic
link; ...``). The check is the open itself, so nothing can swap a link in between a check and the
use, and the target of a link is never opened: its contents and access time stay as they were.
Files are opened with ``O_NONBLOCK`` and ``fstat``-ed before use, so a FIFO never blocks a thread.

``root`` is the trusted folder (a run folder, or the runs folder for ``sweeps/``). It must be a real
folder itself; the folders above it are the user's choice (``--runs-dir``) and are followed.
A new file is written atomically: a hidden temporary file in the final folder (the folder opened as
above), flushed, fsynced, renamed over the name with ``renameat`` inside that same open folder.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from .errors import RunStoreError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
FOLDER_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _NONBLOCK | _CLOEXEC
_REFUSED_ERRNOS = {errno.ELOOP, errno.ENOTDIR, errno.EMLINK, errno.ENXIO}  # link (EMLINK: BSD), not a folder, FIFO
KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
         (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"),
         (stat.S_ISREG, "a file"))


class UnsafePath(RunStoreError, OSError):
    """A symbolic link, or a FIFO / socket / device, or a file where a folder belongs (or the reverse), inside
    the runs folder. A :class:`RunStoreError` (409: the run's folder is in a state latentdeck will not use)
    and an ``OSError`` (code that skips unreadable files skips it too). ``name`` is the path as shown."""

    status = 409

    def __init__(self, message: str, name: str = ""):
        super().__init__(message)
        self.name = name


def kind_name(mode: int) -> str:
    return next((name for test, name in KINDS if test(mode)), "not a regular file")


def shown(root: Path | str, parts: Iterable[str] = ()) -> str:
    """``runs/<id>/samples``: the name relative to the folder holding ``root`` (never the full path)."""
    root = Path(root)
    return "/".join(p for p in (root.parent.name, root.name, *parts) if p)


def refusal(name: str, mode: int, wanted: str) -> UnsafePath:
    what = kind_name(mode)
    if stat.S_ISLNK(mode):
        return UnsafePath(f"{name} is a symbolic link; latentdeck does not follow links inside a run folder: replace "
                          f"it with a real {wanted}", name)
    return UnsafePath(f"{name} is {what}, not a {wanted}; latentdeck opens only regular files and folders inside a "
                      f"run folder: remove it (or replace it with a real {wanted})", name)


def _parts(rel: str | Path) -> list[str]:
    text = Path(rel).as_posix() if isinstance(rel, Path) else rel
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise ValueError(f"{rel!r} leaves its folder")
    return parts


def relative(root: Path | str, path: Path | str) -> str:
    """``path`` relative to ``root`` (lexically: nothing is resolved), or ValueError."""
    return Path(os.path.normpath(path)).relative_to(os.path.normpath(root)).as_posix()


def _refuse_at(fd: int, name: str, label: str, wanted: str) -> UnsafePath:
    try:
        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
    except OSError:
        mode = 0
    return refusal(label, mode, wanted)


def open_root(root: Path | str, root_links: bool = False) -> int:
    """A descriptor of ``root`` itself: a real folder, not a link to one (``root_links``: links allowed, for a
    folder outside the runs folder)."""
    try:
        return os.open(root, FOLDER_FLAGS & ~_NOFOLLOW if root_links else FOLDER_FLAGS)
    except OSError as exc:
        if exc.errno in _REFUSED_ERRNOS:
            try:
                mode = os.lstat(root).st_mode
            except OSError:
                mode = 0
            raise refusal(shown(root), mode, "folder") from None
        raise


def _enter(fd: int, name: str, label: str, create: bool) -> int:
    try:
        return os.open(name, FOLDER_FLAGS, dir_fd=fd)
    except FileNotFoundError:
        if not create:
            raise FileNotFoundError(errno.ENOENT, "no such folder", label) from None
        try:
            os.mkdir(name, 0o777, dir_fd=fd)
        except FileExistsError:
            pass  # made meanwhile (or a dangling link: the open below refuses it)
        return _enter(fd, name, label, False)
    except OSError as exc:
        if exc.errno in _REFUSED_ERRNOS:
            raise _refuse_at(fd, name, label, "folder") from None
        raise


def open_folder(root: Path | str, rel: str | Path = "", create: bool = False, root_links: bool = False) -> int:
    """A descriptor of ``root/rel``, every part of ``rel`` entered without following links (``create``:
    missing folders are made). The caller closes it."""
    parts = _parts(rel)
    fd = open_root(root, root_links)
    try:
        for i, name in enumerate(parts):
            inner = _enter(fd, name, shown(root, parts[:i + 1]), create)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _split(rel: str | Path) -> tuple[list[str], str]:
    parts = _parts(rel)
    if not parts:
        raise ValueError("a file name is needed")
    return parts[:-1], parts[-1]


def _open_in(dir_fd: int, name: str, label: str, flags: int, mode: int) -> int:
    """``name`` in the open folder ``dir_fd`` as a regular file: never a link, never a FIFO or device."""
    try:
        before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise FileNotFoundError(errno.ENOENT, "no such file", label) from None
    else:
        if not stat.S_ISREG(before):
            raise refusal(label, before, "file")  # a device or FIFO is not even opened
    try:
        fd = os.open(name, flags | _NOFOLLOW | _NONBLOCK | _CLOEXEC, mode, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in _REFUSED_ERRNOS or exc.errno == errno.EISDIR:
            raise _refuse_at(dir_fd, name, label, "file") from None
        raise
    now = os.fstat(fd).st_mode
    if not stat.S_ISREG(now):  # swapped in between: opened without blocking, closed unread
        os.close(fd)
        raise refusal(label, now, "file")
    os.set_blocking(fd, True)
    return fd


def open_file(root: Path | str, rel: str | Path, flags: int = os.O_RDONLY, mode: int = 0o644,
              root_links: bool = False) -> int:
    """A descriptor of the regular file ``root/rel`` (``flags`` as for ``os.open``; with ``O_CREAT`` missing
    folders are made). The caller closes it."""
    folders, name = _split(rel)
    dir_fd = open_folder(root, "/".join(folders), create=bool(flags & os.O_CREAT), root_links=root_links)
    try:
        return _open_in(dir_fd, name, shown(root, [*folders, name]), flags, mode)
    finally:
        os.close(dir_fd)


def open_reader(root: Path | str, rel: str | Path, root_links: bool = False) -> BinaryIO:
    return os.fdopen(open_file(root, rel, root_links=root_links), "rb")


def open_appender(root: Path | str, rel: str | Path) -> BinaryIO:
    """``root/rel`` opened for appending (created when missing): a log."""
    return os.fdopen(open_file(root, rel, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "ab")


def read_bytes(root: Path | str, rel: str | Path, root_links: bool = False) -> bytes:
    with open_reader(root, rel, root_links) as handle:
        return handle.read()


def entry_stat(root: Path | str, rel: str | Path) -> os.stat_result | None:
    """The ``lstat`` of ``root/rel`` (None when it is missing); its folders are entered without following
    links, so a link on the way is an :class:`UnsafePath`."""
    folders, name = _split(rel)
    try:
        dir_fd = open_folder(root, "/".join(folders))
    except FileNotFoundError:
        return None
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        os.close(dir_fd)


def entry_mode(root: Path | str, rel: str | Path) -> int | None:
    found = entry_stat(root, rel)
    return None if found is None else found.st_mode


def is_regular_file(root: Path | str, rel: str | Path) -> bool:
    """Whether ``root/rel`` is a regular file (False: missing); a link or special file is an :class:`UnsafePath`."""
    mode = entry_mode(root, rel)
    if mode is not None and not stat.S_ISREG(mode):
        raise refusal(shown(root, _parts(rel)), mode, "file")
    return mode is not None


def list_folder(root: Path | str, rel: str | Path) -> list[tuple[str, int]]:
    """``(name, lstat mode)`` of each entry of the folder ``root/rel``, sorted by name."""
    fd = open_folder(root, rel)
    try:
        names = sorted(os.listdir(fd))
        rows = []
        for name in names:
            try:
                rows.append((name, os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode))
            except FileNotFoundError:
                continue  # removed while listing
        return rows
    finally:
        os.close(fd)


def list_tree(root: Path | str, rel: str | Path, hidden: bool = False) -> list[str]:
    """Every regular file under the folder ``root/rel``, as ``rel/...`` names (hidden ones only with
    ``hidden``), sorted; a link or special file anywhere in it is an :class:`UnsafePath` naming it."""
    base = _parts(rel)
    found: list[str] = []

    def walk(fd: int, parts: list[str]) -> None:
        for name in sorted(os.listdir(fd)):
            if name.startswith(".") and not hidden:
                continue
            here = [*parts, name]
            try:
                mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(mode):
                inner = _enter(fd, name, shown(root, here), False)
                try:
                    walk(inner, here)
                finally:
                    os.close(inner)
            elif stat.S_ISREG(mode):
                found.append("/".join(here))
            else:
                raise refusal(shown(root, here), mode, "file")

    fd = open_folder(root, rel)
    try:
        walk(fd, base)
    finally:
        os.close(fd)
    return sorted(found)


def write_stream(path: Path | str, source: BinaryIO, root: Path | str | None = None) -> None:
    """Copy ``source`` to ``path`` atomically. With ``root`` (a folder above ``path``) the folders from
    ``root`` down are entered (and made) without following links, and a link or special file at ``path``
    is refused, not replaced. Without it, ``path``'s folder is made and opened as given."""
    path = Path(path)
    if root is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
        name, label = path.name, str(path)
    else:
        folders, name = _split(relative(root, path))
        dir_fd = open_folder(root, "/".join(folders), create=True)
        label = shown(root, [*folders, name])
    try:
        if root is not None:
            try:
                mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                mode = None
            if mode is not None and not stat.S_ISREG(mode):
                raise refusal(label, mode, "file")
        _replace_in(dir_fd, name, lambda handle: shutil.copyfileobj(source, handle, length=1 << 20))
    finally:
        os.close(dir_fd)


def _replace_in(dir_fd: int, name: str, fill: Callable[[BinaryIO], None]) -> None:
    tmp = f".{name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as handle:
            fill(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _discard(dir_fd, tmp)
        raise
    put_in_place(dir_fd, tmp, name)


def put_in_place(dir_fd: int, tmp: str, name: str) -> None:
    """Rename the finished ``tmp`` over ``name`` in the open folder ``dir_fd`` (atomic), then sync the folder; on
    a failure ``tmp`` is removed and the error raised."""
    try:
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        _discard(dir_fd, tmp)
        raise
    try:
        os.fsync(dir_fd)
    except OSError:
        pass


def _discard(dir_fd: int, tmp: str) -> None:
    try:
        os.unlink(tmp, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def persist_folder(root: Path | str, rel: str | Path, produce: Callable[[Path], None]) -> bool:
    """Create the folder ``root/rel`` by ``produce(tmp)`` unless it exists: ``tmp`` is a hidden folder made
    inside the final folder's parent (entered without following links); it is renamed into place inside
    that same open parent only if the parent is still the folder reached from ``root`` after ``produce``.
    An existing ``rel`` must be a real folder. Returns True when it produced the files."""
    folders, name = _split(rel)
    label = shown(root, [*folders, name])
    dir_fd = open_folder(root, "/".join(folders), create=True)
    try:
        try:
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None:
            if stat.S_ISDIR(mode):
                return False
            raise refusal(label, mode, "folder")
        tmp = f".{name}.{secrets.token_hex(4)}.tmp"
        os.mkdir(tmp, 0o700, dir_fd=dir_fd)
        try:
            produce(Path(root, *folders, tmp))
            again = open_folder(root, "/".join(folders))
            try:
                moved = not os.path.samestat(os.fstat(again), os.fstat(dir_fd))
            finally:
                os.close(again)
            if moved:
                raise UnsafePath(f"{shown(root, folders)} was replaced while {name} was being written; nothing was "
                                 "kept: retry", label)
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True, dir_fd=dir_fd)
            raise
        return True
    finally:
        os.close(dir_fd)
