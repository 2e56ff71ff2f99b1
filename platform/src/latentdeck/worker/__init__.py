"""A run's worker process: ``python -m latentdeck.worker RUN_DIR``.

Executors start this; it trains the run with :func:`latentdeck.engine.training.execute_run` and exits.
It lowers its own priority so the server and the browser stay responsive on a small machine.

The local executor can also fork the worker from its warm fork server (:mod:`latentdeck_local.warmup`):
:func:`forked_main` then does in the child what ``subprocess.Popen`` does for a fresh process (own
session, output to ``worker.log``, the server's environment, the same final priority) and calls
:func:`main`, so both ways run the same code with the same exit codes.
"""

from __future__ import annotations

import logging
import os
import sys

from ..engine.budget import exit_past_abandoned_work
from ..engine.training import execute_run
from ..kit.safepath import open_file


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m latentdeck.worker RUN_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        os.nice(int(os.environ.get("LATENTDECK_WORKER_NICE", "5")))
    except (OSError, ValueError):
        pass

    status = execute_run(argv[0])
    code = 0 if status in ("completed", "cancelled") else 1
    exit_past_abandoned_work(code)
    return code


def _open_log(run_dir: str, log_name: str) -> int:
    """The run's log for appending, reached without following links (a linked or FIFO log is refused)."""
    return open_file(run_dir, log_name, os.O_WRONLY | os.O_CREAT | os.O_APPEND)


def forked_main(run_dir: str, env: dict[str, str], nice_target: int | None = None, log_name: str = "worker.log") -> None:
    """Worker entry point in a child of the warm fork server (a ``multiprocessing`` target).

    ``env`` is the server's environment at start time (the fork server's is older); ``nice_target``
    is the absolute niceness a ``python -m latentdeck.worker`` child of the server would end with.
    Exits with :func:`main`'s code.
    """
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
    sys.exit(main([run_dir]))


def hosted_main(run_dir: str, log_name: str = "worker.log", nice_target: int = 5) -> int:
    """A run's worker inside a process another system manages and may reuse (a Ray task): output goes to
    ``<run_dir>/<log_name>`` while it trains and back afterwards, the priority is lowered to
    ``nice_target`` (never raised, never lowered twice), and :func:`main`'s exit code is returned."""
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
            status = execute_run(run_dir)
            return 0 if status in ("completed", "cancelled") else 1
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


if __name__ == "__main__":
    sys.exit(main())
