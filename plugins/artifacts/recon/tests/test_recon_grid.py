"""The reconstruction grid: pixel layout, and files written through a real RunContext."""

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
from latentdeck_recon.plugin import COLUMNS, PAD, ReconOptions, generate, grid_image


def exact_images(n: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Floats that are exactly k/255, so the grid's uint8 pixels are known."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, h, w), generator=generator).float() / 255


def test_grid_layout_small():
    originals = exact_images(3, 1, 4, 4, seed=1)
    recons = exact_images(3, 1, 4, 4, seed=2)
    grid = grid_image(originals, recons, columns=2, pad=1)
    # 2 image rows of (original, reconstruction): height (4+1)*2*2+1, width (4+1)*2+1
    assert grid.shape == (21, 11) and grid.dtype == np.uint8
    to_u8 = lambda t: (t[0] * 255).round().byte().numpy()
    cells = {  # example i -> (top, left) of its original; its reconstruction sits h+pad lower
        0: (1, 1), 1: (1, 6), 2: (11, 1)}
    for i, (top, left) in cells.items():
        np.testing.assert_array_equal(grid[top:top + 4, left:left + 4], to_u8(originals[i]))
        np.testing.assert_array_equal(grid[top + 5:top + 9, left:left + 4], to_u8(recons[i]))
    # padding and the empty fourth cell keep the background value
    assert (grid[0, :] == 32).all() and (grid[:, 0] == 32).all() and (grid[5, :] == 32).all()
    assert (grid[11:20, 6:10] == 32).all()


def test_grid_averages_channels_and_clamps():
    originals = torch.zeros(1, 3, 4, 4)
    originals[0, 0] = 0.6
    originals[0, 1] = 0.3  # mean (0.6 + 0.3 + 0) / 3 = 0.3 -> 76.5 -> 76 or 77
    recons = torch.full((1, 3, 4, 4), 2.0)  # clamped to 1 -> 255
    recons[0, :, 0, 0] = -1.0  # clamped to 0
    grid = grid_image(originals, recons, columns=1, pad=2)
    assert grid.shape == ((4 + 2) * 2 + 2, 4 + 2 + 2)
    assert set(np.unique(grid[2:6, 2:6]).tolist()) <= {76, 77}
    assert grid[8, 2] == 0 and (grid[8:12, 3:6] == 255).all()


def test_default_layout_for_sixteen_mnist_digits():
    grid = grid_image(torch.zeros(16, 1, 28, 28), torch.ones(16, 1, 28, 28))
    assert (COLUMNS, PAD) == (8, 2)
    assert grid.shape == ((28 + 2) * 2 * 2 + 2, (28 + 2) * 8 + 2)
    assert (grid[2:30, 2:30] == 0).all() and (grid[32:60, 2:30] == 255).all()  # row 1: originals, then recons
    assert (grid[62:90, 212:240] == 0).all() and (grid[92:120, 212:240] == 255).all()  # last cell


def test_registered_by_the_recon_plugin(plugin_manager):
    spec = collect(plugin_manager, "computations")["recon_grid"]
    assert providers(plugin_manager, "computations")["recon_grid"] == "latentdeck.recon"
    assert spec.requires == {"reconstruction"} and spec.compute is generate


@pytest.fixture
def context(tmp_path):
    x = exact_images(5, 1, 28, 28, seed=3)
    recon = exact_images(5, 1, 28, 28, seed=4)
    events = EventLog(tmp_path / "events.jsonl", "run-1")
    ctx = RunContext(
        run_id="run-1", run_dir=tmp_path, epoch=3, config={}, model=None, model_spec=None,
        dataset_spec=None, viz=VizSubset([5, 7, 9, 11, 13], x, torch.tensor([1, 2, 3, 4, 5])),
        outputs={"recon": recon}, generator="recon_grid", options=ReconOptions(grid_size=4), events=events)
    yield ctx
    events.close()


def test_generate_writes_epoch_and_latest_files(context, tmp_path):
    generate(context)
    folder = tmp_path / "reconstructions"
    assert sorted(p.name for p in folder.iterdir()) == [
        "recon_grid_epoch_3.json", "recon_grid_epoch_3.png", "recon_grid_latest.json", "recon_grid_latest.png"]
    for ext in ("png", "json"):
        assert (folder / f"recon_grid_latest.{ext}").read_bytes() == (folder / f"recon_grid_epoch_3.{ext}").read_bytes()

    x, recon = context.viz.x[:4], context.outputs["recon"][:4]
    png = np.array(Image.open(io.BytesIO((folder / "recon_grid_epoch_3.png").read_bytes())))
    np.testing.assert_array_equal(png, grid_image(x, recon))

    payload = read_json(folder / "recon_grid_epoch_3.json")
    assert payload["epoch"] == 3
    assert payload["indices"] == [5, 7, 9, 11]
    assert payload["labels"] == [1, 2, 3, 4]
    expected_mse = ((recon - x) ** 2).flatten(1).mean(1)
    assert payload["mse"] == pytest.approx(expected_mse.tolist(), rel=1e-6)
    assert payload["mean_mse"] == pytest.approx(float(expected_mse.mean()), rel=1e-6)
    assert payload["layout"]["columns"] == COLUMNS and payload["layout"]["image_shape"] == [1, 28, 28]

    assert context.written == ["reconstructions/recon_grid_epoch_3.png", "reconstructions/recon_grid_epoch_3.json"]
    events = [e["data"] for e in read_events(tmp_path / "events.jsonl")]
    assert [(e["name"], e["latest"], e["epoch"], e["generator"], e["kind"]) for e in events] == [
        ("reconstructions/recon_grid_epoch_3.png", "reconstructions/recon_grid_latest.png", 3, "recon_grid",
         "reconstructions"),
        ("reconstructions/recon_grid_epoch_3.json", "reconstructions/recon_grid_latest.json", 3, "recon_grid",
         "reconstructions")]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_grid_size_larger_than_the_subset_uses_the_whole_subset(context, tmp_path):
    context.options = ReconOptions(grid_size=99)
    generate(context)
    payload = read_json(tmp_path / "reconstructions" / "recon_grid_latest.json")
    assert payload["indices"] == [5, 7, 9, 11, 13] and len(payload["mse"]) == 5


def test_a_later_epoch_updates_latest_and_keeps_the_earlier_one(context, tmp_path):
    generate(context)
    context.epoch = 4
    context.outputs = {"recon": torch.zeros_like(context.outputs["recon"])}
    generate(context)
    folder = tmp_path / "reconstructions"
    assert read_json(folder / "recon_grid_latest.json")["epoch"] == 4
    assert read_json(folder / "recon_grid_epoch_3.json")["epoch"] == 3
    assert (folder / "recon_grid_latest.png").read_bytes() == (folder / "recon_grid_epoch_4.png").read_bytes()
    assert (folder / "recon_grid_epoch_3.png").read_bytes() != (folder / "recon_grid_epoch_4.png").read_bytes()


def test_grid_size_is_an_option_of_the_plugin(plugin_manager, tiny_config):
    from latentdeck.launch import prepare_run

    spec = collect(plugin_manager, "computations")["recon_grid"]
    assert spec.options is ReconOptions and ReconOptions().grid_size == 16
    run = prepare_run(plugin_manager, {**tiny_config, "artifact_options": {"recon_grid": {"grid_size": 8}}})
    assert run.artifact_options["recon_grid"].grid_size == 8
    assert run.config["artifact_options"] == {"recon_grid": {"grid_size": 8}} and "recon_grid_size" not in run.config
    assert prepare_run(plugin_manager, tiny_config).artifact_options["recon_grid"].grid_size == 16  # the default


def test_the_old_top_level_field_is_refused_naming_its_new_place(plugin_manager, tiny_config):
    from latentdeck.launch import ConfigError, prepare_run

    moved = r"recon_grid_size: this field moved to artifact_options\.recon_grid\.grid_size"
    with pytest.raises(ConfigError, match=moved):
        prepare_run(plugin_manager, {**tiny_config, "recon_grid_size": 8})


def test_an_old_runs_config_means_the_same(plugin_manager, tiny_config, tmp_path):
    """A config.json written when recon_grid_size was a run-config field loads with that size as the option."""
    from latentdeck.kit.atomic import write_json
    from latentdeck.launch import prepare_run
    from latentdeck.store.resolved import load_run

    old = {**prepare_run(plugin_manager, tiny_config).config, "recon_grid_size": 4}
    write_json(tmp_path / "config.json", old)
    run = load_run(tmp_path, plugin_manager)
    assert run.artifact_options["recon_grid"].grid_size == 4
    assert run.config["recon_grid_size"] == 4  # the stored field is kept as written
    assert run.config["artifact_options"]["recon_grid"] == {"grid_size": 4}  # what the artifact engine reads


def test_a_context_from_an_unresolved_old_config_keeps_its_size(context, tmp_path):
    """A caller that hands the generator config.json as stored (not the resolved run) still gets the old size."""
    context.options, context.config = ReconOptions(), {"recon_grid_size": 2}
    generate(context)
    assert read_json(tmp_path / "reconstructions" / "recon_grid_latest.json")["indices"] == [5, 7]
