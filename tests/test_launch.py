"""prepare_run: the default dataset's resolution is shown and recorded, never a silent switch."""

import numpy as np
import pytest

from latentdeck.kit.datasets import write_idx
from latentdeck.launch import ConfigError, prepare_run


def _write_mnist(raw, n_train=20, n_test=10):
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    write_idx(raw / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8))
    write_idx(raw / "train-labels-idx1-ubyte.gz", (np.arange(n_train) % 10).astype(np.uint8))
    write_idx(raw / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8))
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", (np.arange(n_test) % 10).astype(np.uint8))


def test_default_uses_mnist_5k_when_mnist_files_are_missing_and_says_so(plugin_manager, tmp_path):
    stored = prepare_run(plugin_manager, {"data_dir": str(tmp_path)})
    assert stored["dataset"] == "mnist-5k" and stored["dataset_requested"] == "default"
    note = stored["dataset_note"]
    assert "mnist-5k" in note and str(tmp_path / "MNIST" / "raw") in note and "train-images-idx3-ubyte" in note


def test_default_uses_full_mnist_when_its_files_are_present(plugin_manager, tmp_path):
    _write_mnist(tmp_path / "MNIST" / "raw")
    stored = prepare_run(plugin_manager, {"data_dir": str(tmp_path)})
    assert stored["dataset"] == "mnist" and stored["dataset_requested"] == "default"
    assert stored["dataset_note"].startswith("default dataset: mnist (MNIST handwritten digits")


def test_explicit_mnist_without_files_is_an_error_not_a_switch(plugin_manager, tmp_path):
    with pytest.raises(ConfigError) as info:
        prepare_run(plugin_manager, {"dataset": "mnist", "data_dir": str(tmp_path)})
    message = str(info.value)
    assert "'mnist' is not available" in message and "t10k-labels-idx1-ubyte" in message and "mnist-5k" in message


def test_explicit_dataset_has_no_note(plugin_manager):
    stored = prepare_run(plugin_manager, {"dataset": "tiny-digits"})
    assert stored["dataset"] == "tiny-digits" and stored["dataset_note"] is None


def test_unknown_names_suggest_the_closest(plugin_manager):
    with pytest.raises(ConfigError, match="Did you mean 'ae'"):
        prepare_run(plugin_manager, {"model": "aee"})
    with pytest.raises(ConfigError, match="unknown dataset 'mnist5k'.*Did you mean 'mnist-5k'"):
        prepare_run(plugin_manager, {"dataset": "mnist5k"})
    with pytest.raises(ConfigError, match="unknown executor 'rayy'.*Did you mean 'ray'"):
        prepare_run(plugin_manager, {"executor": "rayy"})
    with pytest.raises(ConfigError, match="model_options.latent_dim"):
        prepare_run(plugin_manager, {"model_options": {"latent_dim": "big"}})
