"""Density overlays in a real browser on the tiny GM-VAE run (fixture ``lab``): the ramp is the light green
of the legend (never viridis' purple or yellow), the legend says zero is transparent and how much of the
mass lies on the map, the total-variation distances the files store are shown next to the overlay, and the
posterior − prior difference draws on its own scale. (Zero's transparency itself: overlays.test.ts.)"""

from __future__ import annotations

import time

import numpy as np
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

BACKGROUND = np.array([0xFB, 0xFB, 0xFA])  # the map's background (Explorer.module.css .canvasBox)
VIRIDIS_ENDS = np.array([[68, 1, 84], [253, 231, 37]])


def overlay_pixels(m, page, canvas, kind: str):
    page.get_by_test_id("map-overlay").select_option(kind)
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-overlay", kind)
    m.wait_drawn(page)
    time.sleep(0.4)
    return np.asarray(m.map_pixels(canvas)).astype(int)


def test_the_density_overlay_is_green_transparent_where_empty_and_states_its_distances(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    m.choose(page, m, "map-method", "pca", "data-method")
    bare = np.asarray(m.map_pixels(canvas)).astype(int)
    posterior = overlay_pixels(m, page, canvas, "posterior")
    shot(page, "density-overlay-posterior-pca")
    legend = page.get_by_test_id("overlay-legend")
    expect(legend).to_have_attribute("data-style", "sequential")
    expect(legend).to_contain_text("0 = transparent")
    doc = lab.file("gm", "density/posterior_2d_epoch_3_pca.json")
    for other, value in doc["tv_distance"].items():
        expect(page.get_by_test_id(f"overlay-tv-{other}")).to_have_text(f"{value:.3f}")

    changed = np.abs(posterior - bare).sum(-1) > 24
    assert changed.sum() > m.N * 20, "the posterior density colours the map under the points"
    # this tiny model's q(z|x) is far wider than its codes' spread: most of the mass lies off the map, and the
    # legend says so instead of letting the flat colour read as "dense everywhere"
    if doc["stats"]["mass_in_bounds"] < 0.5:
        expect(page.get_by_test_id("overlay-mass-note")).to_contain_text(f"{100 * doc['stats']['mass_in_bounds']:.1f} %")
    # the new colour is the green ramp (light, under the points), never the old ramp's purple or yellow
    tinted = posterior[changed & (np.abs(bare - BACKGROUND).sum(-1) <= 6)]
    assert len(tinted) > m.N * 10
    assert (tinted[:, 1] >= tinted[:, 0]).mean() > 0.95 and (tinted[:, 1] >= tinted[:, 2]).mean() > 0.95, "green"
    for end in VIRIDIS_ENDS:
        assert (np.abs(tinted - end).sum(-1) < 60).sum() == 0

    difference = overlay_pixels(m, page, canvas, "posterior_minus_prior")
    shot(page, "density-overlay-posterior-minus-prior-pca")
    expect(legend).to_have_attribute("data-style", "signed")
    expect(legend).to_contain_text("Grey")
    grid = lab.file("gm", "density/posterior_minus_prior_2d_epoch_3_pca.json")
    expect(page.get_by_test_id("overlay-tv-prior")).to_have_text(f"{grid['difference']['tv_distance']:.3f}")
    assert grid["difference"]["tv_distance"] == pytest.approx(doc["tv_distance"]["prior"], abs=1e-6)
    assert m.changed_pixels(difference, bare) > m.N * 20, "the difference draws on the map"
    overlay_pixels(m, page, canvas, "prior")
    shot(page, "density-overlay-prior-pca")

