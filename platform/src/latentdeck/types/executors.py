"""The executor's records: :class:`Job` (one piece of heavy work of a run), :class:`JobRunner` (how the host
runs a job, lent to the executor with each ``submit``) and :class:`ExecutorSpec` (what runs jobs).
Re-exported by :mod:`latentdeck.types` and :mod:`latentdeck`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from pydantic import BaseModel

from .base import NoOptions

JOB_KINDS = ("run", "backfill", "computation")


@dataclass(frozen=True)
class Job:
    """One piece of heavy work of a run, as an executor receives it: ``kind`` is

    - ``"run"``: train the run (``args`` empty);
    - ``"backfill"``: compute artifacts of a finished run's checkpoints (``args["argv"]``: the backfill's
      command-line arguments, as ``latentdeck backfill`` takes them after the run);
    - ``"computation"``: an on-demand computation (``args["name"]`` and ``args["body"]``, its request).

    ``run_dir`` is the run's folder (a string: a job crosses processes and machines as JSON,
    :meth:`to_json` / :meth:`from_json`). Every executor runs every job through one entry, the worker's,
    which the host lends it with each ``submit`` as a :class:`JobRunner`: a fresh process
    (``runner.argv(job)``: ``python -m latentdeck.worker RUN_DIR --job JSON``), a process it already has
    (``runner.hosted(job)``, which returns a computation's answer), a forked child (``runner.forked``).
    """

    kind: str
    run_dir: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in JOB_KINDS:
            raise ValueError(f"job kind must be one of {', '.join(JOB_KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "run_dir", str(self.run_dir))
        if self.kind == "computation" and not isinstance(self.args.get("name"), str):
            raise ValueError("a computation job names its computation: args['name']")
        if self.kind == "backfill" and not isinstance(self.args.get("argv", []), (list, tuple)):
            raise ValueError("a backfill job's args['argv'] is a list of its command-line arguments")

    @property
    def log_name(self) -> str:
        """The run's log file this job's output goes to."""
        return {"run": "worker.log", "backfill": "backfill.log", "computation": "compute.log"}[self.kind]

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "run_dir": self.run_dir, "args": dict(self.args)})

    @classmethod
    def from_json(cls, text: str) -> "Job":
        data = json.loads(text)
        if not isinstance(data, dict) or set(data) - {"kind", "run_dir", "args"}:
            raise ValueError("a job is a JSON object with kind, run_dir and args")
        return cls(kind=data.get("kind"), run_dir=data.get("run_dir"), args=data.get("args") or {})


def _stays_home() -> None:
    """What a :class:`QueueHost` becomes when a runner travels (pickled for a Ray task): nothing."""
    return None


@dataclass(frozen=True)
class QueueHost:
    """What a server lends an executor that queues its ``run`` jobs (``JobRunner.queue``; None outside a
    server: ``latentdeck train``, a backfill). The executor's queue (e.g. :class:`latentdeck.kit.RunQueue`)
    decides when a run starts; the host keeps the run store, reached only through these functions:

    - ``max_concurrent_runs`` / ``max_wait_s``: the server's settings (``--max-concurrent-runs``, how long a
      run may wait for a not-ready executor).
    - ``announce(job, data)``: a ``run.stage`` ``waiting`` event in the run's log (``text`` and ``data``).
    - ``state(job)``: ``{"status": the run's status (None: gone), "cancel": its cancel flag is set}``.
    - ``withdrawn(job)``: end a run that never started ``cancelled`` (``run.cancelled`` "before start").
    - ``started(job, handle)``: record the handle of a run the queue started after ``submit`` returned (the
      host writes ``worker.json``; a handle it cannot record is stopped and the run failed).
    - ``training(executor_name)``: the run folders of this executor's active runs that have a recorded
      worker (slots already taken, e.g. by runs that outlived the last server).
    - ``on_stop(callback)``: call ``callback()`` once when the server stops (the queue then starts what only
      waited for readiness and forgets the rest: those runs stay ``created`` and the next server submits
      them again, oldest first).

    A host belongs to its server: a runner shipped elsewhere (pickled) carries no host.
    """

    max_concurrent_runs: int
    max_wait_s: float
    announce: Callable[[Job, dict[str, Any]], None]
    state: Callable[[Job], dict[str, Any]]
    withdrawn: Callable[[Job], None]
    started: Callable[[Job, dict[str, Any]], None]
    training: Callable[[str], list[str]]
    on_stop: Callable[[Callable[[], None]], None]

    def __reduce__(self):
        return _stays_home, ()


@dataclass(frozen=True)
class JobRunner:
    """How the host runs a job: its worker entry, lent to an executor with each ``submit(job, runner=...)``.

    The executor picks the way that suits where it runs the job; every way runs the same worker code
    (training, a backfill, a computation) with the same exit codes:

    - ``argv(job)``: the command line of a fresh process, ``[python, "-m", "latentdeck.worker", RUN_DIR,
      "--job", JSON]`` (a ``run`` job without ``--job``), with this machine's interpreter: call it where the
      process starts. Its output is the executor's to send to the job's log (``job.log_name``).
    - ``here(job)``: run the job in this process as it is, on the calling thread (the local executor's
      computations, in a thread of the server): an exit code, or a computation's answer (a refusal raises
      :class:`latentdeck.kit.OnDemandError` with its HTTP status).
    - ``hosted(job, nice_target=5)``: the same inside a process another system manages and may reuse (a Ray
      task): output goes to the job's log while it runs and back afterwards, the priority is lowered to
      ``nice_target`` once.
    - ``forked(job_json, env, nice_target)``: the entry of a child forked from a process that already
      imported what workers need (a ``multiprocessing`` target): it takes a session of its own, sends its
      output to the job's log, replaces its environment by ``env`` (the server's at start time), lowers its
      priority to the absolute ``nice_target`` (None: the default 5 below the parent) and exits with the
      worker's code.

    Each is a module-level function of the host, so a runner pickles by reference: an executor may ship it
    (or one of its functions) to another process or machine, e.g. as a Ray task's argument.

    ``queue``: the server's :class:`QueueHost` for an executor that queues its ``run`` jobs itself (None
    outside a server, and in a runner that travelled: start such jobs at once).
    """

    argv: Callable[[Job], list[str]]
    here: Callable[[Job], Any]
    hosted: Callable[..., Any]
    forked: Callable[..., None]
    queue: QueueHost | None = None


@dataclass(frozen=True)
class ExecutorSpec:
    """Runs the heavy work of runs (:class:`Job`): training, backfill, heavy on-demand computations.

    ``submit(job, runner=...)`` starts the job (a fresh process, a fork of a warm process, a cluster task ...
    each through the :class:`JobRunner` the host lends it) without waiting for it and returns a JSON-safe
    *handle*. The host passes ``runner`` as a keyword when ``submit``'s signature names a ``runner``
    parameter; a one-argument ``submit(job)`` keeps working (it starts ``python -m latentdeck.worker`` itself,
    the documented command). For a ``run`` job
    the host persists it as ``worker.json``. A handle holds ``pid`` when the job is a process of this
    machine, else the executor's own id; a ``waiting_note`` in it (a sentence) is shown on the run until it
    trains (where the run waits and for what).

    ``poll(handle)`` says how the job stands, never blocking: ``{"alive": bool}`` and, once it has ended,
    optionally ``"reason"`` and ``"error"`` (why a run's worker ended: the host uses them when it fails a run
    whose worker vanished) and, for a ``computation`` job, its ``"answer"`` (or ``"error"`` and an HTTP
    ``"status"``). A handle from an earlier server must poll sensibly too (a run outlives the server).

    ``cancel(handle)``, optional: called after a run's cooperative cancel flag is written (the worker stops
    at its next check); it may escalate later. True when the job will never start (it still waited for the
    executor's resources): the host then ends the run ``cancelled`` at once.

    ``capacity()``, optional: this executor runs jobs on the server's machine, sharing its cores. It returns
    ``{"slots": int | None, "reason": str | None, "expected_s": float | None}``: ``slots`` is how many runs may
    train at once (None: the server's cap, ``--max-concurrent-runs``); 0 while a run started now would not
    train at full speed (the local executor while its warm fork server runs the projections' warm-ups), with
    the ``reason`` shown on the waiting run, for at most the server's wait limit. Such an executor queues its
    runs itself (:class:`latentdeck.kit.RunQueue` reads ``capacity``; the server lends ``runner.queue``: a
    ``submit`` that keeps a run waiting returns ``{"waiting": True, ...}``, which the server keeps in memory
    and asks ``poll``/``cancel`` about). The server resubmits its ``created`` runs at restart, and asks
    ``capacity`` once at start in a background thread, so an executor may
    start preparing then: a ``capacity`` that names a ``warm_ups`` parameter gets, that once, the installed
    projections' warm-ups by name (``ProjectionSpec.warm_up``) to run where its workers start from. None (a cluster that schedules its own work): runs are submitted at once, and a
    ``heavy`` on-demand computation of its runs is submitted to it as a ``computation`` job; an executor with
    a capacity shares the server's machine, so the server computes those itself.

    ``options``: the pydantic model of the run config's ``executor_options`` (validated before anything is
    written). ``check_config(config)``, optional: the executor's own check of a run config (a dict, its
    ``executor_options`` validated) before anything is written; raise ``ValueError`` naming the problem and the
    fix. Without it, or for an executor with a capacity, the host checks ``device`` on this machine.
    Listing presets never calls it.
    """

    name: str
    submit: Callable[..., dict[str, Any]]  # submit(job) or submit(job, runner=JobRunner)
    poll: Callable[[dict[str, Any]], dict[str, Any]]
    options: type[BaseModel] = NoOptions
    description: str = ""
    default_rank: int | None = None  # a config without "executor" uses the installed executor of lowest rank
    capacity: Callable[[], dict[str, Any]] | None = None
    cancel: Callable[[dict[str, Any]], bool] | None = None
    check_config: Callable[[dict[str, Any]], None] | None = None
