"""Network inspection on tiny trained runs: the numerics checked by hand, determinism and the models' values
(the files, fields and refusals: test_network_files.py)."""

from __future__ import annotations

import math

import pytest
import torch
from latentdeck.engine.epochs import heldout_example
from latentdeck.testing import heavy_imports_of
from latentdeck_network.compute import aggregate_kernel, delta_tag, parse_delta_tag
from latentdeck_network.layers import capture

CONV1 = "trunk.layers.0"  # the tiny runs' first encoder conv: 1 -> 8 channels, 3x3, padding 1


def flat(rows):
    return [v for row in rows for v in row]


def test_plugin_module_imports_nothing_heavy():
    assert heavy_imports_of("latentdeck_network.plugin") == []


@pytest.mark.parametrize("model", ["ae", "gmvae"])
def test_conv_step_by_hand_equals_the_models_value_including_borders(trained_run, inspector_for, model):
    net, _ = inspector_for(trained_run(model))
    for x, y in [(0, 0), (27, 27), (0, 27), (27, 0), (13, 5), (0, 14)]:
        step = net.conv_step(None, 4, CONV1, 3, x, y).payload
        assert step["agree"] and abs(step["value_computed"] - step["value_captured"]) <= 1e-5, (x, y, step)
        products = [[p * k for p, k in zip(prow, krow)] for prow, krow in zip(step["input_patch"], step["kernel"])]
        assert flat(step["products"]) == pytest.approx(flat(products), abs=1e-12)
        assert step["pre_bias_sum"] == pytest.approx(sum(map(sum, products)), abs=1e-12)
        assert step["value_computed"] == pytest.approx(step["pre_bias_sum"] + step["bias"], abs=1e-12)
        # the border rows/columns fall in the zero padding
        padded = [not (0 <= r < 28 and 0 <= c < 28) for r, c in step["patch_positions"]]
        assert step["patch_padded"] == padded
        assert all(step["input_patch"][i // 3][i % 3] == 0 for i, pad in enumerate(padded) if pad)
        # batch norm and ReLU that follow it, by hand as well
        assert [s["type"] for s in step["activation"]["steps"]] == ["BatchNorm2d", "ReLU"]
        for s in step["activation"]["steps"]:
            assert abs(s["value_computed"] - s["value_captured"]) <= 1e-5
        assert step["activation"]["mode"] == "conv -> BatchNorm2d -> ReLU"
    assert (0, 0) != (27, 27) and net.conv_step(None, 4, CONV1, 3, 0, 0).created is False  # from disk


def test_receptive_field_is_clamped_at_the_corners_and_covers_the_gradient(trained_run, inspector_for, plugin_manager):
    run_dir = trained_run("ae")
    net, _ = inspector_for(run_dir)
    layer = "trunk.layers.8"  # after conv(s1) conv(s2) conv(s1): 14x14, receptive field 9x9 in the image
    corner = net.inspect(None, 2, layer, 1, (0, 0)).payload
    assert corner["xy"]["x"] == 0 and corner["xy"]["y"] == 0
    rf = corner["rf"]
    assert rf["status"] == "ok" and rf["clamped"] is True
    assert rf["bounds"] == {"x0": 0, "y0": 0, "x1": 4, "y1": 4}
    assert rf["unclamped"] == {"x0": -4, "y0": -4, "x1": 4, "y1": 4}
    far = net.inspect(None, 2, layer, 1, (13, 13)).payload["rf"]
    assert far["bounds"] == {"x0": 22, "y0": 22, "x1": 27, "y1": 27} and far["unclamped"]["x1"] == 30
    inner = net.inspect(None, 2, layer, 1, (6, 7)).payload["rf"]
    assert inner["clamped"] is False and inner["size"] == [9, 9]

    # the gradient of that output w.r.t. the input is zero outside the rectangle
    loaded = net.load(None)
    x, _ = heldout_example(loaded.config, loaded.dataset_spec, 2)
    x = x.clone().requires_grad_(True)
    values = {}
    handle = dict(loaded.model.named_modules())["trunk.layers.7"].register_forward_hook(
        lambda m, a, out: values.setdefault("out", out))
    try:
        loaded.model(x)
    finally:
        handle.remove()
    # the BatchNorm output before the in-place ReLU: its gradient is never masked
    values["out"][0, 1, 7, 6].backward()
    support = x.grad[0, 0].abs() > 0
    rows, cols = support.nonzero(as_tuple=True)
    b = inner["bounds"]
    assert support.any() and rows.min() >= b["y0"] and rows.max() <= b["y1"] and cols.min() >= b["x0"] and cols.max() <= b["x1"]


def test_receptive_field_unavailable_past_a_linear_layer(trained_run, inspector_for):
    net, _ = inspector_for(trained_run("ae"))
    rf = net.inspect(None, 0, "decoder.layers.2", 0, (3, 3)).payload["rf"]
    assert rf["status"] == "unavailable" and "mixes positions" in rf["reason"]


def test_kernel_aggregation_by_hand_on_a_known_tensor():
    weights = torch.tensor([[[1.0, 0, 0], [0, 2, 0], [0, 0, 0]],
                            [[0.0, 0, 0], [0, 2, 0], [0, 0, 3]],
                            [[0.0, 1, 0], [0, 0, 0], [0, 0, 0]]])
    agg = aggregate_kernel(weights, top=2)
    assert flat(agg["values"]) == pytest.approx([1, 1, 0, 0, math.sqrt(8), 0, 0, 0, 3])
    assert agg["in_channel_l2"] == pytest.approx([math.sqrt(5), math.sqrt(13), 1])
    assert [t["in_channel"] for t in agg["top"]] == [1, 0]
    assert agg["top"][0]["values"] == weights[1].tolist()
    tie = aggregate_kernel(torch.ones(3, 3, 3), top=3)
    assert [t["in_channel"] for t in tie["top"]] == [0, 1, 2]  # ties: lower channel first


def test_kernels_files_for_one_and_many_input_channels(trained_run, inspector_for):
    run_dir = trained_run("ae")
    net, _ = inspector_for(run_dir)
    single = net.kernels(None, CONV1, 2)
    assert single.folder == "network/kernels/epoch_2/layer_trunk.layers.0/out_2"
    assert [f.rsplit("/", 1)[1] for f in single.files] == ["kernel.json", "kernel.png", "result.json"]
    model = net.load(None).model
    assert flat(single.payload["kernel"]["values"]) == pytest.approx(flat(model.trunk.layers[0].weight[2, 0].tolist()))
    many = net.kernels(None, "trunk.layers.3", 5)
    names = [f.rsplit("/", 1)[1] for f in many.files]
    top = many.payload["top_in_channels"]["top"]
    assert {"kernel_agg.json", "kernel_agg.png", "top_in_channels.json"} <= set(names) and len(top) == 4
    assert {f"kernel_in_{t['in_channel']}.png" for t in top} == {n for n in names if n.startswith("kernel_in_")}
    expected = aggregate_kernel(model.trunk.layers[3].weight[5], 4)
    assert [t["in_channel"] for t in top] == [t["in_channel"] for t in expected["top"]]
    assert flat(many.payload["kernel_agg"]["values"]) == pytest.approx(flat(expected["values"]))


def test_topk_is_sorted_deterministic_and_scores_match_single_forwards(trained_run, inspector_for):
    run_dir = trained_run("ae")
    net, _ = inspector_for(run_dir)
    first = net.topk(None, "trunk.layers.5", 2, "max", 40, 6)
    again = net.topk(None, "trunk.layers.5", 2, "max", 40, 6)
    assert first.created and not again.created and first.payload == again.payload
    items = first.payload["items"]
    scores = [item["score"] for item in items]
    assert len(items) == 6 and scores == sorted(scores, reverse=True)
    assert all(0 <= item["dataset_idx"] < 40 for item in items)
    loaded = net.load(None)
    for item in items[:3]:
        x, label = heldout_example(loaded.config, loaded.dataset_spec, item["dataset_idx"])
        maps = capture(loaded.model, x).by_id()["trunk.layers.5"].output[0, 2]
        assert item["label"] == label
        assert float(maps.max()) == pytest.approx(item["score"], abs=1e-5)
        assert float(maps[item["xy"]["y"], item["xy"]["x"]]) == pytest.approx(item["score"], abs=1e-5)
    assert {f.rsplit("/", 1)[1] for f in first.files} == {"topk.json", "result.json"} | {
        f"input_{i['dataset_idx']}.png" for i in items}
    # recomputed from scratch: the same items
    import shutil
    shutil.rmtree(run_dir / first.folder)
    assert net.topk(None, "trunk.layers.5", 2, "max", 40, 6).payload["items"] == items
    mean = net.topk(None, "trunk.layers.5", 2, "mean", 40, 6).payload
    assert "xy" not in mean["items"][0] and mean["metric"] == "mean"


def test_delta_tags_are_path_safe_and_reversible():
    for delta, tag in [(0.0, "0"), (0.5, "p0.5"), (-1.0, "m1"), (2.25, "p2.25"), (1e-5, "p0.00001"), (-300.0, "m300")]:
        assert delta_tag(delta) == tag and parse_delta_tag(tag) == delta
    for bad in (math.nan, math.inf, 1e6):
        with pytest.raises(ValueError):
            delta_tag(bad)


@pytest.mark.parametrize("model, key", [("ae", "z"), ("gmvae", "mu")])
def test_perturb_with_delta_zero_reproduces_the_base_reconstruction(trained_run, inspector_for, model, key):
    run_dir = trained_run(model)
    net, _ = inspector_for(run_dir)
    forward = net.forward(None, 7)
    base = net.perturb(None, 7, key, 1, 0.0)
    assert base.folder == f"network/perturb/epoch_2/idx_7/vector_{key}/dim_1/delta_0"
    assert (run_dir / base.folder / "recon.png").read_bytes() == (run_dir / forward.folder / "recon.png").read_bytes()
    meta = base.payload
    assert meta["delta"] == 0 and meta["base_value"] == meta["new_value"] == forward.payload["latent"]["vectors"][key][1]
    moved = net.perturb(None, 7, key, 1, -1.5)
    assert moved.folder.endswith("/delta_m1.5")
    assert moved.payload["new_value"] == pytest.approx(moved.payload["base_value"] - 1.5)
    assert (run_dir / moved.folder / "recon.png").read_bytes() != (run_dir / base.folder / "recon.png").read_bytes()


@pytest.mark.parametrize("model, key", [("ae", "z"), ("gmvae", "mu")])
def test_perturb_states_the_dimensions_spread_and_whether_the_decoder_uses_it(trained_run, inspector_for, model, key):
    run_dir = trained_run(model)
    net, _ = inspector_for(run_dir)
    report = net.perturb(None, 5, key, 2, 0.0).payload["direction"]
    loaded = net.load(None)
    with torch.no_grad():
        codes = loaded.model.encode(loaded.viz_subset().x).double()
    assert report["sd"] == pytest.approx(float(codes[:, 2].std()), rel=1e-9)
    assert report["sweep"] == pytest.approx(3 * report["sd"]) and report["sd_over"].startswith("the model's latents")
    assert report["ignored"] == (report["relative_change"] < 0.01)


def test_a_direction_the_decoder_ignores_is_named():
    from latentdeck_network.direction import direction_report

    class OnlyFirst(torch.nn.Module):  # decodes z[0] alone: z[1] changes nothing
        def decode(self, z):
            return torch.sigmoid(z[:, :1, None, None] * torch.linspace(-1, 1, 16).reshape(1, 1, 4, 4))

    z = torch.tensor([0.3, 2.0])
    used = direction_report(OnlyFirst(), z, "z", 0, 1.5, 100)
    ignored = direction_report(OnlyFirst(), z, "z", 1, 4.0, 100)
    assert not used["ignored"] and used["relative_change"] > 0.3
    assert ignored["ignored"] and ignored["relative_change"] == 0
    assert ignored["text"].startswith("z[1] changes the decoded image by less than 1% of its range over ±3 sd (±12)")
    assert "ignores this direction" in ignored["text"]


def test_gmvae_z_sample_is_deterministic_and_decodes_itself(trained_run, inspector_for):
    run_dir = trained_run("gmvae")
    net, _ = inspector_for(run_dir)
    latent = net.forward(None, 3).payload["latent"]
    assert "z_sample" in latent["decodable"] and "mu" in latent["decodable"]
    sample = net.perturb(None, 3, "z_sample", 0, 0.0)
    loaded = net.load(None)
    with torch.no_grad():
        recon = loaded.model.decode(torch.tensor([latent["vectors"]["z_sample"]]))
    from latentdeck_network.render import image_u8, png_bytes
    assert (run_dir / sample.folder / "recon.png").read_bytes() == png_bytes(image_u8(recon[0]))
    assert sample.payload["sample_id"] == net.forward(None, 3).payload["meta"]["sample_id"]
    other, _ = inspector_for(run_dir)
    import shutil
    shutil.rmtree(run_dir / "network")
    assert other.forward(None, 3).payload["latent"]["vectors"]["z_sample"] == latent["vectors"]["z_sample"]
