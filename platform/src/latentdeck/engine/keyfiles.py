"""Keyed answers that are files: a ``key`` ending in ``.*`` names a file STEM, not a folder.

For a key ``<stem>.*`` (``"posterior_local_epoch_{epoch}_idx_{idx}_m_{m}.*"``) the compute writes its files
into ``ctx.folder`` as before (a hidden temporary folder beside the answer), each a plain file named
``<anything><suffix>`` where the suffix is the name from its first dot (``grid.png`` -> ``.png``,
``strip.tar.gz`` -> ``.tar.gz``); the host publishes each as ``<folder>/<stem><suffix>`` (two files with one
suffix, a file without one or a sub-folder is the computation's bug and refused, publishing nothing). Then,
last, it stores the answer as ``<folder>/<dir of stem>/.<stem name>.result.json`` (``payload``, ``notes`` and
the published ``files``): hidden, so the folder holds exactly the names the computation declares (a
specification's file names stay a contract), the listing, the overlays and the HTTP file routes never show it,
and no plugin pattern can match it; startup cleanup removes only ``.*.tmp``, never it.

- :func:`stored`: the answer is complete, and served from disk, when its result file is there and every file
  it lists is a regular file; otherwise it is computed (no half answer is served: a crash between two files
  leaves no result file).
- :func:`publish`: compute into the temporary folder, sync, rename each file into place (replacing what is
  there: a half answer, or the files an older run wrote under the same names before results were kept,
  which are therefore recomputed, the same bytes for a deterministic computation), write the result file,
  announce each file once. A refusal or failure publishes nothing and leaves no empty parent folder.

Identical requests in one process wait for one another (the writer's path locks), so the second is served
from disk. :mod:`latentdeck.engine.keyed` dispatches here for file keys.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import stat
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable

from ..kit import safepath
from ..kit.atomic import read_json, write_json
from .writer import path_lock, sync_tree

FILES = ".*"  # the end of a key that names files (<stem>.*), not a folder
RESULT_SUFFIX = ".result.json"


def file_stem(key: str | None) -> str | None:
    """The stem of a file key (``"a/b_3.*"`` -> ``"a/b_3"``), None for a folder key."""
    return key[:-len(FILES)] if isinstance(key, str) and key.endswith(FILES) else None


def suffix_of(name: str) -> str:
    """A file's suffix in ``ctx.folder``: its name from the first dot (``grid.png`` -> ``.png``)."""
    base, dot, rest = str(name).partition(".")
    if not base or not dot or not rest or "/" in name:
        raise ValueError(f"{name!r:.80}: a file of an answer keyed by a file stem needs a plain name with an "
                         "extension (grid.png, grid.json): it is published as <stem><extension>")
    return f".{rest}"


def result_name(folder: str, stem: str) -> str:
    """The run name of the hidden result file of ``<folder>/<stem>.*``: ``<folder>/<dir>/.<name>.result.json``."""
    head, _, last = f"{folder}/{stem}".rpartition("/")
    return f"{head}/.{last}{RESULT_SUFFIX}"


def answer_folder(folder: str, stem: str) -> str:
    """The folder the answer's files are in (what the answer's ``folder`` says)."""
    return f"{folder}/{stem}".rpartition("/")[0]


def stored(spec, ctx: Any, stem: str) -> tuple[list[str], dict[str, Any]] | None:
    """The answer of ``<folder>/<stem>.*`` when complete on disk (its result file and every file it lists):
    (its files, the kept result ``{payload, notes}``), else None. A link or special file where a file belongs
    is refused (:class:`UnsafePath`), not served."""
    run_dir, result = ctx.run_dir, result_name(spec.folder, stem)
    if not safepath.is_regular_file(run_dir, result):
        return None
    kept = read_json(run_dir / result, root=run_dir)
    files = kept.get("files") if isinstance(kept, dict) else None
    prefix = f"{spec.folder}/{stem}."
    if not isinstance(files, list) or not all(isinstance(f, str) and f.startswith(prefix) for f in files):
        return None  # not a result this host wrote: compute it again
    if not all(safepath.is_regular_file(run_dir, f) for f in files):
        return None  # a file removed since: compute it again
    return list(files), kept


def missing_parents(folder: Path) -> list[Path]:
    """The folders above ``folder`` that do not exist yet, deepest first."""
    missing = []
    parent = folder.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return missing


def publish(spec, ctx: Any, key: str, compute: Callable[[], dict[str, Any]]) -> tuple[list[str], dict[str, Any], bool]:
    """The answer of file key ``key``: (its files, its kept result, whether this call made it). ``compute()``
    runs the computation with ``ctx.folder`` set and returns its result as kept (``{payload, notes}``); it is
    called only when the answer is not complete on disk by now. Publishes and announces what it wrote."""
    stem = file_stem(key)
    target = ctx.run_dir / spec.folder / stem
    with path_lock(target):
        found = stored(spec, ctx, stem)
        if found is not None:
            return (*found, False)
        made = missing_parents(target)
        try:
            result, files = _compute_and_publish(spec, ctx, key, stem, compute)
        except BaseException:
            for parent in made:  # a refused or failed request leaves no empty folder behind
                with contextlib.suppress(OSError):
                    parent.rmdir()
            raise
    return files, result, True


def _compute_and_publish(spec, ctx: Any, key: str, stem: str, compute) -> tuple[dict[str, Any], list[str]]:
    run_dir = ctx.run_dir
    where, _, last = f"{spec.folder}/{stem}".rpartition("/")
    fence = ctx.fence.held if ctx.fence is not None else nullcontext
    tmp = f".{last}.{secrets.token_hex(4)}.tmp"
    with fence():
        dir_fd = safepath.open_folder(run_dir, where, create=True)
        try:
            os.mkdir(tmp, 0o700, dir_fd=dir_fd)
        except BaseException:
            os.close(dir_fd)
            raise
    try:
        try:
            ctx.folder, ctx.key = Path(run_dir, *where.split("/"), tmp), key
            try:
                kept = compute()
            finally:
                ctx.folder = ctx.key = None
            suffixes = _suffixes(dir_fd, tmp, f"{where}/{tmp}", spec.name)
            sync_tree(Path(run_dir, *where.split("/"), tmp))
            names = [f"{where}/{last}{suffix}" for suffix in suffixes.values()]
            with fence():
                _same_folder(run_dir, where, dir_fd, last)
                with contextlib.suppress(FileNotFoundError):  # a stale result must not vouch for new files
                    os.unlink(f".{last}{RESULT_SUFFIX}", dir_fd=dir_fd)
                for written, suffix in suffixes.items():
                    os.replace(f"{tmp}/{written}", f"{last}{suffix}", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                with contextlib.suppress(OSError):
                    os.fsync(dir_fd)
                write_json(run_dir / result_name(spec.folder, stem), {**kept, "files": names}, root=run_dir)
                writer = ctx.writer
                for name in names:
                    writer.announce(name, None, spec.folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    return kept, names


def _suffixes(dir_fd: int, tmp: str, shown: str, name: str) -> dict[str, str]:
    """``{file written: its suffix}`` of the temporary folder, sorted; a sub-folder, a link, a file without an
    extension or two files with one extension is the computation's bug (nothing is published)."""
    found: dict[str, str] = {}
    for entry in _list(dir_fd, tmp):
        mode = os.stat(f"{tmp}/{entry}", dir_fd=dir_fd, follow_symlinks=False).st_mode
        if not stat.S_ISREG(mode):
            raise RuntimeError(f"computation {name!r} wrote {shown}/{entry}, {safepath.kind_name(mode)}: an answer "
                               "keyed by a file stem is plain files (<anything>.<extension>)")
        suffix = suffix_of(entry)
        twin = next((w for w, s in found.items() if s == suffix), None)
        if twin is not None:
            raise RuntimeError(f"computation {name!r} wrote {twin} and {entry}: both would be published as "
                               f"<stem>{suffix}; write one file per extension")
        found[entry] = suffix
    return found


def _list(dir_fd: int, tmp: str) -> list[str]:
    fd = os.open(tmp, safepath.FOLDER_FLAGS, dir_fd=dir_fd)
    try:
        return sorted(os.listdir(fd))
    finally:
        os.close(fd)


def _same_folder(run_dir: Path, where: str, dir_fd: int, last: str) -> None:
    """The folder opened before computing is still the one reached from the run folder (none swapped in)."""
    again = safepath.open_folder(run_dir, where)
    try:
        moved = not os.path.samestat(os.fstat(again), os.fstat(dir_fd))
    finally:
        os.close(again)
    if moved:
        raise safepath.UnsafePath(f"{safepath.shown(run_dir, where.split('/'))} was replaced while {last} was "
                                  "being computed; nothing was kept: retry", where)
