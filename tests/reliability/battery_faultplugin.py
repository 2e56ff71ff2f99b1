"""Fault injection for the battery: a worker that SIGKILLs itself in the middle of a chosen write.

Loaded into worker processes through ``LATENTDECK_EXTRA_PLUGINS`` (with this folder on
``PYTHONPATH``); active only in ``python -m latentdeck.worker`` and only when the file named by
``$LATENTDECK_FAULT_FILE`` holds ``<point>:<n>`` (the next worker to start claims it by renaming it
away, so the battery arms one run at a time under one server), where point is

- ``checkpoint``: the n-th write of a ``checkpoints/epoch_<N>.pt`` file,
- ``artifact``: the n-th write of an artifact PNG or JSON (reconstructions/, projections/, ...),
- ``event``: the n-th append to ``events.jsonl``.

The write is cut in half (half the bytes land in the temporary file, or in the log as a torn line),
the time is written to ``$LATENTDECK_FAULT_STAMP``, and the process kills itself with SIGKILL: no
``finally`` block, no flush, exactly what an OOM kill or a power cut does to the worker.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

ARTIFACT_FOLDERS = ("reconstructions", "projections", "neighbors", "density", "distortion", "mixture", "samples")


def _die() -> None:
    stamp = os.environ.get("LATENTDECK_FAULT_STAMP")
    if stamp:
        with open(stamp, "w") as handle:
            handle.write(repr(time.time()))
    os.kill(os.getpid(), signal.SIGKILL)


def _install(point: str, nth: int) -> None:
    import io
    import tempfile

    from latentdeck.kit import atomic
    from latentdeck.store.events import EventLog

    count = {"n": 0}

    def hit() -> bool:
        count["n"] += 1
        return count["n"] == nth

    if point in ("checkpoint", "artifact"):
        original = atomic.write_stream

        def matches(path: Path) -> bool:
            if point == "checkpoint":
                return path.parent.name == "checkpoints" and path.name.startswith("epoch_") and path.suffix == ".pt"
            return path.parent.name in ARTIFACT_FOLDERS and path.suffix in (".png", ".json")

        def write_stream(path, source, root=None):
            path = Path(path)
            if matches(path) and hit():
                data = source.read()
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, _ = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
                os.write(fd, data[: len(data) // 2])
                _die()
            return original(path, source if not isinstance(source, bytes) else io.BytesIO(source), root)

        atomic.write_stream = write_stream
    elif point == "event":
        original_write = EventLog._write

        def _write(self, data: bytes) -> None:
            if data != b"\n" and hit():
                self._handle.write(data[: len(data) // 2])
                _die()
            original_write(self, data)

        EventLog._write = _write


def _activate() -> None:
    armed = os.environ.get("LATENTDECK_FAULT_FILE", "")
    if not armed or not sys.argv or not sys.argv[0].endswith(os.path.join("latentdeck", "worker", "__main__.py")):
        return
    claimed = f"{armed}.{os.getpid()}"
    try:
        os.rename(armed, claimed)
    except OSError:
        return  # not armed
    with open(claimed) as handle:
        point, _, nth = handle.read().strip().partition(":")
    os.unlink(claimed)
    _install(point, int(nth or 1))


_activate()
