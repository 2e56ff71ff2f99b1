"""The walk plugin's on-demand computation through the host's generic route (POST
/api/runs/{id}/compute/walk) and command (`latentdeck compute walk`): computed once, then from disk, one
artifact.created per file; 4xx naming the field; CLI exit 2."""

from __future__ import annotations

import json

import pytest

from latentdeck.store.events import read_events


@pytest.fixture
def client(plugin_manager, runs_dir):
    from fastapi.testclient import TestClient

    from latentdeck.api.app import create_app

    return TestClient(create_app(plugin_manager, runs_dir))


def test_the_api_route_and_the_cli(trained_run, plugin_manager, client, runs_dir, capsys):
    run = trained_run("ae", epochs=1, artifacts=["knn"])
    run_id = run.name
    body = {"from_idx": 0, "to_idx": 1, "steps": 3, "method": "first-dims"}
    first = client.post(f"/api/runs/{run_id}/compute/walk", json=body)
    assert first.status_code == 200 and first.json()["created"] is True
    again = client.post(f"/api/runs/{run_id}/compute/walk", json=body).json()
    assert again["created"] is False and again["payload"] == first.json()["payload"]
    created = [e["data"] for e in read_events(run / "events.jsonl") if e["type"] == "artifact.created"
               and e["data"]["generator"] == "walk:on_demand"]
    assert sorted(d["name"] for d in created) == sorted(first.json()["files"])
    bad = client.post(f"/api/runs/{run_id}/compute/walk", json={**body, "steps": 0})
    assert bad.status_code == 422 and "steps" in bad.json()["detail"]
    extra = client.post(f"/api/runs/{run_id}/compute/walk", json={**body, "colour": "red"})
    assert extra.status_code == 422 and "colour" in extra.json()["detail"]
    assert client.post("/api/runs/nope/compute/walk", json=body).status_code == 404
    listed = [row for row in client.get(f"/api/runs/{run_id}/files", params={"folder": "walks"}).json()["files"]]
    assert sorted(row["name"] for row in listed) == sorted(first.json()["files"])  # each file once, result.json too
    assert {(row["artifact"], row["epoch"], row["fields"]["path"]) for row in listed} == {("walk", 1, "to_heldout_1_steps_3")}
    served = client.get(f"/api/runs/{run_id}/artifacts/{first.json()['payload']['strip']['png']}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"

    from latentdeck.cli import main

    walk = ["compute", "walk", run_id, "--runs-dir", str(runs_dir), "--set", "from_idx=2", "--set", "method=first-dims"]
    assert main([*walk, "--set", "mode=dimension", "--set", "dim=0", "--set", "steps=3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["payload"]["mode"] == "dimension" and printed["created"] is True
    assert printed["folder"].startswith("walks/epoch_1/first-dims/from_heldout_2/")
    assert main([*walk, "--set", "mode=dimension"]) == 2
    assert main([*walk, "--set", "mode=dimension", "--set", "dim=77"]) == 2
    assert "dim 77 is out of range" in capsys.readouterr().err
