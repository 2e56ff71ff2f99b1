"""The one worker entry of every job (:class:`latentdeck.types.Job`): ``python -m latentdeck.worker RUN_DIR
[--job JSON]`` in a fresh process (:func:`argv`), :func:`forked_main` in a child of a warm fork server,
:func:`hosted_main` in a process another system manages (a Ray task), :func:`run_job` in a process that
already exists. :data:`RUNNER` bundles them as the :class:`latentdeck.types.JobRunner` the host lends an
executor with each ``submit`` (:func:`latentdeck.launch.jobs.submit`); executors never import this module.

Each dispatches on the job's kind: ``run`` trains with :func:`latentdeck.engine.training.execute_run`,
``backfill`` runs :func:`latentdeck.engine.backfill.main` with the job's arguments, ``computation`` runs the
on-demand computation with :func:`latentdeck.engine.computations.compute_here` (its answer is returned, or
printed as JSON by the command). Without ``--job`` the command trains the run. A worker lowers its own
priority so the server and the browser stay responsive on a small machine; every way of starting it
runs the same code with the same exit codes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from ..engine.budget import exit_past_abandoned_work
from ..kit.safepath import open_file
from ..types import Job, JobRunner

USAGE = "usage: python -m latentdeck.worker RUN_DIR [--job JSON]"


def run_job(job: Job) -> int | dict[str, Any]:
    """Run ``job`` in this process: an exit code (0 ok, 1 failed, the backfill's own codes), or a
    computation's answer (raises :class:`latentdeck.kit.OnDemandError` with an HTTP status)."""
    if job.kind == "run":
        from ..engine.training import execute_run

        return 0 if execute_run(job.run_dir) in ("completed", "cancelled") else 1
    if job.kind == "backfill":
        from ..engine.backfill import main as backfill_main

        return backfill_main([job.run_dir, *[str(arg) for arg in job.args.get("argv", [])]])
    from ..engine.computations import compute_here

    return compute_here(job.run_dir, job.args["name"], dict(job.args.get("body") or {}))


def parse(argv: list[str]) -> Job:
    """``RUN_DIR [--job JSON]`` as a job (ValueError with the usage otherwise); the job's run_dir must be RUN_DIR."""
    if len(argv) == 1:
        return Job("run", argv[0])
    if len(argv) == 3 and argv[1] == "--job":
        job = Job.from_json(argv[2])
        if os.path.abspath(job.run_dir) != os.path.abspath(argv[0]):
            raise ValueError(f"the job's run_dir {job.run_dir!r} is not RUN_DIR {argv[0]!r}")
        return job
    raise ValueError(USAGE)


def argv(job: Job) -> list[str]:
    """The command line of a fresh worker process for ``job`` with this interpreter (a run trains with the
    plain form, ``python -m latentdeck.worker RUN_DIR``)."""
    command = [sys.executable, "-m", "latentdeck.worker", job.run_dir]
    return command if job.kind == "run" else [*command, "--job", job.to_json()]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        job = parse(argv)
    except ValueError as exc:
        print(f"error: {exc}" if str(exc) != USAGE else USAGE, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        os.nice(int(os.environ.get("LATENTDECK_WORKER_NICE", "5")))
    except (OSError, ValueError):
        pass
    if job.kind == "computation":
        from ..kit.errors import OnDemandError

        try:
            print(json.dumps({"answer": run_job(job)}))
            code = 0
        except OnDemandError as exc:
            print(json.dumps({"error": str(exc), "status": exc.status}))
            code = 1
    else:
        code = int(run_job(job))
    exit_past_abandoned_work(code)
    return code


def _open_log(run_dir: str, log_name: str) -> int:
    """The run's log for appending, reached without following links (a linked or FIFO log is refused)."""
    return open_file(run_dir, log_name, os.O_WRONLY | os.O_CREAT | os.O_APPEND)


def forked_main(job: str, env: dict[str, str], nice_target: int | None = None) -> None:
    """Worker entry point in a child of the warm fork server (a ``multiprocessing`` target).

    ``job`` is the job as JSON (:meth:`Job.to_json`; a bare run directory trains that run); ``env`` is
    the server's environment at start time (the fork server's is older); ``nice_target`` is the absolute
    niceness a ``python -m latentdeck.worker`` child of the server would end with. Output goes to the job's
    log in the run's folder. Exits with :func:`main`'s code.
    """
    parsed = Job.from_json(job) if job.lstrip().startswith("{") else Job("run", job)
    run_dir, log_name = parsed.run_dir, parsed.log_name
    os.setsid()  # like start_new_session=True: Ctrl-C on the server does not reach training
    fd = _open_log(run_dir, log_name)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    # line-buffered streams over the log, as PYTHONUNBUFFERED gives a fresh worker
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    os.environ.clear()
    os.environ.update(env)
    if nice_target is not None:
        os.environ["LATENTDECK_WORKER_NICE"] = str(max(0, nice_target - os.nice(0)))
    for handler in list(logging.root.handlers):  # anything the fork server configured
        logging.root.removeHandler(handler)
    sys.exit(main([run_dir, "--job", parsed.to_json()]))


def hosted_main(job: Job | str, nice_target: int = 5) -> int | dict[str, Any]:
    """A job inside a process another system manages and may reuse (a Ray task): output goes to the job's
    log in its run folder while it runs and back afterwards, the priority is lowered to ``nice_target``
    (never raised, never lowered twice), and :func:`run_job`'s result is returned (a bare run directory
    trains that run)."""
    job = job if isinstance(job, Job) else Job("run", job)
    run_dir, log_name = job.run_dir, job.log_name
    try:
        os.nice(max(0, nice_target - os.nice(0)))
    except OSError:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    fd = _open_log(run_dir, log_name)
    streams = sys.stdout, sys.stderr
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.root.addHandler(handler)
        level = logging.root.level
        logging.root.setLevel(logging.INFO)
        try:
            return run_job(job)
        finally:
            logging.root.removeHandler(handler)
            logging.root.setLevel(level)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for handle in (fd, *saved):
            os.close(handle)


RUNNER = JobRunner(argv=argv, here=run_job, hosted=hosted_main, forked=forked_main)

if __name__ == "__main__":
    sys.exit(main())
