"""The server's side of Ray: one connection per process, made in the background, and the tasks it submitted.

Where Ray is: ``$LATENTDECK_RAY_ADDRESS`` (or Ray's own ``$RAY_ADDRESS``) when set, else a local Ray this
process starts on first use. Ray tasks share fate with the process that submitted them (the driver):
when the server stops, Ray ends its runs, and a restarted server finds them gone (they fail as
``interrupted``, saying why). Task handles live here, keyed by task id; what the host persists
(``worker.json``) is the id, the driver's pid and where Ray is.

**No request thread waits on Ray.** One background thread (the *keeper*) probes the address
(:mod:`latentdeck_ray.probe`, a few seconds at most) and then calls ``ray.init``; callers ask
:func:`connect` with a bound. The caller that started an attempt waits up to that bound; the others
do not wait at all (:class:`StillConnecting` says what is under way), so a burst of requests never
queues on a slow connect. A failed attempt's verdict is kept for :data:`VERDICT_TTL_S` and given to
every caller at once; the next caller after that tries again. Submissions (:mod:`latentdeck_ray.handoff`)
run on their own thread, which does wait for the connection.

A local Ray started here is watched by :mod:`latentdeck_ray.watchdog`, a small process that stops Ray's
processes (its agents outlive a SIGKILLed lab by a minute otherwise) once this process is gone.

The server's environment variables that start with ``LATENTDECK_`` (extra plugin modules, data folders,
the worker niceness) are passed to every task, so a node runs the run as this server would.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .probe import RayUnreachable, probe, variable

log = logging.getLogger(__name__)

LOCAL_OBJECT_STORE_BYTES = 128 * 1024 * 1024  # runs pass file paths, not data: a small store is plenty
REQUEST_WAIT_S = 4.0  # the longest a request thread waits for a connect it started (probe included)
VERDICT_TTL_S = 10.0  # a failed connect is answered from memory this long, then tried again
INIT_TIMEOUT_S = 120.0  # a connect still under way after this long counts as failed
RESOURCES_TTL_S = 1.0  # cluster_resources() answers from memory this long

__all__ = ["RayUnreachable", "StillConnecting", "connect", "cluster_resources", "shutdown"]


class StillConnecting(Exception):
    """A connect is under way (``stage``: ``probing`` the address, or ``connecting`` with ``ray.init``) and did
    not finish within the caller's bound."""

    def __init__(self, stage: str, age_s: float, where: str | None):
        self.stage, self.age_s, self.where = stage, age_s, where
        what = (f"{variable()}={where} is being checked (a request {age_s:.1f} s ago started it; a Ray GCS answers at once): "
                "send this again in a few seconds" if stage == "probing" else
                f"{'a local Ray is starting' if where is None else f'connecting to Ray at {where}'} "
                f"({age_s:.1f} s so far)")
        super().__init__(what)


@dataclass
class Attempt:
    """One try at connecting; the keeper thread moves ``stage`` along, under ``_lock``."""

    where: str | None
    stage: str  # probing -> connecting -> connected | failed
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    error: RayUnreachable | None = None
    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)  # set by shutdown: the keeper may end


@dataclass
class Submitted:
    """A task this process hands to Ray; ``ref`` is None until the hand-off thread has submitted it."""

    run_dir: str
    ref: Any = None
    error: str | None = None  # it could not be handed over (Ray unreachable, too few resources)
    withdrawn: bool = False  # cancelled before it was handed over
    forced_after_s: float | None = None  # set when a cancel had to kill the worker
    cancel_timer: threading.Timer | None = None


_lock = threading.RLock()  # guards the state below; never held across a slow call
_attempt: Attempt | None = None
_tasks: dict[str, Submitted] = {}
_remote: dict[str, Any] = {}
_started_local = False
_watchdog: subprocess.Popen | None = None


def address() -> str | None:
    return os.environ.get("LATENTDECK_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS") or None


def forwarded_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("LATENTDECK_")}


def connect(wait_s: float = INIT_TIMEOUT_S, *, join: bool = True):
    """The ``ray`` module, connected: at once when it is, else after the background connect ends.

    Starts an attempt when none is under way (a test's own ``ray.init`` is reused) and waits at most
    ``wait_s`` for it. ``join=False``: an attempt someone else started is not waited for. Raises
    :class:`RayUnreachable` (the verdict of a failed attempt, kept :data:`VERDICT_TTL_S`) or
    :class:`StillConnecting` (not done within the bound)."""
    import ray

    global _attempt
    started_here = False
    with _lock:
        now, attempt = time.monotonic(), _attempt
        if attempt is not None and attempt.stage == "connected" and not ray.is_initialized():
            attempt.stop.set()  # Ray was shut down under us (ray.shutdown() elsewhere): connect again
            attempt = None
        if attempt is None and ray.is_initialized():
            attempt = Attempt(address(), "connected")
            attempt.done.set()
            _attempt = attempt
        if attempt is None or attempt.stage == "failed" and (now - (attempt.ended or now) >= VERDICT_TTL_S
                                                             or attempt.where != address()):
            where = address()
            attempt = _attempt = Attempt(where, "probing" if where else "connecting")
            threading.Thread(target=_keep, args=(ray, attempt), daemon=True, name="latentdeck-ray").start()
            started_here = True
        if attempt.stage in ("probing", "connecting") and now - attempt.started > INIT_TIMEOUT_S:
            raise RayUnreachable(f"Ray at {attempt.where or 'a new local Ray'} has not connected in "
                                 f"{now - attempt.started:.0f} s (ray.init is still waiting); `ray status` on the head "
                                 "node shows whether the cluster is up")
    if (started_here or join) and wait_s > 0:
        attempt.done.wait(max(0.0, wait_s - (time.monotonic() - now)))
    with _lock:
        if attempt.stage == "connected":
            return ray
        if attempt.stage == "failed":
            raise attempt.error
        raise StillConnecting(attempt.stage, time.monotonic() - attempt.started, attempt.where)


def _keep(ray, attempt: Attempt) -> None:
    """The keeper: probe, ``ray.init``, then live until :func:`shutdown`. Ray starts a local Ray's GCS and
    raylet with a parent-death signal, and Linux sends it when the *thread* that started them ends: a
    server's request thread (which its pool retires when idle) would take the local Ray down with it."""
    global _started_local
    where = attempt.where
    try:
        if where is not None:
            probe(where)
            with _lock:
                if _attempt is not attempt:  # shut down while probing: never call ray.init
                    attempt.done.set()
                    return
                attempt.stage = "connecting"
        kwargs: dict[str, Any] = {"namespace": "latentdeck", "log_to_driver": False}
        if where is None:
            kwargs.update(include_dashboard=False, object_store_memory=LOCAL_OBJECT_STORE_BYTES)
            log.info("starting a local Ray on this machine (no LATENTDECK_RAY_ADDRESS or RAY_ADDRESS)")
        ray.init(address=where, **kwargs)
    except BaseException as exc:
        error = exc if isinstance(exc, RayUnreachable) else RayUnreachable(
            f"cannot connect to Ray at {where or 'a new local Ray'}: {type(exc).__name__}: {str(exc)[:300]}. Check "
            "LATENTDECK_RAY_ADDRESS (or RAY_ADDRESS) and that the cluster is up (`ray status`)")
        with _lock:
            attempt.stage, attempt.error, attempt.ended = "failed", error, time.monotonic()
        log.warning("Ray: %s", error)
        attempt.done.set()
        return
    with _lock:
        if _attempt is not attempt:  # shut down while ray.init ran: leave again
            stale = True
        else:
            stale = False
            attempt.stage, attempt.ended = "connected", time.monotonic()
            _remote.clear()  # remote functions belong to a connection
            _started_local = where is None
    if stale:
        ray.shutdown()
        attempt.done.set()
        return
    log.info("connected to Ray: %s", ray.get_runtime_context().gcs_address)
    if where is None:
        _start_watchdog(ray)
    attempt.done.set()
    attempt.stop.wait()


def _start_watchdog(ray) -> None:
    """A process that stops this local Ray's processes once this process is gone (see watchdog.py)."""
    global _watchdog
    from .watchdog import parent_args

    try:
        session_dir = ray._private.worker._global_node.get_session_dir_path()
        logs = open(os.path.join(session_dir, "logs", "latentdeck_watchdog.log"), "ab")
    except Exception as exc:  # a private API: without it the agents may linger a minute after a SIGKILL
        log.warning("cannot watch the local Ray (%s: %s): if this process is killed, Ray's agents may linger "
                    "about a minute", type(exc).__name__, exc)
        return
    with logs:
        process = subprocess.Popen([sys.executable, "-m", "latentdeck_ray.watchdog", *parent_args(os.getpid()),
                                    "--session-dir", session_dir], stdin=subprocess.DEVNULL, stdout=logs,
                                   stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    with _lock:
        _watchdog = process


def cluster_resources(wait_s: float = REQUEST_WAIT_S, join: bool = False) -> dict[str, float]:
    """The cluster's resources in all (``{"CPU": 8.0, "GPU": 1.0, ...}``), asked off the caller's thread.

    Bounded like :func:`connect` (the defaults suit a request thread); the answer is kept
    :data:`RESOURCES_TTL_S`, and one question at a time goes to Ray: callers share it, and when it has
    been pending longer than the bound they fail at once with :class:`RayUnreachable`."""
    started = time.monotonic()
    ray = connect(wait_s, join=join)
    global _asked
    with _lock:
        asked = _asked
        stale = asked is None or (asked.done.is_set() and (asked.error is not None or
                                                            time.monotonic() - asked.at > RESOURCES_TTL_S))
        if stale:
            asked = _asked = _Question(time.monotonic())
            threading.Thread(target=asked.ask, args=(ray,), daemon=True, name="latentdeck-ray-resources").start()
    left = max(0.0, wait_s - (time.monotonic() - started))
    if not asked.done.wait(left if time.monotonic() - asked.at <= wait_s else 0):
        raise RayUnreachable(f"Ray at {address() or 'the local Ray'} has not said what resources it has for "
                             f"{time.monotonic() - asked.at:.1f} s; `ray status` on the head node shows whether it is up")
    if asked.error is not None:
        raise RayUnreachable(f"Ray at {address() or 'the local Ray'} could not say what resources it has: {asked.error}")
    return dict(asked.value)


@dataclass
class _Question:
    at: float
    value: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def ask(self, ray) -> None:
        try:
            self.value = dict(ray.cluster_resources())
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {str(exc)[:300]}"
        self.done.set()


_asked: _Question | None = None


def remote(name: str, **options: Any):
    """The ``ray.remote`` wrapper of :mod:`latentdeck_ray.task`'s function ``name`` with ``options``
    (connected: call it from the hand-off thread, or once :func:`connect` has answered)."""
    ray = connect()
    from . import task

    with _lock:
        if name not in _remote:
            _remote[name] = ray.remote(max_retries=0)(getattr(task, name))
        function = _remote[name]
    return function.options(runtime_env={"env_vars": forwarded_env()}, **options)


def remember(ref: Any, run_dir: str) -> str:
    """Keep a task submitted elsewhere (its Ray task id is its key)."""
    task_id = ref.task_id().hex()
    with _lock:
        _tasks[task_id] = Submitted(run_dir, ref)
    return task_id


def keep(task_id: str, item: Submitted) -> None:
    with _lock:
        _tasks[task_id] = item


def submitted(task_id: str) -> Submitted | None:
    with _lock:
        return _tasks.get(task_id)


def done(item: Submitted) -> bool:
    """Whether the task ended (or will never start: not handed over, or withdrawn before)."""
    if item.ref is None:
        return item.error is not None or item.withdrawn
    import ray

    ready, _ = ray.wait([item.ref], timeout=0)  # the driver owns the ref: answered locally, no round trip
    return bool(ready)


def outcome(item: Submitted) -> tuple[dict[str, Any] | None, BaseException | None]:
    """A finished task's return value, or the Ray error it ended with."""
    import ray

    try:
        return ray.get(item.ref, timeout=0), None
    except Exception as exc:  # RayTaskError, WorkerCrashedError, TaskCancelledError, NodeDiedError ...
        return None, exc


def shutdown() -> None:
    """Leave Ray (and stop the local Ray this process started); the next run connects again."""
    global _started_local, _attempt, _asked, _watchdog
    import ray

    from . import handoff

    handoff.stop("the lab left Ray before handing it over")
    with _lock:
        for item in _tasks.values():
            if item.cancel_timer is not None:
                item.cancel_timer.cancel()
        _tasks.clear()
        _remote.clear()
        attempt, _attempt, _asked = _attempt, None, None
        watchdog, _watchdog = _watchdog, None
        _started_local = False
    if ray.is_initialized():
        ray.shutdown()
    if attempt is not None:
        attempt.stop.set()
    if watchdog is not None:  # Ray stopped itself: nothing left to watch
        watchdog.terminate()
        try:
            watchdog.wait(5)
        except subprocess.TimeoutExpired:
            watchdog.kill()
