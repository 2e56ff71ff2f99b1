"""Hostile input, short variant (issue 13): a traversal corpus in every encoding against every route
that takes a run id, an artifact name or a static path reads nothing outside runs/ and the UI
folder, writes nothing there, and gets no 5xx; oversized and malformed bodies get a small 4xx."""

from __future__ import annotations

from battery_hostile import bodies, traversal
from battery_lab import Lab


def test_traversal_corpus_reads_and_writes_nothing_outside(trained_run, tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")
    figures = traversal(tmp_path / "hostile", trained_run())
    assert figures["requests"] > 1000, figures
    assert figures["responses_with_canary"] == 0, figures
    assert figures["canary_files_read"] in (0, None), figures  # None: no root to mount a strictatime tmpfs
    assert figures["files_written_outside"] == 0, figures
    assert figures["server_errors"] == 0 and figures["server_still_up"], figures


def test_oversized_and_malformed_bodies_get_a_small_4xx(lab_runs):
    with Lab(lab_runs) as lab:
        figures = bodies(lab)
    assert figures["all_4xx"], figures
    assert figures["largest_answer_bytes"] < 8192, figures
    assert figures["runs_written"] == 0, figures
