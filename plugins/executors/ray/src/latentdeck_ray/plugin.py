"""The ``ray`` executor: each run's worker is a Ray task on a local Ray or a cluster (``latentdeck[ray]``).

``start`` queues :func:`latentdeck_ray.task.train` with the run's ``executor_options`` (``num_cpus``,
``num_gpus``: 1 for a ``device: cuda`` run unless set) for the hand-off thread (:mod:`latentdeck_ray.handoff`)
and returns at once; no request thread talks to Ray for longer than a few seconds (:mod:`latentdeck_ray.session`,
:mod:`latentdeck_ray.probe`). Ray places the task on a node
with those resources free, so the server's run queue does not hold these runs (``queued=False``): Ray's
own scheduler is the queue. The worker writes events and artifacts into the run directory as a local
worker does, so the server streams them over SSE the same way; that directory must be on storage every
node sees, and a task on a node that does not see it fails the run at once with that reason.

Cancelling sets the run's cooperative flag like any run; a task still waiting for resources is withdrawn
at once (the run ends ``cancelled``); a running one that has not stopped after ``cancel_grace_s`` is
killed with ``ray.cancel(force=True)`` and fails saying so. Backfills (``start_task``) and heavy
on-demand computations (``call``) run as Ray tasks too.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ExecutorSpec, hookimpl
from latentdeck.kit import pid_alive, proc_start_time, read_json

log = logging.getLogger(__name__)

INSTALL_HINT = "Ray is not installed in this environment: pip install 'latentdeck[ray]' (then restart the lab)"


class RayOptions(BaseModel):
    """``executor_options`` of a run on the ray executor."""

    model_config = ConfigDict(extra="forbid")

    num_cpus: float = Field(1.0, gt=0, le=1024, description="CPUs Ray reserves for the run (its torch threads "
                                                             "follow: at most this many)")
    num_gpus: float | None = Field(None, ge=0, le=64, description="GPUs Ray reserves (default: 1 for a device "
                                                                  "'cuda' run, else 0 and the run trains on a CPU)")
    cancel_grace_s: float = Field(60.0, ge=0, le=3600, description="seconds a cancelled run may take to stop at "
                                                                   "its own checks before Ray kills its worker")


def _ray_installed() -> bool:
    return importlib.util.find_spec("ray") is not None


def _gpus(config: dict[str, Any], options: RayOptions) -> float:
    if options.num_gpus is not None:
        return options.num_gpus
    return 1.0 if config.get("device") == "cuda" else 0.0


def check_config(config: dict[str, Any]) -> None:
    """Refuse a run Ray could never place: Ray missing here, Ray unreachable (a misconfigured address is
    named within a few seconds), or more CPUs / GPUs than the whole cluster has.

    Bounded: the request that starts the connection waits for it up to ``session.REQUEST_WAIT_S``;
    others never wait for it. While Ray is still connecting (a local Ray starting, say) the run is
    accepted and its resources are checked when it is handed over, failing the run with the same words."""
    if not _ray_installed():
        raise ValueError(INSTALL_HINT)
    from . import session

    options = RayOptions.model_validate(config.get("executor_options") or {})
    try:
        have = session.cluster_resources()
    except session.RayUnreachable as exc:
        raise ValueError(f"cannot reach Ray: {exc}") from None
    except session.StillConnecting as exc:
        if exc.stage == "probing":
            raise ValueError(f"cannot tell yet whether Ray is there: {exc}") from None
        log.info("accepting a Ray run while %s: its resources are checked when it is handed over", exc)
        return
    _fits(config, options, have)


def _fits(config: dict[str, Any], options: RayOptions, have: dict[str, float]) -> None:
    gpus = _gpus(config, options)
    if options.num_cpus > have.get("CPU", 0):
        raise ValueError(f"executor_options.num_cpus: {options.num_cpus:g} CPUs asked, the Ray cluster has "
                         f"{have.get('CPU', 0):g} in all; ask for fewer")
    if gpus > have.get("GPU", 0):
        why = "device 'cuda' asks for one" if options.num_gpus is None else f"executor_options.num_gpus is {gpus:g}"
        raise ValueError(f"{why}, but the Ray cluster has {have.get('GPU', 0):g} GPUs; use device 'cpu' or 'auto', "
                         "or add GPU nodes to the cluster")


def _run_id(run_dir: Path) -> str:
    return str(read_json(Path(run_dir) / "config.json").get("run_id") or Path(run_dir).name)


def _driver() -> dict[str, Any]:
    return {"driver_pid": os.getpid(), "driver_start": proc_start_time(os.getpid())}


def start(run_dir: Path) -> dict[str, Any]:
    """Queue the run's hand-off to Ray and return at once (the hand-off thread connects and submits)."""
    if not _ray_installed():
        raise RuntimeError(INSTALL_HINT)
    from . import session

    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json")
    options = RayOptions.model_validate(config.get("executor_options") or {})
    gpus = _gpus(config, options)
    task_id = _hand_off(run_dir, "train", {"num_cpus": options.num_cpus, "num_gpus": gpus},
                        (str(run_dir), config["run_id"], options.num_cpus),
                        check=lambda: _fits(config, options, session.cluster_resources(session.INIT_TIMEOUT_S, join=True)))
    need = f"{options.num_cpus:g} CPU{'s' if options.num_cpus != 1 else ''}" + (f" and {gpus:g} GPU" if gpus else "")
    note = (f"Handed to Ray ({'a local Ray on this machine' if session.address() is None else session.address()}): "
            f"it starts as soon as a node has {need} free; Ray decides the order. Cancelling it withdraws it at once.")
    return {"task": task_id, "waiting_note": note, "log": "worker.log", "start": "ray", "ray": session.address() or "local",
            "num_cpus": options.num_cpus, "num_gpus": gpus, "cancel_grace_s": options.cancel_grace_s, **_driver()}


def _hand_off(run_dir: Path, function: str, options: dict[str, Any], args: tuple, check=None) -> str:
    """Record a task for ``task.<function>`` and queue its hand-off to Ray; its key (a fresh id)."""
    from . import handoff, session

    task_id = uuid.uuid4().hex
    item = session.Submitted(str(run_dir))
    session.keep(task_id, item)
    handoff.submit(item, function, options, args, check)
    return task_id


def _ours(info: dict[str, Any]) -> bool:
    return info.get("driver_pid") == os.getpid() and info.get("driver_start") == proc_start_time(os.getpid())


def is_alive(info: dict[str, Any]) -> bool:
    from . import session

    item = session.submitted(str(info.get("task")))
    if item is None:
        # Not submitted by this process. Ray ends a task with the process that submitted it, so the run
        # lives exactly as long as that process (another server, or this one before a restart) does.
        if _ours(info) or not info.get("driver_pid"):
            return False
        return pid_alive(int(info["driver_pid"]), info.get("driver_start"))
    return not session.done(item)


def _claimed(run_dir: str) -> dict[str, Any]:
    from .task import CLAIM

    try:
        return read_json(Path(run_dir) / CLAIM) or {}
    except (OSError, ValueError):
        return {}


def exit_reason(info: dict[str, Any]) -> dict[str, str] | None:
    from . import session

    item = session.submitted(str(info.get("task")))
    if item is None:
        return {"reason": "interrupted", "error": f"the server that handed this run to Ray (pid {info.get('driver_pid')}) "
                "stopped, and Ray ends a driver's tasks with it; epochs completed before are kept"}
    if not session.done(item):
        return None
    if item.ref is None:  # never handed over: Ray unreachable, or too few resources
        return {"reason": "executor_failed", "error": item.error} if item.error else None
    result, error = session.outcome(item)
    if result is not None:
        if result.get("error"):
            return {"reason": "executor_failed", "error": result["error"]}
        return None  # the worker ended the run itself (its own events and summary)
    if item.forced_after_s is not None:
        return {"reason": "cancel", "error": f"cancelled by force: the worker had not stopped {item.forced_after_s:g} s "
                                             "after the cancel request, so Ray killed it; finished epochs are kept"}
    import ray

    if isinstance(error, ray.exceptions.RayTaskError):  # the task's own code raised (not a lost worker)
        cause = getattr(error, "cause", None) or error
        return {"reason": "error", "error": f"the run's Ray task raised {type(cause).__name__}: {str(cause)[:300]}"}
    placed = _claimed(item.run_dir)
    where = (f" (Ray worker process {placed.get('pid')} on node {placed.get('node_ip')}, {placed.get('host')})"
             if placed.get("pid") else "")
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return {"reason": "worker_died", "error": f"the Ray worker running this run died{where}: {type(error).__name__}"
                                              f"{': ' + first[:300] if first else ''}; epochs completed before it "
                                              "stopped are kept"}


def _force(task_id: str, grace: float) -> None:
    from . import session

    item = session.submitted(task_id)
    if item is None or item.ref is None or session.done(item):
        return
    import ray

    item.forced_after_s = grace
    log.warning("run in %s did not stop %.0f s after its cancel request: killing its Ray worker", item.run_dir, grace)
    ray.cancel(item.ref, force=True)


def cancel(info: dict[str, Any]) -> bool:
    """Withdraw a task still waiting for resources (True); else kill its worker if the cooperative flag has
    not stopped it within ``cancel_grace_s``."""
    from . import session
    from .task import claim

    item = session.submitted(str(info.get("task")))
    if item is None or session.done(item):
        return False
    if claim(item.run_dir, {"cancelled_before_start": True, "pid": None}):
        with session._lock:
            item.withdrawn = True  # not handed over yet: it never will be
            ref = item.ref
        if ref is not None:
            import ray

            ray.cancel(ref)  # leaves Ray's queue; had it just started, it finds the claim taken and returns
        return True
    grace = float(info.get("cancel_grace_s", RayOptions().cancel_grace_s))
    with session._lock:
        if item.cancel_timer is None:
            item.cancel_timer = threading.Timer(grace, _force, (str(info.get("task")), grace))
            item.cancel_timer.daemon = True
            item.cancel_timer.start()
    return False


def start_task(run_dir: Path, module: str, args: list[str]) -> dict[str, Any]:
    """``python -m <module> <run_dir> <args...>`` as a Ray task with one CPU (a backfill); never waits.
    Refused (503) at once while Ray is known to be unreachable."""
    from latentdeck.kit import OnDemandError

    from . import session

    try:
        session.connect(0, join=False)
    except session.RayUnreachable as exc:
        raise OnDemandError(f"cannot hand the task to Ray: {exc}", 503) from None
    except session.StillConnecting:
        pass  # the hand-off thread waits for it
    log_name = f"{module.rsplit('.', 1)[-1]}.log"
    task_id = _hand_off(run_dir, "run_module", {"num_cpus": 1}, (str(run_dir), _run_id(run_dir), module, list(args), log_name))
    return {"task": task_id, "log": log_name, "module": module, **_driver()}


def call(run_dir: Path, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """An on-demand computation ``name`` of the run as a Ray task with one CPU; waits for its answer
    (the connection, at most ``CALL_CONNECT_WAIT_S``: 503 otherwise)."""
    from latentdeck.kit import OnDemandError

    from . import session

    try:
        session.connect(CALL_CONNECT_WAIT_S)
    except (session.RayUnreachable, session.StillConnecting) as exc:
        raise OnDemandError(f"cannot reach Ray to compute {name!r}: {exc}", 503) from None
    ref = session.remote("compute", num_cpus=1).remote(str(run_dir), _run_id(run_dir), name, body)
    import ray

    result = ray.get(ref, timeout=CALL_TIMEOUT_S)
    if "error" in result:
        raise OnDemandError(result["error"], int(result.get("status") or 500))
    return result["answer"]


CALL_CONNECT_WAIT_S = 30
CALL_TIMEOUT_S = 600


@hookimpl
def register_executors():
    return [ExecutorSpec(
        name="ray", start=start, is_alive=is_alive, options=RayOptions, start_task=start_task,
        check_config=check_config, exit_reason=exit_reason, cancel=cancel, call=call,
        description="each run is a Ray task on a local Ray or a cluster (LATENTDECK_RAY_ADDRESS); the runs folder "
                    "must be on storage every node sees" + ("" if _ray_installed() else f". {INSTALL_HINT}"))]
