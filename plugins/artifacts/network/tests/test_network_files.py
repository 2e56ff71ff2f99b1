"""Network inspection's files on tiny trained runs: the files and fields of the contract for the AE and the
GM-VAE at the seed specification's paths, repeats served from disk, and refusals that leave nothing on disk."""

from __future__ import annotations

import math

import pytest
from latentdeck.engine.run_files import list_run_files
from latentdeck.store.runs import RunStore
from latentdeck.kit import OnDemandError, read_json
from latentdeck.registry import get_plugin_manager

CONV1 = "trunk.layers.0"  # the tiny runs' first encoder conv: 1 -> 8 channels, 3x3, padding 1


def _files(run_dir):
    return sorted(p.relative_to(run_dir).as_posix() for p in (run_dir / "network").rglob("*")) \
        if (run_dir / "network").exists() else []


@pytest.mark.parametrize("model", ["ae", "gmvae"])
def test_forward_capture_files_and_fields(trained_run, inspector_for, model):
    run_dir = trained_run(model)
    net, announced = inspector_for(run_dir)
    result = net.forward(1, 5)
    folder = run_dir / "network/forward/epoch_1/idx_5"
    assert result.folder == "network/forward/epoch_1/idx_5" and result.created
    for name in ("input.png", "recon.png", "layers.json", "latent.json", "forward_meta.json"):
        assert (folder / name).is_file(), name
    layers = result.payload["layers"]
    ids = [row["id"] for row in layers]
    assert ids == [row["id"] for row in net.layers(2)["layers"]]  # stable across epochs
    assert ids[0] == CONV1 and layers[0]["conv1_like"] and not any(row["conv1_like"] for row in layers[1:])
    for row in layers:
        sub = folder / f"layer_{row['id']}"
        image = "grid.png" if row["kind"] == "spatial" else "vector.png"
        assert (sub / "summary.json").is_file() and (sub / image).is_file(), row["id"]
        assert {"id", "type", "shape", "kind"} <= set(row) and row["summary"]["image"] == image
        assert len(row["shape"]) == (3 if row["kind"] == "spatial" else 1)
    meta, latent = result.payload["meta"], result.payload["latent"]["vectors"]
    assert (meta["model"], meta["epoch"], meta["index"]) == (model, 1, 5)
    if model == "ae":
        assert set(latent) == {"z", "logits"} and meta["sample_id"] is None
    else:
        assert {"z", "mu", "logvar", "qc_probs", "z_sample"} <= set(latent)
        assert sum(latent["qc_probs"]) == pytest.approx(1, abs=1e-5)
        assert meta["sample_id"].startswith("heldout:5:seed=") and meta["sampling"]["seed"] >= 0
    assert announced == [(f, 1) for f in result.files] and len(result.files) == len([p for p in folder.rglob("*") if p.is_file()])
    again = net.forward(1, 5)
    assert not again.created and again.payload == result.payload and len(announced) == len(result.files)


def test_channel_inspect_files(trained_run, inspector_for):
    run_dir = trained_run("ae")
    net, _ = inspector_for(run_dir)
    result = net.inspect(None, 1, "trunk.layers.2", 4)
    names = {f.rsplit("/", 1)[1] for f in result.files}
    assert names == {"inspect.json", "channel.png", "heat_rgba.png", "overlay.png", "result.json"}
    # the seed specification's files, directly in ch_<c>/
    assert result.folder == "network/inspect/epoch_2/idx_1/layer_trunk.layers.2/ch_4"
    assert sorted(result.files) == sorted(f"{result.folder}/{n}" for n in names)
    payload = result.payload
    assert payload["shape"] == [28, 28] and len(payload["values"]) == 28 and "xy" not in payload
    assert payload["stats"]["max"] == max(map(max, payload["values"]))
    assert read_json(run_dir / result.folder / "inspect.json") == payload
    probed = net.inspect(None, 1, "trunk.layers.2", 4, (10, 12))
    assert probed.payload["xy"] == {"x": 10, "y": 12, "value": payload["values"][12][10]}
    assert probed.payload["rf"]["bounds"] == {"x0": 9, "y0": 11, "x1": 11, "y1": 13}
    # a probe's answer is a sibling of ch_<c>/ with the same file names; its inspect.json has xy and rf
    assert probed.folder == "network/inspect/epoch_2/idx_1/layer_trunk.layers.2/ch_4_probe_x_10_y_12"
    assert {f.rsplit("/", 1)[1] for f in probed.files} == names
    assert read_json(run_dir / probed.folder / "inspect.json") == probed.payload
    from PIL import Image
    heat = Image.open(run_dir / result.folder / "heat_rgba.png")
    assert heat.mode == "RGBA" and heat.size == (28, 28)


BAD_INPUT = [
    (lambda n: n.inspect(None, 0, "nope", 0), "unknown layer 'nope'; layers of this model: trunk.layers.0", 404),
    (lambda n: n.inspect(None, 0, "trunk.layers.2", 8), r"channel of trunk.layers.2 \(8 channels\): 8 is out of range: use 0..7", 422),
    (lambda n: n.inspect(None, 0, "to_latent", 0), "is a vector layer", 422),
    (lambda n: n.inspect(None, 0, "trunk.layers.2", 0, (28, 0)), r"use 0..27", 422),
    (lambda n: n.conv_step(None, 0, "trunk.layers.3", 0, 0, 0), "is not conv1-like.*conv1-like layers here: trunk.layers.0", 422),
    (lambda n: n.conv_step(None, 0, CONV1, 0, 0, 30), r"y of trunk.layers.0 \(height 28\): 30", 422),
    (lambda n: n.forward(9, 0), "epoch 9 has no checkpoint; epochs with checkpoints: 1, 2", 404),
    (lambda n: n.forward(None, 10_000), "outside the held-out split", 422),
    (lambda n: n.topk(None, "trunk.layers.2", 0, "max", 10 ** 9, 5), "Input should be less than or equal to 10000", 422),
    (lambda n: n.topk(None, "trunk.layers.2", 0, "max", 10, 11), r"k 11 is out of range: use 1..10", 422),
    (lambda n: n.topk(None, "trunk.layers.2", 0, "median", 10, 1), "Input should be 'max' or 'mean'", 422),
    (lambda n: n.kernels(None, "trunk.layers.1", 0), "is not a Conv2d layer; layers with kernels: trunk.layers.0", 422),
    (lambda n: n.perturb(None, 0, "logits", 0, 1.0), "vector 'logits' cannot be perturbed; decodable vectors of this model: z", 422),
    (lambda n: n.perturb(None, 0, "z", 4, 1.0), r"dim of z \(4 dims\): 4 is out of range: use 0..3", 422),
    (lambda n: n.perturb(None, 0, "z", 0, math.inf), "finite number", 422),
    (lambda n: n.inspect(None, 0, "../../../x", 0), "String should match pattern", 422),  # never a folder name
    (lambda n: n.kernels(None, "a/../b", 0), "String should match pattern", 422),
    (lambda n: n.kernels(None, "trunk.layers.99", 0), "'trunk.layers.99' is not a layer of this model", 404),
]


def test_bad_input_names_the_range_and_leaves_nothing(trained_run, inspector_for):
    run_dir = trained_run("ae")  # one run for every case: each trains in about a second
    net, announced = inspector_for(run_dir)
    for call, message, status in BAD_INPUT:
        with pytest.raises(OnDemandError, match=message) as err:
            call(net)
        assert err.value.status == status, message
        assert _files(run_dir) == [] and announced == [], message


def test_a_failure_while_writing_leaves_no_folder(trained_run, inspector_for, monkeypatch):
    run_dir = trained_run("ae")
    net, announced = inspector_for(run_dir)
    from latentdeck_network import render

    monkeypatch.setattr(render, "png_bytes", lambda pixels: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        net.forward(None, 0)
    leftovers = [p for p in (run_dir / "network").rglob("*")] if (run_dir / "network").exists() else []
    assert [p for p in leftovers if p.is_file()] == [] and announced == []


def test_repeats_are_served_from_disk_without_the_model(trained_run, inspector_for, network_asker):
    run_dir = trained_run("ae")
    net, _ = inspector_for(run_dir)
    first = [net.forward(None, 1), net.inspect(None, 1, "trunk.layers.2", 3, (4, 5)), net.conv_step(None, 1, CONV1, 3, 4, 5),
             net.kernels(None, "trunk.layers.3", 1), net.perturb(None, 1, "z", 0, 0.5), net.topk(None, "trunk.layers.2", 3, "mean", 20, 4)]

    class NoModels:
        def get(self, *args):
            raise AssertionError("a repeat must not load the model")

    from_disk = network_asker(run_dir, get_plugin_manager(), [], models=NoModels())
    again = [from_disk.forward(None, 1), from_disk.inspect(None, 1, "trunk.layers.2", 3, (4, 5)),
             from_disk.conv_step(None, 1, CONV1, 3, 4, 5), from_disk.kernels(None, "trunk.layers.3", 1),
             from_disk.perturb(None, 1, "z", 0, 0.5), from_disk.topk(None, "trunk.layers.2", 3, "mean", 20, 4)]
    for a, b in zip(first, again):
        assert a.created and not b.created and (a.folder, a.files, a.payload) == (b.folder, b.files, b.payload)
    assert net.computed == 6 and from_disk.computed == 0  # the host answered every repeat from disk
    plain = net.inspect(None, 1, "trunk.layers.2", 3)  # the probe-less answer is another key: its own folder
    assert plain.created and plain.payload.get("xy") is None and plain.folder.endswith("/layer_trunk.layers.2/ch_3")
    assert (run_dir / plain.folder / "channel.png").is_file()  # published although the probe's answer came first
    rows = list_run_files(RunStore(run_dir.parent), run_dir.name, get_plugin_manager(), folder="network")["files"]
    listed = [row["name"] for row in rows]
    assert sorted(listed) == sorted({*[f for a in first for f in a.files], *plain.files})  # each file listed once
    assert all(row["kind"] != "undeclared" for row in rows)  # every folder's files match a declared pattern
    credited = {row["name"]: row["artifact"] for row in rows}  # each file is its own operation's
    for op, answer in zip(("forward", "inspect", "conv-step", "kernels", "perturb", "topk"), first):
        assert {credited[f] for f in answer.files} == {f"network-{op}"}, op
    fields = {row["name"]: row["fields"] for row in rows}  # the probe's folder is read as its own pattern
    assert fields[f"{first[1].folder}/inspect.json"] == {"idx": 1, "layer": "trunk.layers.2", "ch": 3, "x": 4, "y": 5,
                                                        "file": "inspect.json"}
    assert fields[f"{plain.folder}/inspect.json"] == {"idx": 1, "layer": "trunk.layers.2", "ch": 3, "file": "inspect.json"}
