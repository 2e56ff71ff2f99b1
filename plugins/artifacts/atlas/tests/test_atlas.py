"""The sprite atlas: tile layout, files through a real RunContext (inputs once, reconstructions per
epoch with a latest mirror), per-point hover values, a real run and a backfill of a run without it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from latentdeck.engine.context import RunContext, VizSubset
from latentdeck.kit import read_artifact
from latentdeck.kit.atomic import read_json
from latentdeck.store.events import EventLog, read_events
from latentdeck.registry import collect, providers
from latentdeck_atlas.plugin import generate, tile


def exact_images(n: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Floats that are exactly k/255, so the sheet's uint8 pixels are known."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, h, w), generator=generator).float() / 255


def test_registered_for_every_model(plugin_manager):
    spec = collect(plugin_manager, "computations")["atlas"]
    assert providers(plugin_manager, "computations")["atlas"] == "latentdeck.atlas"
    assert spec.requires == frozenset() and spec.compute is generate


@pytest.mark.parametrize("n", [1, 5, 9, 10])
def test_tile_i_sits_at_its_column_and_row(n):
    images = exact_images(n, 1, 4, 3, seed=n)
    sheet, layout = tile(images)
    columns, rows = layout["columns"], layout["rows"]
    assert columns * rows >= n > columns * (rows - 1) and sheet.shape == (rows * 4, columns * 3)
    for i in range(n):
        r, c = divmod(i, columns)
        expected = (images[i, 0] * 255).round().byte().numpy()
        np.testing.assert_array_equal(sheet[r * 4:(r + 1) * 4, c * 3:(c + 1) * 3], expected)
    assert (sheet.reshape(-1)[n * 0:] >= 0).all()
    if columns * rows > n:  # unused cells stay black
        r, c = divmod(n, columns)
        assert (sheet[r * 4:(r + 1) * 4, c * 3:(c + 1) * 3] == 0).all()


def test_channels_are_averaged():
    images = torch.stack([torch.full((2, 2), 0.2), torch.full((2, 2), 0.6)]).unsqueeze(0)  # (1, 2, 2, 2)
    sheet, _ = tile(images)
    assert (sheet == round(0.4 * 255)).all()


def _context(run_dir, epoch, log, outputs, x, indices):
    viz = VizSubset(indices, x, torch.arange(len(indices)) % 10)
    return RunContext(run_id="r", run_dir=run_dir, epoch=epoch, config={"seed": 0}, model=None, model_spec=None,
                           dataset_spec=None, viz=viz, outputs=outputs, generator="atlas", events=log)


def test_inputs_once_reconstructions_per_epoch(tmp_path):
    x = exact_images(6, 1, 5, 5, seed=1)
    qc = torch.tensor([[0.9, 0.1], [0.2, 0.8]] * 3)
    logits = torch.tensor([[2.0, 0.0]] * 6)
    with EventLog(tmp_path / "events.jsonl", "r") as log:
        for epoch in (1, 2):
            recon = exact_images(6, 1, 5, 5, seed=10 + epoch)
            generate(_context(tmp_path, epoch, log, {"recon": recon, "qc": qc, "logits": logits}, x, [7, 3, 5, 1, 0, 2]))
    inputs = read_json(tmp_path / "atlas/atlas_inputs.json")
    assert inputs["indices"] == [7, 3, 5, 1, 0, 2] and inputs["tile"] == [5, 5] and inputs["n"] == 6
    sheet = np.asarray(Image.open(tmp_path / "atlas/atlas_inputs.png"))
    np.testing.assert_array_equal(sheet, tile(x)[0])
    second = read_json(tmp_path / "atlas/atlas_epoch_2.json")
    assert second["epoch"] == 2 and second["png"] == "atlas/atlas_epoch_2.png"
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "atlas/atlas_latest.png")),
                                  tile(exact_images(6, 1, 5, 5, seed=12))[0])
    assert read_json(tmp_path / "atlas/atlas_latest.json") == second
    mse = ((exact_images(6, 1, 5, 5, seed=12) - x) ** 2).flatten(1).mean(1)
    assert second["mse"] == pytest.approx(mse.tolist(), abs=1e-6)
    assert second["qc"][1] == [0.2, 0.8] and second["qc_max"][:2] == [0.9, 0.8]
    assert second["softmax_max"][0] == pytest.approx(float(torch.tensor([2.0, 0.0]).softmax(0).max()), abs=1e-3)
    assert second["softmax"][0] == pytest.approx(torch.tensor([2.0, 0.0]).softmax(0).tolist(), abs=1e-3)
    created = [e["data"] for e in read_events(tmp_path / "events.jsonl") if e["type"] == "artifact.created"]
    names = [d["name"] for d in created]
    assert names.count("atlas/atlas_inputs.png") == 1 and names.count("atlas/atlas_inputs.json") == 1  # once per run
    assert [d["latest"] for d in created if d["name"] == "atlas/atlas_inputs.json"] == [None]
    assert "atlas/atlas_epoch_1.png" in names and "atlas/atlas_epoch_2.json" in names


def test_a_model_without_reconstruction_gets_inputs_only(tmp_path):
    with EventLog(tmp_path / "events.jsonl", "r") as log:
        generate(_context(tmp_path, 1, log, {"logits": torch.zeros(3, 10)}, exact_images(3, 1, 4, 4, 0), [0, 1, 2]))
    assert (tmp_path / "atlas/atlas_inputs.png").exists() and not list(tmp_path.glob("atlas/atlas_epoch_*"))


def test_a_real_run_writes_the_atlas_and_backfill_restores_it(trained_run, plugin_manager):
    run_dir = trained_run("gmvae", epochs=2)
    config = read_json(run_dir / "config.json")
    inputs = read_json(run_dir / "atlas/atlas_inputs.json")
    assert inputs["indices"] == config["viz_indices"]
    recon = read_json(run_dir / "atlas/atlas_latest.json")
    assert recon["epoch"] == 2 and len(recon["qc"]) == len(config["viz_indices"]) and "softmax_max" not in recon
    projection = read_artifact(run_dir / "projections/latent_2d_epoch_2_first-dims.json")  # either format
    assert np.asarray(projection["indices"]).tolist() == list(recon["indices"])  # tile i is point i of every projection file

    from latentdeck.engine.backfill import backfill

    for name in ("atlas_inputs.png", "atlas_inputs.json", "atlas_epoch_1.png", "atlas_epoch_1.json"):
        (run_dir / "atlas" / name).unlink()
    backfill(run_dir, plugin_manager, artifacts=["atlas"])
    assert read_json(run_dir / "atlas/atlas_inputs.json") == inputs
    assert read_json(run_dir / "atlas/atlas_epoch_1.json")["epoch"] == 1
    assert read_json(run_dir / "atlas/atlas_latest.json")["epoch"] == 2  # the mirror never moves back
