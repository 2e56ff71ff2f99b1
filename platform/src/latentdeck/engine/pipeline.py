"""Where a run's per-epoch artifacts are computed (config ``artifact_pipeline``), seen from the training loop.

- :class:`InlineArtifacts` (``inline``): between epochs, in the training process (the engine's
  :meth:`~latentdeck.engine.artifacts.ArtifactEngine.run_epoch`), then ``run.stage epoch_done``.
- :class:`ProcessArtifacts` (``process``, the default): one pipeline process per run
  (:mod:`latentdeck.engine.pipeline_worker`, spawned with ``python -m`` at run start so its imports overlap epoch
  1), fed one job per epoch through its stdin: the epoch and a snapshot of its weights (the epoch's checkpoint
  when one was saved, else a hidden ``.pipeline/epoch_<N>.pt`` the process removes once read). Epoch N+1 trains
  while epoch N's maps are computed; the process works through the epochs in order and announces each epoch's
  end itself (``run.stage epoch_done``), after its artifacts, in the run's locked log. The host forwards those
  events to its own listeners (``latentdeck train``'s progress) whenever it looks at the process.

A pipeline that ends before an epoch's artifacts (a crash, a kill) fails no training: each such epoch gets
``artifact.failed`` (``generator: "pipeline"``) and its ``epoch_done`` with ``artifacts_stopped``; the next epoch
starts a new process, and ``latentdeck backfill`` writes what is missing. A cancel stops the process at once:
its computations' budgets read the run's cancel flag.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

from . import devices
from .artifacts import ArtifactEngine
from .budget import DEFAULT_BUDGET_S, Budget, Stopped
from ..kit.atomic import write_bytes
from ..store.events import EventTail
from ..store.cleanup import PIPELINE_SNAPSHOTS
from ..store.runs import cancel_requested

log = logging.getLogger(__name__)

SNAPSHOTS = PIPELINE_SNAPSHOTS  # ".pipeline", hidden: the listing and the explorer never see it; start-up cleanup
# removes it from a finished run (a killed trainer may leave it)
STOP_WAIT_S = 5.0  # how long a cancelled or closed pipeline may take to end before it is killed
POLL_S = 0.05


def epoch_done(epoch: int, train_seconds: float, artifact_seconds: float, stopped: str | None,
               pipeline: str = "process") -> dict[str, Any]:
    done = {"stage": "epoch_done", "epoch": epoch, "train_seconds": round(train_seconds, 3),
            "artifact_seconds": round(artifact_seconds, 3), "pipeline": pipeline}
    return {**done, "artifacts_stopped": stopped} if stopped else done


def run_budget(run_dir: Path, seconds: float | None, also=None) -> Budget:
    """Each generator and projection under the run's budget; a cancel (or ``also()``) stops the one running at once."""
    def why() -> str | None:
        if cancel_requested(run_dir):
            return "cancel requested"
        return also() if also is not None else None
    return Budget(float(seconds or DEFAULT_BUDGET_S), why)


class InlineArtifacts:
    """``artifact_pipeline: inline``: the epoch's artifacts before the next epoch trains."""

    mode = "inline"

    def __init__(self, trainer) -> None:
        self.trainer = trainer
        self.engine: ArtifactEngine | None = None

    def after_epoch(self, model, epoch: int, train_seconds: float, checkpoint: str | None) -> str | None:
        """Write the epoch's artifacts and announce ``epoch_done``; where a cancel stopped them (None: all ran)."""
        t = self.trainer
        started = time.perf_counter()
        if self.engine is None:
            # the engine reads the run like config.json (ResolvedRun is that mapping), with moved fields in place
            self.engine = ArtifactEngine(t.pm, t.run_dir, t.run, t.model_spec, t.dataset_spec, t.viz, t.events,
                                         budget=run_budget(t.run_dir, t.run.settings.generator_budget_s))
        stopped = None
        try:
            # a CPU copy off the CPU: generators get CPU tensors, and their files never depend on the device
            self.engine.run_epoch(devices.cpu_model(model, t.device_name), epoch, last=epoch == t.run.epochs)
        except Stopped as where:
            stopped = str(where).removeprefix(f"epoch {epoch}, ").removesuffix(": cancel requested")
        t.events.emit("run.stage", epoch_done(epoch, train_seconds, time.perf_counter() - started, stopped, "inline"))
        return f"epoch {epoch}, artifacts ({stopped})" if stopped else None

    def poll(self) -> str | None:
        return None

    def finish(self) -> str | None:
        return None

    def close(self, cancelled: bool = False) -> str | None:
        return None


def plugin_refs(pm) -> list[str] | None:
    """How the pipeline process rebuilds ``pm``: its plugins as importable module names, in order; None when
    one is not an imported module (a test's object or a module built in memory, whose state lives in this
    process): the run then stays inline."""
    refs = []
    for _name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        if not isinstance(plugin, types.ModuleType) or getattr(plugin, "__spec__", None) is None \
                or sys.modules.get(plugin.__name__) is not plugin:  # built in memory: no other process can import it
            return None
        refs.append(plugin.__name__)
    return refs


class ProcessArtifacts:
    """``artifact_pipeline: process``: the epochs' artifacts in one process beside training, in epoch order."""

    mode = "process"

    def __init__(self, trainer, plugins: list[str]) -> None:
        self.trainer, self.plugins = trainer, plugins
        self.run_dir, self.events = trainer.run_dir, trainer.events
        self.proc: subprocess.Popen | None = None
        self.results: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.pending: dict[int, dict[str, Any]] = {}  # epoch -> its job, until the process reports it
        self.stopped: str | None = None  # where a cancel stopped the pipeline ("epoch N, ...")
        self.closing = False  # no new process once the run closes its pipeline
        self.mine: set[int] = set()  # seqs of the events the host wrote itself (its listeners saw them)
        self.outside = [listener for listener in self.events.listeners]
        self.events.listeners.append(lambda event: self.mine.add(event["seq"]))
        self.tail = EventTail(self.events.path)
        self.tail.offset = self.events.path.stat().st_size if self.events.path.exists() else 0
        self.start()

    # -- the process -------------------------------------------------------------------------------
    def start(self) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}  # test plugins' folders too
        self.proc = subprocess.Popen([sys.executable, "-m", "latentdeck.engine.pipeline_worker"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.results = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.results), daemon=True,
                         name="latentdeck-pipeline-results").start()
        self._send({"run_dir": str(self.run_dir), "run_id": self.trainer.run_id, "plugins": self.plugins,
                    "parent": os.getpid()})

    @staticmethod
    def _read(proc: subprocess.Popen, results: queue.Queue) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                results.put(json.loads(line))
            except ValueError:
                log.warning("pipeline process: not a result line: %.200s", line)
        results.put(None)  # the process closed its end: it ended

    def _send(self, message: dict[str, Any]) -> bool:
        try:
            assert self.proc is not None and self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False  # it ended: poll() reports its epochs

    # -- the training loop's side ------------------------------------------------------------------
    def after_epoch(self, model, epoch: int, train_seconds: float, checkpoint: str | None) -> str | None:
        """Hand the epoch to the pipeline (nothing waits); where a cancel stopped the pipeline, if it did."""
        stopped = self.poll()
        if stopped:
            return stopped
        if self.proc is None:
            self.start()  # the last one ended before an epoch's artifacts: a new one for the next epochs
        if checkpoint:
            snapshot, temporary = checkpoint, False
        else:
            import io

            import torch

            buffer = io.BytesIO()
            torch.save({"model": devices.cpu_model(model, self.trainer.device_name).state_dict()}, buffer)
            snapshot, temporary = f"{SNAPSHOTS}/epoch_{epoch}.pt", True
            write_bytes(self.run_dir / snapshot, buffer.getvalue(), root=self.run_dir)
        job = {"epoch": epoch, "snapshot": snapshot, "temporary": temporary, "train_seconds": train_seconds,
               "last": epoch == self.trainer.run.epochs}
        self.pending[epoch] = job
        self._send(job)
        return None

    def poll(self) -> str | None:
        """Take in what the process reported, forward its events, report the epochs of a process that ended."""
        ended = False
        while True:
            try:
                result = self.results.get_nowait()
            except queue.Empty:
                break
            if result is None:
                ended = True
                continue
            self.pending.pop(result["epoch"], None)
            if result.get("stopped") and self.stopped is None:
                self.stopped = f"epoch {result['epoch']}, artifacts ({result['stopped']})"
        self.forward()
        if ended:
            self._ended()
        return self.stopped

    def forward(self) -> None:
        for event in self.tail.poll():
            if event["seq"] in self.mine:
                self.mine.discard(event["seq"])
                continue
            for listener in self.outside:
                try:
                    listener(event)
                except Exception:
                    log.exception("an event listener failed on a pipeline event")

    def _ended(self) -> None:
        """The process ended: each epoch it did not finish is reported (unless a cancel stopped it)."""
        assert self.proc is not None
        code = self.proc.wait()
        self.proc = None
        if code != 0:
            remove_partial(self.run_dir)
        if self.stopped is not None or cancel_requested(self.run_dir) or self.closing:
            self.pending.clear()
            return
        if not self.pending:
            return
        # the epoch it was on is reported; the ones queued behind it go to a new process
        epoch, job = min(self.pending.items())
        del self.pending[epoch]
        why = f"the artifact pipeline process ended (exit code {code}) during epoch {epoch}'s artifacts"
        self.events.emit("artifact.failed", {
            "generator": "pipeline", "epoch": epoch, "reason": "pipeline_ended", "exit_code": code,
            "error": f"{why}; training goes on, and `latentdeck backfill {self.trainer.run_id}` writes them"})
        self.events.emit("run.stage", epoch_done(epoch, job["train_seconds"], 0.0, why))
        if job["temporary"]:
            (self.run_dir / job["snapshot"]).unlink(missing_ok=True)
        if self.pending:
            self.start()
            for _, queued in sorted(self.pending.items()):
                self._send(queued)

    def finish(self) -> str | None:
        """Wait until every epoch handed over is done (the run ends after its artifacts); where a cancel stopped it."""
        while self.pending and self.stopped is None and self.proc is not None:
            time.sleep(POLL_S)
            self.poll()
        return self.close()

    def close(self, cancelled: bool = False) -> str | None:
        """End the process (at once on a cancel: it reads the flag; at most :data:`STOP_WAIT_S`, then killed)."""
        self.closing = True
        if self.proc is not None:
            proc = self.proc
            if proc.stdin is not None:
                try:
                    proc.stdin.close()  # no more epochs: it ends after the one it is on
                except OSError:
                    pass
            waited = time.monotonic() + (STOP_WAIT_S if cancelled else 3600.0)
            while proc.poll() is None and time.monotonic() < waited:
                time.sleep(POLL_S)
                self.poll()
            if proc.poll() is None:
                log.warning("the artifact pipeline of run %s did not end: killed", self.trainer.run_id)
                proc.kill()
            if proc.wait() != 0:
                remove_partial(self.run_dir)
            deadline = time.monotonic() + 1.0  # its last results and the end of its output
            while self.proc is not None and time.monotonic() < deadline:
                self.poll()
                time.sleep(POLL_S / 5)
        self.forward()
        shutil.rmtree(self.run_dir / SNAPSHOTS, ignore_errors=True)  # snapshots no process will read now
        return self.stopped


def remove_partial(run_dir: Path) -> list[str]:
    """Remove the hidden temporary files and folders (``.<name>.<random>.tmp``) a killed pipeline left in the run's
    artifact folders: the files they were to become were never renamed into place, so no artifact is half-written,
    and nothing else writes there while the run trains (checkpoints, the host's own, are not touched). Links are
    removed, never followed."""
    removed = []
    for top in sorted(os.scandir(run_dir), key=lambda e: e.name):
        if not top.is_dir(follow_symlinks=False) or top.name in ("checkpoints", SNAPSHOTS):
            continue
        for folder, dirs, files in os.walk(top.path):  # links to folders are listed, not entered
            for name in [*files, *dirs]:
                if not (name.startswith(".") and name.endswith(".tmp")):
                    continue
                path = Path(folder) / name
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                    dirs.remove(name)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path.relative_to(run_dir).as_posix())
    if removed:
        log.warning("%s: removed what a killed artifact pipeline was writing: %s", run_dir, ", ".join(removed))
    return removed


def artifacts_for(trainer) -> InlineArtifacts | ProcessArtifacts:
    """The run's artifact path: its ``artifact_pipeline``, or inline where no process can take its plugins or
    none can be spawned (said in the log)."""
    if trainer.run.settings.artifact_pipeline == "inline":
        return InlineArtifacts(trainer)
    plugins = plugin_refs(trainer.pm)
    if plugins is None:
        log.info("run %s: artifacts inline (a plugin is not an importable module)", trainer.run_id)
        return InlineArtifacts(trainer)
    try:
        return ProcessArtifacts(trainer, plugins)
    except OSError as exc:
        log.warning("run %s: artifacts inline (no pipeline process: %s)", trainer.run_id, exc)
        return InlineArtifacts(trainer)

