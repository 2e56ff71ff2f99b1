"""Mixture health: hand-computed payloads, consistency of the fields, files and events, and a real run."""

from __future__ import annotations

import math

import pytest
import torch

from latentdeck.engine.context import RunContext, VizSubset
from latentdeck.kit.atomic import read_json
from latentdeck.store.events import EventLog, read_events
from latentdeck.launch import prepare_run
from latentdeck.registry import collect, providers
from latentdeck.store.runs import RunStore
from latentdeck.engine.training import execute_run
from latentdeck_mixture.plugin import generate, mixture_health


def test_registered_for_mixture_models_only(plugin_manager):
    spec = collect(plugin_manager, "computations")["mixture_health"]
    assert providers(plugin_manager, "computations")["mixture_health"] == "latentdeck.mixture"
    assert spec.requires == {"mixture"} and spec.compute is generate
    models = collect(plugin_manager, "models")
    assert spec.requires <= models["gmvae"].capabilities
    assert not spec.requires <= models["ae"].capabilities


def test_hand_computed_payload():
    qc = torch.tensor([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.2, 0.6, 0.2]])
    payload = mixture_health(qc, epoch=4, seed=7)
    p = [0.4, 0.3, 0.3]
    assert payload["p"] == pytest.approx(p)
    assert payload["psum"] == pytest.approx(1.0)
    entropy = -sum(x * math.log(x) for x in p)
    assert payload["entropy"] == pytest.approx(entropy) and payload["neff"] == pytest.approx(math.exp(entropy))
    assert payload["pmax"] == pytest.approx(0.4)
    assert [t["component"] for t in payload["top"]] == [0, 1, 2]  # 0.3 and 0.3 tie: lower index first
    assert [t["p"] for t in payload["top"]] == pytest.approx([0.4, 0.3, 0.3])
    assert payload["argmax_counts"] == [2, 1, 1]
    assert payload["argmax_neff"] == pytest.approx(math.exp(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25))))
    assert (payload["epoch"], payload["n"], payload["components"]) == (4, 4, 3)
    assert payload["sample_key"] == "viz:seed=7:n=4" and payload["sample_indices_ref"] == "config.json#/viz_indices"


@pytest.mark.parametrize("k", [2, 5, 10])
def test_fields_are_consistent_for_random_responsibilities(k):
    generator = torch.Generator().manual_seed(k)
    qc = (torch.randn(37, k, generator=generator) * 3).softmax(1)
    payload = mixture_health(qc, epoch=1, seed=0)
    assert payload["psum"] == pytest.approx(1.0, abs=1e-6)  # float32 softmax rows
    assert 1.0 <= payload["neff"] <= k + 1e-9 and 1.0 <= payload["argmax_neff"] <= k + 1e-9
    assert sum(payload["argmax_counts"]) == 37 and len(payload["argmax_counts"]) == k
    assert payload["pmax"] == pytest.approx(max(payload["p"])) == pytest.approx(payload["top"][0]["p"])
    assert sorted(t["component"] for t in payload["top"]) == list(range(k))
    assert [t["p"] for t in payload["top"]] == sorted(payload["p"], reverse=True)


def test_collapse_and_even_use_are_the_extremes():
    collapsed = mixture_health(torch.tensor([[0.0, 1.0, 0.0]] * 6), epoch=1, seed=0)
    assert collapsed["neff"] == pytest.approx(1.0) and collapsed["argmax_neff"] == pytest.approx(1.0)
    assert collapsed["argmax_counts"] == [0, 6, 0] and collapsed["top"][0] == {"component": 1, "p": 1.0}
    even = mixture_health(torch.eye(3).repeat(2, 1), epoch=1, seed=0)
    assert even["neff"] == pytest.approx(3.0) and even["argmax_neff"] == pytest.approx(3.0)
    assert collapsed["health"]["status"] == "collapsed" and even["health"]["status"] == "healthy"
    assert collapsed["health"]["top_component"] == 1 and collapsed["health"]["top_share"] == 1.0
    assert collapsed["health"]["dead_components"] == [0, 2] and collapsed["health"]["advice"]
    assert "component 1 takes 100.0% of the examples" in collapsed["health"]["summary"]
    assert collapsed["health"]["kld_c_collapse_value"] == pytest.approx(math.log(3)) and even["health"]["advice"] == []


def test_uneven_use_is_named_with_its_unused_components():
    k = 10
    qc = torch.zeros(100, k)
    qc[:40, 0] = qc[40:70, 1] = qc[70:, 2] = 1.0  # 3 of 10 components used
    health = mixture_health(qc, epoch=1, seed=0)["health"]
    assert health["status"] == "uneven" and health["dead_components"] == list(range(3, 10))
    assert "2.97 of 10 components in use" in health["summary"] and "components 3, 4, 5" in health["summary"]
    qc[:, :] = 0
    qc[torch.arange(100), torch.arange(100) % 6] = 1.0  # 6 of 10 in use: at least K/2
    assert mixture_health(qc, epoch=1, seed=0)["health"]["status"] == "healthy"


def test_generate_writes_epoch_and_latest_and_emits_events(tmp_path):
    qc = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    with EventLog(tmp_path / "events.jsonl", "run-1") as events:
        ctx = RunContext(
            run_id="run-1", run_dir=tmp_path, epoch=2, config={"seed": 3}, model=None, model_spec=None,
            dataset_spec=None, viz=VizSubset([4, 8, 15], torch.zeros(3, 1, 28, 28), torch.tensor([0, 1, 2])),
            outputs={"qc": qc}, generator="mixture_health", events=events)
        generate(ctx)
    folder = tmp_path / "mixture"
    assert sorted(p.name for p in folder.iterdir()) == ["mixture_health_epoch_2.json", "mixture_health_latest.json"]
    assert (folder / "mixture_health_latest.json").read_bytes() == (folder / "mixture_health_epoch_2.json").read_bytes()
    payload = read_json(folder / "mixture_health_epoch_2.json")
    assert payload == mixture_health(qc, 2, 3)
    assert payload["sample_key"] == "viz:seed=3:n=3"
    (event,) = [e["data"] for e in read_events(tmp_path / "events.jsonl")]
    assert event == {"name": "mixture/mixture_health_epoch_2.json", "latest": "mixture/mixture_health_latest.json",
                     "kind": "mixture", "epoch": 2, "generator": "mixture_health"}


def test_a_gmvae_run_writes_mixture_health_every_epoch_and_an_ae_run_none(plugin_manager, runs_dir, tiny_config):
    store = RunStore(runs_dir)
    run_dirs = {}
    for model, options in (("gmvae", {"latent_dim": 4, "channels": [8, 8], "num_components": 3}),
                           ("ae", tiny_config["model_options"])):
        stored = prepare_run(plugin_manager, {**tiny_config, "model": model, "model_options": options,
                                              "projections": [], "artifacts": None})
        store.create(stored)
        run_dirs[model] = store.run_dir(stored["run_id"])
        assert execute_run(run_dirs[model], pm=plugin_manager) == "completed"
    folder = run_dirs["gmvae"] / "mixture"
    assert sorted(p.name for p in folder.iterdir()) == [
        "mixture_health_epoch_1.json", "mixture_health_epoch_2.json", "mixture_health_latest.json"]
    config = read_json(run_dirs["gmvae"] / "config.json")
    for epoch in (1, 2):
        payload = read_json(folder / f"mixture_health_epoch_{epoch}.json")
        assert payload["epoch"] == epoch and payload["components"] == 3
        assert payload["n"] == len(config["viz_indices"]) == 32
        assert sum(payload["argmax_counts"]) == 32 and payload["psum"] == pytest.approx(1.0)
        assert payload["sample_key"] == f"viz:seed=0:n=32"
    created = [e["data"]["name"] for e in read_events(run_dirs["gmvae"] / "events.jsonl") if e["type"] == "artifact.created"]
    assert "mixture/mixture_health_epoch_2.json" in created
    assert not (run_dirs["ae"] / "mixture").exists()


def test_a_nearly_uniform_q_is_uninformative_even_when_every_weight_is_even():
    qc = torch.full((40, 10), 0.1) + torch.linspace(0, 1e-3, 10)  # every example: almost uniform, same argmax
    qc = qc / qc.sum(1, keepdim=True)
    payload = mixture_health(qc, epoch=1, seed=0)
    assert payload["neff"] == pytest.approx(10, abs=0.01)  # by weight every component looks used...
    health = payload["health"]
    assert health["status"] == "uninformative"  # ...but q(c|x) says nothing about x
    assert "nearly uniform for every example" in health["summary"] and health["advice"]


PHASES = [{"name": "pretraining", "label": "pretraining", "kind": "span", "start": 1, "end": 8, "text": ""},
          {"name": "prior_init", "label": "prior initialised", "kind": "moment", "start": 9, "end": 9, "text": ""}]


def test_during_pretraining_the_verdict_says_the_mixture_is_not_in_use_yet_and_advises_nothing():
    uniform = torch.full((40, 4), 0.25)  # what an untrained q(c|x) gives: 'uninformative' outside pretraining
    health = mixture_health(uniform, 7, 0, PHASES, preset="gmvae-clusters")["health"]
    assert health["status"] == "pretraining" and health["advice"] == []
    assert "not in use yet" in health["summary"] and "Before epoch 9" in health["summary"]
    assert mixture_health(uniform, 9, 0, PHASES)["health"]["status"] == "uninformative"
    assert [p["name"] for p in mixture_health(uniform, 9, 0, PHASES)["phases"]] == ["prior_init"]


def test_a_run_from_the_clustering_preset_is_not_told_to_start_from_it():
    collapsed = torch.tensor([[1.0, 0.0, 0.0]] * 30)
    plain = mixture_health(collapsed, 12, 0, PHASES)["health"]["advice"]
    own = mixture_health(collapsed, 12, 0, PHASES, preset="gmvae-clusters")["health"]["advice"]
    assert any("GM-VAE — clusters digits" in a for a in plain)
    assert not any("GM-VAE — clusters digits" in a for a in own) and any("already uses" in a for a in own)
