"""The ``nearest-train`` on-demand computation: a digit's nearest training digits in latent space.

Checked against a brute-force numpy search over the training split encoded here independently; a training
digit is never its own neighbour; labels, predictions and components come from the dataset and the model's
own heads; the strip holds the neighbours' input images; the search set follows the run's ``limit`` and
the cap; repeats are read from disk (announced once) and a second digit reuses the encoded training split;
bad requests are 4xx naming the field, with nothing written. The HTTP route and the CLI at the end."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from latentdeck.kit.atomic import read_json
from latentdeck.store.events import read_events
from latentdeck.engine.epochs import EpochModels
from latentdeck.kit import OnDemandError
from latentdeck.engine import computations
from latentdeck.registry import collect
from latentdeck.kit.images import to_float_images
from latentdeck_knn import nearest as nearest_module
from latentdeck_knn.nearest import NearestTrainRequest, searched_indices, trained_indices


def _compute(run_dir, pm, **body):
    spec = collect(pm, "computations")["nearest-train"]
    return computations.run(spec, computations.context_for(run_dir, spec, pm, EpochModels()),
                            NearestTrainRequest.model_validate(body)).as_json()


def _model_and_train(run_dir, pm):
    loaded = EpochModels().get(run_dir, None, pm)
    train = loaded.dataset_spec.load(None, "train")
    x = to_float_images(train.images, tuple(loaded.dataset_spec.image_shape))
    return loaded, x, train.labels.numpy()


def _brute_force(latents, query, k, exclude=None):
    d = np.linalg.norm(latents - query[None], axis=1)
    if exclude is not None:
        d[exclude] = np.inf
    order = np.argsort(d, kind="stable")[:k]
    return order, d[order]


@pytest.fixture
def ae_run(trained_run):
    return trained_run("ae", epochs=1)


def test_a_training_digit_is_never_its_own_nearest_and_the_rest_match_brute_force(ae_run, plugin_manager):
    result = _compute(ae_run, plugin_manager, idx=7, split="train", k=10)
    p = result["payload"]
    loaded, x, labels = _model_and_train(ae_run, plugin_manager)
    with torch.no_grad():
        latents = loaded.model.encode(x).double().numpy()
    order, distances = _brute_force(latents, latents[7], 10, exclude=7)
    got = [row["idx"] for row in p["neighbors"]]
    assert 7 not in got and p["searched"]["self_excluded"] is True and "left out" in p["searched"]["text"]
    assert got == order.tolist()
    np.testing.assert_allclose([row["distance"] for row in p["neighbors"]], distances, atol=2e-6)
    assert all(a["distance"] <= b["distance"] for a, b in zip(p["neighbors"], p["neighbors"][1:]))
    assert [row["label"] for row in p["neighbors"]] == labels[order].tolist()
    assert [row["rank"] for row in p["neighbors"]] == list(range(10)) and p["k"] == 10
    assert p["searched"] | {"text": None} == {"split": "train", "n": 256, "of": 256, "trained_on": 256, "cap": 10_000,
                                             "capped": False, "self_excluded": True, "text": None}
    assert p["latent"] == "z" and p["latent_dim"] == 4 and p["query"]["label"] == int(labels[7])
    assert result["folder"] == "neighbors/train/epoch_1/train_7_k_10"


def test_a_held_out_digit_gets_labels_predictions_and_its_neighbours_images(ae_run, plugin_manager):
    from PIL import Image

    from latentdeck.engine.epochs import heldout_split

    p = _compute(ae_run, plugin_manager, idx=5)["payload"]
    assert p["k"] == 8 and p["predicted_by"] == "classifier" and p["searched"]["self_excluded"] is False
    loaded, x, labels = _model_and_train(ae_run, plugin_manager)
    held, held_labels = heldout_split(loaded.config, loaded.dataset_spec)
    idx = [row["idx"] for row in p["neighbors"]]
    with torch.no_grad():
        latents = loaded.model.encode(x).double().numpy()
        query = loaded.model.encode(held[5:6])[0].double().numpy()
        logits = loaded.model(x[idx])["logits"]
        query_logits = loaded.model(held[5:6])["logits"]
    assert idx == _brute_force(latents, query, 8)[0].tolist()
    assert [row["prediction"] for row in p["neighbors"]] == logits.argmax(1).tolist()
    assert all(row["component"] is None and 0 < row["confidence"] <= 1 for row in p["neighbors"])
    assert p["query"] == {"split": "heldout", "idx": 5, "label": int(held_labels[5]),
                          "prediction": int(query_logits.argmax()), "component": None,
                          "confidence": round(float(torch.softmax(query_logits.double(), 1).max()), 6)}
    strip = np.array(Image.open(io.BytesIO((ae_run / p["strip"]["png"]).read_bytes())))
    assert strip.shape == (28 + 4, 8 * 30 + 2) and p["strip"]["tiles"] == 8 and p["strip"]["tile"] == [28, 28]
    for i in (0, 7):  # tile i is neighbour i's input image
        left = p["strip"]["pad"] + i * (28 + p["strip"]["pad"])
        expected = (x[idx[i], 0] * 255).round().byte().numpy()
        np.testing.assert_array_equal(strip[2:30, left:left + 28], expected)


def test_repeats_come_from_disk_and_a_second_digit_reuses_the_encoded_split(ae_run, plugin_manager):
    first = _compute(ae_run, plugin_manager, idx=2, k=4)
    assert first["created"] and first["payload"]["train_latents"] == "computed"
    again = _compute(ae_run, plugin_manager, idx=2, k=4)
    assert again["created"] is False and again["payload"] == first["payload"] and again["files"] == first["files"]
    second = _compute(ae_run, plugin_manager, idx=3, k=4)
    assert second["created"] and second["payload"]["train_latents"] == "from memory"
    created = [e["data"] for e in read_events(ae_run / "events.jsonl") if e["type"] == "artifact.created"
               and e["data"]["generator"] == "nearest-train:on_demand"]
    assert sorted(d["name"] for d in created) == sorted(first["files"] + second["files"])  # each file announced once
    assert sorted(first["files"]) == ["neighbors/train/epoch_1/heldout_2_k_4/nearest.json",
                                      "neighbors/train/epoch_1/heldout_2_k_4/result.json",  # the host's record
                                      "neighbors/train/epoch_1/heldout_2_k_4/strip.png"]


def test_the_gmvae_reports_components_in_its_mean_latent(trained_run, plugin_manager):
    run = trained_run("gmvae", epochs=1)
    p = _compute(run, plugin_manager, idx=1, k=5)["payload"]
    loaded, x, _ = _model_and_train(run, plugin_manager)
    idx = [row["idx"] for row in p["neighbors"]]
    with torch.no_grad():
        qc = loaded.model(x[idx])["qc"]
    assert p["latent"] == "mu of q(z|x)" and p["predicted_by"] == "mixture"
    assert [row["component"] for row in p["neighbors"]] == qc.argmax(1).tolist()
    assert all(row["prediction"] is None for row in p["neighbors"]) and p["query"]["component"] is not None


def test_the_search_set_is_what_the_run_trained_on_up_to_the_cap(trained_run, plugin_manager, monkeypatch):
    run = trained_run("ae", epochs=1, limit=100)
    subset = read_json(run / "config.json")["train_subset"]["indices"]
    p = _compute(run, plugin_manager, idx=0, k=32)["payload"]
    assert p["searched"]["trained_on"] == 100 and p["searched"]["n"] == 100 and p["searched"]["of"] == 256
    assert {row["idx"] for row in p["neighbors"]} <= set(subset) and len(p["neighbors"]) == 32
    monkeypatch.setattr(nearest_module, "TRAIN_CAP", 40)
    capped = trained_run("ae", epochs=1)
    p = _compute(capped, plugin_manager, idx=0, k=3)["payload"]
    assert p["searched"]["n"] == 40 and p["searched"]["capped"] is True and p["searched"]["trained_on"] == 256
    assert "40 of the 256 training digits" in p["searched"]["text"] and "evenly spaced" in p["searched"]["text"]
    assert {row["idx"] for row in p["neighbors"]} <= set(searched_indices(list(range(256)), 40))


def test_the_search_set_rules():
    picked = searched_indices(list(range(0, 1000, 2)), 50)
    assert len(picked) == len(set(picked)) == 50 and picked[0] == 0 and picked[-1] == 998
    assert np.ptp(np.diff(picked)) <= 2  # evenly spaced
    assert searched_indices([3, 5, 9], 50) == [3, 5, 9]
    assert trained_indices({"limit": 4}, 10) == [0, 1, 2, 3]
    assert trained_indices({"limit": 4, "train_subset": {"indices": [9, 2, 5, 7]}}, 10) == [2, 5, 7, 9]
    assert trained_indices({}, 3) == [0, 1, 2] and trained_indices({"limit": 50}, 3) == [0, 1, 2]


@pytest.mark.parametrize("body, message", [
    ({"idx": 64}, "idx 64 is outside the held-out split of tiny-digits: use 0..63"),
    ({"idx": 256, "split": "train"}, "idx 256 is outside the training split of tiny-digits: use 0..255"),
    ({"idx": 0, "epoch": 7}, "epoch 7 has no checkpoint"),
])
def test_bad_requests_name_the_problem_and_write_nothing(ae_run, plugin_manager, body, message):
    with pytest.raises(OnDemandError, match=message) as caught:
        _compute(ae_run, plugin_manager, **body)
    assert caught.value.status in (404, 422) and not (ae_run / "neighbors" / "train").exists()


@pytest.fixture
def client(plugin_manager, runs_dir):
    from fastapi.testclient import TestClient

    from latentdeck.api.app import create_app

    return TestClient(create_app(plugin_manager, runs_dir))


def test_the_api_route_and_the_cli(ae_run, client, runs_dir, capsys):
    run_id = ae_run.name
    url = f"/api/runs/{run_id}/compute/nearest-train"
    first = client.post(url, json={"idx": 4, "split": "train", "k": 3, "epoch": 1})
    assert first.status_code == 200 and first.json()["created"] is True
    assert [row["idx"] for row in first.json()["payload"]["neighbors"]].count(4) == 0
    again = client.post(url, json={"idx": 4, "split": "train", "k": 3, "epoch": 1}).json()
    assert again["created"] is False and again["payload"] == first.json()["payload"]
    for body, field in (({"idx": 4, "k": 33}, "k"), ({"idx": 4, "k": 0}, "k"), ({"idx": -1}, "idx"),
                        ({"idx": "4"}, "idx"), ({"idx": 4, "colour": 1}, "colour"), ({}, "idx")):
        bad = client.post(url, json=body)
        assert bad.status_code == 422 and field in bad.json()["detail"], (body, bad.json())
    assert client.post(url, json={"idx": 9999}).status_code == 422
    served = client.get(f"/api/runs/{run_id}/artifacts/{first.json()['payload']['strip']['png']}")
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    rows = client.get(f"/api/runs/{run_id}/files").json()["files"]
    assert sorted(r["name"] for r in rows if r["artifact"] == "nearest-train") == sorted(first.json()["files"])
    assert all("/train/" not in r["name"] for r in rows if r["artifact"] == "knn")

    from latentdeck.cli import main

    command = ["compute", "nearest-train", run_id, "--runs-dir", str(runs_dir), "--set", "idx=6", "--json"]
    assert main(command) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["created"] is True and printed["payload"]["k"] == 8
    assert main([*command[:-1], "--set", "k=40"]) == 2
    assert "k" in capsys.readouterr().err
