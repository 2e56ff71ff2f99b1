"""The ray executor against a real Ray: a local Ray latentdeck starts itself, a two-node cluster simulated on
this machine (``ray.cluster_utils.Cluster``), and a Ray whose nodes do not see the runs folder (a private
mount namespace hides it). Members of a sweep train as Ray tasks and stream events like local runs;
cancelling one leaves the others running; killing a member's Ray worker fails that run with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from latentdeck.kit.atomic import read_json
from latentdeck.registry import collect
from latentdeck.store.events import read_events
from latentdeck.store.runs import RunStore, read_summary, read_worker_info

ray = pytest.importorskip("ray", reason="the ray executor's tests need Ray: pip install 'latentdeck[ray]'")
from latentdeck_ray import session  # noqa: E402
from latentdeck_ray.task import CLAIM  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EPOCH_EVENTS = {"run.created", "run.started", "run.stage", "train.progress", "train.metrics", "artifact.created",
                "checkpoint.saved", "run.completed"}


@pytest.fixture
def ray_config(tiny_config):
    return {**tiny_config, "executor": "ray", "executor_options": {"num_cpus": 1}}


@pytest.fixture
def no_ray_left():
    """Every test leaves Ray as it found it: not connected, no local Ray of ours running."""
    yield
    session.shutdown()


def _status(live, run_id: str) -> str:
    return read_summary(live.store.run_dir(run_id))["status"]


def _wait_status(waiter, live, run_id: str, wanted: set[str], timeout: float = 120) -> str:
    return waiter(lambda: _status(live, run_id) in wanted and _status(live, run_id), timeout=timeout,
                  what=f"run {run_id} to become {' or '.join(sorted(wanted))}")


def _types(run_dir: Path) -> list[str]:
    return [e["type"] for e in read_events(run_dir / "events.jsonl")]


def test_a_sweep_trains_on_a_local_ray_latentdeck_starts(serve_api, ray_config, waiter, sse, monkeypatch, no_ray_left):
    monkeypatch.delenv("LATENTDECK_RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    live = serve_api()
    answer = live.client.post("/api/sweeps", json={
        "name": "on ray", "config": ray_config, "grid": {"model_options.latent_dim": [2, 3, 4]}})
    assert answer.status_code == 201, answer.text
    ids = [m["run_id"] for m in answer.json()["members"]]
    assert all(live.client.get(f"/api/runs/{i}").json()["summary"].get("queue_position") is None for i in ids)
    for run_id in ids:
        assert _wait_status(waiter, live, run_id, {"completed", "failed"}) == "completed", \
            (live.store.run_dir(run_id) / "worker.log").read_text()[-2000:]
    assert ray.is_initialized() and session._started_local  # no address: latentdeck started a local Ray
    # the same files as the same run trained by the local executor
    local = live.client.post("/api/runs", json={**ray_config, "executor": "local", "executor_options": {},
                                                "model_options": {**ray_config["model_options"], "latent_dim": 4}})
    local_id = local.json()["summary"]["run_id"]
    assert _wait_status(waiter, live, local_id, {"completed", "failed"}) == "completed"
    expected = {a["name"] for a in live.client.get(f"/api/runs/{local_id}/files").json()["files"]}
    assert {"checkpoints/epoch_2.pt", "projections/latent_2d_latest_first-dims.json"} <= expected, sorted(expected)
    for dims, run_id in zip((2, 3, 4), ids):
        run_dir = live.store.run_dir(run_id)
        info = read_worker_info(run_dir)
        assert info["executor"] == "ray" and info["start"] == "ray" and info["pid"] is None and info["num_cpus"] == 1
        assert EPOCH_EVENTS <= set(_types(run_dir))
        names = {a["name"] for a in live.client.get(f"/api/runs/{run_id}/files").json()["files"]}
        wanted = expected if dims >= 3 else {n for n in expected if "latent_3d" not in n}  # no 3-D map of 2 dims
        assert names == wanted, sorted(names ^ wanted)
        assert "ray: training on node" in (run_dir / "worker.log").read_text()
        assert read_json(run_dir / CLAIM)["pid"] != os.getpid()  # trained in a Ray worker process
    # the same events over SSE as on disk, as for a local run
    streamed = sse.read(live.client, f"/api/runs/{ids[0]}/events", until=lambda m: any(
        x.data and '"run.completed"' in x.data for x in m), max_s=20).events
    assert [e["type"] for e in streamed] == _types(live.store.run_dir(ids[0]))
    # a backfill goes through the executor: a Ray task writes the missing projection
    done = live.store.run_dir(ids[0])
    (done / "projections" / "latent_2d_epoch_1_first-dims.json").unlink()
    started = live.client.post(f"/api/runs/{ids[0]}/backfill", json={"epochs": [1]})
    assert started.status_code == 202 and started.json()["started"], started.text
    assert "'task'" in started.json()["detail"]
    waiter(lambda: "backfill.completed" in _types(done), timeout=90, what="the backfill on Ray")
    assert (done / "projections" / "latent_2d_epoch_1_first-dims.json").is_file()
    # a heavy on-demand computation runs as a Ray task and answers like the server would
    topk = live.client.post(f"/api/runs/{ids[1]}/compute/network-topk",
                            json={"epoch": 2, "layer": "trunk.layers.2", "ch": 0, "n": 16, "k": 3})
    assert topk.status_code == 200, topk.text
    assert topk.json()["created"] and all((live.store.run_dir(ids[1]) / f).is_file() for f in topk.json()["files"])
    again = live.client.post(f"/api/runs/{ids[1]}/compute/network-topk",
                             json={"epoch": 2, "layer": "trunk.layers.2", "ch": 0, "n": 16, "k": 3})
    assert again.status_code == 200 and not again.json()["created"]
    assert live.client.post(f"/api/runs/{ids[1]}/compute/network-topk",
                            json={"epoch": 9, "layer": "trunk.layers.2", "ch": 0, "n": 16, "k": 3}).status_code == 404


def test_a_two_node_cluster_spreads_members_and_cancel_and_kill_hit_one_run(
        serve_api, ray_config, waiter, monkeypatch, no_ray_left):
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        nodes = {cluster.add_node(num_cpus=1).node_id for _ in range(2)}
        cluster.wait_for_nodes()
        monkeypatch.setenv("LATENTDECK_RAY_ADDRESS", cluster.address)
        live = serve_api()
        # three short members: both nodes train, the third waits for a free CPU
        short = live.client.post("/api/sweeps", json={"config": ray_config, "seeds": [0, 1, 2]})
        assert short.status_code == 201, short.text
        ids = [m["run_id"] for m in short.json()["members"]]
        for run_id in ids:
            assert _wait_status(waiter, live, run_id, {"completed", "failed"}) == "completed"
        placed = {read_json(live.store.run_dir(i) / CLAIM)["node_id"] for i in ids}
        assert placed == nodes, "members ran on both worker nodes (the head has no CPUs)"

        # three long members: two train (one per node), the third waits in Ray's queue
        long = live.client.post("/api/sweeps", json={"config": {**ray_config, "epochs": 400}, "seeds": [0, 1, 2]})
        a, b, c = [m["run_id"] for m in long.json()["members"]]
        waiter(lambda: sum(_status(live, i) == "running" for i in (a, b, c)) == 2, timeout=60, what="two running")
        waiting = next(i for i in (a, b, c) if _status(live, i) == "created")
        first, second = [i for i in (a, b, c) if i != waiting]
        answer = live.client.post(f"/api/runs/{waiting}/cancel")
        assert answer.status_code == 202 and answer.json()["summary"]["status"] == "cancelled", answer.text
        assert not (live.store.run_dir(waiting) / "worker.log").exists() or \
            "training on" not in (live.store.run_dir(waiting) / "worker.log").read_text()
        assert live.client.post(f"/api/runs/{first}/cancel").status_code == 202
        assert _wait_status(waiter, live, first, {"cancelled", "failed", "completed"}, 60) == "cancelled"
        time.sleep(1.0)
        assert _status(live, second) == "running"  # the other member kept training
        epochs_before = read_summary(live.store.run_dir(second))["epochs_completed"]
        waiter(lambda: read_summary(live.store.run_dir(second))["epochs_completed"] > epochs_before, timeout=60,
               what="the other member to finish another epoch")
        # kill the Ray worker process training the second member
        os.kill(read_json(live.store.run_dir(second) / CLAIM)["pid"], signal.SIGKILL)
        assert _wait_status(waiter, live, second, {"failed", "cancelled", "completed"}, 60) == "failed"
        summary = read_summary(live.store.run_dir(second))
        assert summary["reason"] == "worker_died" and "Ray worker" in summary["error"], summary
        assert [e for e in read_events(live.store.run_dir(second) / "events.jsonl")][-1]["type"] == "run.failed"

        # a worker that does not stop at the flag is killed by Ray once cancel_grace_s has passed
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
        stuck_dir = live.store.root / "stuck"
        stuck_dir.mkdir()
        (stuck_dir / CLAIM).write_text("{}")  # it started: no withdrawing it
        info = {"task": session.remember(ray.remote(num_cpus=1, max_retries=0)(_ignore_cancel).remote(60),
                                         str(stuck_dir)), "cancel_grace_s": 0.3}
        spec = collect(live.app.state.pm, "executors")["ray"]
        assert spec.cancel(info) is False
        waiter(lambda: not spec.poll(info)["alive"], timeout=30, what="Ray to kill the stuck worker")
        told = spec.poll(info)
        assert told["reason"] == "cancel" and "cancelled by force" in told["error"] and "0.3 s" in told["error"], told

        # a cuda run asks Ray for a GPU: it lands on the node that declares one (a logical GPU here; its
        # PyTorch sees no CUDA, so the worker fails the run saying so, as on any machine without one)
        gpu_node = cluster.add_node(num_cpus=1, num_gpus=1).node_id
        cluster.wait_for_nodes()
        answer = live.client.post("/api/runs", json={**ray_config, "device": "cuda"})
        assert answer.status_code == 201, answer.text
        run_id = answer.json()["summary"]["run_id"]
        assert _wait_status(waiter, live, run_id, {"failed", "completed"}, 60) == "failed"
        assert read_json(live.store.run_dir(run_id) / CLAIM)["node_id"] == gpu_node
        assert read_worker_info(live.store.run_dir(run_id))["num_gpus"] == 1
        assert "PyTorch sees no CUDA GPU" in read_summary(live.store.run_dir(run_id))["error"]
    finally:
        session.shutdown()
        cluster.shutdown()


def _ignore_cancel(seconds: float) -> None:
    time.sleep(seconds)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _can_hide_folders() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "-r", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_hide_folders(), reason="needs mount namespaces (unshare -m -r) to hide the runs folder")
def test_a_ray_whose_nodes_cannot_see_the_runs_folder_fails_the_run_saying_so(
        serve_api, ray_config, runs_dir, waiter, monkeypatch, tmp_path, no_ray_left):
    port, host = _free_port(), ray.util.get_node_ip_address()
    temp = tempfile.mkdtemp(prefix="ldray-")  # Ray's socket paths must stay under 108 bytes
    ray_cli = str(Path(sys.executable).with_name("ray"))
    # a one-node Ray in a private mount namespace: an empty tmpfs lies over the runs folder there
    script = (f"mount -t tmpfs tmpfs {runs_dir} && exec {ray_cli} start --head --port {port} --num-cpus 1 "
              f"--include-dashboard false --temp-dir {temp} --block")
    node = subprocess.Popen(["unshare", "-m", "-r", "--propagation", "private", "sh", "-c", script],
                            env={**os.environ, "RAY_AUTH_MODE": "disabled"}, stdout=open(tmp_path / "node.log", "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        waiter(lambda: _listening(host, port) or node.poll() is not None, timeout=60, what="the hidden-folder Ray")
        assert node.poll() is None, (tmp_path / "node.log").read_text()[-3000:]
        monkeypatch.setenv("LATENTDECK_RAY_ADDRESS", f"{host}:{port}")
        live = serve_api()
        answer = live.client.post("/api/runs", json=ray_config)
        assert answer.status_code == 201, answer.text
        run_id = answer.json()["summary"]["run_id"]
        assert _wait_status(waiter, live, run_id, {"failed", "completed"}, 90) == "failed"
        summary = read_summary(live.store.run_dir(run_id))
        assert summary["reason"] == "executor_failed", summary
        assert "cannot see the run directory" in summary["error"] and str(live.store.run_dir(run_id)) in summary["error"]
        assert "shared file system" in summary["error"]
        assert _types(live.store.run_dir(run_id))[-1] == "run.failed"
    finally:
        session.shutdown()
        _stop_node(node, temp)
        shutil.rmtree(temp, ignore_errors=True)


def _stop_node(node: subprocess.Popen, temp: str) -> None:
    """Kill the namespaced Ray: its process group, then any process still naming its temp folder."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGKILL)
    node.wait(10)
    subprocess.run(["pkill", "-KILL", "-f", temp], check=False)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def test_the_cli_sweep_and_train_hand_runs_to_ray_and_wait_for_them(runs_dir, tiny_config, monkeypatch, capsys,
                                                                     cli_env, no_ray_left):
    from latentdeck.cli import main
    from latentdeck.launch.sweeps import SweepStore

    monkeypatch.delenv("LATENTDECK_RAY_ADDRESS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    code = main(["sweep", "--runs-dir", str(runs_dir), "--dataset", "tiny-digits", "--epochs", "1",
                 "--set", "executor=ray", "--set", 'projections=["first-dims"]', "--set", "num_threads=1",
                 "--set", "viz_subset_size=32", "--grid", "model_options.latent_dim=2,3", "--name", "cli on ray",
                 "--json"])
    assert code == 0, capsys.readouterr().err[-2000:]
    err = capsys.readouterr().err
    assert err.count("handed to ray") == 2 and "[2/2] run" in err
    (record,) = SweepStore(RunStore(runs_dir)).list()
    for member in record["members"]:
        run_dir = runs_dir / member["run_id"]
        assert read_summary(run_dir)["status"] == "completed" and read_worker_info(run_dir)["start"] == "ray"
    # latentdeck train hands a ray run over too, and follows its events with the usual progress lines
    code = main(["train", "--runs-dir", str(runs_dir), "--dataset", "tiny-digits", "--epochs", "2",
                 "--set", "executor=ray", "--set", 'projections=["first-dims"]', "--set", "viz_subset_size=32"])
    err = capsys.readouterr().err
    assert code == 0, err[-2000:]
    assert "handed to the ray executor" in err and "epoch 2/2  loss" in err and "completed: run" in err
    run_id = err.split("completed: run ")[1].split()[0]
    assert read_worker_info(runs_dir / run_id)["start"] == "ray" and read_json(runs_dir / run_id / CLAIM)["pid"] != os.getpid()
