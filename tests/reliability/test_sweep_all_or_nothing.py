"""Issue 22 (5): a sweep is created all or nothing. A POST that fails with 507 (a full disk) or any other error
leaves no sweep record and no member, and starts nothing; a POST that succeeds writes the record before the
first member, and starts members only once all of them exist. A crash mid-way leaves either nothing visible
(cleaned up by the next listing) or a complete record naming the members that are missing.

Before, on a nearly full disk ``POST /api/sweeps`` answered 507 while the record existed, one member had
been created and started, and the others showed as ``missing``."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from latentdeck.api import create_app
from latentdeck.cli import main
from latentdeck.store.runs import RunStore
from latentdeck.launch.sweep_creation import STAGING_PREFIX
from latentdeck.launch.sweeps import SWEEPS_FOLDER, SweepStore, prepare_sweep

FOUR_SEEDS = [0, 1, 2, 3]


def _body(tiny_config, seeds=FOUR_SEEDS):
    return {"name": "aon", "config": {**tiny_config, "epochs": 1}, "seeds": seeds}


def leftovers(runs: Path) -> list[str]:
    """Every file under the runs folder, and every folder other than an empty ``sweeps/``."""
    found = []
    for path in sorted(runs.rglob("*")):
        relative = str(path.relative_to(runs))
        if path.is_dir() and not path.is_symlink():
            if relative == SWEEPS_FOLDER and not any(path.iterdir()):
                continue
            if path.parent == runs:
                found.append(relative + "/")
        else:
            found.append(relative)
    return found


def fail_on_nth_create(monkeypatch, n: int, error: BaseException) -> list[str]:
    """``RunStore.create`` raises ``error`` at its ``n``-th call (the n-th member); the run ids asked for."""
    asked: list[str] = []
    original = RunStore.create

    def create(self, stored):
        asked.append(stored["run_id"])
        if len(asked) == n:
            raise error
        return original(self, stored)

    monkeypatch.setattr(RunStore, "create", create)
    return asked


@pytest.mark.parametrize("error, status", [
    (OSError(errno.ENOSPC, "No space left on device"), 507),
    (RuntimeError("injected: the third member's creation failed"), 500),
], ids=["disk full", "any error"])
def test_an_error_on_the_third_member_leaves_no_record_and_no_member(serve_api, runs_dir, tiny_config, monkeypatch,
                                                                     error, status):
    live = serve_api()
    submitted = []
    monkeypatch.setattr(live.app.state.deferred, "submit", lambda run_id, executor: submitted.append(run_id))
    asked = fail_on_nth_create(monkeypatch, 3, error)
    response = live.client.post("/api/sweeps", json=_body(tiny_config))
    assert response.status_code == status, response.text[:300]
    if status == 507:
        detail = response.json()["detail"]
        assert "is full" in detail and "nothing was written" in detail, detail
    assert len(asked) == 3 and submitted == []
    assert leftovers(runs_dir) == []
    assert live.client.get("/api/sweeps").json() == [] and live.client.get("/api/runs").json() == []


def test_the_record_failing_to_be_written_leaves_nothing(serve_api, runs_dir, tiny_config, monkeypatch):
    live = serve_api()
    original = SweepStore.write

    def write(self, record):
        original(self, record)  # the record lands, then the disk fills before anything else
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SweepStore, "write", write)
    response = live.client.post("/api/sweeps", json=_body(tiny_config))
    assert response.status_code == 507, response.text[:300]
    assert leftovers(runs_dir) == []


def test_a_sweep_on_a_nearly_full_disk_answers_507_and_writes_nothing(plugin_manager, live_server, tmp_path,
                                                                      tiny_config):
    """A real small disk (tmpfs, root only) with room for the record and about one member, not four."""
    from battery_faults import CannotMount, fill, tmpfs

    try:
        with tmpfs(tmp_path / "small", "2m") as mount:
            runs = mount / "runs"
            runs.mkdir()
            filler = fill(mount)
            with open(filler, "r+b") as handle:  # give back room for the record and about one member
                handle.truncate(filler.stat().st_size - 120 * 1024)
            live = live_server(create_app(plugin_manager, runs, monitor_s=0.2))
            submitted = []
            live.app.state.deferred.submit = lambda run_id, executor: submitted.append(run_id)
            response = live.client.post("/api/sweeps", json=_body(tiny_config))
            found = leftovers(runs)
            listed = live.client.get("/api/sweeps").json(), live.client.get("/api/runs").json()
            live.stop()
    except CannotMount as exc:
        pytest.skip(f"cannot simulate a full disk here: {exc}")
    assert response.status_code == 507, response.text[:300]
    assert "is full" in response.json()["detail"] and "nothing was written" in response.json()["detail"]
    assert found == [] and submitted == [] and listed == ([], [])


def test_cli_sweep_on_a_full_disk_exits_1_and_writes_nothing(cli_env, tmp_path, capsys, monkeypatch):
    runs = tmp_path / "runs"
    asked = fail_on_nth_create(monkeypatch, 2, OSError(errno.ENOSPC, "No space left on device"))
    code = main(["sweep", "--dataset", "tiny-digits", "--epochs", "1", "--seeds", "0,1,2", "--runs-dir", str(runs),
                 "--quiet"])
    assert code == 1 and len(asked) == 2
    assert "is full" in capsys.readouterr().err
    assert leftovers(runs) == []


def test_a_successful_post_writes_the_record_first_and_starts_members_once_all_exist(serve_api, runs_dir,
                                                                                     tiny_config, monkeypatch):
    live = serve_api()
    timeline = []
    original = RunStore.create

    def create(self, stored):
        record_path = runs_dir / SWEEPS_FOLDER / f"{stored['sweep_id']}.json"
        record = json.loads(record_path.read_text()) if record_path.exists() else None
        timeline.append(("create", stored["run_id"], record))
        assert not (runs_dir / stored["run_id"]).exists()
        return original(self, stored)

    def submit(run_id, executor):
        record = json.loads(next((runs_dir / SWEEPS_FOLDER).glob("*.json")).read_text())
        timeline.append(("start", run_id, record))
        assert (runs_dir / run_id / "summary.json").is_file()

    monkeypatch.setattr(RunStore, "create", create)
    monkeypatch.setattr(live.app.state.deferred, "submit", submit)
    response = live.client.post("/api/sweeps", json=_body(tiny_config, seeds=[0, 1, 2]))
    assert response.status_code == 201, response.text[:300]
    members = [m["run_id"] for m in response.json()["members"]]
    assert [(kind, run_id) for kind, run_id, _ in timeline] == (
        [("create", r) for r in members] + [("start", r) for r in members])
    for kind, run_id, record in timeline:
        assert record is not None, f"{kind} {run_id}: the sweep record was not written yet"
        assert run_id in [m["run_id"] for m in record["members"]]
        assert ("creating" in record) == (kind == "create"), (kind, record.get("creating"))
    assert sorted(p.name for p in runs_dir.iterdir()) == sorted(members + [SWEEPS_FOLDER])
    assert sorted(r["run_id"] for r in live.client.get("/api/runs").json()) == sorted(members)


CRASHER = textwrap.dedent("""
    import json, sys, time
    from latentdeck.launch import sweep_creation
    from latentdeck.store.runs import RunStore
    from latentdeck.launch.sweeps import SweepStore

    runs, plan, hang_at, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    record, configs = json.loads(open(plan).read())
    calls = []
    original = RunStore.create if step == "create" else sweep_creation.place

    def hang(*args):
        calls.append(1)
        if len(calls) == hang_at:
            print("hanging", flush=True)
            time.sleep(600)
        return original(*args)

    if step == "create":
        RunStore.create = hang
    else:
        sweep_creation.place = hang
    store = RunStore(runs, folders=())
    sweeps = SweepStore(store)
    staging = sweep_creation.stage(store, sweeps, record, configs)
    sweep_creation.place_all(store, sweeps, record, staging, [c["run_id"] for c in configs])
""")


def _crash(tmp_path, runs_dir, plugin_manager, tiny_config, step: str, hang_at: int) -> dict:
    """Create a 3-member sweep in another process and SIGKILL it while it hangs at ``step`` #``hang_at``."""
    record, configs = prepare_sweep(plugin_manager, _body(tiny_config, seeds=[0, 1, 2]))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([record, [dict(c) for c in configs]]))  # ResolvedRun reads like its config
    child = subprocess.Popen([sys.executable, "-c", CRASHER, str(runs_dir), str(plan), str(hang_at), step],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "hanging"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    return record


def test_a_crash_while_members_are_created_leaves_nothing_after_the_next_listing(serve_api, runs_dir, tmp_path,
                                                                                plugin_manager, tiny_config):
    record = _crash(tmp_path, runs_dir, plugin_manager, tiny_config, "create", 2)
    staging = runs_dir / f"{STAGING_PREFIX}{record['sweep_id']}"
    assert json.loads((runs_dir / SWEEPS_FOLDER / f"{record['sweep_id']}.json").read_text())["creating"]
    assert (staging / record["members"][0]["run_id"] / "summary.json").is_file()
    live = serve_api()  # a restarted server: it resumes no member, since none was ever in the runs folder
    assert live.client.get("/api/runs").json() == []
    assert live.client.get("/api/sweeps").json() == []
    assert leftovers(runs_dir) == []
    assert live.client.get(f"/api/sweeps/{record['sweep_id']}").status_code == 404


def test_a_crash_while_members_are_placed_leaves_a_record_naming_the_missing(serve_api, runs_dir, tmp_path,
                                                                            plugin_manager, tiny_config, monkeypatch):
    record = _crash(tmp_path, runs_dir, plugin_manager, tiny_config, "place", 2)
    first = record["members"][0]["run_id"]
    staging = runs_dir / f"{STAGING_PREFIX}{record['sweep_id']}"
    assert staging.is_dir() and (runs_dir / first / "summary.json").is_file()
    # a restarted server would resume `first` (a created member of a complete sweep): not trained here
    monkeypatch.setattr("latentdeck.api.app.resume_waiting_runs", lambda store, pm, deferred: ([], []))
    live = serve_api()
    (listed,) = live.client.get("/api/sweeps").json()
    assert "creating" not in listed and listed["counts"] == {"created": 1, "missing": 2}, listed
    detail = live.client.get(f"/api/sweeps/{record['sweep_id']}").json()
    assert [m["status"] for m in detail["members"]] == ["created", "missing", "missing"]
    assert not staging.exists(), "the listing removes the staging folder of a creator that is gone"
