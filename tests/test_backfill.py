"""Backfill: missing projection and neighbour artifacts of a finished run, from its checkpoints."""

from __future__ import annotations

import json
import shutil

import pytest

from latentdeck.kit.arrays import decode, read_arrays
from latentdeck.kit.atomic import read_json
from latentdeck.engine.backfill import BackfillError, backfill, plan
from latentdeck.cli import main as cli
from latentdeck.store.events import read_events
from latentdeck.launch import prepare_run
from latentdeck.store.runs import RunConflict, RunStore
from latentdeck.engine.training import execute_run


def finished_run(pm, runs_dir, config, **overrides):
    stored = prepare_run(pm, {**config, **overrides})
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=pm) == "completed"
    return run_dir


def snapshot(run_dir):
    return {p.relative_to(run_dir).as_posix(): p.read_bytes()
            for p in sorted(run_dir.rglob("*")) if p.is_file() and p.parent.name in ("projections", "neighbors")}


def test_backfill_writes_what_training_skipped_and_a_rerun_is_a_no_op(plugin_manager, runs_dir, tiny_config):
    run_dir = finished_run(plugin_manager, runs_dir, tiny_config, epochs=3, projection_every={"first-dims": 0})
    assert not (run_dir / "projections").exists()  # cadence 0: not during training
    result = backfill(run_dir, plugin_manager)
    assert result["epochs"] == [1, 2, 3]
    for epoch in (1, 2, 3):
        for dims in (2, 3):
            assert (run_dir / f"projections/latent_{dims}d_epoch_{epoch}_first-dims.json").exists()
    latest = read_json(run_dir / "projections/latent_2d_latest_first-dims.json")
    assert latest["epoch"] == 3 and latest["params"] == {"rule": "first latent coordinates"}
    types = [e["type"] for e in read_events(run_dir / "events.jsonl")]
    tail = types[types.index("run.completed") + 1:]
    assert tail[0] == "backfill.started" and tail[-1] == "backfill.completed"
    assert tail.count("projection.progress") == 2 * 2 * 3  # fitting + done, 2 dims, 3 epochs

    before, log_size = snapshot(run_dir), (run_dir / "events.jsonl").stat().st_size
    again = backfill(run_dir, plugin_manager)
    assert again == {"epochs": [1, 2, 3], "written": [], "nothing_missing": True}
    assert snapshot(run_dir) == before and (run_dir / "events.jsonl").stat().st_size == log_size
    assert not (run_dir / "backfill.lock").exists()


def test_deleted_projections_come_back_identical(plugin_manager, runs_dir, tiny_config):
    run_dir = finished_run(plugin_manager, runs_dir, tiny_config)
    before = snapshot(run_dir)
    assert "projections/latent_2d_epoch_2_first-dims.json" in before
    shutil.rmtree(run_dir / "projections")
    result = backfill(run_dir, plugin_manager, projections=["first-dims"])
    assert sorted(result["written"]) == sorted(n for n in before if n.startswith("projections/") and "latest" not in n)
    after = snapshot(run_dir)
    for name, data in before.items():
        if name.startswith("projections/") and name.endswith(".safetensors"):  # the arrays: the same bytes
            (saved, saved_meta), (again, again_meta) = read_arrays(run_dir / name), decode(data)
            assert {k: v.tobytes() for k, v in saved.items()} == {k: v.tobytes() for k, v in again.items()}, name
            saved_meta.pop("compute_ms"), again_meta.pop("compute_ms")
            assert saved_meta == again_meta, name
        elif name.startswith("projections/"):
            saved, again = read_json(run_dir / name), json.loads(data)
            saved.pop("compute_ms"), again.pop("compute_ms")
            assert saved == again, name
    assert set(after) == set(before)


def test_latest_mirror_never_moves_back_to_an_older_epoch(plugin_manager, runs_dir, tiny_config):
    run_dir = finished_run(plugin_manager, runs_dir, tiny_config, epochs=3)
    (run_dir / "projections/latent_2d_epoch_1_first-dims.json").unlink()
    backfill(run_dir, plugin_manager, epochs=[1])
    assert read_json(run_dir / "projections/latent_2d_epoch_1_first-dims.json")["epoch"] == 1
    assert read_json(run_dir / "projections/latent_2d_latest_first-dims.json")["epoch"] == 3


def test_bad_backfill_requests_name_the_problem_and_change_nothing(plugin_manager, runs_dir, tiny_config):
    run_dir = finished_run(plugin_manager, runs_dir, tiny_config, projection_every={"first-dims": 0})
    with pytest.raises(BackfillError, match=r"no checkpoint for epoch\(s\) \[7\].*epochs with checkpoints: \[1, 2\]"):
        plan(run_dir, plugin_manager, epochs=[7])
    with pytest.raises(BackfillError, match="unknown projection 'tsne'"):
        plan(run_dir, plugin_manager, projections=["tsne"])
    with pytest.raises(BackfillError, match="unknown per-epoch computation 'nope'"):
        plan(run_dir, plugin_manager, artifacts=["nope"])
    shutil.move(run_dir / "checkpoints", run_dir.parent / "saved-checkpoints")
    with pytest.raises(BackfillError, match="has no checkpoints"):
        plan(run_dir, plugin_manager)
    shutil.move(run_dir.parent / "saved-checkpoints", run_dir / "checkpoints")
    assert not (run_dir / "projections").exists()


def test_an_active_run_cannot_be_backfilled(plugin_manager, runs_dir, tiny_config):
    stored = prepare_run(plugin_manager, tiny_config)
    store = RunStore(runs_dir)
    store.create(stored)
    with pytest.raises(RunConflict, match="is created; backfill works on finished runs"):
        plan(store.run_dir(stored["run_id"]), plugin_manager)


def test_cli_backfill(plugin_manager, runs_dir, tiny_config, capsys, monkeypatch):
    from latentdeck.registry import get_plugin_manager

    run_dir = finished_run(plugin_manager, runs_dir, tiny_config, epochs=1, projection_every={"first-dims": 0})
    get_plugin_manager.cache_clear()
    try:
        assert cli(["backfill", "no-such-run", "--runs-dir", str(runs_dir)]) == 2
        assert "no run 'no-such-run'" in capsys.readouterr().err
        assert cli(["backfill", run_dir.name, "--runs-dir", str(runs_dir), "--epochs", "5"]) == 2
        assert "no checkpoint for epoch(s) [5]" in capsys.readouterr().err
        assert cli(["backfill", run_dir.name, "--runs-dir", str(runs_dir), "--projections", "first-dims"]) == 0
        err = capsys.readouterr().err
        assert "fitting first-dims 2-D" in err and "wrote projections/latent_2d_epoch_1_first-dims.json" in err
        assert cli(["backfill", run_dir.name, "--runs-dir", str(runs_dir), "--projections", "first-dims"]) == 0
        assert "nothing to do" in capsys.readouterr().err
    finally:
        get_plugin_manager.cache_clear()


def test_api_backfill_runs_in_the_background_and_streams_its_events(serve_api, plugin_manager, runs_dir, tiny_config, sse, waiter):
    run_dir = finished_run(plugin_manager, runs_dir, tiny_config, epochs=1, projection_every={"first-dims": 0})
    live = serve_api(pm=plugin_manager)
    run_id = run_dir.name
    end = [e for e in read_events(run_dir / "events.jsonl")][-1]["seq"]
    response = live.client.post(f"/api/runs/{run_id}/backfill", json={"epochs": [1], "projections": ["first-dims"]})
    assert response.status_code == 202 and response.json()["started"] is True
    waiter(lambda: any(e["type"] == "backfill.completed" for e in read_events(run_dir / "events.jsonl")),
           timeout=60, what="backfill.completed")
    stream = sse.read(live.client, f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(end)})
    events = [json.loads(m.data) for m in stream.messages if m.data]
    assert events[0]["type"] == "backfill.started" and events[-1]["type"] == "backfill.completed"
    assert [e["seq"] for e in events] == list(range(end + 1, end + 1 + len(events)))
    last = events[-1]["seq"]
    assert live.client.get(f"/api/runs/{run_id}/events", headers={"Last-Event-ID": str(last)}).status_code == 204
    again = live.client.post(f"/api/runs/{run_id}/backfill", json={"epochs": [1], "projections": ["first-dims"]})
    assert again.status_code == 202 and again.json()["started"] is False
    assert live.client.post("/api/runs/nope/backfill", json={}).status_code == 404
    bad = live.client.post(f"/api/runs/{run_id}/backfill", json={"epochs": [9]})
    assert bad.status_code == 422 and "epochs with checkpoints: [1]" in bad.json()["detail"]


def test_a_projection_added_later_gets_its_neighbours_and_overlays(plugin_manager, runs_dir, tiny_config):
    """Per-projection generators (their file patterns name {method}) are missing per method: backfilling a
    second projection is followed by its knn and distortion files, and the first method's are left alone."""
    run_dir = finished_run(plugin_manager, runs_dir, tiny_config, epochs=2, projections=["first-dims"],
                           artifacts=["knn", "distortion", "recon_grid"])
    first = {p.name: p.read_bytes() for p in (run_dir / "neighbors").iterdir()}
    assert sorted(first) == [f"knn_first-dims_epoch_{e}.{ext}" for e in (1, 2) for ext in ("json", "safetensors")] + [
        "knn_first-dims_latest.json"]
    log_size = (run_dir / "events.jsonl").stat().st_size

    assert plan(run_dir, plugin_manager, projections=["pca"])["missing"] == {
        epoch: [f"projections/latent_2d_epoch_{epoch}.json", f"projections/latent_3d_epoch_{epoch}_pca.json"]
        for epoch in (1, 2)}
    backfill(run_dir, plugin_manager, projections=["pca"])
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*.json")}
    for epoch in (1, 2):
        assert f"neighbors/knn_pca_epoch_{epoch}.json" in names
        assert f"distortion/metric_ratio_2d_epoch_{epoch}_pca.json" in names
    assert {n: (run_dir / "neighbors" / n).read_bytes() for n in first} == first  # first-dims' untouched
    announced = _names_after(run_dir, log_size)
    assert "neighbors/knn_pca_epoch_2.json" in announced
    assert not any("first-dims" in n for n in announced)  # nothing rewritten for the method that had its files

    # every method now has its files: nothing is missing
    assert plan(run_dir, plugin_manager, projections=["pca"])["missing"] == {}
    assert plan(run_dir, plugin_manager)["missing"] == {}
    (run_dir / "distortion/metric_ratio_2d_epoch_1_pca.json").unlink()
    assert plan(run_dir, plugin_manager, projections=["pca"])["missing"] == {1: ["generator distortion (pca)"]}


def _names_after(run_dir, offset):
    with open(run_dir / "events.jsonl", "rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode().splitlines()
    return [json.loads(line)["data"]["name"] for line in lines
            if line.strip() and json.loads(line)["type"] == "artifact.created"]


def test_the_api_starts_a_backfill_through_the_runs_executor(serve_api, plugin_manager, runs_dir, tiny_config, waiter):
    """Backfill is heavy work of a run: the server submits it to the run's executor as a ``backfill`` job, not
    to a process of its own, so another executor (a cluster) runs it too; one that refuses it says why."""
    import threading
    import types as pytypes

    from latentdeck import ExecutorSpec, hookimpl
    from latentdeck.kit import OnDemandError
    from latentdeck.worker import run_job

    jobs = []

    def submit(job):
        jobs.append(job)
        assert job.kind == "backfill"
        thread = threading.Thread(target=run_job, args=(job,), daemon=True)
        thread.start()
        return {"pid": 0, "thread": thread.name}

    def refuse(job):
        raise OnDemandError("this executor runs no backfill; use `latentdeck backfill` from a shell", 409)

    executors = pytypes.ModuleType("inline_executors")
    executors.register_executors = hookimpl(lambda: [
        ExecutorSpec("inline", submit=submit, poll=lambda info: {"alive": False}),
        ExecutorSpec("taskless", submit=refuse, poll=lambda info: {"alive": False})])
    plugin_manager.register(executors, name="inline_executors")
    run_dir = finished_run(plugin_manager, runs_dir, tiny_config, epochs=1, projection_every={"first-dims": 0},
                           executor="inline")
    taskless = finished_run(plugin_manager, runs_dir, tiny_config, epochs=1, projection_every={"first-dims": 0},
                            executor="taskless")
    live = serve_api(pm=plugin_manager)
    response = live.client.post(f"/api/runs/{run_dir.name}/backfill", json={"projections": ["first-dims"]})
    assert response.status_code == 202 and "'inline' executor" in response.json()["detail"], response.text
    assert [job.kind for job in jobs] == ["backfill"] and jobs[0].run_dir == str(run_dir)
    assert list(jobs[0].args["argv"][:4]) == ["--epochs", "1", "--projections", "first-dims"]
    waiter(lambda: any(e["type"] == "backfill.completed" for e in read_events(run_dir / "events.jsonl")),
           timeout=60, what="backfill.completed")
    assert (run_dir / "projections/latent_2d_epoch_1_first-dims.json").is_file()

    refused = live.client.post(f"/api/runs/{taskless.name}/backfill", json={"projections": ["first-dims"]})
    assert refused.status_code == 409 and "runs no backfill" in refused.json()["detail"]
    assert "latentdeck backfill" in refused.json()["detail"] and not (taskless / "projections").exists()


def test_files_logged_outside_the_generators_folder_today_are_written_again(plugin_manager, runs_dir, tiny_config):
    """A run from before the atlas moved out of reconstructions/: its log names the old place, so
    backfill writes the files where the explorer reads them now."""
    run_dir = finished_run(plugin_manager, runs_dir, tiny_config, epochs=1, artifacts=["atlas"])
    assert (run_dir / "atlas/atlas_epoch_1.png").exists()
    log = run_dir / "events.jsonl"
    old = log.read_text().replace('"name": "atlas/', '"name": "reconstructions/')
    assert old != log.read_text()
    (run_dir / "reconstructions").mkdir(exist_ok=True)
    for path in (run_dir / "atlas").iterdir():
        path.rename(run_dir / "reconstructions" / path.name)
    log.write_text(old)
    result = backfill(run_dir, plugin_manager, artifacts=["atlas"])
    assert "atlas/atlas_epoch_1.png" in result["written"] and (run_dir / "atlas/atlas_inputs.png").exists()
