"""Sweeps: a grid or a random search x seeds expands into ordinary runs carrying ``sweep_id``, every member
is validated before anything is written, and the listing shows members with their final and best metrics."""

from __future__ import annotations

import json
import shutil

import pytest

from latentdeck.cli import main
from latentdeck.launch import ConfigError
from latentdeck.store.runs import RunStore, read_summary
from latentdeck.launch.sweeps import SweepStore, best_metrics, prepare_sweep


def test_a_grid_times_seeds_expands_to_the_cartesian_product(plugin_manager, tiny_config):
    record, configs = prepare_sweep(plugin_manager, {
        "name": "g", "config": tiny_config, "grid": {"model_options.latent_dim": [2, 3], "optimizer.lr": [1e-3, 2e-3]},
        "seeds": [0, 7]})
    assert len(configs) == 8 == len({c["run_id"] for c in configs})
    got = {(c["model_options"]["latent_dim"], c["optimizer"]["lr"], c["seed"]) for c in configs}
    assert got == {(d, lr, s) for d in (2, 3) for lr in (1e-3, 2e-3) for s in (0, 7)}
    assert all(c["sweep_id"] == record["sweep_id"] for c in configs)
    assert record["kind"] == "grid" and record["params"] == ["model_options.latent_dim", "optimizer.lr"]
    assert [m["run_id"] for m in record["members"]] == [c["run_id"] for c in configs]


def test_a_random_search_is_seeded(plugin_manager, tiny_config):
    body = {"config": tiny_config, "random": {"model_options.latent_dim": [2, 3, 4, 5]}, "samples": 6, "random_seed": 3}
    first = [m["params"] for m in prepare_sweep(plugin_manager, body)[0]["members"]]
    again = [m["params"] for m in prepare_sweep(plugin_manager, body)[0]["members"]]
    assert first == again and len(first) == 6
    assert all(p["model_options.latent_dim"] in (2, 3, 4, 5) for p in first)


@pytest.mark.parametrize("body, needle", [
    ({"grid": {"model_options.latent_dim": [4, -1]}}, "model_options.latent_dim"),
    ({"grid": {"epochz": [1, 2]}}, "epochz"),
    ({"grid": {"seed": [1, 2]}}, "grid.seed"),
    ({"grid": {"epochs": []}}, "grid.epochs"),
    ({"random": {"epochs": [1]}}, "samples"),
    ({"grid": {"epochs": [1]}, "random": {"epochs": [1]}, "samples": 1}, "either grid or random"),
    ({"grid": {"epochs": [1]}, "seeds": [0, 0]}, "seeds"),
])
def test_a_bad_sweep_is_refused_naming_the_field_and_nothing_is_written(serve_api, tiny_config, body, needle):
    live = serve_api()
    answer = live.client.post("/api/sweeps", json={"config": tiny_config, **body})
    assert answer.status_code == 422, answer.text
    assert needle in answer.json()["detail"]
    assert list(live.store.root.iterdir()) == [] and live.client.get("/api/sweeps").json() == []


def test_a_three_member_sweep_runs_through_the_queue_and_lists_metrics(serve_api, tiny_config, waiter):
    live = serve_api(max_concurrent_runs=1)
    answer = live.client.post("/api/sweeps", json={
        "name": "dims", "config": {**tiny_config, "epochs": 2}, "grid": {"model_options.latent_dim": [2, 3, 4]}})
    assert answer.status_code == 201, answer.text
    sweep = answer.json()
    ids = [m["run_id"] for m in sweep["members"]]
    assert len(ids) == 3 and sweep["params"] == ["model_options.latent_dim"]
    assert [m["params"]["model_options.latent_dim"] for m in sweep["members"]] == [2, 3, 4]
    assert [live.client.get(f"/api/runs/{i}").json()["summary"].get("queue_position") for i in ids][1:] == [1, 2]
    for run_id in ids:
        waiter(lambda: read_summary(live.store.run_dir(run_id))["status"] == "completed", timeout=240,
               what=f"sweep member {run_id}")
    for run_id in ids:
        detail = live.client.get(f"/api/runs/{run_id}").json()
        assert detail["config"]["sweep_id"] == sweep["sweep_id"] == detail["summary"]["sweep_id"]
    runs = live.client.get("/api/runs").json()
    assert {r["run_id"] for r in runs} == set(ids)  # the sweeps folder is not a run
    got = live.client.get(f"/api/sweeps/{sweep['sweep_id']}").json()
    assert got["counts"] == {"completed": 3}
    for member in got["members"]:
        assert member["status"] == "completed" and len(member["history"]) == 2
        assert member["final"]["epoch"] == 2 and member["best"]["loss"] <= member["history"][0]["loss"]
    listed = live.client.get("/api/sweeps").json()
    assert [s["sweep_id"] for s in listed] == [sweep["sweep_id"]]
    assert len(listed[0]["members"]) == 3 and listed[0]["members"][0]["history"] is None  # the list is light
    assert live.client.get("/api/sweeps/sw-nope").status_code == 404
    assert live.client.get("/api/sweeps/..%2Fx").status_code == 404


def test_best_metrics_take_the_highest_accuracy_and_lowest_loss():
    history = [{"epoch": 1, "loss": 2.0, "heldout_accuracy": 0.5}, {"epoch": 2, "loss": 1.0, "heldout_accuracy": 0.4}]
    assert best_metrics(history) == {"loss": 1.0, "heldout_accuracy": 0.5}


TINY = ["--dataset", "tiny-digits", "--batch-size", "64", "--epochs", "1", "--set", "model_options.channels=[8,8]",
        "--set", "model_options.head_hidden=16", "--set", "num_threads=1", "--set", "viz_subset_size=16",
        "--set", 'projections=["first-dims"]']




def test_cli_sweep_trains_each_member_and_sweeps_lists_them(cli_env, tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["sweep", *TINY, "--grid", "model_options.latent_dim=2,4", "--seeds", "0,1", "--name", "cli",
                 "--runs-dir", str(runs), "--json", "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["counts"] == {"completed": 4} and result["name"] == "cli"
    assert sorted((m["params"]["model_options.latent_dim"], m["seed"]) for m in result["members"]) == [
        (2, 0), (2, 1), (4, 0), (4, 1)]
    store = RunStore(runs)
    assert all(s["sweep_id"] == result["sweep_id"] for s in store.list()) and len(store.list()) == 4
    assert [r["sweep_id"] for r in SweepStore(store).list()] == [result["sweep_id"]]
    assert main(["sweeps", "--runs-dir", str(runs), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed[0]["counts"] == {"completed": 4}
    assert main(["sweeps", "--runs-dir", str(runs)]) == 0
    assert result["sweep_id"] in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["--grid", "model_options.latent_dim=2,-3"], "model_options.latent_dim"),
    (["--grid", "nope=1,2"], "nope"),
    (["--grid", "model_options.latent_dim"], "--grid"),
    (["--random", "epochs=1,2"], "samples"),
])
def test_cli_sweep_refuses_bad_input_with_exit_2_and_writes_nothing(cli_env, tmp_path, capsys, args, needle):
    runs = tmp_path / "runs"
    assert main(["sweep", *TINY, *args, "--runs-dir", str(runs)]) == 2
    assert needle in capsys.readouterr().err
    assert not runs.exists() or list(runs.iterdir()) == []


def test_cli_sweep_too_large_for_the_disk_exits_2_before_writing(cli_env, tmp_path, capsys, monkeypatch):
    from latentdeck import launch

    monkeypatch.setattr(launch, "free_bytes", lambda folder: 2_000_000)  # not full; too small for the four runs
    runs = tmp_path / "runs"
    assert main(["sweep", *TINY, "--seeds", "0,1,2,3", "--set", "epochs=40", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "not enough disk" in err and "the sweep's 4 runs together" in err, err
    assert not runs.exists() or [p for p in runs.iterdir() if not p.name.startswith(".")] == []


def test_prepare_sweep_refuses_too_many_members(plugin_manager, tiny_config):
    with pytest.raises(ConfigError, match="at most 256"):
        prepare_sweep(plugin_manager, {"config": tiny_config, "grid": {"epochs": list(range(1, 20))},
                                       "seeds": list(range(20))})


def test_sweep_records_are_never_read_through_links_and_bad_ids_are_404(serve_api, tmp_path):
    live = serve_api()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "sw-x.json").write_text(json.dumps({"sweep_id": "sw-x", "name": "x", "created_at": 1, "members": []}))
    (live.store.root / "sweeps").symlink_to(elsewhere)
    assert live.client.get("/api/sweeps").json() == []
    assert live.client.get("/api/sweeps/sw-x").status_code == 404
    assert live.client.get("/api/runs").json() == []  # nor is the folder mistaken for a run
    assert live.client.get("/api/runs/sweeps").status_code == 404


def test_a_deleted_member_reads_as_missing(plugin_manager, runs_dir, tiny_config):
    from latentdeck.launch.sweeps import start_sweep, sweep_detail

    store = RunStore(runs_dir)
    record, configs = prepare_sweep(plugin_manager, {"config": tiny_config, "grid": {"epochs": [1, 2]}})
    start_sweep(store, plugin_manager, record, configs, deferred=_NoStart())
    shutil.rmtree(store.root / configs[0]["run_id"])  # created runs are active, so not via store.delete
    detail = sweep_detail(store, SweepStore(store).read(record["sweep_id"]))
    assert [m["status"] for m in detail["members"]] == ["missing", "created"]
    assert detail["counts"] == {"missing": 1, "created": 1}


class _NoStart:
    """A stand-in for the server's start scheduling that starts nothing (the runs stay created)."""

    def submit(self, run_id, executor):
        pass
