"""The ray executor's own rules, without starting Ray: its options, the refusals before anything is
written, the shared-storage check a node runs first, the claim that settles a cancel racing a start, and
what a server restart means for a run Ray was training. Real Ray runs: tests/test_ray_executor.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from latentdeck.launch import ConfigError, prepare_run
from latentdeck_ray import plugin, task


@pytest.fixture
def place():
    return {"node_id": "ab" * 28, "node_ip": "10.0.0.7", "host": "gpu-3", "pid": 4242}


def test_bad_executor_options_are_refused_naming_the_field(plugin_manager, tiny_config):
    with pytest.raises(ConfigError, match=r"executor_options\.num_cpus"):
        prepare_run(plugin_manager, {**tiny_config, "executor": "ray", "executor_options": {"num_cpus": 0}})
    with pytest.raises(ConfigError, match=r"executor_options\.workers"):
        prepare_run(plugin_manager, {**tiny_config, "executor": "ray", "executor_options": {"workers": 2}})
    with pytest.raises(ConfigError, match=r"executor 'local'.*executor_options\.num_cpus"):
        prepare_run(plugin_manager, {**tiny_config, "executor": "local", "executor_options": {"num_cpus": 1}})


def test_without_ray_installed_a_ray_run_is_refused_with_the_install_command(plugin_manager, tiny_config, monkeypatch):
    monkeypatch.setattr(plugin, "_ray_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'latentdeck\[ray\]'"):
        prepare_run(plugin_manager, {**tiny_config, "executor": "ray"})


def test_a_run_asking_for_more_than_the_cluster_has_is_refused(plugin_manager, tiny_config, monkeypatch):
    from latentdeck_ray import session

    monkeypatch.setattr(session, "cluster_resources", lambda: {"CPU": 4.0})
    with pytest.raises(ConfigError, match=r"num_cpus: 8 CPUs asked, the Ray cluster has 4"):
        prepare_run(plugin_manager, {**tiny_config, "executor": "ray", "executor_options": {"num_cpus": 8}})
    with pytest.raises(ConfigError, match=r"device 'cuda' asks for one, but the Ray cluster has 0 GPUs"):
        prepare_run(plugin_manager, {**tiny_config, "executor": "ray", "device": "cuda"})
    # a GPU on the cluster is enough, whether or not this (server) machine has one
    monkeypatch.setattr(session, "cluster_resources", lambda: {"CPU": 4.0, "GPU": 1.0})
    stored = prepare_run(plugin_manager, {**tiny_config, "executor": "ray", "device": "cuda"})
    assert stored["executor_options"] == {"num_cpus": 1.0, "num_gpus": None, "cancel_grace_s": 60.0}


def test_a_node_that_does_not_see_the_run_directory_says_which_node_and_what_to_do(tmp_path, place):
    missing = tmp_path / "runs" / "r1"
    message = task.see_run_dir(str(missing), "r1", place)
    assert "node 10.0.0.7 (gpu-3, id abababab) cannot see the run directory" in message
    assert str(missing) in message and "shared file system" in message
    missing.mkdir(parents=True)
    (missing / "config.json").write_text(json.dumps({"run_id": "someone-else"}))
    assert "sees another folder" in task.see_run_dir(str(missing), "r1", place)
    (missing / "config.json").write_text(json.dumps({"run_id": "r1"}))
    assert task.see_run_dir(str(missing), "r1", place) is None


def test_the_claim_is_taken_once_so_a_cancel_and_a_start_never_both_win(tmp_path):
    assert task.claim(str(tmp_path), {"pid": 1}) is True
    assert task.claim(str(tmp_path), {"cancelled_before_start": True}) is False
    assert json.loads((tmp_path / task.CLAIM).read_text()) == {"pid": 1}


def test_after_a_server_restart_a_ray_run_counts_as_gone_and_says_why():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info = {"executor": "ray", "task": "f" * 48, "driver_pid": dead.pid, "driver_start": None}
    assert plugin.is_alive(info) is False
    assert plugin.exit_reason(info)["reason"] == "interrupted"
    assert "Ray ends a driver's tasks with it" in plugin.exit_reason(info)["error"]
    # another live process still owns it: not ours to judge
    assert plugin.is_alive({**info, "driver_pid": os.getppid()}) is True


def test_an_address_nothing_answers_at_is_refused_at_once_naming_it(plugin_manager, tiny_config, monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("LATENTDECK_RAY_ADDRESS", f"127.0.0.1:{port}")
    with pytest.raises(ConfigError, match=rf"cannot reach Ray: nothing answers at 127.0.0.1:{port}.*ray start --head"):
        prepare_run(plugin_manager, {**tiny_config, "executor": "ray"})
