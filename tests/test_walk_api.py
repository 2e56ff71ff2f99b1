"""POST /api/runs/{id}/walks and `latentdeck walk`: the walk plugin's work behind a thin route and command
(computed once, then from disk, one artifact.created per file; 4xx naming the field; CLI exit 2)."""

from __future__ import annotations

import json

from latentdeck.events import read_events


def test_the_api_route_and_the_cli(trained_run, plugin_manager, serve_api, runs_dir, capsys):
    run = trained_run("ae", epochs=1, artifacts=["knn"])
    live = serve_api()
    run_id = run.name
    body = {"from_idx": 0, "to_idx": 1, "steps": 3, "method": "first-dims"}
    first = live.client.post(f"/api/runs/{run_id}/walks", json=body)
    assert first.status_code == 200 and first.json()["created"] is True
    again = live.client.post(f"/api/runs/{run_id}/walks", json=body).json()
    assert again["created"] is False and again["payload"] == first.json()["payload"]
    created = [e["data"] for e in read_events(run / "events.jsonl") if e["type"] == "artifact.created"
               and e["data"]["generator"] == "walk:on_demand"]
    assert sorted(d["name"] for d in created) == sorted(first.json()["files"])
    bad = live.client.post(f"/api/runs/{run_id}/walks", json={**body, "steps": 0})
    assert bad.status_code == 422 and "steps" in bad.json()["detail"]
    extra = live.client.post(f"/api/runs/{run_id}/walks", json={**body, "colour": "red"})
    assert extra.status_code == 422 and "colour" in extra.json()["detail"]
    assert live.client.post("/api/runs/nope/walks", json=body).status_code == 404
    served = live.client.get(f"/api/runs/{run_id}/artifacts/{first.json()['payload']['strip']['png']}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"

    from latentdeck.cli import main

    assert main(["walk", run_id, "--from-idx", "2", "--dim", "0", "--steps", "3", "--method", "first-dims",
                 "--runs-dir", str(runs_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["payload"]["mode"] == "dimension" and printed["created"] is True
    assert main(["walk", run_id, "--from-idx", "2", "--runs-dir", str(runs_dir)]) == 2
    assert main(["walk", run_id, "--from-idx", "2", "--dim", "77", "--method", "first-dims", "--runs-dir", str(runs_dir)]) == 2
    assert "dim 77 is out of range" in capsys.readouterr().err
