"""Stoppable work (issue 22, item 6): generators, projections and on-demand computations under a time
budget; cancel ends a run whose generator hangs; backfills cancelled through the API and the CLI; DELETE
stops (and waits for) a run's backfill and computations, or refuses naming them.

The slow work comes from ``battery_sleepplugin`` (a generator, a projection and a computation that sleep,
then write), loaded into worker and backfill processes through ``LATENTDECK_EXTRA_PLUGINS``. Runs are the
tiny AE on ``tiny-digits``. The only timing bounds are the issue's ("within the budget") with margins.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from latentdeck.kit.atomic import read_json
from latentdeck.engine.budget import Fence, Revoked
from latentdeck.store.events import read_events
from latentdeck.launch import prepare_run
from latentdeck.kit.procs import pid_alive
from latentdeck.store.runs import RunStore, read_summary
from latentdeck.testing import wait_for
from latentdeck.engine.training import execute_run

HERE = Path(__file__).parent
CANCEL_BOUND_S = 5.0  # the default budget is 120 s; a cancel must not wait for it


def wait_until(predicate, timeout: float, what: str):
    return wait_for(predicate, timeout=timeout, what=what)


def events(run_dir: Path, kind: str | None = None) -> list[dict]:
    return [e for e in read_events(run_dir / "events.jsonl") if kind is None or e["type"] == kind]


def generator_started(run_dir: Path, name: str, epoch: int, after_seq: int = 0) -> bool:
    return any(e["seq"] > after_seq and e["data"].get("stage") == "artifacts" and e["data"].get("epoch") == epoch
               and e["data"].get("step") == f"generator {name}" for e in events(run_dir, "run.stage"))


def files_of(run_dir: Path) -> list[str]:
    return sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file())


def temporary_files(run_dir: Path) -> list[str]:
    return [name for name in files_of(run_dir) if name.endswith(".tmp") or "/." in f"/{name}"]


def attempts(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def sleepy(plugin_manager, plugin_manager_with, cli_env, monkeypatch, tmp_path, runs_dir):
    """The plugin manager with the sleepy plugin (also in worker and backfill processes; it depends on the
    fixtures that set LATENTDECK_EXTRA_PLUGINS, so that its own setting wins); ``.attempts`` is the file
    that records each write the sleepy work attempts. Backfill processes left running are killed."""
    import battery_sleepplugin

    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing,battery_sleepplugin")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])))
    log = tmp_path / "attempts.jsonl"
    monkeypatch.setenv("LATENTDECK_SLEEP_LOG", str(log))
    pm = plugin_manager_with(battery_sleepplugin)
    pm.attempts = log
    yield pm
    for lock in runs_dir.glob("*/backfill.lock"):
        try:
            info = read_json(lock)
            if pid_alive(int(info["pid"]), info.get("proc_start")):
                os.kill(int(info["pid"]), signal.SIGKILL)
        except (OSError, ValueError, KeyError):
            pass


def new_run(pm, runs_dir: Path, tiny_config: dict, **overrides) -> Path:
    store = RunStore(runs_dir)
    stored = prepare_run(pm, {**tiny_config, **overrides})
    store.create(stored)
    return store.run_dir(stored["run_id"])


def trained(pm, runs_dir: Path, tiny_config: dict, **overrides) -> Path:
    run_dir = new_run(pm, runs_dir, tiny_config, **overrides)
    assert execute_run(run_dir, pm=pm) == "completed"
    return run_dir


# --- the fence ---------------------------------------------------------------------------------------

def test_a_revoke_waits_for_the_write_in_progress_and_refuses_every_later_one():
    fence, order = Fence(), []
    inside, release, revoked = threading.Event(), threading.Event(), threading.Event()

    def writer():
        with fence.held():
            inside.set()
            release.wait(5)
            order.append("write done")
        revoked.wait(5)
        try:
            fence.enter()
            order.append("later write let through")
            fence.exit()
        except Revoked:
            order.append("later write refused")

    thread = threading.Thread(target=writer)
    thread.start()
    inside.wait(5)
    threading.Timer(0.3, release.set).start()
    assert fence.revoke("stopped by the test")  # blocks until the write in progress is done
    order.append("revoked")
    revoked.set()
    thread.join(5)
    assert order == ["write done", "revoked", "later write refused"]


def test_a_folder_whose_work_was_given_up_while_producing_it_is_never_put_in_place(tmp_path):
    from latentdeck.engine.budget import FencedWriter

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    fence = Fence()
    writer = FencedWriter(run_dir=run_dir, epoch=1, generator="test", folders=frozenset({"walks"}), fence=fence)

    def produce(tmp: Path) -> None:
        (tmp / "a.json").write_text("{}")
        fence.revoke("given up while producing")  # what the waiting thread does meanwhile
        (tmp / "b.json").write_text("{}")

    with pytest.raises(Revoked):
        writer.persist_folder("walks", "one", produce)
    assert files_of(run_dir) == [] and [p.name for p in (run_dir / "walks").iterdir()] == []
    with pytest.raises(Revoked):  # and nothing later either
        writer.save_json("walks", "two_{tag}.json", {})
    assert files_of(run_dir) == []


# --- training -----------------------------------------------------------------------------------------

def test_cancel_ends_a_run_whose_generator_sleeps_60_s(sleepy, serve_api, runs_dir, tiny_config):
    live = serve_api(sleepy)
    config = {**tiny_config, "epochs": 3, "artifacts": ["sleepy", "recon_grid"],
              "artifact_options": {"sleepy": {"seconds": 60, "slow_epochs": [2]}}}
    answer = live.client.post("/api/runs", json=config)
    assert answer.status_code == 201, answer.text
    run_id = answer.json()["summary"]["run_id"]
    run_dir = runs_dir / run_id
    wait_until(lambda: generator_started(run_dir, "sleepy", 2), 90, "the sleepy generator of epoch 2")
    time.sleep(0.5)  # inside its sleep
    worker = read_json(run_dir / "worker.json")
    asked = time.monotonic()
    assert live.client.post(f"/api/runs/{run_id}/cancel").status_code == 202
    wait_until(lambda: read_summary(run_dir)["status"] == "cancelled", 30, "the run to end cancelled")
    took = time.monotonic() - asked
    assert took <= CANCEL_BOUND_S, f"the cancel took {took:.1f} s (the generator sleeps 60 s)"
    wait_until(lambda: not pid_alive(worker["pid"], worker.get("proc_start")), CANCEL_BOUND_S, "the worker to exit")
    last = events(run_dir)[-1]
    assert last["type"] == "run.cancelled" and "computation sleepy" in last["data"]["at"], last
    summary = read_summary(run_dir)
    # epoch 2 is trained and checkpointed, its artifacts were stopped; epoch 3 trains meanwhile beside the
    # artifact pipeline (config artifact_pipeline) and may be done, its artifacts never started
    assert summary["epochs_completed"] in (2, 3)
    done = [e["data"] for e in events(run_dir, "run.stage") if e["data"].get("stage") == "epoch_done"]
    assert [d["epoch"] for d in done] == [1, 2] and "computation sleepy" in done[1]["artifacts_stopped"]
    files = files_of(run_dir)
    assert "sleepy/sleepy_epoch_1.json" in files and "sleepy/sleepy_epoch_2.json" not in files, files
    assert "checkpoints/epoch_2.pt" in files
    assert not temporary_files(run_dir), temporary_files(run_dir)
    before = (files, len(events(run_dir)))
    time.sleep(2)
    assert (files_of(run_dir), len(events(run_dir))) == before, "something was written after the cancel"


def warm_imports() -> None:
    """What a first epoch's artifacts import (sklearn for trustworthiness, PIL), imported before a test with a
    budget of seconds: on a busy machine a first import alone can take longer."""
    import PIL.Image  # noqa: F401
    import sklearn.manifold  # noqa: F401


def late_attempts(sleepy, what: str, pipeline: str) -> list[dict]:
    """The abandoned work's write attempts: inline, it wakes up in this process and is refused (Revoked); in the
    pipeline process it is refused too, or ends with the process (which ends at the run's end) before it tries."""
    if pipeline == "inline":
        return wait_until(lambda: [a for a in attempts(sleepy.attempts) if a["what"] == what], 10,
                          f"the abandoned write of {what}")
    time.sleep(4)  # past the abandoned work's 5 s
    return [a for a in attempts(sleepy.attempts) if a["what"] == what]


@pytest.mark.parametrize("pipeline", ["inline", "process"])
def test_a_generator_over_its_budget_is_reported_and_the_run_goes_on(sleepy, runs_dir, tiny_config, pipeline):
    warm_imports()
    run_dir = trained(sleepy, runs_dir, tiny_config, generator_budget_s=2, artifacts=["sleepy", "recon_grid"],
                      artifact_pipeline=pipeline,
                      projections=[], artifact_options={"sleepy": {"seconds": 5, "slow_epochs": [1]}})
    failed = [e["data"] for e in events(run_dir, "artifact.failed")]
    assert len(failed) == 1, failed
    report = failed[0]
    assert report["generator"] == "sleepy" and report["epoch"] == 1 and report["reason"] == "timeout"
    assert report["budget_s"] == 2 and report["setting"] == "generator_budget_s"
    assert "budget of 2 s" in report["error"] and "generator_budget_s" in report["error"], report["error"]
    assert "time.sleep" in report["traceback"]  # where it was when given up
    done = {e["data"]["epoch"]: e["data"] for e in events(run_dir, "run.stage") if e["data"].get("stage") == "epoch_done"}
    assert done[1]["artifact_seconds"] < 2 + 2, done[1]  # given up at its budget, not after its 5 s
    files = files_of(run_dir)
    assert "sleepy/sleepy_epoch_2.json" in files and "reconstructions/recon_grid_epoch_1.png" in files
    # the abandoned generator wakes up and tries to write: refused, nothing lands
    late = late_attempts(sleepy, "sleepy epoch 1", pipeline)
    assert all(a["outcome"].startswith("Revoked") for a in late), late
    assert "sleepy/sleepy_epoch_1.json" not in files_of(run_dir)
    assert read_json(run_dir / "sleepy" / "sleepy_latest.json") == {"epoch": 2}
    assert read_summary(run_dir)["status"] == "completed" and not temporary_files(run_dir)


@pytest.mark.parametrize("pipeline", ["inline", "process"])
def test_a_projection_over_its_budget_is_reported_and_writes_nothing_later(sleepy, runs_dir, tiny_config, pipeline):
    warm_imports()
    run_dir = trained(sleepy, runs_dir, tiny_config, generator_budget_s=2, projections=["sleepy-proj"],
                      artifact_pipeline=pipeline,
                      artifacts=["recon_grid"], projection_options={"sleepy-proj": {"seconds": 5, "slow_epochs": [1]}})
    failed = [e["data"] for e in events(run_dir, "artifact.failed")]
    assert [(f["generator"], f["epoch"], f["reason"]) for f in failed] == [("projection:sleepy-proj", 1, "timeout")]
    progress = [e["data"] for e in events(run_dir, "projection.progress") if e["data"]["stage"] == "failed"]
    assert progress and "budget of 2 s" in progress[0]["error"]
    late_attempts(sleepy, "sleepy-proj epoch 1", pipeline)
    time.sleep(0.5)
    names = [n for n in files_of(run_dir) if n.startswith("projections/")]
    assert any("epoch_2" in n for n in names) and not any("epoch_1" in n for n in names), names


# --- backfill --------------------------------------------------------------------------------------------

def sleepy_backfill_run(pm, runs_dir: Path, tiny_config: dict) -> Path:
    """A finished run without sleepy files, whose config makes the sleepy generator sleep 60 s."""
    return trained(pm, runs_dir, tiny_config, artifacts=["recon_grid"],
                   artifact_options={"sleepy": {"seconds": 60}})


def start_api_backfill(live, run_dir: Path) -> int:
    after = events(run_dir)[-1]["seq"]
    answer = live.client.post(f"/api/runs/{run_dir.name}/backfill", json={"artifacts": ["sleepy"]})
    assert answer.status_code == 202 and answer.json()["started"], answer.text
    wait_until(lambda: generator_started(run_dir, "sleepy", 1, after), 60, "the backfill's sleepy generator")
    time.sleep(0.3)
    return read_json(run_dir / "backfill.lock")["pid"]


def backfill_ends(run_dir: Path) -> list[dict]:
    return [e["data"] for e in events(run_dir) if e["type"] in ("backfill.completed", "backfill.failed")]


def test_cancelling_a_backfill_through_the_api(sleepy, serve_api, runs_dir, tiny_config):
    run_dir = sleepy_backfill_run(sleepy, runs_dir, tiny_config)
    live = serve_api(sleepy)
    for route in ("backfill/cancel", "cancel"):  # its own route, and the run's cancel while it backfills
        ended = len(backfill_ends(run_dir))
        pid = start_api_backfill(live, run_dir)
        asked = time.monotonic()
        answer = live.client.post(f"/api/runs/{run_dir.name}/{route}")
        assert answer.status_code == 202 and "backfill" in answer.json()["detail"], answer.text
        end = wait_until(lambda: backfill_ends(run_dir)[ended:], 30, "the backfill's end")[0]
        took = time.monotonic() - asked
        assert end["reason"] == "cancelled" and took <= CANCEL_BOUND_S, (end, took)
        wait_until(lambda: not pid_alive(pid) and not (run_dir / "backfill.lock").exists(), CANCEL_BOUND_S,
                   "the backfill process to end")
        assert not (run_dir / "sleepy").exists() and not temporary_files(run_dir), files_of(run_dir)
    answer = live.client.post(f"/api/runs/{run_dir.name}/backfill/cancel")
    assert answer.status_code == 409 and "no backfill" in answer.json()["detail"], answer.text
    assert live.client.post(f"/api/runs/{run_dir.name}/cancel").status_code == 409
    assert not (run_dir / "backfill_cancel_requested").exists()


def cli_backfill(run_dir: Path, runs_dir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "latentdeck.cli", "backfill", run_dir.name, "--artifacts", "sleepy",
                             "--runs-dir", str(runs_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_cancelling_a_backfill_from_the_cli(sleepy, runs_dir, tiny_config, capsys):
    from latentdeck.cli import main as cli

    run_dir = sleepy_backfill_run(sleepy, runs_dir, tiny_config)
    for how in ("--cancel", "Ctrl-C"):
        ended = len(backfill_ends(run_dir))
        after = events(run_dir)[-1]["seq"]
        proc = cli_backfill(run_dir, runs_dir)
        try:
            wait_until(lambda: generator_started(run_dir, "sleepy", 1, after) or proc.poll() is not None, 60,
                       "the backfill's sleepy generator")
            assert proc.poll() is None, proc.communicate()[1].decode()
            if how == "--cancel":
                assert cli(["backfill", run_dir.name, "--cancel", "--runs-dir", str(runs_dir)]) == 0
                assert "stopped" in capsys.readouterr().err
            else:
                proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, err.decode()
        assert "cancelled" in err.decode()
        assert backfill_ends(run_dir)[ended:][0]["reason"] == "cancelled"
        assert not (run_dir / "backfill.lock").exists() and not (run_dir / "sleepy").exists()
    assert cli(["backfill", run_dir.name, "--cancel", "--runs-dir", str(runs_dir)]) == 2
    assert "no backfill" in capsys.readouterr().err


# --- delete --------------------------------------------------------------------------------------------

def test_delete_during_a_backfill_stops_it_and_nothing_comes_back(sleepy, serve_api, runs_dir, tiny_config):
    run_dir = sleepy_backfill_run(sleepy, runs_dir, tiny_config)
    live = serve_api(sleepy)
    pid = start_api_backfill(live, run_dir)
    answer = live.client.delete(f"/api/runs/{run_dir.name}")
    assert answer.status_code == 204, answer.text
    assert not pid_alive(pid), "DELETE answered while the backfill still ran"
    time.sleep(3)
    assert not run_dir.exists(), files_of(run_dir)
    assert [p.name for p in runs_dir.iterdir()] == []
    assert live.client.get(f"/api/runs/{run_dir.name}").status_code == 404


def test_delete_during_a_computation_stops_it_and_nothing_comes_back(sleepy, serve_api, runs_dir, tiny_config):
    from latentdeck.engine.ondemand import COMPUTATIONS

    run_dir = trained(sleepy, runs_dir, tiny_config, artifacts=["recon_grid"])
    live = serve_api(sleepy)
    answers: list = []
    thread = threading.Thread(target=lambda: answers.append(
        live.client.post(f"/api/runs/{run_dir.name}/compute/sleepy-compute", json={"seconds": 3})))
    thread.start()
    wait_until(lambda: COMPUTATIONS.running(run_dir), 30, "the computation to start")
    answer = live.client.delete(f"/api/runs/{run_dir.name}")
    assert answer.status_code == 204, answer.text
    thread.join(30)
    assert answers[0].status_code == 409 and "deleted" in answers[0].json()["detail"], answers[0].text
    late = wait_until(lambda: attempts(sleepy.attempts), 10, "the stopped computation's write")
    assert late[0]["outcome"].startswith("Revoked"), late
    time.sleep(0.5)
    assert not run_dir.exists() and [p.name for p in runs_dir.iterdir()] == []


def test_a_computation_over_its_budget_answers_504_and_writes_nothing_later(sleepy, serve_api, runs_dir,
                                                                             tiny_config, monkeypatch):
    monkeypatch.setenv("LATENTDECK_COMPUTE_BUDGET_S", "1")
    run_dir = trained(sleepy, runs_dir, tiny_config, artifacts=["recon_grid"])
    live = serve_api(sleepy)
    asked = time.monotonic()
    answer = live.client.post(f"/api/runs/{run_dir.name}/compute/sleepy-compute", json={"seconds": 3})
    took = time.monotonic() - asked
    assert answer.status_code == 504, answer.text
    detail = answer.json()["detail"]
    assert "'sleepy-compute'" in detail and "budget of 1 s" in detail and "LATENTDECK_COMPUTE_BUDGET_S" in detail
    assert took < 1 + 1.5, took
    late = wait_until(lambda: attempts(sleepy.attempts), 10, "the abandoned computation's write")
    assert late[0]["outcome"].startswith("Revoked"), late
    assert not (run_dir / "sleepy").exists()
    # within its budget it answers as before
    monkeypatch.setenv("LATENTDECK_COMPUTE_BUDGET_S", "30")
    answer = live.client.post(f"/api/runs/{run_dir.name}/compute/sleepy-compute", json={"seconds": 0})
    assert answer.status_code == 200 and answer.json()["files"] == ["sleepy/on_demand_epoch_2.json"], answer.text


def test_delete_refuses_naming_work_that_does_not_stop(sleepy, serve_api, runs_dir, tiny_config, monkeypatch):
    from latentdeck.api import runs as runs_api
    from latentdeck.kit.atomic import write_json
    from latentdeck.engine.ondemand import COMPUTATIONS
    from latentdeck.kit.procs import proc_start_time

    monkeypatch.setattr(runs_api, "DELETE_WAIT_S", 0.5)
    run_dir = trained(sleepy, runs_dir, tiny_config, artifacts=["recon_grid"])
    live = serve_api(sleepy)
    # a computation an executor runs elsewhere: nothing here can fence it
    with COMPUTATIONS.track(run_dir, "network-forward", None):
        answer = live.client.delete(f"/api/runs/{run_dir.name}")
    assert answer.status_code == 409 and "network-forward" in answer.json()["detail"], answer.text
    # a backfill that ignores its cancel (here: a process that is no backfill at all)
    stubborn = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_json(run_dir / "backfill.lock", {"pid": stubborn.pid, "proc_start": proc_start_time(stubborn.pid),
                                               "started_at": time.time()})
        answer = live.client.delete(f"/api/runs/{run_dir.name}")
        assert answer.status_code == 409, answer.text
        assert f"process {stubborn.pid}" in answer.json()["detail"] and "nothing was deleted" in answer.json()["detail"]
    finally:
        stubborn.kill()
        stubborn.wait()
    assert (run_dir / "summary.json").exists()
    assert live.client.delete(f"/api/runs/{run_dir.name}").status_code == 204  # once it has ended
    assert not run_dir.exists()
