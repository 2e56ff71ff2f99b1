"""The artifact pipeline process of one run: ``python -m latentdeck.engine.pipeline_worker`` (the host's side and
the design: :mod:`latentdeck.engine.pipeline`).

Its stdin brings a header (``run_dir``, ``run_id``, ``plugins``: the module names of the training process's
plugins, ``parent``: its pid), then one job per epoch (``epoch``, ``snapshot``: a file inside the run with the
epoch's weights, ``temporary``: remove it once read, ``train_seconds``, ``last``). Each job runs the epoch through
the host's :class:`~latentdeck.engine.artifacts.ArtifactEngine` (every computation in line: this process is
itself beside training), announces ``run.stage epoch_done`` in the run's locked log, and answers one JSON line
(``epoch``, ``stopped``) on stdout. The end of stdin ends it. Torch keeps to one thread: training keeps its
share of the cores. Ctrl-C in a terminal is the training process's to handle (it asks for a cancel, which every
budget here reads); a training process that ended stops the work too.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from . import devices, vizsubset
from .artifacts import ArtifactEngine
from .budget import Stopped, abandoned
from .pipeline import epoch_done, run_budget
from .writer import AppendingLog
from ..kit import safepath
from ..registry import collect, make_plugin_manager
from ..store.resolved import load_run


class Epochs:
    """The run's engine, model and visualization subset, built at the first job and kept (warm starts)."""

    def __init__(self, run_dir: Path, run_id: str, pm, parent: int | None = None):
        self.run_dir, self.pm, self.parent = run_dir, pm, parent
        self.events = AppendingLog(run_dir, run_id)
        self.engine: ArtifactEngine | None = None
        self.model = None

    def _orphaned(self) -> str | None:
        return "the training process ended" if self.parent and os.getppid() != self.parent else None

    def _setup(self) -> None:
        run = load_run(self.run_dir, self.pm)  # after training persisted the visualization subset
        model_spec, dataset_spec = collect(self.pm, "models")[run.model], collect(self.pm, "datasets")[run.dataset]
        self.model = model_spec.build(run.model_options, dataset_spec)
        viz = vizsubset.load(run, dataset_spec)
        self.engine = ArtifactEngine(self.pm, self.run_dir, run, model_spec, dataset_spec, viz, self.events,
                                     budget=run_budget(self.run_dir, run.settings.generator_budget_s, self._orphaned),
                                     background_heavy=False)

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        epoch, started, stopped = job["epoch"], time.perf_counter(), None
        try:
            if self.engine is None:
                self._setup()
            assert self.engine is not None and self.model is not None
            with safepath.open_reader(self.run_dir, job["snapshot"]) as handle:  # no link followed
                state = devices.load_state(handle, "cpu")
            if job.get("temporary"):
                (self.run_dir / job["snapshot"]).unlink(missing_ok=True)
            self.model.load_state_dict(state["model"])
            self.engine.run_epoch(self.model, epoch, last=bool(job.get("last")))
        except Stopped as where:
            stopped = str(where).removeprefix(f"epoch {epoch}, ").removesuffix(": cancel requested")
        except Exception as exc:  # not one computation's failure (those are reported and skipped): the whole epoch
            stopped = f"the artifact pipeline failed: {type(exc).__name__}: {exc}"[:400]
            self.events.emit("artifact.failed", {"generator": "pipeline", "epoch": epoch, "reason": "pipeline_error",
                                                 "error": f"{type(exc).__name__}: {exc}",
                                                 "traceback": traceback.format_exc(limit=8)})
            return self._done(job, started, stopped, failed=True)
        return self._done(job, started, stopped)

    def _done(self, job: dict[str, Any], started: float, stopped: str | None, failed: bool = False) -> dict[str, Any]:
        epoch = job["epoch"]
        self.events.emit("run.stage", epoch_done(epoch, job["train_seconds"], time.perf_counter() - started, stopped))
        # a failure is this epoch's; a stop (a cancel) ends the pipeline
        return {"epoch": epoch, "stopped": None if failed else stopped}


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what a plugin prints goes to stderr, never among the results
    line = sys.stdin.readline()
    if not line:
        return 0
    header = json.loads(line)
    import torch

    torch.set_num_threads(1)
    pm = make_plugin_manager(entrypoints=False, plugins=[importlib.import_module(n) for n in header["plugins"]])
    # what the engine imports on first use (projection scores, images), now, while epoch 1 trains: a first
    # import on a busy machine can take seconds of a computation's budget
    import PIL.Image  # noqa: F401
    import sklearn.manifold  # noqa: F401
    epochs = Epochs(Path(header["run_dir"]), header["run_id"], pm, header.get("parent"))
    for line in sys.stdin:
        result = epochs.run(json.loads(line))
        results.write(json.dumps(result) + "\n")
        if result["stopped"]:
            break
    results.close()
    if abandoned():  # a computation given up at its budget may still run: it ends with the process
        sys.stderr.flush()
        os._exit(0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
