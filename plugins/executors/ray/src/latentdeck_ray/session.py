"""The server's side of Ray: one connection per process, and the tasks it submitted.

:func:`connect` calls ``ray.init`` once: to ``$LATENTDECK_RAY_ADDRESS`` (or Ray's own ``$RAY_ADDRESS``)
when set, else it starts a local Ray on this machine. Ray tasks share fate with the process that
submitted them (the driver): when the server stops, Ray ends its runs, and a restarted server finds
them gone (they fail as ``interrupted``, saying why). Task handles live here, keyed by task id; what
the host persists (``worker.json``) is the id, the driver's pid and where Ray is.

The server's environment variables that start with ``LATENTDECK_`` (extra plugin modules, data folders,
the worker niceness) are passed to every task, so a node runs the run as this server would.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024  # runs pass file paths, not data: a small store is plenty


@dataclass
class Submitted:
    """A task this process handed to Ray."""

    ref: Any
    run_dir: str
    forced_after_s: float | None = None  # set when a cancel had to kill the worker
    cancel_timer: threading.Timer | None = None


_lock = threading.RLock()
_tasks: dict[str, Submitted] = {}
_remote: dict[str, Any] = {}
_started_local = False


def address() -> str | None:
    return os.environ.get("LATENTDECK_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS") or None


def forwarded_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("LATENTDECK_")}


def connect():
    """The ``ray`` module, connected (``ray.init`` once per process; a test's own ``ray.init`` is reused)."""
    global _started_local
    import ray

    with _lock:
        if not ray.is_initialized():
            _tasks.clear()
            _remote.clear()
            where = address()
            kwargs: dict[str, Any] = {"namespace": "latentdeck", "log_to_driver": False}
            if where is None:
                kwargs.update(include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES)
                log.info("starting a local Ray on this machine (no LATENTDECK_RAY_ADDRESS or RAY_ADDRESS)")
            else:
                check_reachable(where)
            _init_in_keeper(ray, where, kwargs)
            _started_local = where is None
            log.info("connected to Ray: %s", ray.get_runtime_context().gcs_address)
        return ray


REACH_TIMEOUT_S = 5.0
INIT_TIMEOUT_S = 120.0


class RayUnreachable(ConnectionError):
    """The configured Ray address does not answer (the message says which and what to check)."""


def check_reachable(where: str) -> None:
    """Refuse at once a ``host:port`` address nothing listens on: ``ray.init`` would retry for minutes."""
    host, sep, port = where.rpartition(":")
    if "://" in where or not sep or not port.isdigit():
        return  # ray://, auto, or a form Ray resolves itself
    import socket

    try:
        socket.create_connection((host, int(port)), timeout=REACH_TIMEOUT_S).close()
    except OSError as exc:
        raise RayUnreachable(f"nothing answers at {where} ({exc}); start the cluster's head there (`ray start "
                             "--head`), or fix LATENTDECK_RAY_ADDRESS / RAY_ADDRESS, or unset both for a local Ray") from None


_keeper_stop = threading.Event()


def _init_in_keeper(ray, where: str | None, kwargs: dict[str, Any]) -> None:
    """``ray.init`` in a thread that lives until :func:`shutdown`. Ray starts a local Ray's GCS and
    raylet with a parent-death signal, and Linux sends it when the *thread* that started them ends: a
    server's request thread (which its pool retires when idle) would take the local Ray down with it."""
    outcome: list[BaseException | None] = []
    started = threading.Event()

    def keep() -> None:
        try:
            ray.init(address=where, **kwargs)
            outcome.append(None)
        except BaseException as exc:  # handed to the caller
            outcome.append(exc)
        started.set()
        if outcome[0] is None:
            _keeper_stop.wait()

    _keeper_stop.clear()
    threading.Thread(target=keep, daemon=True, name="latentdeck-ray").start()
    if not started.wait(INIT_TIMEOUT_S):
        raise RayUnreachable(f"Ray did not connect within {INIT_TIMEOUT_S:g} s ({where or 'a new local Ray'}); "
                             "`ray status` on the head node shows whether the cluster is up")
    if outcome[0] is not None:
        raise outcome[0]


def remote(name: str, **options: Any):
    """The ``ray.remote`` wrapper of :mod:`latentdeck_ray.task`'s function ``name`` with ``options``."""
    ray = connect()
    from . import task

    with _lock:
        if name not in _remote:
            _remote[name] = ray.remote(max_retries=0)(getattr(task, name))
        function = _remote[name]
    return function.options(runtime_env={"env_vars": forwarded_env()}, **options)


def remember(ref: Any, run_dir: str) -> str:
    task_id = ref.task_id().hex()
    with _lock:
        _tasks[task_id] = Submitted(ref, run_dir)
    return task_id


def submitted(task_id: str) -> Submitted | None:
    with _lock:
        return _tasks.get(task_id)


def done(item: Submitted) -> bool:
    import ray

    ready, _ = ray.wait([item.ref], timeout=0)
    return bool(ready)


def outcome(item: Submitted) -> tuple[dict[str, Any] | None, BaseException | None]:
    """A finished task's return value, or the Ray error it ended with."""
    import ray

    try:
        return ray.get(item.ref, timeout=0), None
    except Exception as exc:  # RayTaskError, WorkerCrashedError, TaskCancelledError, NodeDiedError ...
        return None, exc


def cluster_resources() -> dict[str, float]:
    return dict(connect().cluster_resources())


def shutdown() -> None:
    """Leave Ray (and stop the local Ray this process started); the next run connects again."""
    global _started_local
    import ray

    with _lock:
        for item in _tasks.values():
            if item.cancel_timer is not None:
                item.cancel_timer.cancel()
        _tasks.clear()
        _remote.clear()
        if ray.is_initialized():
            ray.shutdown()
        _started_local = False
        _keeper_stop.set()
