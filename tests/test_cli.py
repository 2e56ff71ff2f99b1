"""The ``latentdeck`` command, called in process (and once as a real process for Ctrl-C)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from latentdeck.kit.atomic import read_json
from latentdeck.cli import main
from latentdeck.store.events import read_events
from latentdeck.registry import get_plugin_manager

TINY = ["--dataset", "tiny-digits", "--batch-size", "64", "--set", "model_options.latent_dim=4",
        "--set", "model_options.channels=[8,8]", "--set", "model_options.head_hidden=16",
        "--set", "num_threads=1", "--set", "viz_subset_size=16", "--set", 'projections=["first-dims"]']


pytestmark = pytest.mark.usefixtures("cli_env")  # tests/conftest.py


def run_dirs(runs_dir):
    return sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.exists() else []


def test_train_json(tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["train", *TINY, "--epochs", "1", "--json", "--runs-dir", str(runs), "--name", "cli run"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    (run_dir,) = run_dirs(runs)
    assert result["run_id"] == run_dir.name
    assert result["run_dir"] == str(run_dir)
    assert result["status"] == "completed" and result["epochs_completed"] == 1
    assert result["dataset"] == "tiny-digits" and result["error"] is None
    assert f"run {result['run_id']}" in err
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "completed" and summary["name"] == "cli run"
    config = read_json(run_dir / "config.json")
    assert config["model_options"]["latent_dim"] == 4 and config["model_options"]["channels"] == [8, 8]
    worker = read_json(run_dir / "worker.json")
    assert worker["pid"] == os.getpid() and worker["via"] == "cli"


def test_train_text_output_reports_epochs(tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["train", *TINY, "--epochs", "1", "--runs-dir", str(runs)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "epoch 1/1" in err and "held-out acc" in err and "completed: run " in err
    assert "recon_mse" in err and "class_ce" in err


def test_train_gmvae_is_the_same_command_with_another_model(tmp_path, capsys):
    runs = tmp_path / "runs"
    code = main(["train", "--model", "gmvae", "--dataset", "tiny-digits", "--epochs", "2", "--batch-size", "64",
                 "--set", "model_options.latent_dim=4", "--set", "model_options.channels=[8,8]",
                 "--set", "model_options.num_components=3", "--set", "model_options.entropy_bonus_enable=true",
                 "--set", "model_options.entropy_bonus_epochs=2", "--set", "num_threads=1",
                 "--set", "viz_subset_size=16", "--set", 'projections=["first-dims"]', "--runs-dir", str(runs)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "epoch 2/2" in err and "completed: run " in err
    assert "kld_c" in err and "kld_z" in err and "recon_sse" in err
    (run_dir,) = run_dirs(runs)
    config = read_json(run_dir / "config.json")
    assert config["model"] == "gmvae" and config["model_options"]["num_components"] == 3
    metrics = [e["data"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "train.metrics"]
    assert [m["entropy_bonus_weight"] for m in metrics] == [1.0, 0.0]
    assert sum(metrics[-1]["qc_argmax_counts"]) > 0
    assert (run_dir / "mixture" / "mixture_health_latest.json").is_file()


@pytest.mark.parametrize("args, expected", [
    (["--set", "model_options.num_components=1"], "model_options.num_components"),
    (["--set", "model_options.kld_weight=-1"], "model_options.kld_weight"),
    (["--set", "model_options.categorical_kl_anneal=true", "--set", "model_options.categorical_kl_anneal_epochs=5"],
     "model_options.categorical_kl_anneal_epochs"),
])
def test_bad_gmvae_options_exit_2_naming_the_field(tmp_path, capsys, args, expected):
    runs = tmp_path / "runs"
    code = main(["train", "--model", "gmvae", "--dataset", "tiny-digits", "--epochs", "1", *args, "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and run_dirs(runs) == []


def test_config_file_merges_with_flags_and_set(tmp_path, capsys):
    runs = tmp_path / "runs"
    config_file = tmp_path / "run.json"
    config_file.write_text(json.dumps({
        "dataset": "tiny-digits", "epochs": 5, "seed": 7, "batch_size": 32, "num_threads": 1,
        "projections": ["first-dims"], "optimizer": {"lr": 0.05, "eps": 1e-6},
        "model_options": {"latent_dim": 6, "channels": [8, 8], "head_hidden": 16, "class_weight": 0.25},
    }))
    code = main(["train", "--config", str(config_file), "--epochs", "1", "--lr", "0.002",
                 "--set", "model_options.latent_dim=3", "--set", "optimizer.betas=[0.8,0.9]",
                 "--set", "name=from-set", "--limit", "64", "--json", "--runs-dir", str(runs)])
    out, err = capsys.readouterr()
    assert code == 0, err
    config = read_json(run_dirs(runs)[0] / "config.json")
    assert config["epochs"] == 1  # flag beats file
    assert config["seed"] == 7 and config["batch_size"] == 32  # file kept
    assert config["optimizer"] == {"name": "adam", "lr": 0.002, "betas": [0.8, 0.9], "eps": 1e-6,
                                   "weight_decay": 0.0}
    assert config["model_options"]["latent_dim"] == 3  # --set beats file
    assert config["model_options"]["class_weight"] == 0.25
    assert config["name"] == "from-set" and config["limit"] == 64


@pytest.mark.parametrize("args,expected", [
    (["--model", "aee"], ["unknown model 'aee'", "Did you mean 'ae'?"]),
    (["--epochs", "-1"], ["epochs", "greater than or equal to 1"]),
    (["--set", "bogus_field=1"], ["bogus_field", "Extra inputs are not permitted"]),
    (["--set", "model_options.latent_dimm=4"], ["model_options.latent_dimm"]),
    (["--set", "model_options.latent_dim=1"], ["model_options.latent_dim"]),
    (["--set", "no-equals-sign"], ["--set 'no-equals-sign'", "field=value"]),
    (["--set", "=3"], ["--set '=3'"]),
    (["--set", "epochs.x=3"], ["'epochs' is not a nested field"]),
    (["--config", "{missing}"], ["cannot read --config", "missing.json"]),
    (["--config", "{bad}"], ["cannot read --config", "bad.json"]),
    (["--config", "{list}"], ["must hold a JSON object"]),
    (["--dataset", "mnist", "--data-dir", "{empty}"], ["dataset 'mnist' is not available", "MNIST"]),
    (["--dataset", "tiny-digitz"], ["unknown dataset 'tiny-digitz'", "Did you mean 'tiny-digits'?"]),
])
def test_bad_input_exits_2_with_a_message_and_creates_no_run(tmp_path, capsys, args, expected):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "empty").mkdir()
    paths = {"missing": tmp_path / "missing.json", "bad": tmp_path / "bad.json", "list": tmp_path / "list.json",
             "empty": tmp_path / "empty"}
    args = [a.format(**paths) for a in args]
    runs = tmp_path / "runs"
    base = ["train", "--epochs", "1", "--dataset", "tiny-digits"]
    code = main([*base, *args, "--runs-dir", str(runs), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    for text in expected:
        assert text in err
    assert run_dirs(runs) == []


def test_runs_lists_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["runs", "--runs-dir", str(runs)]) == 0
    assert "no runs in" in capsys.readouterr().out

    assert main(["train", *TINY, "--epochs", "1", "--json", "--runs-dir", str(runs), "--name", "listed"]) == 0
    run_id = json.loads(capsys.readouterr().out)["run_id"]

    assert main(["runs", "--json", "--runs-dir", str(runs)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["run_id"] == run_id and row["status"] == "completed" and row["name"] == "listed"
    assert row["epochs_completed"] == 1 and "heldout_accuracy" in row["metrics"]

    assert main(["runs", "--runs-dir", str(runs)]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if line.startswith(run_id)]
    assert "completed" in line and "tiny-digits" in line and "1/1" in line and "%" in line and "listed" in line


def test_plugins_json(capsys):
    assert main(["plugins", "--all", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    ae = rows["latentdeck.ae"]
    assert ae["builtin"] is True and ae["status"] == "ok"
    assert ae["provides"]["models"] == ["ae"]
    assert rows["latentdeck.testing"]["provides"] == {"datasets": ["tiny-digits"], "projections": ["first-dims"]}

    assert main(["plugins", "--json"]) == 0
    names = [row["name"] for row in json.loads(capsys.readouterr().out)]
    assert "latentdeck.ae" not in names and "latentdeck.testing" in names

    assert main(["plugins", "--all"]) == 0
    out = capsys.readouterr().out
    assert "latentdeck.ae" in out and "(built-in, ok)" in out and "models: ae" in out


def test_plugins_lists_a_failed_extra_module(monkeypatch, capsys):
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "no_such_cli_plugin_xyz")
    get_plugin_manager.cache_clear()
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "no_such_cli_plugin_xyz" in out and "failed" in out and "No module named" in out


def test_plugins_lists_a_plugin_with_a_misspelled_hook_and_other_commands_still_work(monkeypatch, capsys, tmp_path):
    (tmp_path / "typo_cli_plugin_xyz.py").write_text(
        "from latentdeck import hookimpl\n@hookimpl\ndef register_computation():\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing,typo_cli_plugin_xyz")
    get_plugin_manager.cache_clear()
    try:
        assert main(["plugins", "--json"]) == 0
        rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
        assert rows["typo_cli_plugin_xyz"]["status"] == "failed"
        assert "did you mean 'register_computations'?" in rows["typo_cli_plugin_xyz"]["error"]
        assert main(["presets", "--json"]) == 0  # the rest of the lab loads
    finally:
        get_plugin_manager.cache_clear()
        sys.modules.pop("typo_cli_plugin_xyz", None)


def test_plugins_piped_into_head_exits_quietly(tmp_path):
    """`latentdeck plugins | head`: the reader leaves before the command writes (closed here at once)."""
    env = {**os.environ, "LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing"}
    proc = subprocess.Popen([sys.executable, "-m", "latentdeck.cli", "plugins", "--all"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and err.decode() == ""


def test_ctrl_c_cancels_gracefully(tmp_path):
    runs = tmp_path / "runs"
    env = {**os.environ, "LATENTDECK_EXTRA_PLUGINS": "latentdeck.testing", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "latentdeck.cli", "train", *TINY, "--epochs", "50", "--set", "cancel_check_every=1",
         "--runs-dir", str(runs), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 90
        run_dir = None
        while time.monotonic() < deadline and proc.poll() is None:
            found = run_dirs(runs)
            if found and (found[0] / "events.jsonl").exists():
                run_dir = found[0]
                if any(e["type"] == "train.metrics" for e in read_events(run_dir / "events.jsonl")):
                    break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert run_dir is not None, "the run never reached its first epoch"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()
    assert "cancelling after the current batch" in err.decode()
    result = json.loads(out)
    assert result["status"] == "cancelled"
    summary = read_json(run_dir / "summary.json")
    assert summary["status"] == "cancelled" and "cancel" in summary["reason"]
    assert 1 <= summary["epochs_completed"] < 50
    events = list(read_events(run_dir / "events.jsonl"))
    assert events[-1]["type"] == "run.cancelled"
    assert events[-1]["data"]["epochs_completed"] == summary["epochs_completed"]


def test_plugins_check_runs_a_tiny_run_with_the_plugin_and_reports(capsys):
    assert main(["plugins", "--check", "latentdeck.knn", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["loaded"] and report["run"]["status"] == "completed" and report["run"]["artifacts"] == ["knn"]
    assert report["files"] == [f"neighbors/knn_first-dims_epoch_{e}.{ext}"
                               for e in (1, 2) for ext in ("json", "safetensors")]
    assert report["api"]["artifact_index"] == [{"name": "knn", "view": "json", "epochs": [1, 2]}]
    assert report["problems"] == []
    assert main(["plugins", "--check", "latentdeck.walk"]) == 0  # on-demand only: not called without its fields
    out = capsys.readouterr().out
    assert "on demand walk: not called: its request has required fields" in out and out.strip().endswith("ok")


def test_plugins_check_reports_a_plugin_that_does_not_load(capsys):
    assert main(["plugins", "--check", "no_such_plugin_xyz"]) == 1
    out = capsys.readouterr().out
    assert "NOT LOADED" in out and "no plugin 'no_such_plugin_xyz' is installed" in out
