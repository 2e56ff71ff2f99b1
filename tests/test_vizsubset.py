"""The visualization subset's split (config viz_split): held-out only, training only, or both; each point
records its split and whether the run trained on it, and every per-epoch file uses the same subset."""

from __future__ import annotations

import hashlib

import pytest
import torch

from latentdeck.kit.atomic import read_json
from latentdeck.launch import ConfigError, prepare_run
from latentdeck.engine.vizsubset import choose


def _labels(n: int) -> torch.Tensor:
    return torch.arange(n) % 10


@pytest.mark.parametrize("split, held, train", [("heldout", 20, 0), ("train", 0, 30), ("all", 20, 10)])  # 20 held out
def test_choose_fills_the_split(split, held, train):
    chosen = dict(zip(("viz_indices", "viz_train_indices"), choose(split, 30, 3, _labels(20), _labels(200))))
    assert (len(chosen["viz_indices"]), len(chosen["viz_train_indices"])) == (held, train)
    for name, pool in (("viz_indices", 20), ("viz_train_indices", 200)):
        values = chosen[name]
        assert len(set(values)) == len(values) and all(0 <= v < pool for v in values)
    if train:  # class-balanced and interleaved, like the held-out choice
        assert [v % 10 for v in chosen["viz_train_indices"][:10]] == list(range(10))


def test_given_indices_are_kept(trained_run):
    run_dir = trained_run(viz_split="all", viz_subset_size=30, viz_indices=[4, 2], epochs=1, projections=[],
                          artifacts=[])
    config = read_json(run_dir / "config.json")
    assert config["viz_indices"] == [4, 2] and not config["viz_train_indices"]


def test_lists_that_contradict_the_split_are_refused(plugin_manager, tiny_config):
    with pytest.raises(ConfigError, match="viz_train_indices"):
        prepare_run(plugin_manager, {**tiny_config, "viz_train_indices": [1, 2]})
    with pytest.raises(ConfigError, match="viz_split"):
        prepare_run(plugin_manager, {**tiny_config, "viz_split": "train", "viz_indices": [1]})
    with pytest.raises(ConfigError, match="viz_split"):
        prepare_run(plugin_manager, {**tiny_config, "viz_split": "everything"})


def _digest(image: torch.Tensor) -> str:
    return hashlib.sha256((image.float() * 255).round().byte().numpy().tobytes()).hexdigest()


def test_trained_flags_match_the_examples_trained_on(trained_run, plugin_manager):
    """A training digit is marked trained exactly when the trainer optimised on it (here limit = 50 of 256)."""
    from latentdeck.registry import collect
    from latentdeck.engine.training import Trainer, load_viz_subset
    from latentdeck.store.resolved import load_run

    run_dir = trained_run(viz_split="all", viz_subset_size=100, limit=50, epochs=1)
    config = read_json(run_dir / "config.json")
    assert len(config["viz_indices"]) == 64 and len(config["viz_train_indices"]) == 36  # tiny-digits: 64 held out
    projection = read_json(run_dir / "projections/latent_2d_epoch_1_first-dims.json")
    assert projection["split"] == ["heldout"] * 64 + ["train"] * 36
    assert projection["indices"] == config["viz_indices"] + config["viz_train_indices"]
    assert not any(projection["trained"][:64])

    run = load_run(run_dir, plugin_manager)
    assert run.settings.viz_train_indices == config["viz_train_indices"] and run.train_subset == config["train_subset"]
    trainer = Trainer(run_dir, run, plugin_manager, events=None)
    trainer.load_data()
    trained_images = {_digest(x) for x in trainer.x_train}
    viz = load_viz_subset(run, collect(plugin_manager, "datasets")[config["dataset"]])
    assert viz.indices == load_viz_subset(config, collect(plugin_manager, "datasets")[config["dataset"]]).indices
    for i in range(64, 100):
        assert projection["trained"][i] == (_digest(viz.x[i]) in trained_images), f"point {i} (train #{viz.indices[i]})"
    assert 0 < sum(projection["trained"]) < 36, "some training digits are outside the limit"
    knn = read_json(run_dir / "neighbors/knn_first-dims_epoch_1.json")
    assert knn["indices"] == projection["indices"] and knn["n"] == 100
    assert read_json(run_dir / "atlas/atlas_inputs.json")["n"] == 100
