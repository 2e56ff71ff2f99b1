"""Network inspection through the host's generic on-demand route and command (network-* computations):
the same Inspector, files served by name, events."""

from __future__ import annotations

import json

import pytest

from latentdeck.cli import main
from latentdeck.store.events import read_events


@pytest.fixture
def client(plugin_manager, runs_dir):
    from fastapi.testclient import TestClient

    from latentdeck.api.app import create_app

    return TestClient(create_app(plugin_manager, runs_dir))


def test_network_endpoints_persist_announce_and_serve_files(trained_run, client):
    run_dir = trained_run("gmvae")
    run_id = run_dir.name
    base = f"/api/runs/{run_id}/compute/network"

    def get(op, params=None):
        return client.post(f"{base}-{op}", json=params or {})

    layers = get("layers").json()["payload"]
    assert layers["epoch"] == 2 and layers["model"] == "gmvae"
    ids = [row["id"] for row in layers["layers"]]
    assert ids[0] == "trunk.layers.0" and layers["layers"][0]["conv1_like"]
    assert ids == [row["id"] for row in get("layers", {"epoch": 1}).json()["payload"]["layers"]]

    first = get("forward", {"idx": 3, "epoch": 1})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["created"] and body["folder"] == "network/forward/epoch_1/idx_3"
    assert body["payload"]["meta"]["sample_id"] and "z_sample" in body["payload"]["latent"]["vectors"]
    again = get("forward", {"idx": 3, "epoch": 1}).json()
    assert not again["created"] and again["payload"] == body["payload"]

    grid = next(f for f in body["files"] if f.endswith("layer_trunk.layers.2/grid.png"))
    png = client.get(f"/api/runs/{run_id}/artifacts/{grid}")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    listed = {row["name"] for row in client.get(f"/api/runs/{run_id}/files").json()["files"]}
    assert set(body["files"]) <= listed

    created = [e["data"]["name"] for e in read_events(run_dir / "events.jsonl")
               if e["type"] == "artifact.created" and e["data"].get("kind") == "network"]
    assert created == body["files"]  # announced once, in the run's own log
    seqs = [e["seq"] for e in read_events(run_dir / "events.jsonl")]
    assert seqs == list(range(1, len(seqs) + 1))

    step = get("conv-step", {"idx": 3, "layer": "trunk.layers.0", "out": 1, "x": 0, "y": 27}).json()
    assert step["payload"]["agree"] and step["folder"].endswith("/out_1/x_0_y_27")
    probe = get("inspect", {"idx": 3, "layer": "trunk.layers.5", "ch": 0, "x": 0, "y": 0}).json()
    assert probe["payload"]["rf"]["status"] == "ok" and probe["payload"]["xy"]["x"] == 0
    kernels = get("kernels", {"layer": "trunk.layers.3", "out": 0}).json()
    assert kernels["payload"]["kind"] == "aggregate" and len(kernels["payload"]["top_in_channels"]["top"]) == 4
    moved = get("perturb", {"idx": 3, "key": "mu", "dim": 0, "delta": 0.5}).json()
    assert moved["folder"] == "network/perturb/epoch_2/idx_3/vector_mu/dim_0/delta_p0.5"
    top = get("topk", {"layer": "trunk.layers.2", "ch": 1, "n": 30, "k": 4}).json()
    assert top["folder"] == "network/topk/epoch_2/layer_trunk.layers.2/ch_1/metric_max/subset_30/k_4"


def test_network_bad_input_is_a_4xx_naming_the_fix(trained_run, client, runs_dir):
    run_id = trained_run("ae").name
    base = f"/api/runs/{run_id}/compute/network"
    cases = [
        (f"{base}-forward", {"idx": 0, "epoch": 7}, 404, "epoch 7 has no checkpoint"),
        (f"{base}-forward", {"idx": 100000}, 422, "outside the held-out split"),
        (f"{base}-forward", {"idx": -1}, 422, "idx: Input should be greater than or equal to 0"),
        (f"{base}-inspect", {"idx": 0, "layer": "nope", "ch": 0}, 404, "unknown layer 'nope'"),
        (f"{base}-inspect", {"idx": 0, "layer": "trunk.layers.2", "ch": 0, "x": 3}, 422, "give both x and y"),
        (f"{base}-conv-step", {"idx": 0, "layer": "trunk.layers.6", "out": 0, "x": 0, "y": 0}, 422, "not conv1-like"),
        (f"{base}-topk", {"layer": "trunk.layers.2", "ch": 0, "n": 99999}, 422, "n: Input should be less than or equal to 10000"),
        (f"{base}-topk", {"layer": "trunk.layers.2", "ch": 0, "metric": "median"}, 422, "metric"),
        ("/api/runs/nope/compute/network-layers", {}, 404, "no run 'nope'"),
    ]
    for url, params, status, text in cases:
        response = client.post(url, json=params)
        assert response.status_code == status and text in response.json()["detail"], (url, params, response.text)
    assert not (runs_dir / run_id / "network").exists()  # nothing written by a refused request


def test_cli_compute_network(trained_run, plugin_manager, capsys, monkeypatch):
    run_dir = trained_run("ae")
    monkeypatch.setattr("latentdeck.registry.get_plugin_manager", lambda: plugin_manager)

    def run(op, *sets, json_out=False):
        return main(["compute", f"network-{op}", run_dir.name, "--runs-dir", str(run_dir.parent),
                     *[arg for item in sets for arg in ("--set", item)], *(["--json"] if json_out else [])])

    assert run("layers") == 0
    assert "trunk.layers.0" in capsys.readouterr().out
    assert run("conv-step", "idx=2", "layer=\"trunk.layers.0\"", "out=0", "x=27", "y=0", json_out=True) == 0
    assert json.loads(capsys.readouterr().out)["payload"]["agree"]
    assert run("topk", "layer=trunk.layers.2", "ch=0", "n=20", "k=3", json_out=True) == 0
    payload = json.loads(capsys.readouterr().out)["payload"]
    assert [item["rank"] for item in payload["items"]] == [0, 1, 2]
    assert run("conv-step", "idx=2", "layer=trunk.layers.3", "out=0", "x=0", "y=0") == 2
    assert "not conv1-like" in capsys.readouterr().err
    assert run("inspect", "idx=2") == 2
    err = capsys.readouterr().err
    assert "layer: Field required" in err and "ch: Field required" in err
