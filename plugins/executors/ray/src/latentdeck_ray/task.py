"""What runs on a Ray node: each kind of job (a run's worker, a backfill, an on-demand computation).

Each function is a Ray task body (see :mod:`latentdeck_ray.session`, which wraps them with
``ray.remote``). They run in a Ray worker process that Ray may reuse for a later task, so they leave the
process as they found it (environment, output streams). Every one first checks that this node sees the
run directory the server wrote (:func:`see_run_dir`): a cluster whose nodes do not share the runs folder
fails the run at once, saying which node and what to do. Each takes the :class:`latentdeck.JobRunner` the
host lent with the job (its functions pickle by reference, so Ray ships it with the task's arguments) and
runs the job through it: the worker entry, on this node.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from latentdeck import Job, JobRunner

CLAIM = ".executor-claim.json"  # created once (O_EXCL): by the task that trains the run, or by a cancel first
SHARED_STORAGE_HINT = ("Every Ray node must see the runs folder at the same path: put it on a shared file system "
                       "mounted alike on all nodes (NFS, a cluster file system) and start the lab with --runs-dir "
                       "there (README, 'Running many runs').")


def where() -> dict[str, Any]:
    """This node and process, for people (worker.log, the run's failure message) and tests."""
    import ray

    return {"node_id": ray.get_runtime_context().get_node_id(), "node_ip": ray.util.get_node_ip_address(),
            "host": socket.gethostname(), "pid": os.getpid()}


def _node(place: dict[str, Any]) -> str:
    return f"node {place['node_ip']} ({place['host']}, id {place['node_id'][:8]})"


def see_run_dir(run_dir: str, run_id: str, place: dict[str, Any]) -> str | None:
    """None when this node sees the run directory the server wrote (its config.json names ``run_id`` and
    the folder is writable); else a sentence saying what this node sees instead."""
    path = Path(run_dir)
    try:
        seen = json.loads((path / "config.json").read_text()).get("run_id")
    except (OSError, ValueError, AttributeError) as exc:
        return (f"{_node(place)} cannot see the run directory {run_dir} ({type(exc).__name__}: {exc}). "
                + SHARED_STORAGE_HINT)
    if seen != run_id:
        return (f"{_node(place)} sees another folder at {run_dir} (its config.json belongs to run {seen!r}, "
                f"not {run_id!r}). " + SHARED_STORAGE_HINT)
    if not os.access(path, os.W_OK):
        return f"{_node(place)} can read but not write the run directory {run_dir}. " + SHARED_STORAGE_HINT
    return None


def claim(run_dir: str, record: dict[str, Any]) -> bool:
    """Take the run for this task (True), or find it taken by a cancel that came first (False)."""
    try:
        fd = os.open(Path(run_dir) / CLAIM, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle)
    return True


@contextmanager
def _environment(**values: str):
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def train(run_dir: str, run_id: str, num_cpus: float, runner: JobRunner) -> dict[str, Any]:
    """Train the run here: ``{"exit_code", ...}``; ``{"error"}`` when this node cannot see the run directory,
    ``{"withdrawn": True}`` when a cancel took the run before this task started."""
    place = where()
    problem = see_run_dir(run_dir, run_id, place)
    if problem:
        return {"exit_code": None, "error": problem, **place}
    if not claim(run_dir, {**place, "started_at": round(time.time(), 3)}):
        return {"exit_code": None, "withdrawn": True, **place}
    from latentdeck.kit import open_appender

    with open_appender(run_dir, "worker.log") as log:  # never through a link
        log.write(f"ray: training on {_node(place)}, Ray worker process {place['pid']}\n".encode())
    with _environment(LATENTDECK_CORES=str(max(1, math.floor(num_cpus)))):
        code = runner.hosted(Job("run", run_dir))  # the worker entry trains it
    return {"exit_code": code, **place}


def run_job(run_dir: str, run_id: str, job: str, runner: JobRunner) -> dict[str, Any]:
    """A job (a backfill) here through the one worker entry, ``runner.argv`` (``python -m latentdeck.worker
    RUN_DIR --job JSON`` with this node's interpreter), in a process of its own (a backfill may leave threads
    that only its own exit ends), output appended to the job's log."""
    place = where()
    problem = see_run_dir(run_dir, run_id, place)
    if problem:
        return {"exit_code": None, "error": problem, **place}
    from latentdeck.kit import open_appender

    parsed = Job.from_json(job)
    with open_appender(run_dir, parsed.log_name) as log:  # never through a link
        code = subprocess.call(runner.argv(parsed),
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return {"exit_code": code, **place}


def compute(run_dir: str, run_id: str, job: str, runner: JobRunner) -> dict[str, Any]:
    """A computation job here, in this Ray worker (``runner.hosted``): ``{"answer"}`` or
    ``{"error", "status"}``; the task's return value is how the answer reaches the server."""
    place = where()
    problem = see_run_dir(run_dir, run_id, place)
    if problem:
        return {"error": problem, "status": 503, **place}
    from latentdeck.kit import OnDemandError

    try:
        return {"answer": runner.hosted(Job.from_json(job)), **place}
    except OnDemandError as exc:
        return {"error": str(exc), "status": exc.status, **place}
