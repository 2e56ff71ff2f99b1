"""The latent explorer names the basis of every PCA map it shows (issue 20, item 5): "PCA basis of this
epoch" or "PCA basis of epoch k, aligned", with the share of the latent variance the shown axes keep,
exactly as the projection file's ``params.basis`` says."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_each_epoch_names_its_pca_basis_and_the_variance_it_keeps(lab, page, latent_map, shot):
    m = latent_map
    m.open(page, lab, m)
    m.choose(page, m, "map-method", "pca", "data-method")
    badge, words = page.get_by_test_id("map-badge"), page.get_by_test_id("pca-basis")
    sources = []
    for dims in (2, 3):
        if dims == 3:
            m.choose(page, m, "map-dims", "3", "data-dims")
        for epoch in (1, 2, 3):
            page.get_by_test_id("timeline-scrubber").fill(str(epoch - 1))
            expect(badge).to_have_attribute("data-epoch", str(epoch))
            name = (f"projections/latent_2d_epoch_{epoch}.json" if dims == 2
                    else f"projections/latent_3d_epoch_{epoch}_pca.json")
            basis = lab.file("gm", name)["params"]["basis"]
            sources.append(basis["source"])
            if basis["source"] == "own":
                expect(words).to_contain_text(f"PCA basis of this epoch (epoch {epoch})")
            else:
                assert basis["from_epoch"] == epoch - basis["carried_for"]  # the host passed the epoch to fit
                expect(words).to_contain_text(f"PCA basis of epoch {basis['from_epoch']}, aligned")
                expect(words).to_contain_text(f"own principal axes would keep {100 * basis['own_variance_ratio']:.1f}%")
            kept = f"{dims} axes keep {100 * basis['variance_ratio']:.1f}% of the latent variance"
            expect(words).to_contain_text(kept)
            if dims == 2 and epoch == 3:
                shot(page, "latent-explorer-pca-basis")
    assert sources[0] == sources[3] == "own", "epoch 1 has no earlier map: its own axes"
    assert "carried" in sources, "later epochs of a run that barely moves keep a carried basis"
