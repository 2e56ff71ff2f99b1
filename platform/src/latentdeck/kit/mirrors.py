"""``*_latest`` mirrors as hard links: the mirror and the epoch's file are one file on disk, put in place
atomically, reached without following links (:mod:`latentdeck.kit.safepath`)."""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from .safepath import _split, open_folder, put_in_place, refusal, shown


def link_mirror(root: Path | str, src: str | Path, dst: str | Path) -> bool:
    """Make ``root/dst`` the same file as ``root/src`` (a hard link, put in place atomically), so a ``*_latest``
    mirror costs no second copy; both are entered without following links and ``src`` must be a regular file.
    Returns False, changing nothing, where the file system has no hard links (the caller copies instead)."""
    src_folders, src_name = _split(src)
    dst_folders, dst_name = _split(dst)
    src_fd = open_folder(root, "/".join(src_folders))
    try:
        dst_fd = open_folder(root, "/".join(dst_folders), create=True)
        try:
            mode = os.stat(src_name, dir_fd=src_fd, follow_symlinks=False).st_mode
            if not stat.S_ISREG(mode):
                raise refusal(shown(root, [*src_folders, src_name]), mode, "file")
            try:
                mode = os.stat(dst_name, dir_fd=dst_fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                pass
            else:
                if not stat.S_ISREG(mode):
                    raise refusal(shown(root, [*dst_folders, dst_name]), mode, "file")
            tmp = f".{dst_name}.{secrets.token_hex(4)}.tmp"
            try:
                os.link(src_name, tmp, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP,
                                 errno.ENOSYS):
                    return False
                raise
            put_in_place(dst_fd, tmp, dst_name)
            return True
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)
