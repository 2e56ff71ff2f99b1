"""Bad computation requests, the same for a third-party computation as for a built-in one: an unknown
name, a bad field, an epoch without a checkpoint and an index out of range each answer 4xx naming the
problem, and nothing is written into the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from latentdeck.api.app import create_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def probe_client(monkeypatch, plugin_manager_with, runs_dir):
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "helpers"))
    import quality_plugin

    yield TestClient(create_app(plugin_manager_with(quality_plugin), runs_dir)), plugin_manager_with(quality_plugin)
    sys.modules.pop("quality_plugin", None)


def files_of(run_dir: Path) -> set[str]:
    return {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file() and p.name != "events.jsonl"}


@pytest.mark.parametrize("name, body, status, message", [
    ("no-such-thing", {"idx": 1}, 404, "no computation 'no-such-thing' to ask for; installed: "),
    ("quality-probe", {"idx": 1, "colour": "red"}, 422, "colour"),
    ("quality-probe", {"idx": "1"}, 422, "idx"),
    ("quality-probe", {}, 422, "idx"),
    ("quality-probe", {"idx": 1, "epoch": 7}, 404, "epoch 7 has no checkpoint; epochs with checkpoints: 1, 2"),
    ("quality-probe", {"idx": 64}, 422, "64"),
    ("sampling", {"idx": 64}, 422, "outside the held-out split of tiny-digits: use 0..63"),
    ("sampling", {"idx": 1, "epoch": 7}, 404, "epoch 7 has no checkpoint"),
])
def test_a_bad_request_names_the_problem_and_writes_nothing(probe_client, runs_dir, tiny_config, name, body, status, message):
    from latentdeck.launch import prepare_run
    from latentdeck.store import RunStore
    from latentdeck.engine.training import execute_run

    client, pm = probe_client
    store = RunStore(runs_dir)
    stored = prepare_run(pm, {**tiny_config, "artifacts": ["recon_grid"]})
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    assert execute_run(run_dir, pm=pm) == "completed"
    before, events = files_of(run_dir), (run_dir / "events.jsonl").read_text()

    answer = client.post(f"/api/runs/{run_dir.name}/compute/{name}", json=body)
    assert answer.status_code == status and message in answer.json()["detail"], answer.text
    assert files_of(run_dir) == before
    assert (run_dir / "events.jsonl").read_text() == events  # nothing announced
    if name == "no-such-thing":
        assert "quality-probe" in answer.json()["detail"] and "sampling" in answer.json()["detail"]
