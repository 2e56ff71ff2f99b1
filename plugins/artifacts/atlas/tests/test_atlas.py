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
from latentdeck.engine import computations
from latentdeck.engine.epochs import EpochModels
from latentdeck_atlas.plugin import AtlasOptions, compute, generate, tile
from latentdeck_atlas.sheet import SheetRequest


def exact_images(n: int, c: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Floats that are exactly k/255, so the sheet's uint8 pixels are known."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, c, h, w), generator=generator).float() / 255


def test_registered_for_every_model(plugin_manager):
    spec = collect(plugin_manager, "computations")["atlas"]
    assert providers(plugin_manager, "computations")["atlas"] == "latentdeck.atlas"
    assert spec.requires == frozenset() and spec.compute is compute and spec.per_epoch and spec.askable
    assert spec.roles()["atlas_{tag}.json"] == "reconstruction-thumbnails"


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


def _context(run_dir, epoch, log, outputs, x, indices, options=None):
    viz = VizSubset(indices, x, torch.arange(len(indices)) % 10)
    return RunContext(run_id="r", run_dir=run_dir, epoch=epoch, config={"seed": 0}, model=None, model_spec=None,
                           dataset_spec=None, viz=viz, outputs=outputs, generator="atlas", events=log, options=options)


def test_inputs_once_reconstructions_per_epoch(tmp_path):
    x = exact_images(6, 1, 5, 5, seed=1)
    qc = torch.tensor([[0.9, 0.1], [0.2, 0.8]] * 3)
    logits = torch.tensor([[2.0, 0.0]] * 6)
    with EventLog(tmp_path / "events.jsonl", "r") as log:
        for epoch in (1, 2):
            recon = exact_images(6, 1, 5, 5, seed=10 + epoch)
            generate(_context(tmp_path, epoch, log, {"recon": recon, "qc": qc, "logits": logits}, x, [7, 3, 5, 1, 0, 2]))
    inputs = read_artifact(tmp_path / "atlas/atlas_inputs.json")
    assert inputs["indices"].tolist() == [7, 3, 5, 1, 0, 2] and inputs["tile"] == [5, 5] and inputs["n"] == 6
    assert inputs["indices"].dtype == np.int32 and inputs["labels"].dtype == np.uint8
    assert inputs["labels"].tolist() == [0, 1, 2, 3, 4, 5]
    sheet = np.asarray(Image.open(tmp_path / "atlas/atlas_inputs.png"))
    np.testing.assert_array_equal(sheet, tile(x)[0])
    second = read_artifact(tmp_path / "atlas/atlas_epoch_2.json")
    assert second["epoch"] == 2 and second["png"] == "atlas/atlas_epoch_2.png" and "png_on_demand" not in second
    assert second["arrays"]["file"] == "atlas_epoch_2.safetensors"
    dtypes = {name: second[name].dtype for name in ("mse", "qc", "qc_max", "softmax", "softmax_max", "indices")}
    assert dtypes == {"mse": np.float32, "qc": np.float32, "qc_max": np.float32, "softmax": np.float32,
                      "softmax_max": np.float32, "indices": np.int32}
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "atlas/atlas_latest.png")),
                                  tile(exact_images(6, 1, 5, 5, seed=12))[0])
    assert (tmp_path / "atlas/atlas_latest.json").read_bytes() == (tmp_path / "atlas/atlas_epoch_2.json").read_bytes()
    mse = ((exact_images(6, 1, 5, 5, seed=12) - x) ** 2).flatten(1).mean(1)
    np.testing.assert_allclose(second["mse"], mse.numpy(), atol=1e-6)
    assert second["qc"].shape == (6, 2) and second["qc"][1].tolist() == pytest.approx([0.2, 0.8])
    assert second["qc_max"][:2].tolist() == pytest.approx([0.9, 0.8])
    assert second["softmax_max"][0] == pytest.approx(float(torch.tensor([2.0, 0.0]).softmax(0).max()), abs=1e-3)
    assert second["softmax"][0].tolist() == pytest.approx(torch.tensor([2.0, 0.0]).softmax(0).tolist(), abs=1e-3)
    created = [e["data"] for e in read_events(tmp_path / "events.jsonl") if e["type"] == "artifact.created"]
    names = [d["name"] for d in created]
    assert names.count("atlas/atlas_inputs.png") == 1 and names.count("atlas/atlas_inputs.json") == 1  # once per run
    assert [d["latest"] for d in created if d["name"] == "atlas/atlas_inputs.json"] == [None]
    assert "atlas/atlas_epoch_1.png" in names and "atlas/atlas_epoch_2.json" in names
    assert "atlas/atlas_epoch_2.safetensors" in names


def test_above_sheet_max_n_the_reconstructions_sheet_waits_to_be_asked_for(tmp_path):
    x = exact_images(6, 1, 5, 5, seed=1)
    with EventLog(tmp_path / "events.jsonl", "r") as log:
        generate(_context(tmp_path, 1, log, {"recon": exact_images(6, 1, 5, 5, seed=2)}, x, list(range(6)),
                          AtlasOptions(sheet_max_n=5)))
    assert not (tmp_path / "atlas/atlas_epoch_1.png").exists() and (tmp_path / "atlas/atlas_inputs.png").exists()
    doc = read_artifact(tmp_path / "atlas/atlas_epoch_1.json")
    assert doc["png"] is None and (doc["n"], doc["columns"], doc["rows"], doc["tile"]) == (6, 3, 2, [5, 5])
    assert doc["png_on_demand"]["computation"] == "atlas" and doc["png_on_demand"]["request"] == {"epoch": 1}
    assert doc["png_on_demand"]["png"] == "atlas/sheets/epoch_1/reconstructions.png"
    assert doc["mse"].shape == (6,)  # the hover's values stay per epoch


def test_a_model_without_reconstruction_gets_inputs_only(tmp_path):
    with EventLog(tmp_path / "events.jsonl", "r") as log:
        generate(_context(tmp_path, 1, log, {"logits": torch.zeros(3, 10)}, exact_images(3, 1, 4, 4, 0), [0, 1, 2]))
    assert (tmp_path / "atlas/atlas_inputs.png").exists() and not list(tmp_path.glob("atlas/atlas_epoch_*"))


def test_a_real_run_writes_the_atlas_and_backfill_restores_it(trained_run, plugin_manager):
    run_dir = trained_run("gmvae", epochs=2)
    config = read_json(run_dir / "config.json")
    inputs = read_artifact(run_dir / "atlas/atlas_inputs.json")
    assert inputs["indices"].tolist() == config["viz_indices"]
    recon = read_artifact(run_dir / "atlas/atlas_latest.json")
    assert recon["epoch"] == 2 and len(recon["qc"]) == len(config["viz_indices"]) and "softmax_max" not in recon
    projection = read_artifact(run_dir / "projections/latent_2d_epoch_2_first-dims.json")  # either format
    assert np.asarray(projection["indices"]).tolist() == list(recon["indices"])  # tile i is point i of every projection file

    from latentdeck.engine.backfill import backfill

    for name in ("atlas_inputs.png", "atlas_inputs.json", "atlas_inputs.safetensors", "atlas_epoch_1.png",
                 "atlas_epoch_1.json", "atlas_epoch_1.safetensors"):
        (run_dir / "atlas" / name).unlink()
    backfill(run_dir, plugin_manager, artifacts=["atlas"])
    again = read_artifact(run_dir / "atlas/atlas_inputs.json")
    assert again["indices"].tolist() == inputs["indices"].tolist()
    assert again["labels"].tolist() == inputs["labels"].tolist()
    assert read_artifact(run_dir / "atlas/atlas_epoch_1.json")["epoch"] == 1
    assert read_json(run_dir / "atlas/atlas_latest.json")["epoch"] == 2  # the mirror never moves back


def test_asked_for_the_sheet_is_the_epoch_loops_sheet(trained_run, plugin_manager, tmp_path):
    """A run whose subset is above sheet_max_n: asking for an epoch's sheet draws the tiles the epoch loop would
    have drawn (the same checkpoint's reconstructions, the layout of the epoch's JSON index), once."""
    run_dir = trained_run("ae", epochs=1, artifact_options={"atlas": {"sheet_max_n": 8}})
    index = read_artifact(run_dir / "atlas/atlas_epoch_1.json")
    assert index["png"] is None and not (run_dir / "atlas/atlas_epoch_1.png").exists()
    spec = collect(plugin_manager, "computations")["atlas"]
    models = EpochModels()

    def ask():
        return computations.run(spec, computations.context_for(run_dir, spec, plugin_manager, models),
                                SheetRequest.model_validate({"epoch": 1})).as_json()

    first = ask()
    assert first["created"] and first["payload"]["png"] == index["png_on_demand"]["png"]
    assert {k: first["payload"][k] for k in ("n", "tile", "columns", "rows")} == {
        k: index[k] for k in ("n", "tile", "columns", "rows")}
    loaded = models.get(run_dir, 1, plugin_manager)
    viz = computations.context_for(run_dir, spec, plugin_manager, models).viz_subset()
    with torch.no_grad():
        recon = loaded.model(viz.x)["recon"]
    np.testing.assert_array_equal(np.asarray(Image.open(run_dir / first["payload"]["png"])), tile(recon)[0])
    mse = ((recon.float() - viz.x.float()) ** 2).flatten(1).mean(1).numpy()
    np.testing.assert_allclose(index["mse"], mse, atol=1e-6)  # the same reconstructions as the epoch loop's
    again = ask()
    assert again["created"] is False and again["payload"] == first["payload"]

    from types import SimpleNamespace

    from latentdeck.kit import OnDemandError
    from latentdeck_atlas.sheet import draw

    stopped = computations.context_for(run_dir, spec, plugin_manager, models)
    answer = tmp_path / "answer"
    answer.mkdir()
    stopped.epoch, stopped.folder, stopped.fence = 1, answer, SimpleNamespace(reason="out of its 120 s budget")
    with pytest.raises(OnDemandError, match="stopped: out of its 120 s budget"):
        draw(stopped, SheetRequest(epoch=1))
    assert not list(answer.iterdir())  # nothing drawn
