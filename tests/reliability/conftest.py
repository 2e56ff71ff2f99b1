"""The reliability battery (issue 13): short variants run in ./test; the long ones with
LATENTDECK_BATTERY=long (or through bench/reliability.py, which prints every figure)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

LONG = os.environ.get("LATENTDECK_BATTERY", "") == "long"


@pytest.fixture
def battery_long() -> bool:
    return LONG


@pytest.fixture
def lab_runs(tmp_path, monkeypatch):
    """A runs folder for a subprocess server; its workers are killed after the test, whatever happened."""
    from battery_lab import kill_workers

    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")
    runs = tmp_path / "runs"
    runs.mkdir()
    yield runs
    kill_workers(runs)
