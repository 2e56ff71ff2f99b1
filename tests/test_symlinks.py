"""Symbolic links never lead the server outside its runs folder (issue 13, finding 7).

A run folder that is a link (or a run whose config.json / events.jsonl / an artifact folder is one)
was served — run, artifacts and events — from wherever it pointed; cancel wrote into the target, a
server start rewrote the target's summary.json and appended to its log, and DELETE left a link behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from latentdeck.api import create_app

CANARY = "CANARY-outside-the-runs-folder"


def tree(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def planted(trained_run, runs_dir, tmp_path):
    """A real run, plus links: a run folder pointing outside, and a real run folder whose files point outside."""
    real = trained_run()
    outside = tmp_path / "outside"
    victim = outside / "victim"
    shutil.copytree(real, victim)
    summary = json.loads((victim / "summary.json").read_text())
    summary.update(status="running", run_id="20260101-000000-aaaaaa", name=CANARY)
    (victim / "summary.json").write_text(json.dumps(summary))
    (victim / "worker.json").write_text(json.dumps({"executor": "local", "pid": 999999, "proc_start": 1}))
    (victim / "reconstructions" / "secret.png").write_text(CANARY)
    (outside / "secret.json").write_text(json.dumps({"run_id": CANARY}))
    (outside / "secret.jsonl").write_text(json.dumps({"seq": 1, "type": "run.created", "data": {"x": CANARY}}) + "\n")
    (outside / "folder").mkdir()
    (outside / "folder" / "recon_grid_latest.png").write_text(CANARY)
    linked = runs_dir / "20260101-000000-aaaaaa"
    linked.symlink_to(victim, target_is_directory=True)
    inner = runs_dir / "20260101-000000-bbbbbb"
    shutil.copytree(real, inner)
    (inner / "config.json").unlink()
    (inner / "config.json").symlink_to(outside / "secret.json")
    (inner / "events.jsonl").unlink()
    (inner / "events.jsonl").symlink_to(outside / "secret.jsonl")
    shutil.rmtree(real / "reconstructions")
    (real / "reconstructions").symlink_to(outside / "folder", target_is_directory=True)
    return {"real": real.name, "linked": linked.name, "inner": inner.name, "outside": outside}


def test_links_never_lead_outside_the_runs_folder(planted, plugin_manager, runs_dir, live_server):
    outside = planted["outside"]
    before = tree(outside)
    live = live_server(create_app(plugin_manager, runs_dir, monitor_s=0.05))  # a start reaps "running" runs
    client = live.client
    bodies = []

    def get(path: str, method: str = "GET") -> int:
        response = client.request(method, path)
        bodies.append(response.text)
        return response.status_code

    listed = client.get("/api/runs").json()
    bodies.append(json.dumps(listed))
    assert {row["run_id"] for row in listed} == {planted["real"]}
    for run_id in (planted["linked"], planted["inner"]):
        base = f"/api/runs/{run_id}"
        for path in ("", "/artifacts/summary.json", "/artifacts/config.json", "/artifacts/events.jsonl",
                     "/artifacts/reconstructions/secret.png", "/events", "/files"):
            assert get(base + path) == 404, base + path
        assert get(base + "/cancel", "POST") == 404
        assert client.post(base + "/compute/network-layers", json={}).status_code == 404
        assert get(base, "DELETE") == 404
    real = f"/api/runs/{planted['real']}"
    assert get(real) == 200
    names = [row["name"] for row in client.get(real + "/files").json()["files"]]
    assert not any(name.startswith("reconstructions/") for name in names), names
    assert get(real + "/artifacts/reconstructions/recon_grid_latest.png") == 404
    import time

    time.sleep(0.3)  # several monitor passes
    live.stop()
    assert not any(CANARY in body for body in bodies)
    assert tree(outside) == before, "nothing outside the runs folder was written"
    assert not (outside / "victim" / "cancel_requested").exists()
    assert (runs_dir / planted["linked"]).is_symlink(), "the link itself is left alone"
    assert not [p for p in os.listdir(runs_dir) if p.startswith(".deleting-")]
