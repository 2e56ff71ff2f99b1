"""Jobs: one record (run | backfill | computation) and one worker entry for every executor. The local
executor runs each kind; a computation's answer comes back through ``poll``; bad jobs are refused."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
import types

import pytest

from latentdeck import Job
from latentdeck.engine.training import execute_run
from latentdeck.kit import OnDemandError
from latentdeck.launch import prepare_run
from latentdeck.launch.jobs import answer_of, submit
from latentdeck.registry import collect
from latentdeck.store.events import read_events
from latentdeck.store.runs import RunStore
from latentdeck.worker import RUNNER, forked_main, hosted_main, run_job


@pytest.fixture
def finished(plugin_manager, runs_dir, tiny_config):
    stored = prepare_run(plugin_manager, {**tiny_config, "epochs": 1, "projection_every": {"first-dims": 0}})
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    return run_dir


def test_a_job_round_trips_as_json_and_refuses_what_it_cannot_be():
    job = Job("computation", "/runs/x", {"name": "sampling", "body": {"idx": 0}})
    assert Job.from_json(job.to_json()) == job and job.log_name == "compute.log"
    assert Job("backfill", "/runs/x", {"argv": ["--epochs", "1"]}).log_name == "backfill.log"
    with pytest.raises(ValueError, match="job kind must be one of run, backfill, computation"):
        Job("train", "/runs/x")
    with pytest.raises(ValueError, match="names its computation"):
        Job("computation", "/runs/x", {"body": {}})
    with pytest.raises(ValueError, match="kind, run_dir and args"):
        Job.from_json('{"kind": "run", "run_dir": "/x", "extra": 1}')


@pytest.mark.parametrize("args, message", [
    ([], "usage: python -m latentdeck.worker RUN_DIR [--job JSON]"),
    (["/tmp/a", "--job", Job("run", "/tmp/b").to_json()], "is not RUN_DIR"),
    (["/tmp/a", "--job", '{"kind": "nap", "run_dir": "/tmp/a"}'], "job kind must be one of"),
])
def test_the_worker_entry_refuses_a_bad_job_with_exit_2(args, message):
    done = subprocess.run([sys.executable, "-m", "latentdeck.worker", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and message in done.stderr, done


def test_the_local_executor_answers_a_computation_job_through_poll(plugin_manager, finished):
    local = collect(plugin_manager, "executors")["local"]
    job = Job("computation", str(finished), {"name": "sampling", "body": {"idx": 0, "m": 4}})
    answer = answer_of(local, job)
    assert answer["created"] and answer["files"] and all((finished / f).is_file() for f in answer["files"])
    assert answer_of(local, job)["created"] is False  # repeats are read from disk
    with pytest.raises(OnDemandError) as refused:
        answer_of(local, Job("computation", str(finished), {"name": "sampling", "body": {"idx": 0, "epoch": 9}}))
    assert refused.value.status == 404
    gone = local.poll({"job": "not-this-server", "kind": "computation"})
    assert gone["alive"] is False and gone["status"] == 503


def test_the_local_executor_runs_a_backfill_job_through_the_worker_entry(plugin_manager, finished):
    local = collect(plugin_manager, "executors")["local"]
    handle = submit(local, Job("backfill", str(finished), {"argv": ["--projections", "first-dims"]}))
    assert handle["log"] == "backfill.log" and handle["kind"] == "backfill"
    deadline = time.monotonic() + 120
    while local.poll(handle)["alive"] and time.monotonic() < deadline:
        time.sleep(0.2)
    types = [e["type"] for e in read_events(finished / "events.jsonl")]
    assert "backfill.completed" in types, (finished / "backfill.log").read_text()[-2000:]
    assert (finished / "projections/latent_2d_epoch_1_first-dims.json").is_file()


def test_the_host_lends_its_worker_entry_to_a_submit_that_names_runner_and_not_to_one_that_does_not():
    seen = []
    with_runner = types.SimpleNamespace(submit=lambda job, runner: seen.append((job, runner)) or {"pid": 1})
    alone = types.SimpleNamespace(submit=lambda job: seen.append((job,)) or {"pid": 2})
    job = Job("run", "/runs/x")
    assert submit(with_runner, job) == {"pid": 1} and submit(alone, job) == {"pid": 2}
    assert seen == [(job, RUNNER), (job,)]
    assert submit(types.SimpleNamespace(submit=vars), Job("run", "/runs/x"))["run_dir"] == "/runs/x"  # no signature: the job alone
    assert submit(types.SimpleNamespace(submit=lambda job, *, runner=None: {"lent": runner is RUNNER}), job) == {"lent": True}


def test_the_runner_is_the_worker_entry_and_pickles_by_reference():
    assert (RUNNER.here, RUNNER.hosted, RUNNER.forked) == (run_job, hosted_main, forked_main)
    assert RUNNER.argv(Job("run", "/runs/x")) == [sys.executable, "-m", "latentdeck.worker", "/runs/x"]
    backfill = Job("backfill", "/runs/x", {"argv": ["--epochs", "1"]})
    assert RUNNER.argv(backfill) == [sys.executable, "-m", "latentdeck.worker", "/runs/x", "--job", backfill.to_json()]
    shipped = pickle.dumps(RUNNER)
    assert b"run_job" in shipped and len(shipped) < 1000  # names, not code: a Ray node imports them itself
    assert pickle.loads(shipped) == RUNNER
