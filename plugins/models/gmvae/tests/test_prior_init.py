"""q(c|x) from the latent, autoencoder pretraining and the data-driven prior initialisation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from latentdeck.engine.checkpoints import load_model
from latentdeck.store.events import read_events
from latentdeck.launch import ConfigError, prepare_run
from latentdeck.types import Schedule
from latentdeck_gmvae.losses import gaussian_kl
from latentdeck_gmvae.model import GMVAE
from latentdeck_gmvae.options import GMVAEOptions
from latentdeck_gmvae.plugin import loss_weights
from latentdeck_gmvae.prior_init import before_epoch, cluster_codes, consensus_choice, initialise_prior

SMALL = {"latent_dim": 4, "channels": (8, 8), "num_components": 3}


def test_latent_qc_is_the_softmax_of_minus_the_component_kls_and_has_no_head():
    torch.manual_seed(0)
    model = GMVAE(GMVAEOptions(**SMALL, qc_source="latent"), (1, 28, 28)).eval()
    assert not hasattr(model, "qc_head")
    out = model(torch.rand(5, 1, 28, 28))
    kl = gaussian_kl(out["mu"], out["logvar"], out["prior_mu"], out["prior_logvar"])
    assert torch.allclose(out["qc"], F.softmax(-kl, dim=1), atol=1e-6)


def test_latent_qc_minimises_kld_c_plus_kld_z_over_q():
    """For fixed KLs, sum_c q_c (log q_c + log K + KL_c) is smallest at q = softmax(-KL)."""
    torch.manual_seed(1)
    kl = torch.rand(1, 4) * 5
    objective = lambda q: float((q * (q.log() + torch.log(torch.tensor(4.0)) + kl)).sum())
    best = objective(F.softmax(-kl, dim=1))
    for _ in range(50):
        other = F.softmax(torch.randn(1, 4) * 2, dim=1)
        assert objective(other) >= best - 1e-9


def test_pretraining_epochs_weight_the_kl_terms_zero():
    options = GMVAEOptions(**SMALL, pretrain_epochs=2)
    weights = [loss_weights(options, Schedule(e, 4)) for e in (1, 2, 3, 4)]
    assert [(w["kld_c"], w["kld_z"]) for w in weights] == [(0.0, 0.0), (0.0, 0.0), (1.0, 1.0), (1.0, 1.0)]
    assert all(w["recon_sse"] == 1.0 for w in weights)


@pytest.mark.parametrize("options, field", [
    ({"pretrain_epochs": 3}, "model_options.pretrain_epochs"),
    ({"prior_init": "gmm"}, "model_options.prior_init"),
])
def test_bad_pretraining_options_name_the_field(plugin_manager, tiny_config, options, field):
    config = {**tiny_config, "model": "gmvae", "epochs": 3, "model_options": {**SMALL, **options}}
    with pytest.raises(ConfigError, match=field):
        prepare_run(plugin_manager, config)


def test_cluster_codes_recovers_separated_blobs():
    generator = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0, 0.0], [8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])
    codes = (centres.repeat_interleave(40, 0) + torch.randn(120, 3, generator=generator)).double().numpy()
    truth = torch.arange(3).repeat_interleave(40)
    for method, embeddings in (("gmm", 1), ("umap_gmm", 1), ("umap_gmm", 2)):
        grouped, how = cluster_codes(codes, 3, method, random_state=0, embeddings=embeddings)
        labels = torch.as_tensor(grouped)
        assert (how == {}) == (method == "gmm")
        # each true blob is one group (up to renaming)
        assert all(len(labels[truth == c].unique()) == 1 for c in range(3)), method
        assert len(labels.unique()) == 3, method


def patterned_images(n: int):
    """n images of three patterns (blank, left half lit, top half lit) with a little noise."""
    generator = torch.Generator().manual_seed(3)
    images = torch.rand(n, 1, 28, 28, generator=generator) * 0.1
    images[1::3, :, :, :14] += 0.8
    images[2::3, :, :14, :] += 0.8
    return images


@pytest.mark.parametrize("qc_source", ["encoder", "latent"])
def test_initialise_prior_sets_each_component_to_its_groups_statistics(qc_source):
    torch.manual_seed(0)
    options = GMVAEOptions(**SMALL, qc_source=qc_source, pretrain_epochs=1, prior_init="gmm", prior_init_subset=100)
    model = GMVAE(options, (1, 28, 28)).train()
    images = patterned_images(150)
    torch.manual_seed(5)
    update = initialise_prior(options, model, images)
    assert model.training  # restored
    assert update["action"] == "prior_init" and update["method"] == "gmm" and update["subset"] == 100
    assert sum(update["group_sizes"]) == 100 and len(update["group_sizes"]) == 3
    # redo the same draws to rebuild the subset and the groups, and compare with the prior
    torch.manual_seed(5)
    random_state = int(torch.randint(0, 2**31 - 1, (1,)))
    subset = torch.randperm(150)[:100].sort().values
    model.eval()
    with torch.no_grad():
        codes = model(images[subset])["mu"]
    labels = torch.as_tensor(cluster_codes(codes.double().numpy(), 3, "gmm", random_state)[0])
    assert update["random_state"] == random_state
    for c in range(3):
        members = codes[labels == c]
        if len(members) >= 2:
            assert torch.allclose(model.prior_mu[c], members.mean(0), atol=1e-5)
            assert torch.allclose(model.prior_logvar[c], members.var(0).clamp_min(1e-3).log(), atol=1e-5)
    if qc_source == "encoder":
        assert update["head_agreement"] > 0.9  # three patterns: the head learns the groups
    else:
        assert "head_agreement" not in update


def test_before_epoch_acts_once_right_after_pretraining():
    options = GMVAEOptions(**SMALL, pretrain_epochs=2, prior_init="gmm", prior_init_subset=100)
    model = GMVAE(options, (1, 28, 28))
    images = torch.rand(120, 1, 28, 28)
    assert before_epoch(options, Schedule(1, 5), model, images) is None
    assert before_epoch(options, Schedule(2, 5), model, images) is None
    assert before_epoch(options, Schedule(3, 5), model, images)["action"] == "prior_init"
    assert before_epoch(options, Schedule(4, 5), model, images) is None


def test_a_run_with_pretraining_and_prior_init(trained_run, plugin_manager):
    run_dir = trained_run("gmvae", epochs=3, model_options={
        **SMALL, "channels": [8, 8], "qc_source": "latent", "pretrain_epochs": 1, "prior_init": "gmm",
        "prior_init_subset": 200})
    events = list(read_events(run_dir / "events.jsonl"))
    updates = [e["data"] for e in events if e["type"] == "model.update"]
    assert len(updates) == 1 and updates[0]["epoch"] == 2 and sum(updates[0]["group_sizes"]) == 200
    metrics = [e["data"] for e in events if e["type"] == "train.metrics"]
    assert [m["loss_weights"]["kld_z"] for m in metrics] == [0.0, 1.0, 1.0]
    assert [("model_update" in m) for m in metrics] == [False, True, False]
    assert {"qc_neff", "qc_argmax_counts", "cat_kl_weight"} <= set(metrics[-1])  # diagnostics are on
    # the factor kld_c got is the one logged: 0 while pretraining (it read 1.0 there before)
    assert [m["cat_kl_weight"] for m in metrics] == [0.0, 1.0, 1.0] == [m["loss_weights"]["kld_c"] for m in metrics]
    assert "entropy_bonus_weight" not in metrics[-1]  # off for the whole run: not logged
    (announced,) = [e["data"]["phases"] for e in events if e["type"] == "model.phases"]
    assert [(p["name"], p["kind"], p["start"], p["end"]) for p in announced] == [
        ("pretraining", "span", 1, 1), ("prior_init", "moment", 2, 2)]
    assert next(i for i, e in enumerate(events) if e["type"] == "model.phases") < next(
        i for i, e in enumerate(events) if e["type"] == "train.metrics")
    stages = [(i, e["data"]) for i, e in enumerate(events) if e["type"] == "run.stage" and e["data"]["stage"] == "before_epoch"]
    assert [s["epoch"] for _, s in stages] == [2]  # announced before the slow step, once
    assert "initialising the prior from clusters of the pretrained codes" in stages[0][1]["text"]
    assert stages[0][0] < next(i for i, e in enumerate(events) if e["type"] == "model.update")
    model, _ = load_model(run_dir, plugin_manager, epoch=3)
    assert not hasattr(model, "qc_head")


def test_hold_stops_the_gradient_through_qc_but_not_its_value():
    torch.manual_seed(0)
    model = GMVAE(GMVAEOptions(**SMALL), (1, 28, 28)).eval()
    x = torch.rand(4, 1, 28, 28)
    free = model(x)
    model.hold_qc = True
    held = model(x)
    assert torch.equal(free["qc"], held["qc"])
    assert free["qc_logits"].requires_grad and not held["qc_logits"].requires_grad


def test_before_epoch_holds_qc_for_its_window_then_releases_it():
    options = GMVAEOptions(**SMALL, pretrain_epochs=1, prior_init="gmm", prior_init_subset=100, qc_hold_epochs=2)
    model = GMVAE(options, (1, 28, 28))
    images = patterned_images(120)
    seen = []
    for epoch in range(1, 6):
        update = before_epoch(options, Schedule(epoch, 5), model, images)
        seen.append((model.hold_qc, update and update["action"]))
    assert seen == [(False, None), (True, "prior_init"), (True, None), (False, "qc_released"), (False, None)]


def test_hold_to_end_holds_qc_from_the_init_to_the_last_epoch_and_never_releases_it():
    options = GMVAEOptions(**SMALL, pretrain_epochs=1, prior_init="gmm", prior_init_subset=100, qc_hold_to_end=True)
    model = GMVAE(options, (1, 28, 28))
    images = patterned_images(120)
    seen = []
    for epoch in range(1, 6):
        update = before_epoch(options, Schedule(epoch, 5), model, images)
        seen.append((model.hold_qc, update and update["action"]))
    assert seen == [(False, None), (True, "prior_init"), (True, None), (True, None), (True, None)]


@pytest.mark.parametrize("options, field", [
    ({"qc_hold_epochs": 1}, "model_options.qc_hold_epochs"),
    ({"qc_hold_to_end": True}, "model_options.qc_hold_to_end"),
    ({"pretrain_epochs": 1, "prior_init": "gmm", "qc_hold_to_end": True, "qc_hold_epochs": 1},
     "model_options.qc_hold_epochs"),
    ({"pretrain_epochs": 1, "prior_init": "gmm", "qc_hold_epochs": 2}, "model_options.qc_hold_epochs"),
])
def test_bad_hold_options_name_the_field(plugin_manager, tiny_config, options, field):
    config = {**tiny_config, "model": "gmvae", "epochs": 3, "model_options": {**SMALL, **options}}
    with pytest.raises(ConfigError, match=field):
        prepare_run(plugin_manager, config)


def test_the_head_does_not_learn_while_qc_is_held(trained_run, plugin_manager):
    options = {**SMALL, "channels": [8, 8], "pretrain_epochs": 1, "prior_init": "gmm", "prior_init_subset": 200,
               "qc_hold_epochs": 2}
    run_dir = trained_run("gmvae", epochs=4, model_options=options)
    heads = {e: load_model(run_dir, plugin_manager, epoch=e)[0].qc_head.weight for e in (2, 3, 4)}
    assert torch.equal(heads[2], heads[3])  # epochs 2-3 are held: epoch 3 did not move the head
    assert not torch.equal(heads[3], heads[4])  # released in epoch 4
    updates = [e["data"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "model.update"]
    assert [(u["epoch"], u["action"]) for u in updates] == [(2, "prior_init"), (4, "qc_released")]
    assert "held until epoch 3" in updates[0]["text"] and updates[1]["text"].startswith("q(c|x) released")


def test_a_hold_to_the_end_never_trains_the_head_again(trained_run, plugin_manager):
    options = {**SMALL, "channels": [8, 8], "pretrain_epochs": 1, "prior_init": "gmm", "prior_init_subset": 200,
               "qc_hold_to_end": True}
    run_dir = trained_run("gmvae", epochs=4, model_options=options)
    models = {e: load_model(run_dir, plugin_manager, epoch=e)[0] for e in (2, 4)}
    assert torch.equal(models[2].qc_head.weight, models[4].qc_head.weight)
    assert not torch.equal(models[2].mu_head.weight, models[4].mu_head.weight)  # the codes keep training
    updates = [e["data"] for e in read_events(run_dir / "events.jsonl") if e["type"] == "model.update"]
    assert [(u["epoch"], u["action"]) for u in updates] == [(2, "prior_init")]
    assert "after 1 autoencoder epoch," in updates[0]["text"] and "held from here to the last epoch" in updates[0]["text"]


def test_consensus_choice_keeps_the_partition_the_others_agree_with():
    a = [0, 0, 1, 1, 2, 2]
    merged = [0, 0, 0, 0, 1, 1]
    relabelled = [2, 2, 0, 0, 1, 1]  # a with other names: NMI 1 with a
    chosen, scores = consensus_choice([merged, a, relabelled])
    assert chosen == 1 and scores[1] == scores[2] > scores[0]  # a tie goes to the first
    assert consensus_choice([a]) == (0, [1.0])
