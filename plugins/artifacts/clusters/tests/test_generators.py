"""Both generators: registration, files from hand-made contexts, and tiny GM-VAE and AE runs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from latentdeck.engine.context import RunContext, VizSubset
from latentdeck.kit.atomic import read_json
from latentdeck.store.events import EventLog, read_events
from latentdeck.registry import collect, providers
from latentdeck_clusters.plugin import generate_cluster_quality, generate_component_prototypes
from latentdeck_clusters.quality import cluster_quality


class Dataset:
    class_names = tuple(str(i) for i in range(10))


class TinyDecoder(torch.nn.Module):
    """decode(z): a 4x6 image whose pixels are sigmoid(z[0] + column), to check tiles and their order."""

    def decode(self, z):
        columns = torch.arange(6).float().view(1, 1, 1, 6)
        return torch.sigmoid(z[:, :1].view(-1, 1, 1, 1) + columns).expand(-1, 1, 4, 6)


def context(tmp_path, log, outputs, labels, model=None, split=None, epoch=1):
    n = len(labels)
    return RunContext(run_id="r", run_dir=tmp_path, epoch=epoch, config={"seed": 0}, model=model, model_spec=None,
                           dataset_spec=Dataset(), viz=VizSubset(list(range(n)), torch.zeros(n, 1, 4, 6),
                                                                 torch.tensor(labels), split=split),
                           outputs=outputs, generator="cluster_quality", events=log)


def test_registered_with_their_folder_and_needs(plugin_manager):
    specs = collect(plugin_manager, "computations")
    quality, prototypes = specs["cluster_quality"], specs["component_prototypes"]
    assert providers(plugin_manager, "computations")["cluster_quality"] == "latentdeck.clusters"
    assert quality.requires == frozenset() and quality.view == "metric_series"
    assert quality.folder == prototypes.folder == "clusters"
    assert prototypes.requires == {"mixture_prior", "decoder"}
    models = collect(plugin_manager, "models")
    assert prototypes.requires <= models["gmvae"].capabilities and not prototypes.requires <= models["ae"].capabilities


def test_a_model_with_neither_components_nor_classifier_gets_no_file(tmp_path):
    with EventLog(tmp_path / "events.jsonl", "r") as log:
        generate_cluster_quality(context(tmp_path, log, {"recon": torch.zeros(2, 1, 4, 6)}, [0, 1]))
    assert not (tmp_path / "clusters").exists() and list(read_events(tmp_path / "events.jsonl")) == []


def test_a_run_without_labels_gets_a_note_instead_of_scores(tmp_path):
    with EventLog(tmp_path / "events.jsonl", "r") as log:
        generate_cluster_quality(context(tmp_path, log, {"qc": torch.eye(3)}, [-1, -1, -1], epoch=4))
    payload = read_json(tmp_path / "clusters/cluster_quality_epoch_4.json")
    assert payload["mixture"] is None and payload["classifier"] is None and "only unknown labels" in payload["note"]
    assert read_json(tmp_path / "clusters/cluster_quality_latest.json") == payload


def test_prototypes_decode_each_prior_mean_into_one_strip_in_component_order(tmp_path):
    prior_mu = torch.nn.Parameter(torch.tensor([[-3.0, 0.0], [0.0, 1.0], [2.0, 5.0]]))  # (K=3, d=2)
    qc = torch.tensor([[0.5, 0.5, 0.0], [0.1, 0.1, 0.8]])
    with EventLog(tmp_path / "events.jsonl", "r") as log:
        ctx = context(tmp_path, log, {"prior_mu": prior_mu, "qc": qc}, [0, 1], model=TinyDecoder(), epoch=2)
        ctx.generator = "component_prototypes"
        generate_component_prototypes(ctx)
    strip = np.asarray(Image.open(io.BytesIO((tmp_path / "clusters/prior_means_epoch_2.png").read_bytes())))
    assert strip.shape == (4, 18) and strip.dtype == np.uint8  # K tiles of 4x6, side by side, no gaps
    expected = (TinyDecoder().decode(prior_mu.detach()).mean(1) * 255).round().byte().numpy()  # (3, 4, 6)
    for c in range(3):
        assert np.array_equal(strip[:, 6 * c: 6 * c + 6], expected[c])
    meta = read_json(tmp_path / "clusters/prior_means_epoch_2.json")
    assert {k: meta[k] for k in ("epoch", "components", "tile", "order")} == {
        "epoch": 2, "components": 3, "tile": [4, 6], "order": "component"}
    assert meta["weights"] == pytest.approx([0.3, 0.3, 0.4])
    created = [e["data"]["name"] for e in read_events(tmp_path / "events.jsonl")]
    assert created == ["clusters/prior_means_epoch_2.png", "clusters/prior_means_epoch_2.json"]


def test_a_tiny_gmvae_run_writes_both_artifacts_every_epoch(trained_run):
    run_dir = trained_run("gmvae", epochs=2)
    config = read_json(run_dir / "config.json")
    n = len(config["viz_indices"])
    names = sorted(p.name for p in (run_dir / "clusters").iterdir())
    assert names == sorted(f"{stem}_{tag}.{ext}" for tag in ("epoch_1", "epoch_2", "latest")
                           for stem, ext in (("cluster_quality", "json"), ("prior_means", "json"), ("prior_means", "png")))
    for epoch in (1, 2):
        payload = read_json(run_dir / f"clusters/cluster_quality_epoch_{epoch}.json")
        mixture = payload["mixture"]
        assert payload["epoch"] == epoch and payload["n"] == n == 32 and payload["classes"] == 10
        assert mixture["components"] == 3 and payload["classifier"] is None
        assert sum(map(sum, mixture["confusion"])) == n
        assert sorted(p for row in mixture["cells"] for cell in row for p in cell) == list(range(n))
        assert len([row for row in mixture["matching"] if row["digit"] is not None]) <= 3
        assert 0 <= payload["mixture_accuracy"] <= 0.3 + 1e-9  # 3 components can hold at most 3 of 10 digits
        assert 0 <= payload["mixture_nmi"] <= 1
        meta = read_json(run_dir / f"clusters/prior_means_epoch_{epoch}.json")
        assert meta["components"] == 3 and meta["tile"] == [28, 28] and sum(meta["weights"]) == pytest.approx(1, abs=1e-5)
        strip = Image.open(run_dir / f"clusters/prior_means_epoch_{epoch}.png")
        assert strip.size == (3 * 28, 28) and strip.mode == "L"
    mixture_health = read_json(run_dir / "mixture/mixture_health_epoch_2.json")
    assert [row["count"] for row in read_json(run_dir / "clusters/cluster_quality_epoch_2.json")["mixture"]["matching"]] \
        == mixture_health["argmax_counts"]  # the same argmax q(c|x) on the same subset
    created = [e["data"]["name"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "artifact.created"]
    assert "clusters/cluster_quality_epoch_2.json" in created and "clusters/prior_means_epoch_2.png" in created


def test_a_tiny_ae_run_gets_the_held_out_classifier_confusion_and_no_prototypes(trained_run):
    run_dir = trained_run("ae", epochs=1, viz_split="all", viz_subset_size=80)  # 64 held-out + 16 training
    config = read_json(run_dir / "config.json")
    heldout = len(config["viz_indices"])
    payload = read_json(run_dir / "clusters/cluster_quality_epoch_1.json")
    classifier = payload["classifier"]
    assert payload["mixture"] is None and "mixture_accuracy" not in payload
    assert payload["n"] == heldout + len(config.get("viz_train_indices") or []) > heldout  # train points in the subset...
    assert classifier["n"] == heldout == sum(map(sum, classifier["confusion"]))  # ...but only held-out ones scored
    assert sorted(p for row in classifier["cells"] for cell in row for p in cell) == list(range(heldout))
    assert payload["classifier_accuracy"] == pytest.approx(sum(classifier["confusion"][d][d] for d in range(10)) / heldout)
    assert not list((run_dir / "clusters").glob("prior_means_*"))


def test_the_payload_matches_a_recomputation_from_the_checkpoint(trained_run, plugin_manager):
    """What the run wrote is what its saved model says on its subset (no stale or shuffled outputs)."""
    from latentdeck.engine.epochs import EpochModels

    run_dir = trained_run("gmvae", epochs=1)
    loaded = EpochModels(capacity=1).get(run_dir, 1, pm=plugin_manager)
    viz = loaded.viz_subset()
    with torch.no_grad():
        qc = loaded.model(viz.x)["qc"]
    again = cluster_quality(1, list(loaded.dataset_spec.class_names), viz.y.numpy(), qc=qc.numpy(), split=viz.split)
    assert read_json(run_dir / "clusters/cluster_quality_epoch_1.json") == again


def test_pretraining_epochs_say_the_prior_is_not_in_use_yet(trained_run):
    from latentdeck.testing import TINY_GMVAE_OPTIONS

    run_dir = trained_run("gmvae", epochs=2, model_options={**TINY_GMVAE_OPTIONS, "pretrain_epochs": 1, "prior_init": "gmm"})
    for name in ("cluster_quality", "prior_means"):
        first, second = (read_json(run_dir / f"clusters/{name}_epoch_{epoch}.json") for epoch in (1, 2))
        assert first["phase_note"].startswith("Epoch 1 is a pretraining epoch (1-1): the prior p(z|c) is not in use yet")
        assert "initialised from clusters of the codes before epoch 2" in first["phase_note"]
        assert "phase_note" not in second
