"""Helpers shared by the dataset plugins: split names, IDX files on disk, torchvision -> DataSplit.

Everything here is cheap to import (standard library only); torch is imported inside the one
function that needs it. Plugins use these so that each of them stays a thin description of where
its files live and what to tell a person when they are missing.

IDX is the MNIST file format: a big-endian header (magic ``0x0800 + ndim``, then ``ndim`` sizes)
followed by raw uint8 values. torchvision's MNIST-style datasets read the *uncompressed* files from
``<root>/<ClassName>/raw/`` and, with ``download=False``, only check that they exist. We gunzip
``.gz`` files ourselves (:func:`stage_idx_files`) instead of relying on ``download=True``, because
that path insists on the original MD5s, which small synthetic files and Debian's recompressed
archives do not have.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from .atomic import write_stream
from ..types import DataSplit

# Heavy imports (numpy, torch and torchvision) sit inside the functions that use them, on purpose: importing this module stays cheap.

if TYPE_CHECKING:
    import numpy

SPLITS: tuple[str, ...] = ("train", "heldout")

# The four files of every MNIST-style dataset (MNIST, Fashion-MNIST, KMNIST...), uncompressed names.
IDX_FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def split_check(split: str) -> str:
    """Return ``split`` if it is ``"train"`` or ``"heldout"``; raise ``ValueError`` otherwise."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid splits are {', '.join(repr(s) for s in SPLITS)}")
    return split


def idx_magic(name: str) -> int:
    """The IDX magic number a file called ``name`` must start with (2051 for idx3, 2049 for idx1)."""
    stem = name[:-3] if name.endswith(".gz") else name
    for part in stem.split("-"):
        if part.startswith("idx") and part[3:].isdigit():
            return 0x0800 + int(part[3:])
    raise ValueError(f"{name!r} does not say its IDX rank (expected a part like 'idx3')")


def _open_maybe_gz(path: Path):
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def idx_header_ok(path: Path, name: str | None = None) -> bool:
    """Whether ``path`` (plain or ``.gz``) starts with the IDX header its name promises.

    Reads only the header (a few bytes), so it is cheap enough for ``availability()``.
    """
    path = Path(path)
    expected = idx_magic(name or path.name)
    ndim = expected - 0x0800
    try:
        with _open_maybe_gz(path) as fh:
            header = fh.read(4 + 4 * ndim)
    except (OSError, EOFError):  # unreadable, or not gzip although it says .gz
        return False
    if len(header) != 4 + 4 * ndim:
        return False
    magic, *sizes = struct.unpack(f">I{ndim}I", header)
    return magic == expected and all(size > 0 for size in sizes)


def find_idx_file(name: str, folders: Iterable[Path]) -> Path | None:
    """The first of ``folder/name`` or ``folder/name.gz`` that exists, over ``folders`` in order."""
    for folder in folders:
        for candidate in (Path(folder) / name, Path(folder) / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


def idx_problems(folders: Sequence[Path], names: Sequence[str] = IDX_FILES) -> dict[str, str]:
    """``{file name: what is wrong}`` for files that are missing or lack a valid IDX header.

    A file counts as present if it is in any of ``folders``, uncompressed or ``.gz``. An empty dict
    means every file is there.
    """
    problems: dict[str, str] = {}
    for name in names:
        found = find_idx_file(name, folders)
        if found is None:
            problems[name] = "missing"
        elif not idx_header_ok(found, name):
            problems[name] = f"{found} is not a valid IDX file"
    return problems


def describe_problems(problems: dict[str, str]) -> str:
    """One phrase for :func:`idx_problems`' result, e.g. ``missing a, b; /x/c.gz is not ...``."""
    missing = [name for name, what in problems.items() if what == "missing"]
    parts = [f"missing {', '.join(missing)}"] if missing else []
    parts += [what for what in problems.values() if what != "missing"]
    return "; ".join(parts)


def stage_idx_files(raw_dir: Path, sources: Sequence[Path] = (), names: Sequence[str] = IDX_FILES) -> list[str]:
    """Make sure each uncompressed ``raw_dir/name`` exists; return the names still missing.

    For a missing file, the first of ``raw_dir/name.gz``, then ``source/name`` or
    ``source/name.gz`` for each of ``sources``, is gunzipped (or copied) into ``raw_dir``. Writes
    go to a temporary file that is renamed into place, so a concurrent reader never sees half a file.
    Source folders are only read. Raises ``OSError`` (or ``gzip.BadGzipFile``/``EOFError``) if a
    source cannot be read or ``raw_dir`` cannot be written.
    """
    raw_dir = Path(raw_dir)
    still_missing: list[str] = []
    for name in names:
        dest = raw_dir / name
        if dest.is_file():
            continue
        src = find_idx_file(name, [raw_dir, *sources])
        if src is None:
            still_missing.append(name)
            continue
        raw_dir.mkdir(parents=True, exist_ok=True)
        with _open_maybe_gz(src) as fh:
            write_stream(dest, fh)
    return still_missing


def write_idx(path: Path, array: "numpy.ndarray | Any") -> Path:
    """Write a uint8 array (or tensor) as an IDX file; gzip it when ``path`` ends in ``.gz``.

    The inverse of torchvision's reader; tests use it to make small real MNIST-format files.
    """
    import numpy as np

    data = np.asarray(array)
    if data.dtype != np.uint8:
        raise TypeError(f"IDX files here hold uint8 values, got {data.dtype}")
    data = np.ascontiguousarray(data)
    header = struct.pack(f">I{data.ndim}I", 0x0800 + data.ndim, *data.shape)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh:
            fh.write(header + data.tobytes())
    else:
        path.write_bytes(header + data.tobytes())
    return path


def from_torchvision(dataset: Any) -> DataSplit:
    """A torchvision MNIST-style dataset (``.data`` uint8 (n, h, w), ``.targets``) as a DataSplit."""
    import torch

    images = dataset.data
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        raise TypeError(f"expected uint8 image tensor, got {type(images).__name__} {getattr(images, 'dtype', '')}")
    labels = torch.as_tensor(dataset.targets).to(torch.int64)
    return DataSplit(images=images.contiguous(), labels=labels.contiguous())


def load_mnist_style(
    tv_class: str, data_dir: Path, split: str, help_text: Callable[[], str], sources: Sequence[Path] = (),
) -> DataSplit:
    """Load one split of a torchvision MNIST-style dataset (``"MNIST"``, ``"FashionMNIST"``...).

    Files live in ``<data_dir>/<tv_class>/raw/``. ``.gz`` files there or in ``sources`` are gunzipped
    first (:func:`stage_idx_files`); when all four files are then present torchvision reads them with
    ``download=False``. Otherwise torchvision's own ``download=True`` runs (it fetches from the
    dataset's mirrors, for people who are online). Any failure raises ``FileNotFoundError`` (files
    missing, download failed) or ``RuntimeError`` (files unreadable) whose message starts with
    ``help_text()``: what to put where.
    """
    split = split_check(split)
    import torchvision.datasets

    cls = getattr(torchvision.datasets, tv_class)
    root = Path(data_dir).expanduser()
    raw_dir = root / tv_class / "raw"
    try:
        missing = stage_idx_files(raw_dir, sources)
    except (OSError, EOFError) as exc:
        raise RuntimeError(f"{help_text()}\n(could not unpack the files into {raw_dir}: {exc})") from exc
    train = split == "train"
    if missing:
        try:
            dataset = cls(str(root), train=train, download=True)
        except Exception as exc:
            raise FileNotFoundError(
                f"{help_text()}\n(torchvision's download did not work either: {_summary(exc)})") from exc
    else:
        try:
            dataset = cls(str(root), train=train, download=False)
        except Exception as exc:
            raise RuntimeError(f"{help_text()}\n(torchvision could not read {raw_dir}: {_summary(exc)})") from exc
    try:
        return from_torchvision(dataset)
    except Exception as exc:
        raise RuntimeError(f"{help_text()}\n(the files in {raw_dir} look damaged: {exc})") from exc


def _summary(exc: BaseException, limit: int = 600) -> str:
    """``Type: message`` on one line (torchvision's download errors span several), cut to ``limit``."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "IDX_FILES", "SPLITS", "describe_problems", "find_idx_file", "from_torchvision", "idx_header_ok",
    "idx_magic", "idx_problems", "load_mnist_style", "split_check", "stage_idx_files", "write_idx",
]
