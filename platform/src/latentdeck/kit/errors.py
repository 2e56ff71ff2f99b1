"""Small helpers for error reports: short echoes of bad input, and recognising a full disk."""

from __future__ import annotations

import errno
import math
from typing import Any

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
ECHO_LIMIT = 80  # characters of a bad value repeated back in an error message


class RunStoreError(Exception):
    """A request the run store refuses; ``status`` is the HTTP status that fits (also re-exported by
    :mod:`latentdeck.store.runs`; defined here so that low-level modules such as :mod:`latentdeck.kit.safepath`
    can raise one)."""

    status = 400


def short_repr(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters, saying how long it was (a 20 MB name is not echoed)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (str, bytes)) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def json_echo(value: Any, limit: int = ECHO_LIMIT) -> Any:
    """A JSON-safe, short stand-in for a bad input value inside a structured error."""
    if isinstance(value, bool) or value is None or isinstance(value, int) and abs(value) < 2**53:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else short_repr(value)
    if isinstance(value, str) and len(value) <= limit:
        return value
    return short_repr(value, limit)


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from or during) is "no space left on device"."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class OnDemandError(RunStoreError):
    """A request for an on-demand artifact the run cannot serve (``status`` 400, 404 or 422)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
