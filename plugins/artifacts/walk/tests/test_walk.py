"""Latent walks: exact placement on a linear map (the path's ends land on the digits' own map positions),
a labelled estimate on a map without one, the dimension walk's default span, persistence (written once,
repeats from disk, one artifact.created per file) and validation naming the field. The API route and the
CLI: tests/test_walk_api.py."""

from __future__ import annotations


import sys

import numpy as np
import pytest

from latentdeck.testing import Asker, asking_context
from latentdeck import hookimpl
from latentdeck.kit import OnDemandError, read_artifact
from latentdeck_walk.walk import WalkRequest, span_tag


def _no_map(latents, dims, seed, options, init=None):
    """A stand-in nonlinear projection: no linear map, no transform, no restore (like a reloaded UMAP)."""
    from latentdeck import Projection

    return Projection(np.tanh(latents[:, :dims].astype("float64")), {"rule": "tanh of the first coordinates"})


@hookimpl
def register_projections():
    from latentdeck import ProjectionSpec

    return [ProjectionSpec(name="no-map", fit=_no_map, dims=(2,), description="test: nonlinear, cannot place new points")]


@pytest.fixture
def walk_pm(plugin_manager):
    plugin_manager.register(sys.modules[__name__], name="walk-test-projection")
    return plugin_manager


@pytest.fixture
def run(trained_run, walk_pm):
    return trained_run("ae", epochs=1, projections=["first-dims", "no-map"], artifacts=["knn"])


def _walker(run_dir, pm):
    asker = Asker(run_dir, "walk", pm=pm)
    return asker, asker.heard


def test_interpolation_on_a_linear_map_is_exact_at_both_ends(run, walk_pm):
    walker, heard = _walker(run, walk_pm)
    projection = read_artifact(run / "projections/latent_2d_epoch_1_first-dims.json")
    a, b = int(projection["indices"][0]), int(projection["indices"][5])
    result = walker.ask(WalkRequest(from_idx=a, to_idx=b, steps=5, method="first-dims"))
    p = result.payload
    assert result.created and p["placement"]["exact"] and p["placement"]["estimator"] == "exact_linear"
    coords = np.array(p["placement"]["coords"])
    np.testing.assert_allclose(coords[0], projection["coords"][0], atol=1e-5)
    np.testing.assert_allclose(coords[-1], projection["coords"][5], atol=1e-5)
    assert p["t"] == [0, 0.25, 0.5, 0.75, 1] and len(p["latents"]) == 5
    np.testing.assert_allclose(p["latents"][2], (np.array(p["latents"][0]) + p["latents"][4]) / 2, atol=1e-5)
    assert result.folder == f"walks/epoch_1/first-dims/from_heldout_{a}/to_heldout_{b}_steps_5"
    assert sorted(result.files) == [f"{result.folder}/{n}" for n in ("result.json", "strip.png", "walk.json")]
    from PIL import Image

    strip = Image.open(run / p["strip"]["png"])
    assert strip.size == (5 * 30 + 2, 32)  # five 28-px decodes, 2 px apart
    assert heard == [(f, 1) for f in result.files]

    again = walker.ask(WalkRequest(from_idx=a, to_idx=b, steps=5, method="first-dims"))
    assert not again.created and again.payload == p and len(heard) == len(result.files)  # from disk, announced once
    assert walker.computed == 1 and again.files == result.files  # the host served it: compute was not called


def test_dimension_walk_centres_on_the_digit_with_a_stated_span(run, walk_pm):
    walker, _ = _walker(run, walk_pm)
    projection = read_artifact(run / "projections/latent_2d_epoch_1_first-dims.json")
    p = walker.ask(WalkRequest(from_idx=int(projection["indices"][3]), mode="dimension", dim=1, steps=7, method="first-dims")).payload
    assert p["span"] > 0 and "std" in p["span_source"]
    assert p["offsets"][3] == 0 and p["offsets"][0] == -p["offsets"][-1] == -p["span"]
    latents = np.array(p["latents"])
    np.testing.assert_allclose(np.delete(latents, 1, axis=1), np.delete(latents, 1, axis=1)[3:4].repeat(7, 0), atol=1e-9)
    np.testing.assert_allclose(np.array(p["placement"]["coords"])[3], projection["coords"][3], atol=1e-5)
    explicit = walker.ask(WalkRequest(from_idx=int(projection["indices"][3]), mode="dimension", dim=1, span=0.5, steps=3,
                                       method="first-dims"))
    assert explicit.folder.endswith(f"dim_1_span_{span_tag(0.5)}_steps_3") and explicit.payload["span_source"] == "request"
    assert span_tag(0.5) == "s0.5" and span_tag(2.0) == "s2"


def test_a_dimension_walk_says_whether_the_decoder_uses_the_direction(run, walk_pm):
    import torch

    from latentdeck_walk.walk import _dimension_change

    walker, _ = _walker(run, walk_pm)
    projection = read_artifact(run / "projections/latent_2d_epoch_1_first-dims.json")
    change = walker.ask(WalkRequest(from_idx=int(projection["indices"][2]), mode="dimension", dim=0, steps=5,
                                     method="first-dims")).payload["change"]
    assert change["ignored"] == (change["relative_change"] < 0.01) and "z[0]" in change["text"]
    start = torch.linspace(0, 1, 16).reshape(1, 4, 4)
    same = _dimension_change(start[None].repeat(9, 1, 1, 1), start, 3, 14.2)
    assert same["ignored"] and same["text"].startswith("z[3] changes the decoded image by less than 1% of its range over ±14.2")
    moved = _dimension_change(torch.stack([start, 1 - start]), start, 3, 2.0)
    assert not moved["ignored"] and moved["relative_change"] == 1.0


def test_a_map_without_a_transform_gets_a_labelled_estimate(run, walk_pm):
    walker, _ = _walker(run, walk_pm)
    projection = read_artifact(run / "projections/latent_2d_epoch_1_no-map.json")
    a, b = int(projection["indices"][1]), int(projection["indices"][2])
    placement = walker.ask(WalkRequest(from_idx=a, to_idx=b, steps=4, method="no-map")).payload["placement"]
    assert placement["exact"] is False and placement["estimator"] == "knn_interpolation"
    assert placement["transform_available"] is False and "estimate" in placement["text"]
    assert "reloaded from disk" in placement["text"]
    coords = np.array(placement["coords"])
    np.testing.assert_allclose(coords[0], projection["coords"][1], atol=1e-3)  # its own latent dominates the weights
    np.testing.assert_allclose(coords[-1], projection["coords"][2], atol=1e-3)


@pytest.mark.parametrize("body, field", [
    ({"from_idx": 0, "to_idx": 1, "steps": 1}, "steps"),
    ({"from_idx": 0, "to_idx": 1, "steps": 34}, "steps"),
    ({"from_idx": 0, "mode": "dimension"}, "dim"),
    ({"from_idx": 0, "mode": "dimension", "dim": 99}, "dim 99"),
    ({"from_idx": 0, "mode": "dimension", "dim": 0, "span": -1}, "span"),
    ({"from_idx": 0}, "to_idx"),
    ({"from_idx": 999, "to_idx": 1}, "from_idx 999"),
    ({"from_idx": 0, "to_idx": 1, "to_split": "train"}, None),  # valid: a training digit as the end
    ({"from_idx": 0, "to_idx": 999, "to_split": "train"}, "to_idx 999"),
])
def test_bad_requests_name_the_field_and_write_nothing(run, walk_pm, body, field):
    walker, heard = _walker(run, walk_pm)
    request = WalkRequest(method="first-dims", **body)
    if field is None:
        assert walker.ask(request).created
        return
    with pytest.raises(OnDemandError, match=field) as caught:
        walker.ask(request)
    assert caught.value.status == 422 and heard == [] and not (run / "walks").exists()


def test_a_method_without_a_2d_file_is_a_404(run, walk_pm):
    walker, _ = _walker(run, walk_pm)
    with pytest.raises(OnDemandError, match="no 2-D umap projection at epoch 1") as caught:
        walker.ask(WalkRequest(from_idx=0, to_idx=1, method="umap"))
    assert caught.value.status == 404
