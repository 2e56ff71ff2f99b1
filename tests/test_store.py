"""The run store: layout, lifecycle, cancel/delete rules, safe artifact names, atomic writes, pids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from latentdeck.kit.atomic import read_json, write_json
from latentdeck.store.events import read_events
from latentdeck.store.lifecycle import ACTIVE, STATUSES, TERMINAL, InvalidTransition, check_transition
from latentdeck.kit.procs import pid_alive, proc_start_time
from latentdeck.store.runs import (
    CANCEL_FLAG, RunConflict, RunNotFound, RunStore, RunStoreError, cancel_requested, read_summary,
    read_worker_info, update_summary, write_worker_info,
)


def stored(run_id: str, created_at: float = 1000.0, **extra) -> dict:
    return {"run_id": run_id, "model": "ae", "dataset": "tiny-digits", "epochs": 3,
            "created_at": created_at, "name": None, **extra}


@pytest.fixture
def store(runs_dir) -> RunStore:
    return RunStore(runs_dir)


# --- create / list / summary --------------------------------------------------------------------

def test_create_writes_config_summary_and_created_event(store):
    summary = store.create(stored("run-a", name="first"))
    path = store.root / "run-a"
    # .disk-reserve: headroom for the run's last words if the disk fills up (released when it ends)
    assert sorted(p.name for p in path.iterdir()) == [".disk-reserve", "config.json", "events.jsonl", "summary.json"]
    assert read_json(path / "config.json") == stored("run-a", name="first")
    assert summary == read_json(path / "summary.json")
    assert summary["status"] == "created" and summary["epochs_completed"] == 0
    assert summary["name"] == "first" and summary["model"] == "ae" and summary["epochs"] == 3
    assert summary["started_at"] is None and summary["metrics"] is None
    (event,) = read_events(path / "events.jsonl")
    assert event["seq"] == 1 and event["type"] == "run.created" and event["run_id"] == "run-a"
    assert event["data"]["config"]["dataset"] == "tiny-digits"
    assert store.read_config("run-a")["run_id"] == "run-a"
    assert store.summary("run-a") == summary


def test_summaries_name_the_preset_also_for_runs_made_before_they_did(store):
    store.create(stored("run-a", preset="gmvae-clusters"))
    store.create(stored("run-b", created_at=2000.0))
    assert store.summary("run-a")["preset"] == "gmvae-clusters" and store.summary("run-b")["preset"] is None
    old = store.root / "run-c"
    store.create(stored("run-c", created_at=3000.0, preset="ae-quick"))
    summary = read_json(old / "summary.json")
    del summary["preset"]  # an older summary.json: the listing reads the preset from config.json
    (old / "summary.json").write_text(json.dumps(summary))
    assert {r["run_id"]: r["preset"] for r in store.list()} == {"run-a": "gmvae-clusters", "run-b": None, "run-c": "ae-quick"}


def test_create_refuses_an_existing_run(store):
    store.create(stored("run-a"))
    with pytest.raises(FileExistsError):
        store.create(stored("run-a"))


def test_list_newest_first_and_skips_foreign_folders(store):
    store.create(stored("run-old", created_at=1.0))
    store.create(stored("run-new", created_at=2.0))
    (store.root / "not-a-run").mkdir()  # no summary.json
    (store.root / ".deleting-x").mkdir()
    (store.root / "half").mkdir()
    (store.root / "half" / "summary.json").write_text("{not json")
    (store.root / "file.txt").write_text("x")
    assert [row["run_id"] for row in store.list()] == ["run-new", "run-old"]
    assert store.active_run_ids() == ["run-new", "run-old"]


def test_store_root_is_created(tmp_path):
    store = RunStore(tmp_path / "a" / "b")
    assert store.root.is_dir() and store.list() == []


@pytest.mark.parametrize("run_id", ["../etc", "", ".hidden", "a/b", "a b", "x" * 129, None, 12, "-dash"])
def test_invalid_run_ids_are_not_found(store, run_id):
    with pytest.raises(RunNotFound, match="not a valid run id"):
        store.run_dir(run_id)


def test_missing_run_is_not_found(store):
    with pytest.raises(RunNotFound, match="no run 'run-zzz'") as info:
        store.summary("run-zzz")
    assert info.value.status == 404


# --- lifecycle ----------------------------------------------------------------------------------

@pytest.mark.parametrize("current,new", [
    ("created", "running"), ("created", "cancelled"), ("created", "failed"),
    ("running", "completed"), ("running", "cancelled"), ("running", "failed"),
])
def test_legal_transitions(current, new):
    check_transition(current, new)


@pytest.mark.parametrize("current,new", [
    ("created", "completed"), ("created", "created"), ("running", "created"), ("running", "running"),
    ("completed", "running"), ("completed", "failed"), ("cancelled", "running"), ("failed", "completed"),
    ("failed", "created"), ("created", "exploded"),
])
def test_illegal_transitions_raise(current, new):
    with pytest.raises(InvalidTransition) as info:
        check_transition(current, new)
    assert (info.value.current, info.value.new) == (current, new)
    assert repr(current) in str(info.value) and repr(new) in str(info.value)


def test_status_sets():
    assert ACTIVE | TERMINAL == set(STATUSES) and not ACTIVE & TERMINAL


def test_update_summary_checks_transitions(store):
    store.create(stored("run-a"))
    path = store.run_dir("run-a")
    update_summary(path, status="running", started_at=5.0)
    update_summary(path, status="running", epochs_completed=1)  # same status: not a transition
    with pytest.raises(InvalidTransition):
        update_summary(path, status="created")
    assert read_summary(path)["status"] == "running"
    update_summary(path, status="completed")
    with pytest.raises(InvalidTransition):
        update_summary(path, status="failed")
    summary = read_summary(path)
    assert summary["status"] == "completed" and summary["epochs_completed"] == 1 and summary["started_at"] == 5.0


# --- cancel / delete / mark_failed ---------------------------------------------------------------

def test_request_cancel_on_active_run_writes_the_flag(store):
    store.create(stored("run-a"))
    path = store.run_dir("run-a")
    assert not cancel_requested(path)
    assert store.request_cancel("run-a")["status"] == "created"
    assert cancel_requested(path)
    assert "requested_at" in read_json(path / CANCEL_FLAG)


@pytest.mark.parametrize("final", ["completed", "cancelled", "failed"])
def test_request_cancel_on_terminal_run_conflicts(store, final):
    store.create(stored("run-a"))
    path = store.run_dir("run-a")
    update_summary(path, status="running")
    update_summary(path, status=final)
    with pytest.raises(RunConflict, match=f"already {final}") as info:
        store.request_cancel("run-a")
    assert info.value.status == 409
    assert not (path / CANCEL_FLAG).exists()


def test_delete_refuses_active_runs_and_removes_finished_ones(store):
    store.create(stored("run-a"))
    for status in ("created", "running"):
        if status == "running":
            update_summary(store.run_dir("run-a"), status="running")
        with pytest.raises(RunConflict, match=f"is {status}; cancel it first"):
            store.delete("run-a")
        assert (store.root / "run-a" / "summary.json").exists()
    update_summary(store.run_dir("run-a"), status="completed")
    (store.root / "run-a" / "reconstructions").mkdir()
    (store.root / "run-a" / "reconstructions" / "x.png").write_bytes(b"png")
    store.delete("run-a")
    assert list(store.root.iterdir()) == []  # no trash left behind
    assert store.list() == []
    with pytest.raises(RunNotFound):
        store.summary("run-a")


def test_mark_failed_only_touches_active_runs(store):
    store.create(stored("run-a"))
    store.create(stored("run-b"))
    failed = store.mark_failed("run-a", "worker_gone", "the worker vanished")
    assert failed["status"] == "failed" and failed["reason"] == "worker_gone"
    assert failed["error"] == "the worker vanished" and failed["ended_at"] is not None
    events = list(read_events(store.run_dir("run-a") / "events.jsonl"))
    assert [e["type"] for e in events] == ["run.created", "run.failed"]
    assert events[-1]["seq"] == 2 and events[-1]["data"]["reason"] == "worker_gone"

    assert store.mark_failed("run-a", "again") is None  # already terminal: untouched
    assert store.summary("run-a")["reason"] == "worker_gone"
    assert len(list(read_events(store.run_dir("run-a") / "events.jsonl"))) == 2

    path_b = store.run_dir("run-b")
    update_summary(path_b, status="running")
    update_summary(path_b, status="completed")
    assert store.mark_failed("run-b", "worker_gone") is None
    assert store.summary("run-b")["status"] == "completed"
    assert [e["type"] for e in read_events(path_b / "events.jsonl")] == ["run.created"]


# --- artifact names -----------------------------------------------------------------------------

@pytest.fixture
def artifact_run(store, tmp_path):
    store.create(stored("run-a"))
    path = store.run_dir("run-a")
    (path / "reconstructions").mkdir()
    (path / "reconstructions" / "recon_grid_latest.png").write_bytes(b"png")
    (path / "reconstructions" / ".recon_grid_latest.png.abc.tmp").write_bytes(b"tmp")
    (path / "checkpoints").mkdir()
    (path / "checkpoints" / "epoch_1.pt").write_bytes(b"pt")
    (path / "worker.json").write_text("{}")
    (path / "secret.txt").write_text("no")
    outside = tmp_path / "outside.txt"
    outside.write_text("outside")
    (path / "reconstructions" / "evil.png").symlink_to(outside)
    (path / "reconstructions" / "evil_dir").symlink_to(tmp_path, target_is_directory=True)
    return store, path


def test_artifact_path_resolves_valid_names(artifact_run):
    store, path = artifact_run
    assert store.artifact_path("run-a", "reconstructions/recon_grid_latest.png") == (
        path / "reconstructions" / "recon_grid_latest.png").resolve()
    assert store.artifact_path("run-a", "config.json").read_text().startswith("{")
    assert store.artifact_path("run-a", "events.jsonl").name == "events.jsonl"
    assert store.artifact_path("run-a", "checkpoints/epoch_1.pt").read_bytes() == b"pt"


@pytest.mark.parametrize("name", [
    "../run-a/config.json", "reconstructions/../config.json", "reconstructions/./recon_grid_latest.png",
    "/etc/passwd", "reconstructions//recon_grid_latest.png", ".hidden", "reconstructions/.recon_grid_latest.png.abc.tmp",
    "worker.json", "secret.txt", "cancel_requested", "reconstructions", "reconstructions/", "elsewhere/x.png",
    "reconstructions\\recon_grid_latest.png", "", "reconstructions/recon grid.png", None,
])
def test_artifact_path_refuses_bad_names(artifact_run, name):
    store, _ = artifact_run
    with pytest.raises(RunStoreError, match="is not a valid artifact name") as info:
        store.artifact_path("run-a", name)
    assert type(info.value) is RunStoreError and info.value.status == 400


@pytest.mark.parametrize("name", ["reconstructions/evil.png", "reconstructions/evil_dir/outside.txt",
                                  "reconstructions/missing.png"])
def test_artifact_path_refuses_symlinks_outside_and_missing_files(artifact_run, name):
    store, _ = artifact_run
    with pytest.raises(RunNotFound, match="has no artifact"):
        store.artifact_path("run-a", name)


def test_artifact_listing_hides_temp_files(artifact_run):
    store, _ = artifact_run
    names = [row["name"] for row in store.artifacts("run-a")]
    assert "reconstructions/recon_grid_latest.png" in names and "checkpoints/epoch_1.pt" in names
    assert not any("/." in name for name in names)
    assert "worker.json" not in names and "secret.txt" not in names


def test_store_serves_exactly_the_declared_folders(tmp_path):
    """A third-party folder is served once a plugin declares it; an undeclared one is neither listed nor served."""
    store = RunStore(tmp_path / "runs", folders=["checkpoints", "projections", "quality"])
    store.create(stored("run-q"))
    path = store.run_dir("run-q")
    for folder in ("quality", "undeclared"):
        (path / folder / "sub").mkdir(parents=True)
        (path / folder / "sub" / "q_epoch_1.json").write_text("{}")
    assert store.artifact_path("run-q", "quality/sub/q_epoch_1.json").name == "q_epoch_1.json"
    with pytest.raises(RunStoreError, match="is not a valid artifact name"):
        store.artifact_path("run-q", "undeclared/sub/q_epoch_1.json")
    listed = {row["name"]: row["kind"] for row in store.artifacts("run-q")}
    assert listed == {"quality/sub/q_epoch_1.json": "quality"}
    assert store.folders == ("checkpoints", "projections", "quality")


# --- atomic writes ------------------------------------------------------------------------------

def test_write_json_is_atomic_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "deep" / "summary.json"
    write_json(target, {"a": 1, "nan": float("nan")})
    write_json(target, {"a": 2})
    assert read_json(target) == {"a": 2}
    assert os.listdir(target.parent) == ["summary.json"]
    assert json.loads(target.read_text()) == {"a": 2}
    write_json(tmp_path / "nan.json", {"x": float("inf")})
    assert read_json(tmp_path / "nan.json") == {"x": None}


def test_failed_atomic_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "summary.json"
    write_json(target, {"version": 1})

    def broken_replace(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json(target, {"version": 2})
    monkeypatch.undo()
    assert read_json(target) == {"version": 1}
    assert os.listdir(tmp_path) == ["summary.json"]


def test_worker_info_roundtrip(store):
    store.create(stored("run-a"))
    path = store.run_dir("run-a")
    assert read_worker_info(path) is None
    info = write_worker_info(path, "local", os.getpid(), via="test")
    assert read_worker_info(path) == info
    assert info["executor"] == "local" and info["pid"] == os.getpid() and info["via"] == "test"
    assert info["proc_start"] == proc_start_time(os.getpid())
    (path / "worker.json").write_text("{torn")
    assert read_worker_info(path) is None


# --- pid_alive ----------------------------------------------------------------------------------

def test_pid_alive_for_this_process():
    me = os.getpid()
    assert pid_alive(me)
    start = proc_start_time(me)
    assert start is not None
    assert pid_alive(me, start)
    assert not pid_alive(me, start + 1)  # a recycled pid started at another time


def test_pid_alive_false_for_a_dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)


def test_pid_alive_false_for_a_zombie():
    proc = subprocess.Popen(["sleep", "0"])
    try:
        deadline = time.monotonic() + 5
        time.sleep(0.3)
        while proc_state(proc.pid) != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc_state(proc.pid) == "Z"  # exited, not yet reaped
        assert not pid_alive(proc.pid)
    finally:
        proc.wait()


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        return handle.read().rsplit(b")", 1)[1].split()[0].decode()
