"""Network inspection over HTTP and from the CLI: the same Inspector, files served by name, events."""

from __future__ import annotations

import json

from latentdeck.cli import main
from latentdeck.events import read_events


def test_network_endpoints_persist_announce_and_serve_files(trained_run, serve_api):
    run_dir = trained_run("gmvae")
    run_id = run_dir.name
    live = serve_api()
    base = f"/api/runs/{run_id}/network"

    layers = live.client.get(f"{base}/layers").json()
    assert layers["epoch"] == 2 and layers["model"] == "gmvae"
    ids = [row["id"] for row in layers["layers"]]
    assert ids[0] == "trunk.layers.0" and layers["layers"][0]["conv1_like"]
    assert ids == [row["id"] for row in live.client.get(f"{base}/layers", params={"epoch": 1}).json()["layers"]]

    first = live.client.get(f"{base}/forward", params={"idx": 3, "epoch": 1})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["created"] and body["folder"] == "network/forward/epoch_1/idx_3"
    assert body["payload"]["meta"]["sample_id"] and "z_sample" in body["payload"]["latent"]["vectors"]
    again = live.client.get(f"{base}/forward", params={"idx": 3, "epoch": 1}).json()
    assert not again["created"] and again["payload"] == body["payload"]

    grid = next(f for f in body["files"] if f.endswith("layer_trunk.layers.2/grid.png"))
    png = live.client.get(f"/api/runs/{run_id}/artifacts/{grid}")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    listed = {row["name"] for row in live.client.get(f"/api/runs/{run_id}/artifacts").json()}
    assert set(body["files"]) <= listed

    created = [e["data"]["name"] for e in read_events(run_dir / "events.jsonl")
               if e["type"] == "artifact.created" and e["data"].get("kind") == "network"]
    assert created == body["files"]  # announced once, in the run's own log
    seqs = [e["seq"] for e in read_events(run_dir / "events.jsonl")]
    assert seqs == list(range(1, len(seqs) + 1))

    step = live.client.get(f"{base}/conv_step", params={"idx": 3, "layer": "trunk.layers.0", "out": 1, "x": 0, "y": 27}).json()
    assert step["payload"]["agree"] and step["folder"].endswith("/out_1/x_0_y_27")
    probe = live.client.get(f"{base}/inspect", params={"idx": 3, "layer": "trunk.layers.5", "ch": 0, "x": 0, "y": 0}).json()
    assert probe["payload"]["rf"]["status"] == "ok" and probe["payload"]["xy"]["x"] == 0
    kernels = live.client.get(f"{base}/kernels", params={"layer": "trunk.layers.3", "out": 0}).json()
    assert kernels["payload"]["kind"] == "aggregate" and len(kernels["payload"]["top_in_channels"]["top"]) == 4
    moved = live.client.get(f"{base}/perturb", params={"idx": 3, "key": "mu", "dim": 0, "delta": 0.5}).json()
    assert moved["folder"] == "network/perturb/epoch_2/idx_3/vector_mu/dim_0/delta_p0.5"
    top = live.client.get(f"{base}/topk", params={"layer": "trunk.layers.2", "ch": 1, "n": 30, "k": 4}).json()
    assert top["folder"] == "network/topk/epoch_2/layer_trunk.layers.2/ch_1/metric_max/subset_30/k_4"


def test_network_bad_input_is_a_4xx_naming_the_fix(trained_run, serve_api):
    run_id = trained_run("ae").name
    live = serve_api()
    base = f"/api/runs/{run_id}/network"
    cases = [
        (f"{base}/forward", {"idx": 0, "epoch": 7}, 404, "epoch 7 has no checkpoint"),
        (f"{base}/inspect", {"idx": 0, "layer": "nope", "ch": 0}, 404, "unknown layer 'nope'"),
        (f"{base}/inspect", {"idx": 0, "layer": "trunk.layers.2", "ch": 0, "x": 3}, 422, "give both x and y"),
        (f"{base}/conv_step", {"idx": 0, "layer": "trunk.layers.6", "out": 0, "x": 0, "y": 0}, 422, "not conv1-like"),
        (f"{base}/topk", {"layer": "trunk.layers.2", "ch": 0, "n": 99999}, 422, "subset 99999 is out of range: use 1.."),
        (f"{base}/topk", {"layer": "trunk.layers.2", "ch": 0, "metric": "median"}, 422, "metric"),
        ("/api/runs/nope/network/layers", {}, 404, "no run 'nope'"),
    ]
    for url, params, status, text in cases:
        response = live.client.get(url, params=params)
        assert response.status_code == status and text in response.json()["detail"], (url, params, response.text)
    assert not (live.store.root / run_id / "network").exists()  # nothing written by a refused request


def test_cli_inspect(trained_run, plugin_manager, capsys, monkeypatch):
    run_dir = trained_run("ae")
    monkeypatch.setattr("latentdeck.plugins.get_plugin_manager", lambda: plugin_manager)
    args = ["inspect", run_dir.name, "--runs-dir", str(run_dir.parent)]
    assert main([*args, "layers"]) == 0
    assert "trunk.layers.0" in capsys.readouterr().out
    assert main([*args, "conv-step", "--idx", "2", "--layer", "trunk.layers.0", "--out", "0", "--x", "27", "--y", "0"]) == 0
    assert "agree" in capsys.readouterr().out
    assert main([*args, "topk", "--layer", "trunk.layers.2", "--ch", "0", "--n", "20", "--k", "3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)["payload"]
    assert [item["rank"] for item in payload["items"]] == [0, 1, 2]
    assert main([*args, "conv-step", "--idx", "2", "--layer", "trunk.layers.3", "--out", "0", "--x", "0", "--y", "0"]) == 2
    assert "not conv1-like" in capsys.readouterr().err
    assert main([*args, "inspect", "--idx", "2"]) == 2
    assert "needs --layer, --ch" in capsys.readouterr().err
