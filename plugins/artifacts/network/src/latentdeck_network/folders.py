"""What every network-inspection request shares: the folder of its answer (its ``key``) and the writes
of one folder. Light: the keys are computed before anything heavy is imported.

Keys (folders inside ``network/``; ``<L>`` a layer id, ``<tag>`` :func:`delta_tag`)::

    forward/epoch_<N>/idx_<i>
    inspect/epoch_<N>/idx_<i>/layer_<L>/ch_<c>                     (no probe)
    inspect/epoch_<N>/idx_<i>/layer_<L>/ch_<c>_probe_x_<x>_y_<y>   (a probe)
    conv_step/epoch_<N>/idx_<i>/layer_<L>/out_<c>/x_<x>_y_<y>
    kernels/epoch_<N>/layer_<L>/out_<c>
    perturb/epoch_<N>/idx_<i>/vector_<key>/dim_<d>/delta_<tag>
    topk/epoch_<N>/layer_<L>/ch_<c>/metric_<m>/subset_<n>/k_<k>
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from latentdeck.kit import OnDemandError, dumps

MAX_ABS_DELTA = 1000.0


def inspect_key(request: Any, epoch: int) -> str:
    """``ch_<c>`` for the channel map (the seed specification's folder); a probe's answer is a sibling
    ``ch_<c>_probe_x_<x>_y_<y>``, never inside ``ch_<c>/``: a keyed answer is published whole with its
    ``result.json``, so a probe asked first would leave ``ch_<c>/`` existing without one, and the map's
    answer could then never be published there."""
    probe = "" if request.x is None else f"_probe_x_{request.x}_y_{request.y}"
    return f"inspect/epoch_{epoch}/idx_{request.idx}/layer_{request.layer}/ch_{request.ch}{probe}"


def perturb_key(request: Any, epoch: int) -> str:
    try:
        tag = delta_tag(float(request.delta))
    except ValueError as exc:
        raise OnDemandError(str(exc), 422) from None
    return f"perturb/epoch_{epoch}/idx_{request.idx}/vector_{request.key}/dim_{request.dim}/delta_{tag}"


def delta_tag(delta: float) -> str:
    """``p0.5`` for +0.5, ``m1`` for -1, ``0`` for zero: plain decimals, no exponent, reversible."""
    if not math.isfinite(delta) or abs(delta) > MAX_ABS_DELTA:
        raise ValueError(f"delta must be a finite number within ±{MAX_ABS_DELTA:g}, got {delta!r}")
    if delta == 0:
        return "0"
    text = format(Decimal(repr(abs(float(delta)))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("p" if delta > 0 else "m") + text


def parse_delta_tag(tag: str) -> float:
    """The delta a :func:`delta_tag` names."""
    if tag == "0":
        return 0.0
    match = re.fullmatch(r"([pm])(\d+(?:\.\d+)?)", tag)
    if not match:
        raise ValueError(f"{tag!r} is not a delta tag (p<number>, m<number> or 0)")
    return float(match.group(2)) * (1 if match.group(1) == "p" else -1)


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
