"""The ``ray`` executor: each job of a run (:class:`latentdeck.Job`) is a Ray task on a local Ray or a cluster
(``latentdeck[ray]``). ``submit`` dispatches on the job's kind; ``poll`` and ``cancel`` take its handle.

A ``run`` job (:func:`start`) queues :func:`latentdeck_ray.task.train` with the run's ``executor_options`` (``num_cpus``,
``num_gpus``: 1 for a ``device: cuda`` run unless set) for the hand-off thread (:mod:`latentdeck_ray.handoff`)
and returns at once; no request thread talks to Ray for longer than a few seconds (:mod:`latentdeck_ray.session`,
:mod:`latentdeck_ray.probe`). Ray places the task on a node
with those resources free, so the server's run queue does not hold these runs (no ``capacity``): Ray's
own scheduler is the queue. The worker writes events and artifacts into the run directory as a local
worker does, so the server streams them over SSE the same way; that directory must be on storage every
node sees, and a task on a node that does not see it fails the run at once with that reason.

Cancelling sets the run's cooperative flag like any run; a task still waiting for resources is withdrawn
at once (the run ends ``cancelled``); a running one that has not stopped after ``cancel_grace_s`` is
killed with ``ray.cancel(force=True)`` and fails saying so. ``backfill`` jobs and ``computation`` jobs (the
server's heavy on-demand computations of a ray run; :func:`poll` hands back the task's return value, the
answer) run as Ray tasks too, each through the one worker entry (:mod:`latentdeck_ray.task`).
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

from latentdeck import ExecutorSpec, Job, JobRunner, hookimpl
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


def start(run_dir: Path, runner: JobRunner) -> dict[str, Any]:
    """Queue the run's hand-off to Ray and return at once (the hand-off thread connects and submits); the task
    trains through ``runner.hosted`` (the host's worker entry, shipped to the node by reference)."""
    if not _ray_installed():
        raise RuntimeError(INSTALL_HINT)
    from . import session

    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json")
    options = RayOptions.model_validate(config.get("executor_options") or {})
    gpus = _gpus(config, options)
    task_id = _hand_off(run_dir, "train", {"num_cpus": options.num_cpus, "num_gpus": gpus},
                        (str(run_dir), config["run_id"], options.num_cpus, runner),
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


def _start_backfill(job: Job, runner: JobRunner) -> dict[str, Any]:
    """A backfill job as a Ray task with one CPU; never waits. Refused (503) at once while Ray is known to be
    unreachable."""
    from latentdeck.kit import OnDemandError

    from . import session

    try:
        session.connect(0, join=False)
    except session.RayUnreachable as exc:
        raise OnDemandError(f"cannot hand the task to Ray: {exc}", 503) from None
    except session.StillConnecting:
        pass  # the hand-off thread waits for it
    task_id = _hand_off(Path(job.run_dir), "run_job", {"num_cpus": 1}, (job.run_dir, _run_id(job.run_dir), job.to_json(), runner))
    return {"task": task_id, "log": job.log_name, "kind": job.kind, **_driver()}


_answers: dict[str, Any] = {}  # computation task id -> its Ray object ref (this process's)


def _start_computation(job: Job, runner: JobRunner) -> dict[str, Any]:
    """A computation job as a Ray task with one CPU (the connection: at most ``CALL_CONNECT_WAIT_S``, 503
    otherwise); :func:`poll` hands back its answer."""
    from latentdeck.kit import OnDemandError

    from . import session

    try:
        session.connect(CALL_CONNECT_WAIT_S)
    except (session.RayUnreachable, session.StillConnecting) as exc:
        raise OnDemandError(f"cannot reach Ray to compute {job.args['name']!r}: {exc}", 503) from None
    ref = session.remote("compute", num_cpus=1).remote(job.run_dir, _run_id(job.run_dir), job.to_json(), runner)
    task_id = uuid.uuid4().hex
    _answers[task_id] = ref
    return {"task": task_id, "kind": job.kind, **_driver()}


def _poll_computation(handle: dict[str, Any]) -> dict[str, Any]:
    ref = _answers.get(str(handle.get("task")))
    if ref is None:
        return {"alive": False, "error": "this computation was handed to Ray by a server that has stopped", "status": 503}
    import ray

    done, _ = ray.wait([ref], timeout=0)
    if not done:
        return {"alive": True}
    _answers.pop(str(handle.get("task")), None)
    try:
        result = ray.get(ref)
    except Exception as exc:  # the task's worker died, or the task raised outside the computation
        return {"alive": False, "error": f"the Ray task computing it failed: {type(exc).__name__}: {str(exc)[:300]}",
                "status": 500}
    if "error" in result:
        return {"alive": False, "error": result["error"], "status": int(result.get("status") or 500)}
    return {"alive": False, "answer": result["answer"]}


def submit(job: Job, runner: JobRunner) -> dict[str, Any]:
    """Hand ``job`` to Ray: a run (:func:`start`), a backfill, or a computation; never waits for it to run. The
    Ray task runs it through ``runner`` (the host's worker entry), which travels with the task."""
    if job.kind == "run":
        return start(Path(job.run_dir), runner)
    if job.kind == "backfill":
        return _start_backfill(job, runner)
    return _start_computation(job, runner)


def poll(handle: dict[str, Any]) -> dict[str, Any]:
    """``{"alive": bool}``; once ended, why (``reason``, ``error``) or a computation's ``answer``."""
    if handle.get("kind") == "computation":
        return _poll_computation(handle)
    if is_alive(handle):
        return {"alive": True}
    return {"alive": False, **(exit_reason(handle) or {})}


def cancel_job(handle: dict[str, Any]) -> bool:
    """``ExecutorSpec.cancel``: a computation's task is cancelled; a run or backfill, see :func:`cancel`."""
    if handle.get("kind") == "computation":
        ref = _answers.pop(str(handle.get("task")), None)
        if ref is not None:
            import ray

            ray.cancel(ref, force=True)
        return False
    return cancel(handle)


CALL_CONNECT_WAIT_S = 30


@hookimpl
def register_executors():
    return [ExecutorSpec(
        name="ray", submit=submit, poll=poll, cancel=cancel_job, options=RayOptions, check_config=check_config,
        description="each run is a Ray task on a local Ray or a cluster (LATENTDECK_RAY_ADDRESS); the runs folder "
                    "must be on storage every node sees" + ("" if _ray_installed() else f". {INSTALL_HINT}"))]
