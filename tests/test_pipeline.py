"""The artifact pipeline (issue 24, item 3; :mod:`latentdeck.engine.pipeline`): per-epoch artifacts in a process
beside training, in epoch order, with the events in a consistent order; ``artifact_pipeline: inline`` keeps the old
path and writes the same files. Killing the process mid-artifact: tests/reliability/test_pipeline_kill.py."""

from __future__ import annotations

import json
import types

import pytest

from latentdeck import hookimpl
from latentdeck.engine.pipeline import plugin_refs
from latentdeck.engine.training import execute_run
from latentdeck.launch import ConfigError, prepare_run
from latentdeck.store.events import read_events
from latentdeck.store.runs import RunStore, read_summary

ARTIFACT_EVENTS = ("artifact.created", "artifact.failed", "projection.progress")


def trained(pm, runs_dir, config, listeners=()) -> tuple[str, object]:
    stored = prepare_run(pm, config)
    RunStore(runs_dir).create(stored)
    run_dir = RunStore(runs_dir).run_dir(stored["run_id"])
    return execute_run(run_dir, pm=pm, listeners=listeners), run_dir


def order_problems(events: list[dict]) -> list[str]:
    """Where the log breaks the pipeline's order: each artifact event of epoch N after epoch N's train.metrics
    and before epoch N's epoch_done, which comes before any artifact event of epoch N+1; run.completed last."""
    problems, metrics_at, done_at = [], {}, {}
    for index, event in enumerate(events):
        data = event["data"]
        if event["type"] == "train.metrics":
            metrics_at[data["epoch"]] = index
        elif event["type"] == "run.stage" and data.get("stage") == "epoch_done":
            done_at[data["epoch"]] = index
    for index, event in enumerate(events):
        epoch = event["data"].get("epoch")
        if event["type"] not in ARTIFACT_EVENTS and not (event["type"] == "run.stage"
                                                         and event["data"].get("stage") == "artifacts"):
            continue
        if not index > metrics_at.get(epoch, 10**9):
            problems.append(f"{event['type']} of epoch {epoch} before its train.metrics")
        if not index < done_at.get(epoch, -1):
            problems.append(f"{event['type']} of epoch {epoch} after its epoch_done")
        if epoch - 1 in done_at and not index > done_at[epoch - 1]:
            problems.append(f"{event['type']} of epoch {epoch} before epoch {epoch - 1}'s epoch_done")
    if events[-1]["type"] != "run.completed":
        problems.append(f"the last event is {events[-1]['type']}")
    return problems


def artifact_files(run_dir) -> dict[str, bytes]:
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.parts[len(run_dir.parts)] not in ("checkpoints",) and p.suffix == ".json"
            and p.name not in ("summary.json", "config.json", "events.jsonl", "worker.json")}


def test_process_and_inline_write_the_same_artifacts_in_a_consistent_event_order(plugin_manager, runs_dir, tiny_config):
    config = {**tiny_config, "epochs": 3, "checkpoint_every": 2, "projections": ["first-dims", "pca"],
              "artifacts": ["knn", "recon_grid"]}
    seen: list[dict] = []
    status, piped = trained(plugin_manager, runs_dir, {**config, "artifact_pipeline": "process"}, (seen.append,))
    assert status == "completed"
    events = list(read_events(piped / "events.jsonl"))
    assert order_problems(events) == []
    done = [e["data"] for e in events if e["type"] == "run.stage" and e["data"].get("stage") == "epoch_done"]
    assert [(d["epoch"], d["pipeline"]) for d in done] == [(1, "process"), (2, "process"), (3, "process")]
    assert not (piped / ".pipeline").exists()  # the snapshots of epochs without a checkpoint are removed once used
    assert read_summary(piped)["epochs_completed"] == 3
    # the listeners (latentdeck train's progress) saw the pipeline's events too, each once
    started = next(e["seq"] for e in events if e["type"] == "run.started")  # written before: the run's creation
    assert sorted(e["seq"] for e in seen) == [e["seq"] for e in events if e["seq"] >= started]

    status, inline = trained(plugin_manager, runs_dir, {**config, "artifact_pipeline": "inline"})
    assert status == "completed"
    done = [e["data"] for e in read_events(inline / "events.jsonl") if e["data"].get("stage") == "epoch_done"]
    assert [d["pipeline"] for d in done] == ["inline"] * 3
    mine, theirs = artifact_files(piped), artifact_files(inline)
    assert sorted(mine) == sorted(theirs) and "projections/latent_2d_epoch_3.json" in mine
    for name in mine:  # the same numbers (timings aside)
        if name.startswith(("projections/", "neighbors/")):
            a, b = json.loads(mine[name]), json.loads(theirs[name])
            for payload in (a, b):
                for timing in [key for key in payload if key.endswith("_ms")]:
                    payload.pop(timing)
                payload.get("params", {}).pop("compute_ms", None)
            assert a == b, name


def test_a_cancel_stops_the_pipeline_and_nothing_is_written_after_it(plugin_manager, runs_dir, tiny_config):
    from latentdeck.store.runs import RunStore as Store

    def cancel_at_first_metrics(event):
        if event["type"] == "train.metrics" and event["data"]["epoch"] == 1:
            Store(runs_dir).request_cancel(event["run_id"])

    status, run_dir = trained(plugin_manager, runs_dir, {**tiny_config, "epochs": 3, "artifact_pipeline": "process"},
                              (cancel_at_first_metrics,))
    assert status == "cancelled"
    events = list(read_events(run_dir / "events.jsonl"))
    assert events[-1]["type"] == "run.cancelled"
    assert not [e for e in events if e["type"] in ARTIFACT_EVENTS and e["data"].get("epoch", 0) > 1]
    assert not (run_dir / ".pipeline").exists()
    assert not [p for p in run_dir.rglob(".*") if p.name.endswith(".tmp")]


def test_artifact_pipeline_is_validated(plugin_manager, tiny_config, monkeypatch):
    monkeypatch.delenv("LATENTDECK_ARTIFACT_PIPELINE", raising=False)
    with pytest.raises(ConfigError) as refused:
        prepare_run(plugin_manager, {**tiny_config, "artifact_pipeline": "thread"})
    assert "artifact_pipeline" in str(refused.value)
    assert prepare_run(plugin_manager, tiny_config)["artifact_pipeline"] == "inline"  # the default, for now
    monkeypatch.setenv("LATENTDECK_ARTIFACT_PIPELINE", "process")
    assert prepare_run(plugin_manager, tiny_config)["artifact_pipeline"] == "process"
    monkeypatch.setenv("LATENTDECK_ARTIFACT_PIPELINE", "thread")  # not a mode: the default stays
    assert prepare_run(plugin_manager, tiny_config)["artifact_pipeline"] == "inline"


def test_a_plugin_no_other_process_can_import_keeps_the_artifacts_inline(plugin_manager, runs_dir, tiny_config):
    assert plugin_refs(plugin_manager) is not None  # installed plugins: modules the pipeline imports by name
    in_memory = types.ModuleType("built_in_memory")
    in_memory.after_epoch = hookimpl(lambda run_id, run_dir, epoch, metrics, model: None)
    plugin_manager.register(in_memory, name="built_in_memory")
    assert plugin_refs(plugin_manager) is None
    status, run_dir = trained(plugin_manager, runs_dir, tiny_config)
    assert status == "completed"
    done = [e["data"] for e in read_events(run_dir / "events.jsonl") if e["data"].get("stage") == "epoch_done"]
    assert [d["pipeline"] for d in done] == ["inline", "inline"]
