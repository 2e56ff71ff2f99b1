"""The training loop, in process, on the synthetic tiny-digits dataset."""

from __future__ import annotations

import math
import types

import pytest

from latentdeck import ArtifactSpec, ModelSpec, hookimpl
from latentdeck.kit.atomic import read_json
from latentdeck.engine.checkpoints import load_model
from latentdeck.store.events import read_events
from latentdeck.launch import ConfigError, prepare_run
from latentdeck.store.runs import RunStore, read_summary
from latentdeck.engine.training import choose_viz_indices, execute_run

N_TRAIN = 256  # latentdeck.testing.tiny_dataset()
N_HELDOUT = 64


class Recorder:
    """A plugin recording every lifecycle hook call."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    @hookimpl
    def before_run(self, run_id, run_dir, config):
        self.calls.append(("before_run", {"run_id": run_id, "config": config}))

    @hookimpl
    def after_epoch(self, run_id, run_dir, epoch, metrics, model):
        self.calls.append(("after_epoch", {"epoch": epoch, "metrics": metrics, "model": model}))

    @hookimpl
    def after_run(self, run_id, run_dir, status, summary):
        self.calls.append(("after_run", {"status": status, "summary": summary}))

    @hookimpl
    def on_run_error(self, run_id, run_dir, error):
        self.calls.append(("on_run_error", {"error": error}))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def recorder(plugin_manager) -> Recorder:
    rec = Recorder()
    plugin_manager.register(rec, name="recorder")
    return rec


def new_run(pm, runs_dir, config, **overrides):
    stored = prepare_run(pm, {**config, **overrides})
    store = RunStore(runs_dir)
    store.create(stored)
    return store, store.run_dir(stored["run_id"])


def events_of(run_dir, kind=None):
    events = list(read_events(run_dir / "events.jsonl"))
    return [e for e in events if kind is None or e["type"] == kind]


# --- the whole loop -----------------------------------------------------------------------------

def test_run_events_metrics_artifacts_and_summary(plugin_manager, runs_dir, tiny_config, recorder):
    config = {**tiny_config, "model_options": {**tiny_config["model_options"], "class_weight": 0.5},
              "progress_interval_s": 0.0, "projections": [], "artifacts": ["recon_grid"],
              "artifact_options": {"recon_grid": {"grid_size": 8}}}
    store, run_dir = new_run(plugin_manager, runs_dir, config)
    assert read_json(run_dir / "config.json")["viz_indices"] is None

    seen_at_first_progress = {}

    def listener(event):
        if event["type"] == "train.progress" and not seen_at_first_progress:
            seen_at_first_progress.update(read_json(run_dir / "config.json"))
            seen_at_first_progress["_status"] = read_summary(run_dir)["status"]

    assert execute_run(run_dir, pm=plugin_manager, listeners=(listener,)) == "completed"

    events = events_of(run_dir)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    kinds = [e["type"] for e in events]
    batches = math.ceil(N_TRAIN / 64)
    per_epoch = ["train.progress"] * batches + [
        "train.metrics", "checkpoint.saved", "run.stage", "artifact.created", "artifact.created", "run.stage"]
    assert kinds == ["run.created", "run.started"] + per_epoch * 2 + ["run.completed"]

    started = events[1]["data"]
    assert started["model"] == "ae" and started["dataset"] == "tiny-digits" and started["epochs"] == 2

    progress = events_of(run_dir, "train.progress")
    assert [(p["data"]["epoch"], p["data"]["batch"]) for p in progress] == [
        (e, b) for e in (1, 2) for b in range(1, batches + 1)]
    assert [p["data"]["step"] for p in progress] == list(range(1, 2 * batches + 1))
    assert all(p["data"]["batches"] == batches and p["data"]["epochs"] == 2 for p in progress)
    assert all({"loss", "recon_mse", "class_ce", "examples_per_s"} <= set(p["data"]) for p in progress)

    metrics = [e["data"] for e in events_of(run_dir, "train.metrics")]
    assert [m["epoch"] for m in metrics] == [1, 2]
    for m in metrics:
        assert m["loss_weights"] == {"recon_mse": 1.0, "class_ce": 0.5}
        for prefix in ("", "heldout_"):
            parts = m[f"{prefix}recon_mse"] + 0.5 * m[f"{prefix}class_ce"]
            assert m[f"{prefix}loss"] == pytest.approx(parts, rel=1e-5, abs=1e-6)
            assert m[f"{prefix}recon_mse"] > 0 and m[f"{prefix}class_ce"] > 0
        assert 0.0 <= m["heldout_accuracy"] <= 1.0
        assert 0.0 <= m["train_accuracy"] <= 1.0
        assert m["lr"] == pytest.approx(1e-3) and m["epochs"] == 2 and m["epoch_seconds"] >= 0
    # the last progress event of an epoch carries the same running means as its metrics
    assert progress[batches - 1]["data"]["loss"] == pytest.approx(metrics[0]["loss"])

    checkpoints = [e["data"] for e in events_of(run_dir, "checkpoint.saved")]
    assert checkpoints == [{"epoch": 1, "name": "checkpoints/epoch_1.pt"},
                           {"epoch": 2, "name": "checkpoints/epoch_2.pt"}]

    artifacts = [e["data"] for e in events_of(run_dir, "artifact.created")]
    assert [(a["name"], a["latest"], a["epoch"], a["generator"]) for a in artifacts] == [
        (f"reconstructions/recon_grid_epoch_{epoch}.{ext}", f"reconstructions/recon_grid_latest.{ext}",
         epoch, "recon_grid") for epoch in (1, 2) for ext in ("png", "json")]
    for a in artifacts:
        assert (run_dir / a["name"]).is_file()
    assert (run_dir / "reconstructions/recon_grid_latest.png").read_bytes() == (
        run_dir / "reconstructions/recon_grid_epoch_2.png").read_bytes()

    done = events[-1]["data"]
    assert done["epochs_completed"] == 2 and done["metrics"] == metrics[-1] and done["duration_s"] > 0

    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["epochs_completed"] == 2
    assert summary["metrics"] == metrics[-1]
    assert summary["last_checkpoint"] == "checkpoints/epoch_2.pt"
    assert summary["started_at"] is not None and summary["ended_at"] >= summary["started_at"]
    assert summary["error"] is None

    # viz indices: chosen from the seed, persisted before epoch 1, used by the recon grid
    viz = seen_at_first_progress["viz_indices"]
    assert seen_at_first_progress["_status"] == "running"
    assert viz == choose_viz_indices([i % 10 for i in range(N_HELDOUT)], 32, 0)
    assert len(viz) == 32 and len(set(viz)) == 32 and max(viz) < N_HELDOUT
    assert read_json(run_dir / "config.json")["viz_indices"] == viz
    grid = read_json(run_dir / "reconstructions/recon_grid_epoch_2.json")
    assert grid["indices"] == viz[:8] and grid["epoch"] == 2
    assert len(grid["labels"]) == 8 and len(grid["mse"]) == 8
    assert grid["labels"] == [i % 10 for i in viz[:8]]  # tiny-digits labels are index % 10
    assert grid["labels"] == list(range(8))  # balanced and interleaved: the grid shows every class

    # lifecycle hooks
    assert recorder.names() == ["before_run", "after_epoch", "after_epoch", "after_run"]
    assert recorder.calls[0][1]["run_id"] == summary["run_id"]
    assert [c["epoch"] for name, c in recorder.calls if name == "after_epoch"] == [1, 2]
    assert recorder.calls[2][1]["metrics"] == metrics[1]
    assert recorder.calls[-1][1]["status"] == "completed"
    assert recorder.calls[-1][1]["summary"]["status"] == "completed"

    with pytest.raises(RuntimeError, match="not in status 'created'"):
        execute_run(run_dir, pm=plugin_manager)  # a run is trained once


def test_given_viz_indices_are_kept(plugin_manager, runs_dir, tiny_config):
    _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=1, viz_indices=[3, 1, 60])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    assert read_json(run_dir / "config.json")["viz_indices"] == [3, 1, 60]
    assert read_json(run_dir / "reconstructions/recon_grid_latest.json")["indices"] == [3, 1, 60]


def test_viz_indices_out_of_range_are_refused_and_fail_a_stored_run(plugin_manager, runs_dir, tiny_config):
    with pytest.raises(ConfigError, match=r"viz_indices: \[64\] is outside the held-out split .* use indices 0..63"):
        prepare_run(plugin_manager, {**tiny_config, "epochs": 1, "viz_indices": [0, N_HELDOUT]})
    assert not any(runs_dir.iterdir())
    # a run persisted before (e.g. by an older version) still fails with the reason, not a crash
    stored = prepare_run(plugin_manager, {**tiny_config, "epochs": 1, "viz_indices": [0, 1]})
    stored = stored.with_fields(viz_indices=[0, N_HELDOUT])
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=plugin_manager) == "failed"
    assert "viz_indices go up to 64" in read_summary(run_dir)["error"]


def test_same_config_gives_identical_metrics(plugin_manager, runs_dir, tiny_config):
    finals = []
    for _ in range(2):
        _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, artifacts=[])
        assert execute_run(run_dir, pm=plugin_manager) == "completed"
        metrics = read_summary(run_dir)["metrics"]
        metrics.pop("epoch_seconds")
        finals.append(metrics)
    assert finals[0] == finals[1]
    _, other = new_run(plugin_manager, runs_dir, tiny_config, artifacts=[], seed=1)
    execute_run(other, pm=plugin_manager)
    assert read_summary(other)["metrics"]["loss"] != finals[0]["loss"]  # the seed matters


# --- checkpoints --------------------------------------------------------------------------------

def test_checkpoint_every_and_loading(plugin_manager, runs_dir, tiny_config):
    import torch

    _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=3, checkpoint_every=2, artifacts=[])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    assert [e["data"]["epoch"] for e in events_of(run_dir, "checkpoint.saved")] == [2, 3]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "epoch_2.json", "epoch_2.pt", "epoch_3.json", "epoch_3.pt", "latest.json", "latest.pt"]
    assert read_summary(run_dir)["last_checkpoint"] == "checkpoints/epoch_3.pt"

    state = torch.load(run_dir / "checkpoints/epoch_3.pt", map_location="cpu", weights_only=True)
    assert set(state) == {"model", "optimizer"}
    assert (run_dir / "checkpoints/latest.pt").read_bytes() == (run_dir / "checkpoints/epoch_3.pt").read_bytes()
    meta = read_json(run_dir / "checkpoints/epoch_2.json")
    assert meta["epoch"] == 2 and meta["model"] == "ae" and meta["metrics"]["epoch"] == 2

    model, latest_meta = load_model(run_dir, pm=plugin_manager)
    assert latest_meta["epoch"] == 3 and not model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, state["model"][key]), key
    x = torch.rand(2, 1, 28, 28)
    assert model(x)["recon"].shape == (2, 1, 28, 28)
    assert model(x)["z"].shape == (2, 4)

    model_2, meta_2 = load_model(run_dir, pm=plugin_manager, epoch=2)
    assert meta_2["epoch"] == 2
    assert any(not torch.equal(a, b) for a, b in zip(model_2.state_dict().values(), model.state_dict().values()))


# --- cancellation -------------------------------------------------------------------------------

@pytest.mark.parametrize("after,epochs_completed", [("train.progress", 0), ("train.metrics", 1)])
def test_cancel_from_a_listener(plugin_manager, runs_dir, tiny_config, recorder, after, epochs_completed):
    store, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=3, cancel_check_every=1,
                             progress_interval_s=0.0)
    run_id = run_dir.name

    def listener(event):
        if event["type"] == after and not (run_dir / "cancel_requested").exists():
            store.request_cancel(run_id)

    assert execute_run(run_dir, pm=plugin_manager, listeners=(listener,)) == "cancelled"
    events = events_of(run_dir)
    assert events[-1]["type"] == "run.cancelled"
    assert events[-1]["data"]["epochs_completed"] == epochs_completed
    assert "run.completed" not in [e["type"] for e in events]
    assert len(events_of(run_dir, "train.metrics")) == epochs_completed
    if after == "train.progress":  # stops at the next batch
        assert len(events_of(run_dir, "train.progress")) == 1
        assert events[-1]["data"]["at"] == "epoch 1, batch 1"
    else:
        # a cancel during the epoch's artifact stage stops it there; the trained epoch is kept (issue 22 item 6)
        assert events[-1]["data"]["at"].startswith("epoch 1, artifacts (")
        assert events[-1]["data"]["metrics"]["epoch"] == 1
    summary = read_summary(run_dir)
    assert summary["status"] == "cancelled" and "cancel" in summary["reason"]
    assert summary["epochs_completed"] == epochs_completed and summary["ended_at"] is not None
    assert recorder.names()[-1] == "after_run" and recorder.calls[-1][1]["status"] == "cancelled"
    assert "on_run_error" not in recorder.names()


def test_cancel_before_start(plugin_manager, runs_dir, tiny_config, recorder):
    store, run_dir = new_run(plugin_manager, runs_dir, tiny_config)
    store.request_cancel(run_dir.name)
    assert execute_run(run_dir, pm=plugin_manager) == "cancelled"
    assert [e["type"] for e in events_of(run_dir)] == ["run.created", "run.cancelled"]
    assert events_of(run_dir)[-1]["data"]["epochs_completed"] == 0
    summary = read_summary(run_dir)
    assert summary["status"] == "cancelled" and "cancel" in summary["reason"] and "before start" in summary["reason"]
    assert summary["started_at"] is None and summary["epochs_completed"] == 0
    assert not (run_dir / "checkpoints").exists()
    assert recorder.calls == []


# --- failures -----------------------------------------------------------------------------------

def broken_model_plugin():
    def build(options, dataset):
        import torch

        class Broken(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(1))

            def forward(self, x):
                raise RuntimeError("forward exploded on purpose")

        return Broken()

    plugin = types.ModuleType("broken_model_plugin")
    plugin.register_models = hookimpl(lambda: [ModelSpec(
        name="broken", build=build, loss_weights=lambda options, schedule: {"recon_mse": 1.0},
        capabilities=frozenset({"reconstruction"}))])
    return plugin


def test_model_that_raises_fails_the_run(plugin_manager, runs_dir, tiny_config, recorder):
    plugin_manager.register(broken_model_plugin(), name="broken_model_plugin")
    _, run_dir = new_run(plugin_manager, runs_dir, {**tiny_config, "model_options": {}}, model="broken")
    assert execute_run(run_dir, pm=plugin_manager) == "failed"
    events = events_of(run_dir)
    assert [e["type"] for e in events] == ["run.created", "run.started", "run.failed"]
    failed = events[-1]["data"]
    assert failed["error"] == "RuntimeError: forward exploded on purpose"
    assert failed["reason"] == "error" and failed["epochs_completed"] == 0
    assert "forward exploded on purpose" in failed["traceback"]
    summary = read_summary(run_dir)
    assert summary["status"] == "failed" and summary["error"] == "RuntimeError: forward exploded on purpose"
    assert summary["ended_at"] is not None
    assert recorder.names() == ["before_run", "on_run_error"]
    assert isinstance(recorder.calls[-1][1]["error"], RuntimeError)


def test_failing_on_run_error_hook_still_fails_the_run(plugin_manager, runs_dir, tiny_config):
    plugin_manager.register(broken_model_plugin(), name="broken_model_plugin")
    noisy = types.ModuleType("noisy")

    def on_run_error(error):
        raise ValueError("the hook itself broke")

    noisy.on_run_error = hookimpl(on_run_error)
    plugin_manager.register(noisy, name="noisy")
    _, run_dir = new_run(plugin_manager, runs_dir, {**tiny_config, "model_options": {}}, model="broken")
    assert execute_run(run_dir, pm=plugin_manager) == "failed"
    assert read_summary(run_dir)["status"] == "failed"


def test_failing_artifact_generator_is_reported_and_training_completes(plugin_manager, runs_dir, tiny_config):
    def explode(ctx):
        raise ValueError(f"no artifact for epoch {ctx.epoch}")

    plugin = types.ModuleType("exploding_artifacts")
    plugin.register_artifacts = hookimpl(lambda: [ArtifactSpec(name="explode", generate=explode, folder="explode",
                                                                                 files=("x_{tag}.json",))])
    plugin_manager.register(plugin, name="exploding_artifacts")
    _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, projections=[], artifacts=["recon_grid", "explode"])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    failures = [e["data"] for e in events_of(run_dir, "artifact.failed")]
    assert [(f["generator"], f["epoch"], f["error"]) for f in failures] == [
        ("explode", 1, "ValueError: no artifact for epoch 1"), ("explode", 2, "ValueError: no artifact for epoch 2")]
    assert len(events_of(run_dir, "artifact.created")) == 4  # recon_grid still ran
    assert read_summary(run_dir)["status"] == "completed"


def test_artifacts_filter_and_requires(plugin_manager, runs_dir, tiny_config):
    calls = []
    plugin = types.ModuleType("needs_more")
    plugin.register_artifacts = hookimpl(lambda: [
        ArtifactSpec(name="needs_mixture", generate=calls.append, requires=frozenset({"mixture"}), folder="needs",
                     files=("x_{tag}.json",)),
        ArtifactSpec(name="plain", generate=lambda ctx: calls.append(ctx.generator), folder="plain", files=("x_{tag}.json",)),
    ])
    plugin_manager.register(plugin, name="needs_more")
    _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=1, projections=[],
                         artifacts=["plain", "needs_mixture"])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    assert calls == ["plain"]  # the model has no 'mixture' capability; recon_grid was not asked for
    assert events_of(run_dir, "artifact.created") == []


# --- data size and progress ---------------------------------------------------------------------

def test_limit_trains_on_n_examples(plugin_manager, runs_dir, tiny_config):
    _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=1, limit=40, batch_size=16,
                         progress_interval_s=0.0, artifacts=[])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    progress = [e["data"] for e in events_of(run_dir, "train.progress")]
    assert [(p["batch"], p["batches"]) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    assert progress[-1]["step"] == 3
    subset = read_json(run_dir / "config.json")["train_subset"]  # seeded and stratified, recorded
    assert subset["n"] == 40 and len(subset["indices"]) == 40 and subset["seed"] == read_json(run_dir / "config.json")["seed"]


def test_progress_events_are_throttled(plugin_manager, runs_dir, tiny_config):
    _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=3, batch_size=16,
                         progress_interval_s=10.0, artifacts=[])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    progress = [e["data"] for e in events_of(run_dir, "train.progress")]
    batches = N_TRAIN // 16
    assert len(progress) <= 3 + 1  # at most the very first batch plus each epoch's last
    for epoch in (1, 2, 3):
        assert {"epoch": epoch, "batch": batches} in [{"epoch": p["epoch"], "batch": p["batch"]} for p in progress]


def test_artifact_options_reach_the_generator(plugin_manager, runs_dir, tiny_config):
    from pydantic import BaseModel, ConfigDict

    from latentdeck.launch import ConfigError

    class StampOptions(BaseModel):
        model_config = ConfigDict(extra="forbid")
        stamp: int = 1

    seen = []
    plugin = types.ModuleType("stamping")
    plugin.register_artifacts = hookimpl(lambda: [ArtifactSpec(
        name="stamp", generate=lambda ctx: seen.append((ctx.epoch, ctx.options)), options=StampOptions,
        folder="stamp", files=("x_{tag}.json",))])
    plugin_manager.register(plugin, name="stamping")
    with pytest.raises(ConfigError, match="artifact_options.stamp.stamp"):
        prepare_run(plugin_manager, {**tiny_config, "artifact_options": {"stamp": {"stamp": "many"}}})
    _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=1, artifacts=["stamp"],
                         artifact_options={"stamp": {"stamp": 7}})
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    assert seen == [(1, StampOptions(stamp=7))]
    assert read_json(run_dir / "config.json")["artifact_options"] == {"stamp": {"stamp": 7}}


def test_run_started_reports_the_threads_it_trains_with(plugin_manager, runs_dir, tiny_config):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=1, artifacts=[], num_threads=1)
        assert execute_run(run_dir, pm=plugin_manager) == "completed"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert events_of(run_dir, "run.started")[0]["data"]["threads"] == 1


def test_viz_indices_are_class_balanced_whatever_the_storage_order():
    labels = [0] * 50 + [1] * 50 + [2] * 50  # stored sorted by class, like mnist-5k's held-out split
    picked = choose_viz_indices(labels, 12, seed=3)
    assert [labels[i] for i in picked] == [0, 1, 2] * 4
    assert picked == choose_viz_indices(labels, 12, seed=3)  # seeded
    assert picked != choose_viz_indices(labels, 12, seed=4)
    assert len(choose_viz_indices(labels, 1000, seed=0)) == 150  # capped at the split size


def test_a_non_finite_loss_fails_the_run_with_epoch_and_parts(plugin_manager, runs_dir, tiny_config):
    from latentdeck import LossSpec

    calls = {"n": 0}

    def explodes_later(outputs, batch):
        calls["n"] += 1
        value = outputs["recon"].mean() * 0
        return value + (float("nan") if calls["n"] >= 7 else 0.0)

    plugin = types.ModuleType("nan_plugin")
    plugin.register_loss_components = hookimpl(lambda: [LossSpec("explodes", explodes_later)])
    def build(options, dataset):
        from latentdeck_ae.model import build as build_ae
        from latentdeck_ae.options import AEOptions

        return build_ae(AEOptions(latent_dim=4, channels=(8, 8)), dataset)

    plugin.register_models = hookimpl(lambda: [ModelSpec(
        name="ae-nan", build=build,
        loss_weights=lambda options, schedule: {"recon_mse": 1.0, "explodes": 1.0},
        capabilities=frozenset({"reconstruction"}))])
    plugin_manager.register(plugin, name="nan_plugin")
    _, run_dir = new_run(plugin_manager, runs_dir, {**tiny_config, "model_options": {}, "epochs": 3}, model="ae-nan")
    assert execute_run(run_dir, pm=plugin_manager) == "failed"
    failed = events_of(run_dir, "run.failed")[0]["data"]
    assert failed["reason"] == "non_finite_loss"
    # 4 training batches and 1 held-out evaluation batch in epoch 1, so the 7th call is epoch 2, batch 2
    assert failed["epoch"] == 2 and failed["batch"] == 2
    assert failed["loss_parts"]["explodes"] is None and failed["loss_parts"]["recon_mse"] > 0
    assert "not finite at epoch 2, batch 2" in failed["error"]
    assert read_summary(run_dir)["reason"] == "non_finite_loss"
    assert all(e["type"] != "train.metrics" or e["data"]["epoch"] == 1 for e in events_of(run_dir))


def test_stage_events_announce_each_artifact_step_and_the_end_of_the_epoch(plugin_manager, runs_dir, tiny_config):
    _, run_dir = new_run(plugin_manager, runs_dir, tiny_config, epochs=1, projections=["first-dims"],
                         artifacts=["recon_grid"])
    assert execute_run(run_dir, pm=plugin_manager) == "completed"
    events = events_of(run_dir)
    stages = [e["data"] for e in events if e["type"] == "run.stage"]
    steps = [s for s in stages if s["stage"] == "artifacts"]
    assert [s["step"] for s in steps] == ["projection first-dims 2-D", "projection first-dims 3-D", "generator recon_grid"]
    assert [(s["done"], s["total"]) for s in steps] == [(0, 3), (1, 3), (2, 3)]
    assert steps[0]["text"] == "computing projections: first-dims 2-D of 32 points"
    (end,) = [s for s in stages if s["stage"] == "epoch_done"]
    assert end["epoch"] == 1 and end["train_seconds"] > 0 and end["artifact_seconds"] > 0
    kinds = [e["type"] for e in events]
    # the epoch is done only after its artifacts: epoch_done comes after the last artifact.created
    assert kinds.index("run.stage", kinds.index("train.metrics")) < max(i for i, k in enumerate(kinds) if k == "artifact.created")
    assert max(i for i, k in enumerate(kinds) if k == "artifact.created") < [i for i, e in enumerate(events)
                                                                              if e["type"] == "run.stage" and e["data"]["stage"] == "epoch_done"][0]
