"""The explorer's difference mode ("changes since epoch N-1") in a real browser against the session lab's
tiny GM-VAE run "gm" (3 epochs, 64 points, first-dims and PCA): one trail per point present in both epochs,
from its previous place to its current one; points coloured by 1 - Jaccard of their kNN sets; the headline
count and the re-orientation (turn, scale) equal what Python computes from the same files; "learning only"
trails are shorter in total than the whole move; the first epoch has nothing to compare."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

# the trail layer's ends and colours, and the points' colours, as uploaded to the GPU
TRAILS = """(box) => {
  const deck = box.querySelector('[data-frames]').__deck;
  const layer = deck.props.layers.find((l) => l.id === 'trails');
  if (!layer) return null;
  const a = layer.props.data.attributes;
  return { count: layer.props.data.length, from: Array.from(a.getSourcePosition.value),
           to: Array.from(a.getTargetPosition.value), colours: Array.from(a.getColor.value) };
}"""
POINTS = """(box) => {
  const deck = box.querySelector('[data-frames]').__deck;
  const a = deck.props.layers.find((l) => l.id === 'points').props.data.attributes;
  return { at: Array.from(a.getPosition.value), colours: Array.from(a.getFillColor.value) };
}"""

STOPS = np.array([[128, 146, 170], [230, 159, 0], [176, 0, 58]], dtype=float)


def projection_name(method: str, dims: int, epoch: int) -> str:
    if method == "pca" and dims == 2:
        return f"projections/latent_2d_epoch_{epoch}.json"
    return f"projections/latent_{dims}d_epoch_{epoch}_{method}.json"


def keys(projection: dict) -> list[str]:
    split = projection.get("split") or ["heldout"] * len(projection["indices"])
    return [f"{s}:{i}" for s, i in zip(split, projection["indices"])]


def knn_keys(knn: dict, projection: dict) -> list[str]:
    same = knn["indices"] == projection["indices"]
    return keys(projection) if same else [f"heldout:{i}" for i in knn["indices"]]


def neighbourhood_change(lab, method: str, dims: int, before: int, after: int) -> dict[str, tuple[float, int, int]]:
    """{point key: (1 - Jaccard, kept, previous k)} from the two epochs' kNN files, matched by key."""
    out = {}
    rows = []
    for epoch in (before, after):
        knn = lab.file("gm", f"neighbors/knn_{method}_epoch_{epoch}.json")
        k = knn_keys(knn, lab.file("gm", projection_name(method, dims, epoch)))
        rows.append({k[i]: {k[j] for j in nbrs} for i, nbrs in enumerate(knn["neighbors"])})
    for key, now in rows[1].items():
        if key in rows[0]:
            then = rows[0][key]
            out[key] = (1 - len(then & now) / len(then | now), len(then & now), len(then))
    return out


def percent(part: int, whole: int) -> str:
    p = 100 * part / whole
    return "< 1 %" if 0 < p < 1 else "> 99 %" if 99 < p < 100 else f"{math.floor(p + 0.5)} %"


def similarity(x: np.ndarray, y: np.ndarray) -> tuple[float, float, bool]:
    """Umeyama's y = s R x + t (mirrors allowed): (turn in degrees, s, mirrored) as the page reports them."""
    x0, y0 = x - x.mean(0), y - y.mean(0)
    u, sigma, vt = np.linalg.svd(y0.T @ x0)
    r = u @ vt
    s = sigma.sum() / (x0 ** 2).sum()
    mirrored = bool(np.linalg.det(r) < 0)
    if x.shape[1] == 2:
        turn = 0.0 if mirrored else math.degrees(math.atan2(r[1, 0], r[0, 0]))
    else:
        c = (np.trace(r) + 1) / 2 if mirrored else (np.trace(r) - 1) / 2
        turn = math.degrees(math.acos(min(1.0, max(-1.0, c))))
    return turn, s, mirrored


def trail_squares(t: dict) -> float:
    a, b = np.array(t["from"]).reshape(-1, 3), np.array(t["to"]).reshape(-1, 3)
    return float(((b - a) ** 2).sum())


def check_view(page, lab, m, canvas, method: str, dims: int, epoch: int = 3) -> dict:
    """The difference mode on the shown map agrees with the files: trails, colours, headline, turn and scale."""
    before, after = (lab.file("gm", projection_name(method, dims, e)) for e in (epoch - 1, epoch))
    shared = [k for k in keys(after) if k in set(keys(before))]
    panel = page.get_by_test_id("changes-panel")
    expect(panel).to_have_attribute("data-to", str(epoch))
    expect(panel).to_have_attribute("data-from", str(epoch - 1))
    expect(panel).to_have_attribute("data-state", "ready")
    expect(panel).to_have_attribute("data-trails", str(len(shared)))
    m.wait_drawn(page)
    time.sleep(0.3)

    trails = canvas.evaluate(TRAILS)
    assert trails is not None, "difference mode draws a 'trails' layer"
    assert trails["count"] == len(shared) == m.N, "one trail per point present in both epochs"
    points = canvas.evaluate(POINTS)
    at = np.array(points["at"]).reshape(-1, 3)
    ends = np.array(trails["to"]).reshape(-1, 3)
    assert np.allclose(ends, at[[keys(after).index(k) for k in shared]], atol=1e-6), "each trail ends at its point"
    # each trail starts at the point's previous coordinates, put into this map's world units (scaling.ts:
    # one scale for every axis from this file's bounds; PCA centred on 0, other methods on the box's centre)
    bounds = np.array(after["bounds"])[:dims]
    centre = np.zeros(dims) if method == "pca" else bounds.mean(1)
    scale = 1 / np.abs(bounds - centre[:, None]).max()
    assert np.allclose(at[:, :dims], (np.array(after["coords"])[:, :dims] - centre) * scale, atol=1e-5)
    starts = np.array(trails["from"]).reshape(-1, 3)[:, :dims]
    previous = np.array([before["coords"][keys(before).index(k)] for k in shared])[:, :dims]
    assert np.allclose(starts, (previous - centre) * scale, atol=1e-5), "trails start at the previous epoch's place"

    change = neighbourhood_change(lab, method, dims, epoch - 1, epoch)
    fewer = sum(1 for _, kept, k in change.values() if 2 * kept < k)
    expect(panel).to_have_attribute("data-compared", str(len(change)))
    expect(panel).to_have_attribute("data-kept-fewer", str(fewer))
    headline = f"{percent(fewer, len(change))} of points kept fewer than half their neighbours (epoch {epoch - 1} → {epoch})"
    expect(page.get_by_test_id("changes-headline")).to_have_text(headline)

    # points coloured by 1 - Jaccard on the blue-grey / orange / crimson scale
    colours = np.array(points["colours"]).reshape(-1, 4)[:, :3]
    for i, key in enumerate(keys(after)):
        x = min(max(change[key][0], 0), 1) * 2
        j = min(int(x), 1)
        want = np.round(STOPS[j] + (STOPS[j + 1] - STOPS[j]) * (x - j))
        assert np.abs(colours[i] - want).max() <= 1, f"{key}: change {change[key][0]:.3f} drawn {colours[i]}, expected {want}"

    turn, s, mirrored = similarity(previous, np.array([after["coords"][keys(after).index(k)] for k in shared])[:, :dims])
    assert float(panel.get_attribute("data-turn")) == pytest.approx(turn, abs=1e-2)
    assert float(panel.get_attribute("data-scale")) == pytest.approx(s, abs=1e-4)
    expect(panel).to_have_attribute("data-mirrored", str(mirrored).lower())
    expect(page.get_by_test_id("changes-reorientation")).to_contain_text("re-orientation")
    expect(page.get_by_test_id("changes-learning")).to_contain_text("that is learning")
    return trails


def test_difference_mode_draws_trails_and_neighbourhood_change(lab, page, latent_map, shot):
    m = latent_map
    canvas = m.open(page, lab, m)
    badge = page.get_by_test_id("map-badge")
    expect(badge).to_have_attribute("data-epoch", "3")
    m.choose(page, m, "map-method", "pca", "data-method")
    toggle = page.get_by_test_id("changes-toggle")
    expect(toggle).to_have_text("changes since epoch 2")
    off = m.map_pixels(canvas)
    assert canvas.evaluate(TRAILS) is None, "no trails until the mode is on"
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    whole = check_view(page, lab, m, canvas, "pca", 2)
    expect(page.get_by_test_id("changes-alignment")).to_contain_text("PCA")
    expect(page.get_by_test_id("legend")).to_have_count(0)  # the change legend replaces the digit legend
    shot(page, "latent-changes-pca-2d")

    # with the digit colours back, the trails alone add drawn pixels to the map
    page.get_by_test_id("changes-colour").uncheck()
    expect(page.get_by_test_id("legend")).to_be_visible()
    m.wait_drawn(page)
    time.sleep(0.3)
    assert m.drawn_pixels(m.map_pixels(canvas)) > m.drawn_pixels(off) + 50, "the trails are drawn"
    page.get_by_test_id("changes-colour").check()

    # learning only: trails start where the whole map's turn, growth and shift alone put each point
    page.get_by_test_id("changes-trail-base").locator("button[data-value='learning']").click()
    page.wait_for_function(f"(box) => {{ const t = ({TRAILS})(box); return t && t.from.join() !== {whole['from']!r}.join(); }}",
                           arg=canvas.element_handle())
    learning = canvas.evaluate(TRAILS)
    assert learning["count"] == whole["count"]
    assert trail_squares(learning) <= trail_squares(whole) + 1e-9, "the fitted transform never adds movement"
    page.get_by_test_id("changes-trail-base").locator("button[data-value='whole']").click()

    m.choose(page, m, "map-method", "first-dims", "data-method")
    check_view(page, lab, m, canvas, "first-dims", 2)
    m.choose(page, m, "map-dims", "3", "data-dims")
    check_view(page, lab, m, canvas, "first-dims", 3)
    shot(page, "latent-changes-first-dims-3d")

    page.get_by_test_id("timeline-scrubber").fill("0")  # epoch 1: nothing earlier
    expect(badge).to_have_attribute("data-epoch", "1")
    expect(page.get_by_test_id("changes-panel")).to_have_attribute("data-state", "first")
    m.wait_drawn(page)
    assert canvas.evaluate(TRAILS) is None
    page.get_by_test_id("timeline-scrubber").fill("1")  # epoch 2 compares with epoch 1
    expect(page.get_by_test_id("changes-panel")).to_have_attribute("data-to", "2")
    check_view(page, lab, m, canvas, "first-dims", 3, epoch=2)
    toggle.click()
    expect(page.get_by_test_id("changes-panel")).to_have_count(0)
    m.wait_drawn(page)
    assert canvas.evaluate(TRAILS) is None, "switching the mode off removes the trails"


def test_missing_neighbour_files_name_the_installed_provider(lab, page, latent_map):
    """A run without neighbour files (the "collapsed" run computed none): the difference mode still draws the
    trails and says which installed computation would write the files, read from the listing's artifact types'
    roles (the core UI names no plugin); with no provider installed it says so."""
    m = latent_map
    canvas = m.open(page, lab, m, "collapsed")
    page.get_by_test_id("changes-toggle").click()
    panel = page.get_by_test_id("changes-panel")
    expect(panel).to_have_attribute("data-from", "1")
    missing = page.get_by_test_id("changes-neighbours-missing")
    expect(missing).to_contain_text("No neighbour file for epoch 1 and 2")
    expect(missing.locator("code")).to_have_text(f"latentdeck backfill {lab.ids['collapsed']} --artifacts knn")
    expect(panel).to_have_attribute("data-trails", str(m.N))
    m.wait_drawn(page)
    assert canvas.evaluate(TRAILS)["count"] == m.N

    def no_provider(route):  # the same listing, as if no installed plugin provided neighbours
        listing = route.fetch().json()
        for row in listing["artifacts"]:
            row["roles"] = [r for r in row["roles"] if r != "neighbours"]
        route.fulfill(json=listing)

    page.route("**/api/runs/*/files*", no_provider)
    m.open(page, lab, m, "collapsed")  # the page's own address, without the mode
    page.get_by_test_id("changes-toggle").click()
    expect(missing).to_contain_text("no installed plugin writes neighbour files")
    expect(missing.locator("code")).to_have_count(0)
