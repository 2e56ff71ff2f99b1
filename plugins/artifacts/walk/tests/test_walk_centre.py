"""Walks to a centre (mode ``centre``): the path ends exactly at the class's mean latent over the visualization
subset (computed here independently) or at the component's prior mean, the default target is the digit's
own label or its argmax q(c|x) component, the map placement follows the projection, repeats come from disk,
and a centre that does not exist (no components, an empty class, a target out of range) is a 422 naming why,
with nothing written."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from latentdeck.testing import Asker, asking_context
from latentdeck.engine.epochs import EpochModels, heldout_split
from latentdeck.kit import OnDemandError, read_artifact
from latentdeck_walk.centre import class_centre
from latentdeck_walk.walk import WalkRequest


def _walker(run_dir, pm):
    asker = Asker(run_dir, "walk", pm=pm)
    return asker, asker.heard


def _viz(run_dir, pm):
    loaded = asking_context(run_dir, "walk", pm=pm).load(None)
    viz = loaded.viz_subset()
    with torch.no_grad():
        return loaded, loaded.model.encode(viz.x).double().numpy(), viz.y.numpy()


@pytest.fixture
def ae_run(trained_run):
    return trained_run("ae", epochs=1, projections=["first-dims"])


def test_the_class_walk_ends_exactly_at_the_class_mean(ae_run, plugin_manager):
    walker, heard = _walker(ae_run, plugin_manager)
    loaded, latents, labels = _viz(ae_run, plugin_manager)
    _, held_labels = heldout_split(loaded.config, loaded.dataset_spec)
    result = walker.ask(WalkRequest(from_idx=3, mode="centre", centre="class", steps=5, method="first-dims"))
    p = result.payload
    own = int(held_labels[3])
    mean = latents[labels == own].mean(0)
    assert p["mode"] == "centre" and p["to"]["centre"] == "class" and p["to"]["target"] == own
    assert p["to"]["chosen_by"] == "the start digit's label" and p["to"]["n"] == int((labels == own).sum())
    assert "visualization subset" in p["to"]["text"]
    np.testing.assert_allclose(p["latents"][-1], mean, atol=2e-6)
    with torch.no_grad():
        start = loaded.model.encode(heldout_split(loaded.config, loaded.dataset_spec)[0][3:4])[0].double().numpy()
    np.testing.assert_allclose(p["latents"][0], start, atol=2e-6)
    np.testing.assert_allclose(p["latents"][2], (start + mean) / 2, atol=2e-6)  # a straight line
    assert p["t"] == [0, 0.25, 0.5, 0.75, 1]
    np.testing.assert_allclose(p["placement"]["coords"][-1], mean[:2], atol=2e-6)  # first-dims: exact placement
    assert result.folder == f"walks/epoch_1/first-dims/from_heldout_3/centre_class_{own}_steps_5"
    assert sorted(result.files) == [f"{result.folder}/{n}" for n in ("result.json", "strip.png", "walk.json")]
    assert p["strip"]["tiles"] == 5 and heard == [(f, 1) for f in result.files]

    again = walker.ask(WalkRequest(from_idx=3, mode="centre", centre="class", steps=5, method="first-dims"))
    assert not again.created and again.payload == p and len(heard) == len(result.files)
    assert walker.computed == 1  # served from disk by the host, without computing
    same = walker.ask(WalkRequest(from_idx=3, mode="centre", centre="class", target=own, steps=5, method="first-dims"))
    assert same.folder == result.folder and not same.created  # the default names the same centre
    assert walker.computed == 1

    other = (own + 1) % 10
    to_other = walker.ask(WalkRequest(from_idx=3, mode="centre", centre="class", target=other, steps=3,
                                       method="first-dims")).payload
    assert to_other["to"]["target"] == other and to_other["to"]["chosen_by"] == "request"
    np.testing.assert_allclose(to_other["latents"][-1], latents[labels == other].mean(0), atol=2e-6)


def test_the_component_walk_ends_at_the_prior_mean_of_the_digits_component(trained_run, plugin_manager):
    run = trained_run("gmvae", epochs=1, projections=["first-dims"])
    walker, _ = _walker(run, plugin_manager)
    loaded = EpochModels().get(run, None, plugin_manager)
    x = heldout_split(loaded.config, loaded.dataset_spec)[0][6:7]
    with torch.no_grad():
        qc = loaded.model(x)["qc"][0].double()
    prior_mu = loaded.model.prior_mu.detach().double().numpy()
    p = walker.ask(WalkRequest(from_idx=6, mode="centre", centre="component", method="first-dims")).payload
    best = int(qc.argmax())
    assert p["to"]["target"] == best and p["to"]["chosen_by"] == "argmax q(c|x) of the start digit"
    assert p["to"]["q"] == pytest.approx(float(qc[best]), abs=1e-6) and "prior mean" in p["to"]["text"]
    np.testing.assert_allclose(p["latents"][-1], prior_mu[best], atol=2e-6)
    assert len(p["latents"]) == 9 and p["latent"] == "mu of q(z|x)"
    chosen = (best + 1) % 3
    q = walker.ask(WalkRequest(from_idx=6, mode="centre", centre="component", target=chosen, steps=3,
                                method="first-dims")).payload
    np.testing.assert_allclose(q["latents"][-1], prior_mu[chosen], atol=2e-6)
    assert q["to"]["chosen_by"] == "request"
    with pytest.raises(OnDemandError, match="target 3 is not a component: model 'gmvae' has 3 components, use 0..2"):
        walker.ask(WalkRequest(from_idx=6, mode="centre", centre="component", target=3, method="first-dims"))


@pytest.mark.parametrize("body, message", [
    ({"centre": "component"}, "model 'ae' has no mixture components"),
    ({"centre": "class", "target": 10}, "target 10 is not a class of this dataset: use 0..9"),
    ({}, "mode centre needs centre"),
    ({"centre": "class", "to_idx": 1}, "mode centre takes centre"),
    ({"centre": "class", "dim": 0}, "mode centre takes centre"),
])
def test_a_centre_that_cannot_be_walked_to_is_a_422_and_writes_nothing(ae_run, plugin_manager, body, message):
    walker, heard = _walker(ae_run, plugin_manager)
    with pytest.raises(OnDemandError, match=message) as caught:
        walker.ask(WalkRequest(from_idx=0, mode="centre", method="first-dims", **body))
    assert caught.value.status == 422 and heard == [] and not (ae_run / "walks").exists()


def test_other_modes_refuse_a_centre(ae_run, plugin_manager):
    walker, _ = _walker(ae_run, plugin_manager)
    with pytest.raises(OnDemandError, match="mode interpolate takes no centre or target"):
        walker.ask(WalkRequest(from_idx=0, to_idx=1, centre="class", method="first-dims"))
    with pytest.raises(OnDemandError, match="mode dimension takes no centre or target"):
        walker.ask(WalkRequest(from_idx=0, mode="dimension", dim=0, target=1, method="first-dims"))


def test_a_class_without_points_in_the_subset_has_no_centre(trained_run, plugin_manager):
    run = trained_run("ae", epochs=1, viz_subset_size=5, projections=["first-dims"])
    labels = read_artifact(run / "projections/latent_2d_epoch_1_first-dims.json")["labels"]
    missing = next(c for c in range(10) if c not in labels)
    walker, _ = _walker(run, plugin_manager)
    with pytest.raises(OnDemandError, match=f"class {missing} has no points in the visualization subset") as caught:
        walker.ask(WalkRequest(from_idx=0, mode="centre", centre="class", target=missing, method="first-dims"))
    assert caught.value.status == 422 and not (run / "walks").exists()


def test_class_centre_is_the_mean_of_the_labelled_rows():
    latents = np.array([[0.0, 0.0], [2.0, 4.0], [10.0, 10.0], [4.0, 2.0]])
    centre, to = class_centre(latents, np.array([1, 1, 2, 1]), None, 1, 3, 7)
    np.testing.assert_array_equal(centre, [2.0, 2.0])
    assert to == {"centre": "class", "target": 1, "chosen_by": "the start digit's label", "n": 3,
                  "text": "the mean latent of the 3 points labelled 1 in the visualization subset at epoch 7"}
    with pytest.raises(OnDemandError, match="class 0 has no points .* classes present: 1, 2"):
        class_centre(latents, np.array([1, 1, 2, 1]), 0, 1, 3, 7)


def test_the_api_route(ae_run, plugin_manager, runs_dir):
    from fastapi.testclient import TestClient

    from latentdeck.api.app import create_app

    client = TestClient(create_app(plugin_manager, runs_dir))
    url = f"/api/runs/{ae_run.name}/compute/walk"
    body = {"from_idx": 1, "mode": "centre", "centre": "class", "steps": 3, "method": "first-dims"}
    first = client.post(url, json=body)
    assert first.status_code == 200 and first.json()["created"] and first.json()["payload"]["to"]["centre"] == "class"
    assert client.post(url, json=body).json()["created"] is False
    component = client.post(url, json={**body, "centre": "component"})
    assert component.status_code == 422 and "no mixture components" in component.json()["detail"]
    for bad, field in (({**body, "centre": "middle"}, "centre"), ({**body, "target": -1}, "target")):
        answer = client.post(url, json=bad)
        assert answer.status_code == 422 and field in answer.json()["detail"], answer.json()
