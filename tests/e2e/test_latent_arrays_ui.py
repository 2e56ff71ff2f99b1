"""The latent explorer on a run stored in the array format (issue 24: a small JSON header beside a safetensors
file, written by the host's ArtifactWriter) in a real browser: a copy of the session's tiny GM-VAE run with its
projections, kNN files, thumbnail-sheet indices and overlay grids rewritten in that format draws the same map as
the inline-JSON original, switches epochs with one fetch of the array file, gates kNN edges measured in the
projection (files no longer store edge lengths) as the original's stored lengths did, and keeps hover, q(c|x),
difference trails and overlays working."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))


@pytest.fixture(scope="module")
def packed(lab) -> str:
    """The "gm" run copied under a new id, its explorer artifacts in the array format; returns the new id."""
    from latent_bench_pages import pack_folder

    source = lab.runs / lab.ids["gm"]
    run_id = lab.ids["gm"][:-6] + "packed"
    target = lab.runs / run_id
    if not target.exists():
        shutil.copytree(source, target)
        for name in ("summary.json", "config.json"):
            doc = json.loads((target / name).read_text())
            doc["run_id"] = run_id
            (target / name).write_text(json.dumps(doc))
        for folder in ("projections", "neighbors", "atlas", "density", "distortion"):
            if (target / folder).is_dir():
                pack_folder(target, folder)
    assert json.loads((target / "projections/latent_2d_epoch_3.json").read_text())["arrays"]["file"] == "latent_2d_epoch_3.safetensors"
    assert "edge_lengths" not in json.dumps(json.loads((target / "neighbors/knn_pca_epoch_3.json").read_text())["extent"])
    lab.ids["gm-packed"] = run_id
    return run_id


def test_a_run_in_the_array_format_draws_the_same_map(lab, page, latent_map, packed, shot):
    m = latent_map
    original = m.map_pixels(m.open(page, lab, m))
    page.get_by_test_id("map-edges").select_option("all")
    page.get_by_test_id("map-edge-mode").select_option("extent_gated")
    auto = page.get_by_test_id("map-radius").get_attribute("data-auto")
    page.get_by_test_id("map-edges").select_option("focused")

    canvas = m.open(page, lab, m, "gm-packed")
    m.wait_drawn(page)
    time.sleep(0.3)
    same = m.map_pixels(canvas)
    assert m.drawn_pixels(same) > m.N * 20
    assert m.changed_pixels(original, same) < m.N, "the packed run draws the original's map"

    page.get_by_test_id("map-edges").select_option("all")
    k = json.loads((lab.runs / packed / "neighbors/knn_pca_epoch_3.json").read_text())["k"]
    badge = page.get_by_test_id("map-badge")
    expect(badge).to_have_attribute("data-edges-drawn", str(m.N * k))
    gated = canvas.evaluate(m.EDGE_ALPHA)
    assert min(gated) < max(gated), "edges gated by their length in the projection: long ones fade"
    assert page.get_by_test_id("map-radius").get_attribute("data-auto") == auto, \
        "the radius chosen from edges measured in the projection is the one the stored lengths gave"
    shot(page, "latent-explorer-array-format")


def test_an_epoch_switch_fetches_one_array_file(lab, page, latent_map, packed):
    m = latent_map
    m.open(page, lab, m, "gm-packed")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url.split("/artifacts/", 1)[1]) if "/artifacts/projections/" in r.url else None)
    page.get_by_test_id("timeline-scrubber").fill("0")
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-epoch", "1")
    m.wait_drawn(page)
    epoch_1 = [a for a in asked if "epoch_1" in a]
    assert epoch_1 == ["projections/latent_2d_epoch_1.safetensors"], asked
    trust = json.loads((lab.runs / packed / "projections/latent_2d_epoch_1.json").read_text())["trustworthiness"]["value"]
    expect(page.get_by_test_id("trust-value")).to_have_text(f"{trust:.3f}")  # header fields from the array file


def test_hover_trails_and_overlays_read_the_typed_arrays(lab, page, latent_map, packed):
    m = latent_map
    canvas = m.open(page, lab, m, "gm-packed")
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    screen = canvas.evaluate(m.SCREEN)
    box = canvas.bounding_box()
    i = m.isolated(screen)
    page.mouse.move(box["x"] + screen[i][0], box["y"] + screen[i][1])
    expect(page.get_by_test_id("hover-card")).to_have_attribute("data-index", str(projection["indices"][i]))
    expect(page.get_by_test_id("hover-label")).to_have_text(str(projection["labels"][i]))
    expect(page.get_by_test_id("hover-qc")).to_be_visible()  # a row of the atlas's q(c|x) matrix
    page.mouse.move(2, 2)

    page.get_by_test_id("changes-toggle").click()
    panel = page.get_by_test_id("changes-panel")
    expect(panel).to_have_attribute("data-state", "ready")
    assert int(panel.get_attribute("data-trails")) == m.N
    page.get_by_test_id("changes-toggle").click()

    overlay = page.get_by_test_id("map-overlay")
    kinds = [v for v in overlay.locator("option").evaluate_all("(os) => os.map((o) => o.value)") if v != "none"]
    assert kinds, "the packed run lists its overlays"
    overlay.select_option(kinds[0])
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-overlay", kinds[0])
