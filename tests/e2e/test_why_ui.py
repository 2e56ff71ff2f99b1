"""'Why is this digit here?' in a real browser on the session lab's tiny GM-VAE: the focused point's latent
neighbours as thumbnails (indices and order from the kNN file), a sentence read off their labels, q(c|x),
its nearest training digits (on demand, served from disk when asked again), a walk to its class and component
centres drawn on the map, clicking a neighbour focuses it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_the_neighbour_panel_lists_the_knn_files_neighbours_and_refocuses(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    knn = lab.file("gm", "neighbors/knn_pca_epoch_3.json")
    screen = canvas.evaluate(m.SCREEN)
    i = m.isolated(screen)
    m.focus(page, canvas, screen[i][0], screen[i][1])
    panel = page.get_by_test_id("why-panel")
    expect(panel).to_have_attribute("data-index", str(projection["indices"][i]))
    tiles = page.get_by_test_id("why-neighbour")
    expect(tiles).to_have_count(knn["k"])
    want = [projection["indices"][j] for j in knn["neighbors"][i]]
    assert [int(t.get_attribute("data-index")) for t in tiles.all()] == want, "the kNN file's neighbours, nearest first"
    labels = [projection["labels"][j] for j in knn["neighbors"][i]]
    same = labels.count(projection["labels"][i])
    verdict = page.get_by_test_id("why-verdict")
    if same == len(labels):
        expect(verdict).to_contain_text(f"All {len(labels)} of its nearest neighbours")
    else:
        expect(verdict).to_contain_text(f"of its {len(labels)} nearest neighbours")
    model = page.get_by_test_id("why-model")
    expect(model).to_have_attribute("data-kind", "mixture")
    qc = lab.file("gm", "atlas/atlas_epoch_3.json")["qc"][i]
    assert int(model.get_attribute("data-best")) == max(range(len(qc)), key=qc.__getitem__)
    panel.scroll_into_view_if_needed()
    shot(page, "latent-why")

    tiles.nth(0).click()  # the nearest neighbour becomes the focused point
    expect(panel).to_have_attribute("data-index", str(want[0]))


def test_nearest_training_digits_and_walks_to_the_centres(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    screen = canvas.evaluate(m.SCREEN)
    i = m.isolated(screen)
    m.focus(page, canvas, screen[i][0], screen[i][1])
    page.get_by_test_id("why-train-run").click()
    items = page.get_by_test_id("why-train-item")
    expect(items).to_have_count(8)
    answer = lab.client.post(f"/api/runs/{lab.ids['gm']}/compute/nearest-train",
                             json={"idx": projection["indices"][i], "split": "heldout", "k": 8, "epoch": 3})
    assert answer.status_code == 200 and answer.json()["created"] is False, "the page's answer was kept on disk"
    assert [int(t.get_attribute("data-index")) for t in items.all()] == [n["idx"] for n in answer.json()["payload"]["neighbors"]]

    page.get_by_test_id("why-walk-class").click()
    result = page.get_by_test_id("walk-result")
    expect(result).to_have_attribute("data-epoch", "3")
    label = projection["labels"][i]
    expect(page.get_by_test_id("walk-centre")).to_contain_text(str(label))
    assert canvas.evaluate("(box) => box.querySelector('[data-frames]').__deck.props.layers.some((l) => l.id === 'walk-path')")
    page.get_by_test_id("why-walk-component").click()
    expect(page.get_by_test_id("walk-centre")).to_contain_text("component")
    page.get_by_test_id("why-panel").scroll_into_view_if_needed()
    shot(page, "latent-why-walk")
