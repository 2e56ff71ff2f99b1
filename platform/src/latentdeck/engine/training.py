"""THE training loop. The CLI, the API's worker processes and UI-launched runs all call
:func:`execute_run`; nothing else trains.

It works for any registered model, dataset, loss component and artifact generator: the loss is
``sum(weight * component)`` with the weights the model plugin gives per epoch, every part is
reported, and artifacts come from the generators whose ``requires`` the model satisfies.
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any, Callable

from . import devices, vizsubset
from ..kit import threads
from .artifacts import VizSubset
from .checkpoints import save_checkpoint
from .pipeline import InlineArtifacts, ProcessArtifacts, artifacts_for
from ..store.events import EventLog
from ..kit.images import to_float_images
from ..kit.phases import run_phases
from ..registry import collect, get_plugin_manager
from ..kit.errors import is_disk_full
from ..store.resolved import load_run, save_run
from ..store.runs import (cancel_requested, free_bytes, now, read_summary, release_space, update_summary,
                         with_headroom)
from .subsets import describe_subset, interleaved_by_class, stratified_subset
from ..types import Batch, ResolvedRun, Schedule

# Heavy imports (torch) sit inside the functions that use them, on purpose: importing this module stays cheap.

log = logging.getLogger(__name__)


class Cancelled(Exception):
    pass


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite: training cannot go on meaningfully."""

    def __init__(self, epoch: int, batch: int, parts: dict[str, float]):
        self.epoch, self.batch, self.parts = epoch, batch, parts
        shown = ", ".join(f"{k}={v}" for k, v in parts.items())
        super().__init__(f"the loss is not finite at epoch {epoch}, batch {batch} ({shown}); "
                         "lower the learning rate or the loss weights and start a new run")


def choose_viz_indices(labels, size: int, seed: int) -> list[int]:
    """Held-out indices for the per-epoch artifacts, balanced over classes and interleaved
    (:func:`latentdeck.engine.subsets.interleaved_by_class`)."""
    return interleaved_by_class(labels, size, seed)


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def viz_subset(indices: list[int], x_held, y_held) -> VizSubset:
    import torch

    idx = torch.tensor(indices, dtype=torch.long)
    if len(idx) and int(idx.max()) >= len(x_held):
        raise ValueError(f"viz_indices go up to {int(idx.max())} but the held-out split has {len(x_held)} examples")
    return VizSubset(list(indices), x_held[idx], y_held[idx])


def load_viz_subset(run: ResolvedRun | dict[str, Any], dataset_spec) -> VizSubset:
    """The persisted visualization subset of a run, rebuilt from its dataset (backfill, reloads)."""
    return vizsubset.load(run, dataset_spec)


class _Running:
    """Running batch-size-weighted means of the loss parts."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0
        self.correct = 0
        self.classified = False

    def add(self, parts: dict[str, float], n: int, correct: int | None) -> None:
        for key, value in parts.items():
            self.sums[key] = self.sums.get(key, 0.0) + value * n
        self.count += n
        if correct is not None:
            self.correct += correct
            self.classified = True

    def means(self) -> dict[str, float]:
        return {key: total / max(self.count, 1) for key, total in self.sums.items()}


class Trainer:
    """Trains one run: ``run`` is its :class:`~latentdeck.types.ResolvedRun` (typed; nothing is parsed again here)."""

    def __init__(self, run_dir: Path, run: ResolvedRun, pm, events: EventLog, device: str = "cpu"):
        self.run_dir, self.run, self.pm, self.events = run_dir, run, pm, events
        self.device_name = device  # resolved: "cpu" or "cuda"
        self.device = devices.torch_device(device)
        self.run_id = run.run_id
        self.model_spec = collect(pm, "models")[run.model]
        self.dataset_spec = collect(pm, "datasets")[run.dataset]
        self.losses = collect(pm, "loss_components")
        self.options = run.model_options  # parsed once, by prepare_run or load_run
        self.phases = run_phases(self.model_spec, run)
        self.artifacts: InlineArtifacts | ProcessArtifacts = InlineArtifacts(self)  # fit() chooses the run's
        self.epochs_completed = 0
        self.last_metrics: dict[str, Any] | None = None
        self.last_checkpoint: str | None = None

    # -- data ------------------------------------------------------------------------------------
    def load_data(self) -> None:
        import torch

        run, settings = self.run, self.run.settings
        data_dir = run.data_dir
        shape = tuple(self.dataset_spec.image_shape)
        train = self.dataset_spec.load(data_dir, "train")
        heldout = self.dataset_spec.load(data_dir, "heldout")
        images, labels = train.images, train.labels
        chosen_now: dict[str, Any] = {}  # what this start chooses, persisted before the first epoch
        limit = settings.limit
        subset = run.train_subset
        if limit and limit < len(labels):
            if not subset:  # a seeded, class-stratified subset, never "the first N" (class-ordered data)
                indices = stratified_subset(labels, limit, run.seed)
                subset = chosen_now["train_subset"] = describe_subset(indices, labels, run.seed, len(labels))
            chosen = torch.as_tensor(subset["indices"], dtype=torch.long)
            images, labels = images[chosen], labels[chosen]
        self.x_train, self.y_train = to_float_images(images, shape), labels.long()
        self.x_held, self.y_held = to_float_images(heldout.images, shape), heldout.labels.long()
        # the subset may include training digits (config viz_split)

        if not (settings.viz_indices or settings.viz_train_indices):  # given ones are kept as they are
            chosen_now["viz_indices"], chosen_now["viz_train_indices"] = vizsubset.choose(
                settings.viz_split, settings.viz_subset_size, run.seed, self.y_held, train.labels)
        if chosen_now:
            self.run = run = run.with_fields(**chosen_now)
            save_run(self.run_dir, run)  # persisted before the first epoch
        trained = vizsubset.trained_train_indices(subset, limit, len(train.labels))
        self.viz = vizsubset.build(run.settings.viz_indices or [], run.settings.viz_train_indices or [], trained,
                                   self.x_held, self.y_held, train.images, train.labels, shape)
        # The training step runs on the run's device; the visualization subset stays on the CPU with the
        # artifacts. On the CPU .to() returns the same tensors.
        self.x_train, self.y_train = self.x_train.to(self.device), self.y_train.to(self.device)
        self.x_held, self.y_held = self.x_held.to(self.device), self.y_held.to(self.device)

    # -- one step --------------------------------------------------------------------------------
    def _loss(self, outputs, batch: Batch, weights: dict[str, float]):
        parts = {name: self.losses[name].compute(outputs, batch) for name in weights}
        total = sum(weight * parts[name] for name, weight in weights.items())
        return total, parts

    def evaluate(self, model, weights: dict[str, float]) -> dict[str, float]:
        import torch

        running = _Running()
        model.eval()
        with torch.no_grad():
            for start in range(0, len(self.x_held), 1024):
                batch = Batch(self.x_held[start:start + 1024], self.y_held[start:start + 1024])
                outputs = model(batch.x)
                total, parts = self._loss(outputs, batch, weights)
                correct = int((outputs["logits"].argmax(1) == batch.y).sum()) if "logits" in outputs else None
                running.add({"loss": float(total), **{k: float(v) for k, v in parts.items()}}, len(batch.y), correct)
        result = running.means()
        if running.classified:
            result["accuracy"] = running.correct / max(running.count, 1)
        return result

    def fit(self) -> str:
        import torch

        settings = self.run.settings
        torch.manual_seed(settings.seed)
        if settings.num_threads:
            torch.set_num_threads(settings.num_threads)
        self.artifacts = artifacts_for(self)  # a pipeline process starts now: its imports overlap epoch 1
        self.load_data()
        model = self.model_spec.build(self.options, self.dataset_spec).to(self.device)
        adam = settings.optimizer
        optimizer = torch.optim.Adam(model.parameters(), lr=adam.lr, betas=tuple(adam.betas), eps=adam.eps,
                                     weight_decay=adam.weight_decay)
        shuffle = torch.Generator().manual_seed(settings.seed)
        n = len(self.x_train)
        batch_size = settings.batch_size
        batches = (n + batch_size - 1) // batch_size
        epochs = settings.epochs
        step = 0
        last_progress = last_poll = 0.0
        for epoch in range(1, epochs + 1):
            if not settings.num_threads:  # a fair share of the cores among the runs training now
                share = threads.fair_share()
                if share != torch.get_num_threads():
                    torch.set_num_threads(share)
            schedule = Schedule(epoch, epochs)
            weights = self.model_spec.loss_weights(self.options, schedule)
            update = self.before_epoch(model, schedule)
            running = _Running()
            model.train()
            started = time.perf_counter()
            order = torch.randperm(n, generator=shuffle).to(self.device)  # drawn on the CPU: the same on every device
            for batch_index, idx in enumerate(order.split(batch_size)):
                if batch_index % settings.cancel_check_every == 0:
                    if cancel_requested(self.run_dir):
                        raise Cancelled(f"epoch {epoch}, batch {batch_index}")
                    if time.monotonic() - last_poll >= 0.5:  # the pipeline's events reach the listeners
                        last_poll = time.monotonic()
                        self.artifacts.poll()
                batch = Batch(self.x_train[idx], self.y_train[idx])
                outputs = model(batch.x)
                total, parts = self._loss(outputs, batch, weights)
                if not torch.isfinite(total):
                    raise NonFiniteLoss(epoch, batch_index + 1, {
                        "loss": total.item(), **{k: v.item() for k, v in parts.items()}})
                optimizer.zero_grad(set_to_none=True)
                total.backward()
                optimizer.step()
                step += 1
                correct = int((outputs["logits"].argmax(1) == batch.y).sum()) if "logits" in outputs else None
                running.add({"loss": total.item(), **{k: v.item() for k, v in parts.items()}}, len(idx), correct)
                clock = time.monotonic()
                if clock - last_progress >= settings.progress_interval_s or batch_index == batches - 1:
                    last_progress = clock
                    self.events.emit("train.progress", {
                        "epoch": epoch, "epochs": epochs, "batch": batch_index + 1, "batches": batches,
                        "step": step, "examples_per_s": running.count / max(time.perf_counter() - started, 1e-9),
                        **running.means()})
            train_seconds = time.perf_counter() - started
            metrics = self.epoch_metrics(model, epoch, weights, running, train_seconds, schedule)
            if update is not None:
                metrics["model_update"] = update
            self.events.emit("train.metrics", metrics)
            saved = None
            if epoch % settings.checkpoint_every == 0 or epoch == epochs:
                saved = self.last_checkpoint = save_checkpoint(self.run_dir, epoch, model, optimizer, {
                    "model": self.run.model, "run_id": self.run_id, "device": self.device_name, "metrics": metrics})
                self.events.emit("checkpoint.saved", {"epoch": epoch, "name": self.last_checkpoint})
            # inline: written now; process: handed to the pipeline (run.stage epoch_done comes after them)
            stopped = self.artifacts.after_epoch(model, epoch, train_seconds, saved)
            self.epochs_completed = epoch
            self.last_metrics = metrics
            update_summary(self.run_dir, epochs_completed=epoch, metrics=metrics, last_checkpoint=self.last_checkpoint)
            if stopped:
                raise self.stopped(stopped)
            self.pm.hook.after_epoch(run_id=self.run_id, run_dir=self.run_dir, epoch=epoch, metrics=metrics, model=model)
        stopped = self.artifacts.finish()  # the run ends once its epochs' artifacts are written
        if stopped:
            raise self.stopped(stopped)
        return "completed"

    def stopped(self, where: str) -> Cancelled:
        """A cancel that stopped an epoch's artifacts: the epoch is trained (and checkpointed when due)."""
        return Cancelled(f"{where}; the epoch is kept, `latentdeck backfill {self.run_id}` writes its missing "
                         "artifacts")

    def before_epoch(self, model, schedule) -> dict[str, Any] | None:
        """The model's ``before_epoch`` step (if it has one), announced as a ``model.update`` event."""
        if self.model_spec.before_epoch is None:
            return None
        note = self.model_spec.before_epoch_note(self.options, schedule) if self.model_spec.before_epoch_note else None
        if note:
            self.events.emit("run.stage", {"stage": "before_epoch", "epoch": schedule.epoch, "text": note})
        started = time.perf_counter()
        update = self.model_spec.before_epoch(self.options, schedule, model, self.x_train)
        if update is None:
            return None
        update = {**update, "seconds": round(time.perf_counter() - started, 3)}
        self.events.emit("model.update", {"epoch": schedule.epoch, **update})
        return update

    def epoch_metrics(self, model, epoch, weights, running: _Running, seconds: float, schedule) -> dict[str, Any]:
        train = running.means()
        metrics: dict[str, Any] = {"epoch": epoch, "epochs": self.run.epochs, **train}
        if running.classified:
            metrics["train_accuracy"] = running.correct / max(running.count, 1)
        for key, value in self.evaluate(model, weights).items():
            metrics[f"heldout_{key}"] = value
        metrics["loss_weights"] = dict(weights)
        metrics["lr"] = self.run.settings.optimizer.lr
        metrics["epoch_seconds"] = round(seconds, 4)
        metrics["threads"] = torch_threads()
        metrics["device"] = self.device_name
        if self.model_spec.epoch_diagnostics is not None:
            import torch

            model.eval()
            with torch.no_grad():
                metrics.update(self.model_spec.epoch_diagnostics(
                    self.options, schedule, model, Batch(self.x_held, self.y_held)))
        return metrics


def execute_run(run_dir: Path | str, pm=None, listeners: tuple[Callable[[dict], None], ...] = ()) -> str:
    """Train the run in ``run_dir`` (status ``created``) to its end; returns the final status."""
    try:
        return _execute(Path(run_dir), pm or get_plugin_manager(), listeners)
    finally:
        release_space(Path(run_dir))  # an ended run needs no headroom


def _execute(run_dir: Path, pm, listeners: tuple[Callable[[dict], None], ...]) -> str:
    run = load_run(run_dir, pm)
    run_id = run.run_id
    with EventLog(run_dir / "events.jsonl", run_id) as events:
        events.listeners.extend(listeners)
        if read_summary(run_dir)["status"] != "created":
            raise RuntimeError(f"run {run_id} is not in status 'created'; a run is trained once")
        if cancel_requested(run_dir):
            events.emit("run.cancelled", {"epochs_completed": 0, "at": "before start"})
            update_summary(run_dir, status="cancelled", reason="cancel requested before start", ended_at=now())
            return "cancelled"
        active = threads.register(run_id)  # other runs now share the cores with this one
        try:
            return _train(run_dir, run, pm, events)
        finally:
            threads.unregister(active)


def _train(run_dir: Path, run: ResolvedRun, pm, events: EventLog) -> str:
    """Mark the run running, train it, and end it completed, cancelled or failed; returns the status."""
    import torch

    run_id, settings = run.run_id, run.settings
    # before run.started, which reports the thread count
    torch.set_num_threads(settings.num_threads or threads.fair_share())
    update_summary(run_dir, status="running", started_at=now())
    trainer = None
    started = time.perf_counter()
    try:
        # resolved here, on the machine that trains: "auto" may differ between the server and a worker node
        device = devices.resolve(settings.device)
        update_summary(run_dir, device=device)
        events.emit("run.started", {
            "model": run.model, "dataset": run.dataset, "dataset_note": run.get("dataset_note"),
            "epochs": run.epochs, "threads": torch.get_num_threads(), "device": device,
            "device_requested": settings.device, "stage_events": True})
        pm.hook.before_run(run_id=run_id, run_dir=run_dir, config=dict(run.config))
        trainer = Trainer(run_dir, run, pm, events, device)
        if trainer.phases:
            events.emit("model.phases", {"phases": trainer.phases})
        status = trainer.fit()
    except Cancelled as where:
        done = trainer.epochs_completed if trainer else 0
        at = str(where)
        stopped = trainer.artifacts.close(cancelled=True) if trainer else None  # nothing is written after this
        if stopped and stopped.split(";")[0] not in at:
            at += f" (artifacts stopped at {stopped})"
        events.emit("run.cancelled", {"epochs_completed": done, "at": at, "metrics": trainer.last_metrics})
        summary = update_summary(run_dir, status="cancelled", reason=f"cancel requested ({where})", ended_at=now())
        pm.hook.after_run(run_id=run_id, run_dir=run_dir, status="cancelled", summary=summary)
        return "cancelled"
    except Exception as exc:
        log.exception("run %s failed", run_id)
        error = f"{type(exc).__name__}: {exc}"
        if trainer is not None:  # the epochs trained before the failure get their artifacts
            try:
                trainer.artifacts.finish()
            except Exception:
                log.exception("the artifact pipeline of run %s did not end cleanly", run_id)
        try:
            pm.hook.on_run_error(run_id=run_id, run_dir=run_dir, error=exc)
        except Exception:
            log.exception("on_run_error hook raised")
        details = {"reason": "error", "error": error, "traceback": traceback.format_exc(limit=8),
                   "epochs_completed": trainer.epochs_completed if trainer else 0}
        if isinstance(exc, NonFiniteLoss):
            details.update(reason="non_finite_loss", epoch=exc.epoch, batch=exc.batch, loss_parts=exc.parts)
        elif is_disk_full(exc):
            free = free_bytes(run_dir)
            release_space(run_dir)  # room for these last words
            error = details["error"] = (
                f"no space left on the disk holding {run_dir.parent} ({free:,} bytes free): free "
                f"some space and start a new run; epochs completed before are kept ({error})")
            details["reason"] = "disk_full"
        with_headroom(run_dir, lambda: events.emit("run.failed", details))
        with_headroom(run_dir, lambda: update_summary(run_dir, status="failed", reason=details["reason"],
                                                      error=error, ended_at=now()))
        return "failed"
    duration = round(time.perf_counter() - started, 3)
    events.emit("run.completed", {"epochs_completed": trainer.epochs_completed, "metrics": trainer.last_metrics,
                                  "duration_s": duration})
    summary = update_summary(run_dir, status=status, ended_at=now(), duration_s=duration)
    pm.hook.after_run(run_id=run_id, run_dir=run_dir, status=status, summary=summary)
    return status
