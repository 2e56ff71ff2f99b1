"""The latent explorer's map in a real browser (Debian's Chromium, SwiftShader WebGL) against a real server
and real tiny runs trained once per session (fixture ``lab`` in conftest.py): non-empty WebGL maps in 2-D
and 3-D, switching method, dimension and epoch changes the picture, play advances epochs, hover shows both
thumbnails, both edge modes draw edges and fuzzy gating changes opacity smoothly, a lasso focuses a set
and the export lists it, overlays draw. The panels around the map: test_latent_panels_ui.py."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_method_dimension_and_epoch_each_change_the_picture(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    badge = page.get_by_test_id("map-badge")
    expect(badge).to_have_attribute("data-epoch", "3")
    m.choose(page, m, "map-method", "first-dims", "data-method")
    first = m.map_pixels(canvas)
    assert m.drawn_pixels(first) > m.N * 20, "the 2-D WebGL map draws its points"
    m.choose(page, m, "map-method", "pca", "data-method")
    pca = m.map_pixels(canvas)
    assert m.drawn_pixels(pca) > m.N * 20
    assert m.changed_pixels(first, pca) > m.N * 10, "PCA and first-dims place the points differently"
    shot(page, "latent-explorer-pca-2d")

    m.choose(page, m, "map-dims", "3", "data-dims")
    three = m.map_pixels(canvas)
    assert m.drawn_pixels(three) > m.N * 10, "the 3-D WebGL map draws its points"
    assert m.changed_pixels(pca, three) > m.N * 10
    shot(page, "latent-explorer-pca-3d")
    m.choose(page, m, "map-dims", "2", "data-dims")

    page.get_by_test_id("timeline-scrubber").fill("0")  # epoch 1
    expect(badge).to_have_attribute("data-epoch", "1")
    m.wait_drawn(page)
    time.sleep(0.3)
    assert m.changed_pixels(pca, m.map_pixels(canvas)) > m.N * 5, "epoch 1's map differs from epoch 3's"
    expect(page.get_by_test_id("timeline-follow")).not_to_be_checked()
    expect(page.get_by_test_id("trust")).to_contain_text("trustworthiness")
    trust = lab.file("gm", "projections/latent_2d_epoch_1.json")["trustworthiness"]["value"]
    expect(page.get_by_test_id("trust-value")).to_have_text(f"{trust:.3f}")


def test_play_advances_through_the_epochs(lab, page, latent_map):
    m = latent_map
    m.open(page, lab, m)
    badge = page.get_by_test_id("map-badge")
    page.get_by_test_id("timeline-scrubber").fill("0")
    expect(badge).to_have_attribute("data-epoch", "1")
    page.get_by_test_id("timeline-play").click()
    expect(page.get_by_test_id("timeline-play")).to_have_attribute("aria-pressed", "true")
    expect(badge).to_have_attribute("data-epoch", "2", timeout=10_000)
    expect(badge).to_have_attribute("data-epoch", "3", timeout=10_000)
    expect(page.get_by_test_id("timeline-play")).to_have_attribute("aria-pressed", "false", timeout=10_000)  # stops at the end


def test_hover_shows_the_input_and_its_reconstruction(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    badge = page.get_by_test_id("map-badge")
    method = badge.get_attribute("data-method")
    name = "projections/latent_2d_epoch_3.json" if method == "pca" else f"projections/latent_2d_epoch_3_{method}.json"
    projection = lab.file("gm", name)
    screen = canvas.evaluate(m.SCREEN)
    box = canvas.bounding_box()
    i = m.isolated(screen)
    page.mouse.move(box["x"] + screen[i][0], box["y"] + screen[i][1])
    card = page.get_by_test_id("hover-card")
    expect(card).to_have_attribute("data-index", str(projection["indices"][i]))
    expect(page.get_by_test_id("hover-label")).to_have_text(str(projection["labels"][i]))
    atlas = lab.file("gm", "atlas/atlas_epoch_3.json")
    for test_id, png in (("thumb-input", "atlas/atlas_inputs.png"), ("thumb-reconstruction epoch 3", atlas["png"])):
        thumb = page.get_by_test_id(test_id)
        expect(thumb).to_have_attribute("data-tile", str(i))
        style = thumb.get_attribute("style")
        assert png in style, f"{test_id} is cut from {png}: {style}"
        assert lab.client.get(f"/api/runs/{lab.ids['gm']}/artifacts/{png}").status_code == 200
    expect(page.get_by_test_id("hover-qc")).to_be_visible()  # q(c|x) of the GM-VAE
    shot(page, "latent-explorer-hover")


def test_a_sheet_drawn_on_demand_is_asked_for_on_the_first_hover(lab, page, latent_map):
    """Above the atlas's sheet_max_n an epoch's reconstructions sheet is not drawn per epoch: the first hover
    asks for it (one request for the epoch, whatever else is hovered) and the thumbnail is cut from its answer."""
    m = latent_map
    atlas = lab.file("um", "atlas/atlas_epoch_2.json")
    assert atlas["png"] is None and atlas["png_on_demand"]["request"] == {"epoch": 2}
    sheet = atlas["png_on_demand"]["png"]
    asks = []
    page.on("request", lambda r: asks.append(r.url) if r.method == "POST" and "/compute/atlas" in r.url else None)
    canvas = m.open(page, lab, m, run="um")
    screen = canvas.evaluate(m.SCREEN)
    box = canvas.bounding_box()
    def gap(i):
        return min((screen[i][0] - x) ** 2 + (screen[i][1] - y) ** 2 for j, (x, y) in enumerate(screen) if j != i)

    for i in sorted(range(len(screen)), key=gap)[-3:]:  # three points that no other covers
        page.mouse.move(box["x"] + screen[i][0], box["y"] + screen[i][1])
        thumb = page.get_by_test_id("thumb-reconstruction epoch 2")
        expect(thumb).to_have_attribute("data-tile", str(i), timeout=60_000)
        assert sheet in thumb.get_attribute("style")
    assert len(asks) == 1, asks
    assert lab.client.get(f"/api/runs/{lab.ids['um']}/artifacts/{sheet}").status_code == 200


def test_edge_modes_and_smooth_fuzzy_gating(lab, page, latent_map):
    m = latent_map
    canvas = m.open(page, lab, m)
    page.get_by_test_id("map-edges").select_option("all")
    page.get_by_test_id("map-edge-mode").select_option("top_k")
    k = lab.file("gm", "neighbors/knn_pca_epoch_3.json")["k"]
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-edges-drawn", str(m.N * k))
    top_k = canvas.evaluate(m.EDGE_ALPHA)
    assert len(top_k) == m.N * k and len(set(top_k)) == 1, "top-k: every edge at the same opacity"

    page.get_by_test_id("map-edge-mode").select_option("extent_gated")
    time.sleep(0.3)
    gated = canvas.evaluate(m.EDGE_ALPHA)
    assert len(gated) == m.N * k and min(gated) < max(gated) == top_k[0], "gated: long edges fade"

    slider = page.get_by_test_id("map-radius")
    auto = float(slider.get_attribute("data-auto"))  # the radius chosen from this map's edges
    assert 1 <= auto <= 6
    slider.fill(f"{auto + 0.05:.2f}")
    time.sleep(0.3)
    wider = canvas.evaluate(m.EDGE_ALPHA)
    deltas = [b - a for a, b in zip(gated, wider)]
    assert any(d > 0 for d in deltas), "a larger radius lets more of the long edges show"
    assert min(deltas) >= -1, "opacity never drops when the radius grows (monotone)"
    assert max(deltas) <= 30, "a 5% larger radius changes an edge's opacity a little, never pops it"


def test_lasso_focuses_a_set_dims_the_rest_and_exports_it(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    screen = canvas.evaluate(m.SCREEN)
    xs = sorted(p[0] for p in screen)
    ys = sorted(p[1] for p in screen)
    x0, x1 = xs[0] - 3, (xs[m.N // 2] + xs[m.N // 2 + 1]) / 2  # the left half of the points
    y0, y1 = ys[0] - 3, ys[-1] + 3
    inside = [i for i, (x, y) in enumerate(screen) if x0 < x < x1 and y0 < y < y1]
    assert 10 < len(inside) < m.N
    page.get_by_test_id("tool-lasso").click()
    lasso = page.get_by_test_id("latent-canvas-lasso")
    box = lasso.bounding_box()
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)]
    page.mouse.move(box["x"] + corners[0][0], box["y"] + corners[0][1])
    page.mouse.down()
    for x, y in corners[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
    page.mouse.up()
    focus = page.get_by_test_id("focus-box")
    expect(focus).to_contain_text(f"{len(inside)} chosen")
    alpha = canvas.evaluate(m.POINT_ALPHA)
    members = int(focus.get_attribute("data-count"))
    assert sum(a > 100 for a in alpha) == members and sum(a < 60 for a in alpha) == m.N - members, "the rest is dimmed"
    assert all(alpha[i] > 100 for i in inside)
    shot(page, "latent-explorer-lasso")

    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    with page.expect_download() as download:
        page.get_by_test_id("export-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    chosen = sorted(int(r["dataset_index"]) for r in rows if r["role"] == "chosen")
    assert chosen == sorted(projection["indices"][i] for i in inside)
    assert len(rows) == members and {r["split"] for r in rows} == {"heldout"}
    with page.expect_download() as download:
        page.get_by_test_id("export-json").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert exported["count"] == members and exported["epoch"] == 3 and exported["method"] == "pca"
    page.get_by_test_id("focus-clear").click()
    expect(focus).not_to_contain_text("chosen")


def test_overlays_draw_under_the_points_with_their_legend(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    none = m.drawn_pixels(m.map_pixels(canvas))
    for kind in ("posterior", "metric_ratio"):
        page.get_by_test_id("map-overlay").select_option(kind)
        expect(page.get_by_test_id("map-badge")).to_have_attribute("data-overlay", kind)
        time.sleep(0.4)
        assert m.drawn_pixels(m.map_pixels(canvas)) > 2 * none, f"the {kind} grid colours the map under the points"
        expect(page.get_by_test_id("overlay-stats")).to_be_visible()
        shot(page, f"latent-explorer-overlay-{kind}")
    expect(page.get_by_test_id("overlay-legend")).to_contain_text("stretches")
    grid = lab.file("gm", "distortion/metric_ratio_2d_epoch_3_pca.json")
    expect(page.get_by_test_id("overlay-stats")).to_contain_text("median")
    assert grid["stats"]["min"] < grid["stats"]["median"] < grid["stats"]["max"]
    m.choose(page, m, "map-dims", "3", "data-dims")
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-overlay", "none")  # overlays are 2-D only


# Search matches as uploaded to the GPU: (subset positions of the drawn matches' layer, its radius).
MATCHES = """(box) => {
  const deck = box.querySelector('[data-frames]').__deck;
  const layer = deck.props.layers.find((l) => l.id === 'matches');
  const points = deck.props.layers.find((l) => l.id === 'points');
  if (!layer) return null;
  return { count: layer.props.data.length, radius: layer.props.getRadius, base: points.props.getRadius,
           last: deck.props.layers.findIndex((l) => l.id === 'matches') > deck.props.layers.findIndex((l) => l.id === 'points') };
}"""


def test_search_counts_rings_and_zooms_to_its_matches(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    labels = projection["labels"]
    digit = max(set(labels), key=labels.count)
    want = labels.count(digit)
    page.get_by_test_id("map-filter").fill(f"label:{digit}")
    matches = page.get_by_test_id("filter-matches")
    expect(matches).to_have_attribute("data-count", str(want))
    expect(matches).to_contain_text(f"{want} of {m.N} points match")
    drawn = canvas.evaluate(MATCHES)
    assert drawn["count"] == want and drawn["radius"] > drawn["base"] and drawn["last"], "matches: larger, on top"

    page.get_by_test_id("map-filter").fill(f"!label:{digit}")  # negation: everything else
    expect(matches).to_have_attribute("data-count", str(m.N - want))
    page.get_by_test_id("map-filter").fill(f"label:{digit} #{projection['indices'][labels.index(digit)]}")
    expect(matches).to_have_attribute("data-count", "1")
    before = json.loads(canvas.locator("[data-frames]").get_attribute("data-view"))
    page.get_by_test_id("filter-zoom").click()
    time.sleep(0.3)
    after = json.loads(canvas.locator("[data-frames]").get_attribute("data-view"))
    assert after["zoom"] > before["zoom"] + 1, "zoom to matches moves the camera in on the one match"
    screen = canvas.evaluate(m.SCREEN)
    box = canvas.bounding_box()
    x, y = screen[labels.index(digit)]
    assert abs(x - box["width"] / 2) < 3 and abs(y - box["height"] / 2) < 3, "the match is at the centre of the map"
    shot(page, "latent-explorer-search-zoom")

    page.get_by_test_id("map-filter").fill("label:4  pred:x")
    expect(page.get_by_test_id("filter-error")).to_contain_text('at character 10: "pred:x"')


def test_the_view_lives_in_the_address_and_survives_a_reload(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    badge = page.get_by_test_id("map-badge")
    m.choose(page, m, "map-dims", "3", "data-dims")
    page.get_by_test_id("timeline-scrubber").fill("1")  # epoch 2
    expect(badge).to_have_attribute("data-epoch", "2")
    page.get_by_test_id("map-colour").select_option("component")
    page.get_by_test_id("map-edges").select_option("all")
    page.get_by_test_id("map-filter").fill("label:!1")
    page.get_by_test_id("changes-toggle").click()  # difference mode, trails of learning only
    page.get_by_test_id("changes-trail-base").locator("[data-value=learning]").click()
    page.get_by_test_id("sprites-toggle").locator("[data-value=off]").click()
    m.wait_drawn(page)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 30, steps=6)  # orbit
    page.mouse.up()
    view = json.loads(canvas.locator("[data-frames]").get_attribute("data-view"))
    assert view["rotationOrbit"] != 35, "the drag orbited the camera"
    page.wait_for_function("(orbit) => new URLSearchParams(location.search).get('camera')?.endsWith(',' + orbit)",
                           arg=str(round(view["rotationOrbit"], 2)).removesuffix(".0"))
    address = page.url
    from urllib.parse import parse_qs, urlsplit
    query = {k: v[0] for k, v in parse_qs(urlsplit(address).query).items()}
    assert query["dims"] == "3" and query["epoch"] == "2" and query["colour"] == "component" and query["edges"] == "all"
    assert query["filter"] == "label:!1" and "label:!1" in address, "the filter reads as typed in the address"
    assert query["changes"] == "learning" and query["digits"] == "off" and "changeColour" not in query

    page.goto("about:blank")
    page.goto(address)  # opened elsewhere / reloaded
    expect(badge).to_have_attribute("data-dims", "3")
    expect(badge).to_have_attribute("data-epoch", "2")
    expect(badge).to_have_attribute("data-colour", "component")
    expect(page.get_by_test_id("map-filter")).to_have_value("label:!1")
    expect(page.get_by_test_id("map-edges")).to_have_value("all")
    expect(page.get_by_test_id("changes-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("changes-trail-base").locator("[data-value=learning]")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("sprites-toggle")).to_have_attribute("data-mode", "off")
    m.wait_drawn(page)
    restored = json.loads(canvas.locator("[data-frames]").get_attribute("data-view"))
    flat = lambda v: [*v["target"], v["zoom"], v["rotationX"], v["rotationOrbit"]]  # noqa: E731
    assert flat(restored) == pytest.approx(flat(view), abs=0.006), f"the camera is restored: {restored} vs {view}"
    expect(page.get_by_test_id("url-note")).to_have_count(0)

    page.goto(lab.page_of("gm") + "?epoch=99&dims=7")  # a view the run cannot show: the nearest one, and a note
    expect(badge).to_have_attribute("data-epoch", "3")
    note = page.get_by_test_id("url-note")
    expect(note).to_contain_text("dims=7 is not 2 or 3")
    expect(note).to_contain_text("at epoch 99")
    expect(note).to_contain_text("showing epoch 3")


def test_the_map_fills_its_box_and_fits_one_screen_with_its_timeline(lab, browser, latent_map, shot):
    m = latent_map
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    try:
        canvas = m.open(page, lab, m)
        play = page.get_by_test_id("timeline-play").bounding_box()
        assert play["y"] + play["height"] <= 900, f"the play button is below the fold at 1366 x 900: {play}"
        box = canvas.bounding_box()
        assert box["y"] + box["height"] <= 900, "the whole map is on screen"
        for dims in ("2", "3"):
            if dims == "3":
                m.choose(page, m, "map-dims", "3", "data-dims")
            screen = canvas.evaluate(m.SCREEN)
            xs, ys = [p[0] for p in screen], [p[1] for p in screen]
            fill = max((max(xs) - min(xs)) / box["width"], (max(ys) - min(ys)) / box["height"])
            assert fill >= 0.85 if dims == "2" else fill >= 0.75, f"{dims}-D: the points span {fill:.2f} of the map"
            assert min(xs) >= 0 and max(xs) <= box["width"] and min(ys) >= 0 and max(ys) <= box["height"], "nothing clipped"
        shot(page, "latent-explorer-1366x900", full_page=False)

        page.locator(".theme-toggle").click()  # dark mode: a dark map with light edges
        if page.evaluate("document.documentElement.dataset.theme") != "dark":
            page.locator(".theme-toggle").click()
        page.get_by_test_id("map-edges").select_option("all")
        m.wait_drawn(page)
        import numpy as np

        pixels = np.asarray(m.map_pixels(canvas)).astype(int)
        dark = (pixels.sum(-1) < 3 * 60).mean()
        assert dark > 0.6, f"only {dark:.0%} of the dark map is dark"
        edges = canvas.evaluate("""(box) => { const d = box.querySelector('[data-frames]').__deck;
            const l = d.props.layers.find((x) => x.id === 'edges'); return Array.from(l.props.data.attributes.getColor.value.slice(0, 3)); }""")
        assert sum(edges) > 3 * 150, "edges are drawn light on the dark map"
        shot(page, "latent-explorer-dark", full_page=False)
    finally:
        context.close()


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_a_focused_point_shows_its_edges_at_the_defaults(lab, page, latent_map, method):
    m = latent_map
    page.goto(lab.page_of("um"))
    canvas = page.get_by_test_id("latent-canvas")
    expect(canvas).to_have_attribute("data-points", str(m.N))
    m.choose(page, m, "map-method", method, "data-method")
    badge = page.get_by_test_id("map-badge")
    for dims in ("2", "3"):
        m.choose(page, m, "map-dims", dims, "data-dims")
        screen = canvas.evaluate(m.SCREEN)
        i = m.isolated(screen)
        m.focus(page, canvas, screen[i][0], screen[i][1])
        expect(badge).not_to_have_attribute("data-focus", "0")
        knn = lab.file("um", f"neighbors/knn_{method}_epoch_2.json")
        expect(badge).to_have_attribute("data-edges-drawn", str(knn["k"]))
        visible = int(badge.get_attribute("data-edges-visible"))
        assert visible >= knn["k"] // 2, f"{method} {dims}-D: {visible} of {knn['k']} edges visible at the default radius"
        page.get_by_test_id("focus-clear").click()


def test_many_focused_points_draw_a_readable_subset(lab, page, latent_map):
    m = latent_map
    canvas = m.open(page, lab, m)
    screen = canvas.evaluate(m.SCREEN)
    page.get_by_test_id("tool-lasso").click()
    lasso = page.get_by_test_id("latent-canvas-lasso")
    box = lasso.bounding_box()
    xs, ys = [p[0] for p in screen], [p[1] for p in screen]
    corners = [(min(xs) - 3, min(ys) - 3), (max(xs) + 3, min(ys) - 3), (max(xs) + 3, max(ys) + 3), (min(xs) - 3, max(ys) + 3)]
    page.mouse.move(box["x"] + corners[0][0], box["y"] + corners[0][1])
    page.mouse.down()
    for x, y in corners[1:] + corners[:1]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=6)
    page.mouse.up()
    note = page.get_by_test_id("edges-thinned")
    k = lab.file("gm", "neighbors/knn_pca_epoch_3.json")["k"]
    expect(note).to_contain_text(f"{m.N} focused points to its 3 nearest neighbours ({m.N * 3} drawn, {m.N * (k - 3)} hidden)")
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-edges-drawn", str(m.N * 3))
    page.get_by_test_id("edges-show-all").click()
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-edges-drawn", str(m.N * k))
