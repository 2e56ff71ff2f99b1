"""Load, short variant (issue 13): pollers and SSE subscribers on a lab while two runs train: no
request fails and every subscriber gets every event once (latency is reported by
bench/reliability.py, never asserted)."""

from __future__ import annotations

from battery_lab import Lab
from battery_load import load


def test_pollers_and_subscribers_while_two_runs_train(lab_runs, battery_long):
    size = dict(pollers=50, subscribers=20, epochs=8) if battery_long else dict(pollers=10, subscribers=6, epochs=3)
    with Lab(lab_runs) as lab:
        figures = load(lab, **size)
    assert figures["run_statuses"] == ["completed", "completed"], figures
    assert figures["errors"] == 0, figures
    assert figures["subscriber_lost"] == 0 and figures["subscriber_duplicated"] == 0, figures
    assert figures["requests"] > 100, figures
