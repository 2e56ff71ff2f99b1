"""What every network-inspection request shares: its :class:`Result` and the writes of one folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentdeck.kit import OnDemandError, dumps


@dataclass(frozen=True)
class Result:
    """One request's folder (relative to the run), its files, whether this call wrote them, the payload."""

    folder: str
    files: list[str]
    created: bool
    payload: dict[str, Any]


def _write(folder: Path, name: str, data: bytes) -> None:
    """Write one file of a folder that the shared writer syncs and then publishes."""
    with open(folder / name, "wb") as handle:
        handle.write(data)


def _json(folder: Path, name: str, payload: Any) -> None:
    _write(folder, name, (dumps(payload) + "\n").encode())


def _range_error(what: str, value: int, count: int, status: int = 422) -> OnDemandError:
    return OnDemandError(f"{what} {value} is out of range: use 0..{count - 1}", status)


def _check_range(what: str, value: int, count: int) -> None:
    if not 0 <= value < count:
        raise _range_error(what, value, count)
