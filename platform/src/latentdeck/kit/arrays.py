"""Large per-point arrays in one binary file with a small JSON header: the safetensors layout.

Why this layout (and not JSON lists, ``.npy`` or Arrow): one file holds every array of an artifact, so the
explorer switches epochs with one fetch; its header is plain JSON (names, dtypes, shapes, byte offsets) that a
browser reads with ``TextDecoder`` and a person reads with ``head -c``; each array's bytes are contiguous and
aligned, so a reader maps them without copying (``np.frombuffer`` here, ``new Float32Array(buffer, offset, n)``
in the browser). ``.npy`` holds one array per file and its header is a Python literal; Arrow's JavaScript
reader would add about as much to the explorer's download as deck.gl itself. The layout is Hugging Face's
safetensors format, so ``safetensors.numpy.load_file(path)`` opens these files too.

Layout (all little-endian):

- bytes 0..8: ``N``, the header's length, an unsigned 64-bit integer;
- bytes 8..8+N: the header, UTF-8 JSON: ``{"<array>": {"dtype": "F32", "shape": [n, 2], "data_offsets": [b, e]},
  ..., "__metadata__": {"latentdeck": "<JSON text of the artifact's other fields>"}}``, padded with spaces so
  the data starts at a multiple of 8;
- then the arrays' bytes, back to back, in ``data_offsets`` order (offsets relative to the data start). The
  writer puts wider dtypes first, so every array starts at a multiple of its own item size.

dtypes: ``F64 F32 F16 I64 I32 I16 I8 U64 U32 U16 U8 BOOL``. An artifact's other fields (epoch, method, bounds,
params, ...) travel as the JSON text of ``__metadata__["latentdeck"]`` (safetensors metadata values are
strings). :func:`write_arrays` writes atomically (temp file, fsync, rename); :func:`read_arrays` returns
read-only views on the file's bytes.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any, Mapping

from . import safepath
from .atomic import json_safe, read_bytes, write_bytes

EXTENSION = ".safetensors"
META_KEY = "latentdeck"
_ALIGN = 8
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}


class ArrayFileError(ValueError):
    """A file that is not a well-formed array file (the message names the file and what is wrong)."""


def _code(array) -> str:
    import numpy as np

    for code, dtype in DTYPES.items():
        if array.dtype == np.dtype(dtype):
            return code
    raise ArrayFileError(f"dtype {array.dtype} cannot be stored; use one of {', '.join(DTYPES)}")


def encode(arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of an array file holding ``arrays`` (name -> array-like) and ``meta`` (JSON-able fields)."""
    import numpy as np

    prepared = {}
    for name, value in arrays.items():
        if name == "__metadata__":
            raise ArrayFileError("'__metadata__' is reserved for the header's metadata")
        array = np.ascontiguousarray(np.asarray(value))
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        prepared[name] = array
    order = sorted(prepared, key=lambda n: (-prepared[n].dtype.itemsize, list(prepared).index(n)))
    header: dict[str, Any] = {}
    offset = 0
    for name in order:
        array = prepared[name]
        header[name] = {"dtype": _code(array), "shape": [int(s) for s in array.shape],
                        "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    header["__metadata__"] = {META_KEY: json.dumps(json_safe(dict(meta or {})), allow_nan=False,
                                                   separators=(",", ":"))}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % _ALIGN)
    return b"".join([struct.pack("<Q", len(text)), text, *(prepared[name].tobytes() for name in order)])


def decode(data: bytes | bytearray | memoryview, where: str = "the array file") -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arrays, meta)`` of an array file's bytes: read-only numpy views on ``data`` (no copy)."""
    import numpy as np

    buffer = memoryview(data)
    if len(buffer) < 8:
        raise ArrayFileError(f"{where} is too short to be an array file ({len(buffer)} bytes)")
    (size,) = struct.unpack("<Q", buffer[:8])
    if size > len(buffer) - 8:
        raise ArrayFileError(f"{where}: its header says {size} bytes but the file has {len(buffer) - 8} after it")
    try:
        header = json.loads(bytes(buffer[8:8 + size]))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArrayFileError(f"{where}: the header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ArrayFileError(f"{where}: the header is not a JSON object")
    start = 8 + size
    body = len(buffer) - start
    arrays: dict[str, Any] = {}
    raw_meta = header.pop("__metadata__", None) or {}
    for name, info in header.items():
        try:
            dtype = np.dtype(DTYPES[info["dtype"]])
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ArrayFileError(f"{where}: array {name!r} has a malformed entry {info!r:.120}") from None
        count = 1
        for s in shape:
            count *= s
        if not 0 <= begin <= end <= body or end - begin != count * dtype.itemsize:
            raise ArrayFileError(f"{where}: array {name!r} ({info['dtype']} {list(shape)}) does not fit its "
                                 f"offsets [{begin}, {end}] in {body} data bytes")
        arrays[name] = np.frombuffer(buffer, dtype=dtype, count=count, offset=start + begin).reshape(shape)
    try:
        meta = json.loads(raw_meta.get(META_KEY, "{}")) if isinstance(raw_meta, dict) else {}
    except json.JSONDecodeError as exc:
        raise ArrayFileError(f"{where}: its metadata is not JSON ({exc})") from None
    return arrays, meta


def write_arrays(path: Path | str, arrays: Mapping[str, Any], meta: Mapping[str, Any] | None = None,
                 root: Path | str | None = None) -> None:
    """Write ``arrays`` and ``meta`` to ``path`` atomically (``root`` as for :func:`latentdeck.kit.write_bytes`)."""
    write_bytes(path, encode(arrays, meta), root)


def read_arrays(path: Path | str, root: Path | str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(arrays, meta)`` of the array file at ``path``; :class:`ArrayFileError` when it is malformed."""
    return decode(read_bytes(path, root), where=str(path))


def sibling(json_name: str) -> str:
    """The array file beside a JSON artifact: ``x/latent_2d_epoch_3.json`` -> ``x/latent_2d_epoch_3.safetensors``."""
    return (json_name[:-5] if json_name.endswith(".json") else json_name) + EXTENSION


def read_artifact(path: Path | str, root: Path | str | None = None) -> dict[str, Any]:
    """A JSON artifact with its arrays, whichever format it is stored in.

    - New format: the JSON file is a small header whose ``arrays`` field names the array file beside it
      (``{"file": "<name>.safetensors", "names": [...]}``); the arrays come back as numpy arrays under their
      names, beside the header's other fields.
    - Old format (every field inline in the JSON): returned as it is; callers turn lists into arrays with
      ``np.asarray`` either way.
    """
    from .atomic import read_json

    path = Path(path)
    document = read_json(path, root)
    pointer = document.get("arrays") if isinstance(document, dict) else None
    if not isinstance(pointer, dict) or not isinstance(pointer.get("file"), str):
        return document
    name = pointer["file"]
    if "/" in name or "\\" in name or name.startswith("."):
        raise ArrayFileError(f"{path}: its array file must sit beside it, got {name!r}")
    arrays, _ = read_arrays(path.parent / name, root)
    return {**document, **arrays}


def is_array_file(root: Path | str, rel: str) -> bool:
    """Whether ``root/rel`` is a regular array file (never following a link)."""
    return rel.endswith(EXTENSION) and safepath.entry_mode(root, rel) is not None and safepath.is_regular_file(root, rel)
