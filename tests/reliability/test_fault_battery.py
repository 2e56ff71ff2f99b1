"""Fault injection, short variants (issue 13): whatever dies and whenever, the run ends with a
reason, no file is left invalid, and a restarted server starts cleanly."""

from __future__ import annotations

import random

import pytest

from battery_faults import (CannotMount, damaged_checkpoint, disk_full, fault_lab, kill_server_while_training,
                            kill_worker_at, kill_worker_randomly, restart_is_clean, torn_log_then_restart)


def test_a_worker_killed_in_the_middle_of_a_write_fails_its_run_and_leaves_every_file_valid(lab_runs, battery_long):
    points = [("checkpoint", 2), ("artifact", 5), ("event", 30)]
    if battery_long:
        rng = random.Random(13)
        points += [("checkpoint", rng.randint(1, 3)) for _ in range(3)] + [("artifact", rng.randint(1, 30)) for _ in range(5)]
        points += [("event", rng.randint(3, 90)) for _ in range(5)]
    with fault_lab(lab_runs) as lab:
        for point, nth in points:
            figures = kill_worker_at(lab, point, nth)
            assert figures["status"] == "failed" and figures["reason"] == "worker_died", figures
            assert figures["files_corrupted"] == 0, figures
            assert figures["log_ends_with_run_failed"] and figures["sse_ends_with_run_failed"], figures
            assert figures["seconds_to_failed"] is not None and figures["seconds_to_failed"] < 5, figures
        if battery_long:
            rng = random.Random(7)
            for _ in range(5):
                figures = kill_worker_randomly(lab, rng)
                assert figures["files_corrupted"] == 0, figures
        assert restart_is_clean(lab)


def test_a_killed_server_is_restarted_and_its_runs_complete(lab_runs):
    with fault_lab(lab_runs) as lab:
        figures = kill_server_while_training(lab, runs=2, epochs=4)
    assert figures["statuses"] == ["completed", "completed"], figures
    assert figures["files_corrupted"] == 0 and figures["replays_complete"], figures


def test_a_log_torn_while_the_server_was_down(lab_runs):
    with fault_lab(lab_runs) as lab:
        figures = torn_log_then_restart(lab)
        clean = restart_is_clean(lab)
    assert figures["log_was_torn"], figures
    assert figures["status"] == "failed" and figures["reason"] == "interrupted", figures
    assert figures["events_kept"] and figures["replayed_events"] == figures["events_in_log"], figures
    assert figures["files_corrupted"] == 0 and clean, figures


def test_a_damaged_checkpoint_is_refused_with_its_name(lab_runs):
    with fault_lab(lab_runs) as lab:
        figures = damaged_checkpoint(lab)
        clean = restart_is_clean(lab)
    assert figures["statuses"] == {"samples": 409, "network": 409} and figures["details_name_the_file"], figures
    assert figures["backfill"] == 202 and figures["backfill_ended"] == "backfill.failed", figures
    assert "epoch_2.pt" in figures["backfill_error"], figures
    assert figures["files_corrupted"] == 0 and clean, figures


def test_a_full_disk_fails_the_run_with_its_reason(tmp_path, monkeypatch):
    """Needs root (mount -t tmpfs); CI runs as root. The tmpfs is unmounted whatever happens."""
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    try:
        figures = disk_full(tmp_path)
    except CannotMount as exc:
        pytest.skip(f"cannot simulate a full disk here: {exc}")
    assert figures["status"] == "failed" and figures["reason"] == "disk_full", figures
    assert "no space left" in figures["error"], figures
    assert figures["sse_follower_got_run_failed"] and figures["log_ends_with_run_failed"], figures
    assert figures["new_run_while_full"] == 507 and figures["folders_left_by_refused_run"] == [], figures
    assert figures["files_corrupted"] == 0, figures
    assert figures["restart_clean"] and figures["reason_after_space_returned"] == "disk_full", figures
    assert figures["new_run_after_space_returned"] == "completed", figures
