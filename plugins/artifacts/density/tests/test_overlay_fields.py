"""Each density grid describes itself to the explorer (SPEC.md "Explorer roles", overlay fields): its label,
the scale it is drawn on, how to read it, the words at a signed scale's ends and how it was computed. The
explorer knows no family of this plugin: without these fields a grid would read as its bare kind name."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from latentdeck import Projection
from latentdeck.kit import read_artifact as read_json  # both formats: header + array file, or inline
from latentdeck_density.describe import estimator_note
from latentdeck_density.plugin import generate
from latentdeck_density.schema import validate
from latentdeck_pca.plugin import fit as pca_fit


def _sibling(name: str):
    """The tests' shared toy model and context (test_density.py; tests are imported by path, not as a package)."""
    spec = importlib.util.spec_from_file_location(f"density_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_shared = _sibling("test_density")
make_context, toy_outputs = _shared.make_context, _shared.toy_outputs


def grids(folder, method):
    return {p.name.split("_2d_")[0]: read_json(p) for p in sorted(folder.glob("*.json")) if f"_epoch_2_{method}" in p.name}


def test_every_family_names_itself_and_its_scale(tmp_path):
    outputs = toy_outputs()
    generate(make_context(tmp_path, outputs, {"pca": {2: pca_fit(outputs["mu"].numpy(), 2, 0)}}))
    docs = grids(tmp_path / "density", "pca")
    assert sorted(docs) == ["posterior", "posterior_minus_prior", "prior", "prior_empirical"]
    for doc in docs.values():
        validate(doc)
    assert {k: d["label"] for k, d in docs.items()} == {
        "posterior": "posterior density", "prior": "prior (uniform)", "prior_empirical": "prior (empirical)",
        "posterior_minus_prior": "posterior − prior (difference)"}
    assert {k: d["scale"] for k, d in docs.items()} == {
        "posterior": "sequential", "prior": "sequential", "prior_empirical": "sequential", "posterior_minus_prior": "signed"}
    assert "aggregate posterior" in docs["posterior"]["reading"]
    assert "every component weighted equally" in docs["prior"]["reading"]
    assert "mean q(c|x)" in docs["prior_empirical"]["reading"]
    assert docs["posterior"]["notes"] == ["exact_pushforward: " + docs["posterior"]["estimator_text"]], "PCA: no kernel"
    assert all("ends" not in docs[k] for k in ("posterior", "prior", "prior_empirical"))


def test_the_difference_says_its_ends_its_distance_and_why_it_is_the_models(tmp_path):
    outputs = toy_outputs()
    generate(make_context(tmp_path, outputs, {"pca": {2: pca_fit(outputs["mu"].numpy(), 2, 0)}}))
    docs = grids(tmp_path / "density", "pca")
    difference = docs["posterior_minus_prior"]
    assert difference["ends"] == ["prior", "codes"], "negative: the prior's mass; positive: the codes'"
    assert "Grey" in difference["reading"] and "Green" in difference["reading"]
    # the distance to the prior, in the field every overlay uses, equals the posterior file's
    assert difference["tv_distance"] == {"prior": difference["difference"]["tv_distance"]}
    assert difference["tv_distance"]["prior"] == pytest.approx(docs["posterior"]["tv_distance"]["prior"], abs=1e-6)
    assert difference["notes"] == ["Both are the model's own Gaussians pushed exactly through the projection, so the "
                                   "difference is the model's, not the drawing's."]
    with pytest.raises(ValueError, match="signed: the difference"):
        validate({**docs["posterior"], "scale": "signed"})


def test_a_kde_states_its_kernel_width_and_a_model_without_a_prior_says_so(tmp_path):
    rng = np.random.default_rng(3)
    z = torch.tensor(rng.normal(size=(50, 3)), dtype=torch.float32)
    reloaded = Projection(z.numpy()[:, :2].astype(np.float64) * 2, {})
    generate(make_context(tmp_path, {"z": z}, {"umap": {2: reloaded}}, capabilities=frozenset({"latents"})))
    doc = validate(read_json(tmp_path / "density" / "posterior_2d_epoch_2_umap.json"))
    assert doc.label == "posterior density" and doc.scale == "sequential"
    assert "no prior" in doc.reading and "aggregate posterior" not in doc.reading
    width = doc.meta.model_extra["bandwidth"][0]
    assert doc.notes == [f"kde_codes: {doc.estimator_text} Kernel width {width:.3g} (map units), chosen from the codes."]


def test_numbers_in_notes_read_like_the_explorers():
    assert estimator_note("kde_codes", "a KDE.", [0.123456, 0.5]).endswith("Kernel width 0.123 (map units), chosen from the codes.")
    assert "Kernel width 1.23e-05 " in estimator_note("kde_codes", "a KDE.", [1.2345e-5])
    assert estimator_note("exact_pushforward", "exact.", None) == "exact_pushforward: exact."
