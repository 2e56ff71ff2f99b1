"""Leftovers are cleaned when the server starts (issue 22, item 8).

Before: killed workers left ``.epoch_N.pt.*.tmp``, ``.latest.pt.*.tmp`` (2.7 MB) and
``.summary.json.*.tmp`` in their run folders, and a server killed during ``DELETE`` left
``.deleting-<id>-*`` folders (33,790 files) through every restart. Now the server removes, as it
starts, temporary names older than a minute in runs nothing writes into any more, and finishes the
interrupted deletes, logging counts and bytes; it never follows a link while doing so.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from latentdeck.kit.atomic import write_json
from latentdeck.kit.procs import proc_start_time
from latentdeck.store.cleanup import STALE_AFTER_S, clean_runs_folder
from latentdeck.store.runs import read_summary, write_worker_info

OLD = time.time() - STALE_AFTER_S - 120  # two minutes past the threshold


def _age(path: Path, when: float = OLD) -> Path:
    os.utime(path, (when, when), follow_symlinks=False)
    return path


def _run(runs: Path, run_id: str, status: str) -> Path:
    run_dir = runs / run_id
    (run_dir / "checkpoints").mkdir(parents=True)
    write_json(run_dir / "summary.json", {"run_id": run_id, "status": status})
    (run_dir / "checkpoints" / "epoch_1.pt").write_bytes(b"\0" * 100)
    return run_dir


@pytest.fixture
def leftovers(runs_dir, tmp_path):
    """A runs folder as killed workers and a killed DELETE leave it, plus things that must survive."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "target.txt").write_text("keep me")
    (outside / "folder" / ".inside.tmp").write_text("keep me too")
    _age(outside / "folder" / ".inside.tmp")
    done = _run(runs_dir, "done", "completed")
    stale = {
        "checkpoints/.epoch_2.pt.k3j4h5.tmp": 2_700_000,
        "checkpoints/.latest.pt.a1b2c3.tmp": 1000,
        ".summary.json.x9y8z7.tmp": 200,
    }
    for name, size in stale.items():
        (done / name).write_bytes(b"\1" * size)
        _age(done / name)
    partial = done / "samples" / ".m4_idx3.q1w2e3.tmp"  # persist_once's folder of a computation that died
    partial.mkdir(parents=True)
    (partial / "grid.png").write_bytes(b"\2" * 500)
    _age(partial)
    (done / "checkpoints" / ".epoch_3.pt.fresh1.tmp").write_bytes(b"\3" * 10)  # a minute has not passed
    (done / ".link.tmp").symlink_to(outside / "target.txt")
    _age(done / ".link.tmp")
    (done / ".linkdir.tmp").symlink_to(outside / "folder", target_is_directory=True)
    _age(done / ".linkdir.tmp")
    (done / "density").symlink_to(outside / "folder", target_is_directory=True)  # never entered
    training = _run(runs_dir, "training", "running")
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])  # its worker lives on
    write_worker_info(training, "local", worker.pid)
    (training / "checkpoints" / ".epoch_1.pt.r4t5y6.tmp").write_bytes(b"\4" * 10)
    _age(training / "checkpoints" / ".epoch_1.pt.r4t5y6.tmp")
    backfilling = _run(runs_dir, "backfilling", "completed")
    write_json(backfilling / "backfill.lock", {"pid": os.getpid(), "proc_start": proc_start_time(os.getpid())})
    (backfilling / ".projections.u7i8o9.tmp").mkdir()
    _age(backfilling / ".projections.u7i8o9.tmp")
    trash = runs_dir / ".deleting-gone-ab12"
    (trash / "network" / "deep").mkdir(parents=True)
    for i in range(30):
        (trash / "network" / "deep" / f"f{i}.json").write_bytes(b"\5" * 100)
    (runs_dir / ".deleting-linked-cd34").symlink_to(outside / "folder", target_is_directory=True)
    (runs_dir / "sweeps").mkdir()
    write_json(runs_dir / "sweeps" / "s1.json", {"sweep_id": "s1"})
    (runs_dir / "sweeps" / ".s2.json.p0o9i8.tmp").write_text("{")
    _age(runs_dir / "sweeps" / ".s2.json.p0o9i8.tmp")
    yield {"runs": runs_dir, "outside": outside, "done": done, "training": training, "backfilling": backfilling,
           "stale": stale, "partial": partial}
    worker.kill()
    worker.wait()


def _check(lab: dict, report) -> None:
    runs, done, outside = lab["runs"], lab["done"], lab["outside"]
    for name in lab["stale"]:
        assert not (done / name).exists(), name
    assert not lab["partial"].exists()
    assert not os.path.lexists(done / ".link.tmp") and not os.path.lexists(done / ".linkdir.tmp")
    assert not os.path.lexists(runs / ".deleting-gone-ab12") and not os.path.lexists(runs / ".deleting-linked-cd34")
    assert not (runs / "sweeps" / ".s2.json.p0o9i8.tmp").exists() and (runs / "sweeps" / "s1.json").is_file()
    # kept: a fresh temporary file, every real file, anything of an active run or of a running backfill
    assert (done / "checkpoints" / ".epoch_3.pt.fresh1.tmp").is_file() and (done / "checkpoints" / "epoch_1.pt").is_file()
    assert (done / "summary.json").is_file() and (done / "density").is_symlink()
    assert (lab["training"] / "checkpoints" / ".epoch_1.pt.r4t5y6.tmp").is_file()
    assert (lab["backfilling"] / ".projections.u7i8o9.tmp").is_dir()
    # links were removed, never followed
    assert (outside / "target.txt").read_text() == "keep me"
    assert (outside / "folder" / ".inside.tmp").read_text() == "keep me too"
    assert report.temp_files == 7 and report.runs_cleaned == 1  # 3 files, 1 folder, 2 links (done); 1 (sweeps)
    assert report.temp_bytes == sum(lab["stale"].values()) + 500 + 1
    assert report.deletes_finished == 2 and report.deleted_files == 31 and report.deleted_bytes == 3000
    assert sorted(report.runs_skipped) == ["backfilling", "training"] and report.errors == []


def test_the_server_cleans_leftovers_as_it_starts_and_says_what_it_did(serve_api, leftovers, caplog):
    caplog.set_level(logging.INFO, logger="latentdeck.store.cleanup")
    live = serve_api()
    report = live.app.state.startup_cleanup.result(timeout=30)
    _check(leftovers, report)
    said = [r.getMessage() for r in caplog.records if r.name == "latentdeck.store.cleanup"]
    assert any("removed 7 stale temporary file(s) (2,701,701 bytes) in 1 run(s); finished 2 interrupted delete(s) "
               "(31 files, 3,000 bytes); left 2 active run(s) alone" in line for line in said), said
    assert {row["run_id"] for row in live.client.get("/api/runs").json()} == {"done", "training", "backfilling"}
    assert read_summary(leftovers["training"])["status"] == "running"


def test_a_second_cleanup_finds_nothing_and_a_fresh_file_ages_into_removal(leftovers):
    first = clean_runs_folder(leftovers["runs"])
    assert first.temp_files == 7
    again = clean_runs_folder(leftovers["runs"])
    assert (again.temp_files, again.deletes_finished) == (0, 0)
    later = clean_runs_folder(leftovers["runs"], now=time.time() + STALE_AFTER_S + 1)
    assert later.temp_files == 1 and not (leftovers["done"] / "checkpoints" / ".epoch_3.pt.fresh1.tmp").exists()


def test_a_killed_trainers_pipeline_snapshots_go_only_from_finished_runs(runs_dir):
    done, running = _run(runs_dir, "done", "failed"), _run(runs_dir, "busy", "running")
    for run_dir in (done, running):
        (run_dir / ".pipeline").mkdir()
        (run_dir / ".pipeline" / "epoch_2.pt").write_bytes(b"\0" * 5000)
    report = clean_runs_folder(runs_dir)
    assert not (done / ".pipeline").exists() and report.temp_bytes >= 5000
    assert (running / ".pipeline" / "epoch_2.pt").exists()  # a live run's pipeline still reads it
    assert (done / "checkpoints" / "epoch_1.pt").exists()
