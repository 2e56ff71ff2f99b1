"""The GM-VAE's phases (ModelSpec.phases) as its options set them, checked by the host's Phase model."""

from __future__ import annotations

from latentdeck.kit.phases import Phase, phases_at, run_phases
from latentdeck.registry import collect
from latentdeck_gmvae.options import GMVAEOptions
from latentdeck_gmvae.phases import phases
from latentdeck_gmvae.presets import CLUSTERS


def shape(found):
    return [(p["name"], p["kind"], p["start"], p["end"]) for p in found]


def test_the_spec_loss_has_no_phases():
    assert phases(GMVAEOptions(), 10) == []


def test_the_clustering_preset_pretrains_initialises_and_holds_to_the_end(plugin_manager):
    config = {"model": "gmvae", "epochs": CLUSTERS["epochs"], "model_options": CLUSTERS["model_options"]}
    found = run_phases(collect(plugin_manager, "models")["gmvae"], config)
    p = CLUSTERS["model_options"]["pretrain_epochs"]
    assert shape(found) == [("pretraining", "span", 1, p), ("prior_init", "moment", p + 1, p + 1),
                            ("qc_held", "span", p + 1, config["epochs"])]
    assert all(Phase.model_validate(x) for x in found)
    assert "epoch 9" in found[1]["text"] and found[0]["label"].startswith("pretraining")
    assert [x["name"] for x in phases_at(found, p)] == ["pretraining"]
    assert [x["name"] for x in phases_at(found, p + 1)] == ["prior_init", "qc_held"]


def test_a_hold_that_ends_says_when_and_windows_are_spans():
    options = GMVAEOptions(pretrain_epochs=2, prior_init="gmm", qc_hold_epochs=3, categorical_kl_anneal=True,
                           categorical_kl_anneal_epochs=4, entropy_bonus_enable=True, entropy_bonus_epochs=5)
    found = phases(options, 10)
    assert shape(found) == [("pretraining", "span", 1, 2), ("prior_init", "moment", 3, 3), ("qc_held", "span", 3, 5),
                            ("kld_c_anneal", "span", 1, 4), ("entropy_bonus", "span", 1, 5)]
    assert "released from epoch 6" in found[2]["text"]


def test_pretraining_without_an_init_says_the_kl_switches_on():
    (only,) = phases(GMVAEOptions(pretrain_epochs=3), 6)
    assert shape([only]) == [("pretraining", "span", 1, 3)] and "before epoch 4" in only["text"]


def test_an_entropy_bonus_of_weight_zero_is_no_phase():
    options = GMVAEOptions(entropy_bonus_enable=True, entropy_bonus_weight=0.0, entropy_bonus_epochs=3)
    assert phases(options, 5) == []
