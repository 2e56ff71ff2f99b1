"""Plugin health (issue 23 item 8): runtime failures and over-budget runs counted per plugin with the last
error, on GET /api/plugins and `latentdeck plugins` (`--strict` exits 1), kept in the runs folder by every
process that runs work; and `latentdeck plugins --check` with pytest missing (a wheel install)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import textwrap

import pytest

from latentdeck.registry import health as plugin_health, status as plugin_status
from latentdeck.kit.atomic import write_json
from latentdeck.cli import main
from latentdeck.store.events import EventLog
from latentdeck.registry import get_plugin_manager
from latentdeck.testing import client, run_tiny

BROKEN = '''
from pydantic import BaseModel, ConfigDict
from latentdeck import ComputationSpec, hookimpl

def generate(ctx, request=None):
    raise ValueError("the flaky generator broke at epoch %d" % ctx.epoch)

class Ask(BaseModel):
    model_config = ConfigDict(extra="forbid")

def compute(ctx, request):
    raise RuntimeError("the flaky computation broke")

@hookimpl
def register_computations():
    return [ComputationSpec(name="flaky", compute=generate, folder="flaky", files=("flaky_{tag}.json",)),
            ComputationSpec(name="flaky-compute", runs="on_demand", request=Ask, compute=compute, folder="flaky_compute",
                         files=("out.json",))]
'''


@pytest.fixture
def flaky(tmp_path, monkeypatch):
    """A third-party plugin module (``flaky_health_plugin``) whose generator and computation raise."""
    (tmp_path / "flaky_health_plugin.py").write_text(BROKEN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing,flaky_health_plugin")
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")
    get_plugin_manager.cache_clear()
    import flaky_health_plugin

    yield flaky_health_plugin
    get_plugin_manager.cache_clear()
    sys.modules.pop("flaky_health_plugin", None)


def test_a_failing_generator_and_computation_are_counted_and_shown(flaky, runs_dir, capsys):
    run = run_tiny([flaky], {"artifacts": ["flaky"]}, runs_dir=runs_dir)
    assert len(run.failures()) == 2  # each epoch; the run goes on and completes
    with client([flaky], runs_dir) as http:
        assert http.post(f"/api/runs/{run.run_id}/compute/flaky-compute", json={}).status_code == 500
        assert http.post(f"/api/runs/{run.run_id}/compute/flaky-compute", json={"nope": 1}).status_code == 422
        rows = {row["name"]: row for row in http.get("/api/plugins").json()}
    health = rows["flaky_health_plugin"]["health"]
    assert health["failures"] == 3 and health["over_budget"] == 0  # a refused request is not the plugin failing
    assert health["components"] == {"flaky": {"failures": 2, "over_budget": 0},
                                    "flaky-compute": {"failures": 1, "over_budget": 0}}
    last = health["last_error"]
    assert last["component"] == "flaky-compute" and last["message"] == "RuntimeError: the flaky computation broke"
    assert last["run_id"] == run.run_id and last["reason"] == "error" and last["at"] > 0
    assert rows["latentdeck.ae"]["health"] == {"failures": 0, "over_budget": 0, "components": {}, "last_error": None}

    assert main(["plugins", "--runs-dir", str(runs_dir)]) == 0  # without --strict a failure is shown, not fatal
    out = capsys.readouterr().out
    assert "runtime: 3 failures at run time; last: flaky-compute (run " in out

    assert main(["plugins", "--strict", "--runs-dir", str(runs_dir)]) == 1
    err = capsys.readouterr().err
    assert "error: flaky_health_plugin: 3 failures at run time" in err and "--clear-failures" in err

    assert main(["plugins", "--clear-failures", "--runs-dir", str(runs_dir)]) == 0
    assert "forgot the runtime failures of 2 components" in capsys.readouterr().out
    assert main(["plugins", "--strict", "--runs-dir", str(runs_dir), "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["flaky_health_plugin"]["health"]["failures"] == 0


def test_strict_names_a_plugin_that_failed_to_load(monkeypatch, capsys, runs_dir):
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing,no_such_health_plugin_xyz")
    get_plugin_manager.cache_clear()
    try:
        assert main(["plugins", "--runs-dir", str(runs_dir)]) == 0
        assert main(["plugins", "--strict", "--runs-dir", str(runs_dir)]) == 1
        assert "error: no_such_health_plugin_xyz failed to load: ModuleNotFoundError" in capsys.readouterr().err
    finally:
        get_plugin_manager.cache_clear()


def test_an_over_budget_event_counts_as_over_budget_and_only_run_folders_count(tmp_path, plugin_manager):
    runs = tmp_path / "runs"
    run_dir = runs / "r1"
    run_dir.mkdir(parents=True)
    write_json(run_dir / "config.json", {"run_id": "r1"})
    with EventLog(run_dir / "events.jsonl", "r1") as events:
        events.emit("artifact.failed", {"generator": "projection:first-dims", "epoch": 3, "reason": "timeout",
                                        "error": "projection:first-dims took longer than its budget of 0.1 s"})
        events.emit("artifact.created", {"name": "x"})
    health = plugin_status.per_plugin(plugin_manager, runs)["latentdeck.testing"]
    assert (health["failures"], health["over_budget"]) == (0, 1)
    assert health["last_error"]["component"] == "first-dims" and health["last_error"]["epoch"] == 3
    assert health["last_error"]["reason"] == "timeout"

    loose = tmp_path / "loose"  # an event log outside a run folder (no config.json) records nothing
    with EventLog(loose / "events.jsonl", "r2") as events:
        events.emit("artifact.failed", {"generator": "g", "error": "x"})
    assert not (tmp_path / plugin_health.RECORD).exists()


def _note_many(runs: str, n: int) -> None:
    for i in range(n):
        plugin_health.note_failure(runs, "computations", "shared", f"error {i}", "r")


def test_concurrent_writers_lose_no_count(tmp_path):
    processes = [multiprocessing.get_context("spawn").Process(target=_note_many, args=(str(tmp_path), 25))
                 for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert plugin_health.read(tmp_path)["computations/shared"]["failures"] == 75


def test_plugins_check_works_without_pytest(tmp_path):
    """A wheel install has no pytest: `latentdeck.testing` (the tiny dataset) must load without it."""
    code = textwrap.dedent("""
        import sys
        sys.modules["pytest"] = None  # `import pytest` raises ImportError, as on a wheel install
        from latentdeck.cli import main
        sys.exit(main(["plugins", "--check", "latentdeck.knn"]))
    """)
    env = {k: v for k, v in os.environ.items() if k != "LATENTDECK_EXTRA_PLUGINS"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "latentdeck.knn: loaded" in proc.stdout and proc.stdout.strip().endswith("ok")
