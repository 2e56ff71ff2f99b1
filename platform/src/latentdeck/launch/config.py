"""The run configuration, at the launch edge: where datasets live by default and ``--set a.b=c``.

The request record itself (:class:`RunConfig`, :class:`OptimizerConfig`, their bounds) is part of the
contract, :mod:`latentdeck.types.run`, beside the :class:`~latentdeck.types.run.ResolvedRun` that
``prepare_run`` makes of it; they are re-exported here for the host's modules.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..types.run import (  # noqa: F401  (re-exported)
    DEFAULT_DATASET, MAX_EPOCHS, MAX_LIMIT, MAX_SEED, MAX_THREADS, STRICT, OptimizerConfig, RunConfig,
)


def default_data_dir() -> Path:
    """``$LATENTDECK_DATA_DIR`` or ``~/.cache/latentdeck/data``."""
    env = os.environ.get("LATENTDECK_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "latentdeck" / "data"


def set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``a.b.c = value`` inside nested dicts (``--set optimizer.lr=0.01``)."""
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"cannot set {dotted!r}: {part!r} is not a nested field")
        node = child
    node[parts[-1]] = value
