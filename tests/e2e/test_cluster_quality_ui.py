"""Cluster quality in the latent explorer, in a real browser on tiny runs trained once for this module: a
GM-VAE (with pretraining) whose component colouring takes the matched digits' colours, a confusion-matrix
cell that focuses exactly its points, the prior-means strip and its pretraining note, and an AE whose
held-out confusion matrix focuses "the fours predicted as nines"; an older run without cluster files keeps
its colours and says how to get them; on a running run the colours keep their matching as new epochs arrive
until the person matches again."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

N = 64  # tiny-digits' held-out split: the whole visualization subset
BASE = {"dataset": "tiny-digits", "batch_size": 64, "seed": 0, "viz_subset_size": N, "num_threads": 1,
        "projections": ["first-dims", "pca"],
        "artifacts": ["knn", "atlas", "mixture_health", "cluster_quality", "component_prototypes"]}
RUNS = {
    "gm": {**BASE, "model": "gmvae", "epochs": 3, "name": "tiny gmvae, matched colours",
           "model_options": {"latent_dim": 4, "channels": [8, 8], "num_components": 10, "pretrain_epochs": 1,
                             "prior_init": "gmm", "prior_init_subset": 256}},
    "ae": {**BASE, "model": "ae", "epochs": 2, "name": "tiny ae, confusion", "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}},
}
PALETTE = re.findall(r'"(#[0-9a-f]{6})", // \d', (Path(__file__).resolve().parents[2] / "frontend/src/lib/latent/colour.ts").read_text())

# The fill colour (RGB) of every point of the main map, as uploaded to the GPU, in the projection file's order.
POINT_RGB = """(box) => {
  const deck = box.querySelector('[data-frames]').__deck;
  const c = deck.props.layers.find((l) => l.id === 'points').props.data.attributes.getFillColor.value;
  return Array.from({ length: c.length / 4 }, (_, i) => [c[4 * i], c[4 * i + 1], c[4 * i + 2]]);
}"""


def rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]


class Runs:
    def __init__(self, url: str, root: Path, ids: dict[str, str]):
        self.url, self.root, self.ids = url, root, ids

    def latent(self, name: str) -> str:
        return f"{self.url}/runs/{self.ids[name]}/latent/"

    def file(self, name: str, artifact: str) -> dict:
        from latentdeck.engine.projections import read_listed

        return read_listed(self.root / self.ids[name] / artifact)  # either format, arrays as lists


@pytest.fixture(scope="module")
def runs(tmp_path_factory, serve_trained):
    root = tmp_path_factory.mktemp("cluster-runs")
    with serve_trained(root, RUNS) as (url, ids):
        yield Runs(url, root, ids)


def open_map(page, url: str, m):
    page.goto(url)
    expect(page.get_by_test_id("latent-canvas")).to_have_attribute("data-points", str(N))
    m.wait_drawn(page)
    return page.get_by_test_id("latent-canvas")


def exported_focus(page) -> set[tuple[str, int]]:
    """The focus as the explorer itself exports it: (split, dataset index) of every chosen point."""
    with page.expect_download() as download:
        page.get_by_test_id("export-json").click()
    rows = json.loads(Path(download.value.path()).read_text())["points"]
    return {(r["split"], r["dataset_index"]) for r in rows if r["role"] == "chosen"}


def keys_of(projection: dict, positions: list[int]) -> set[tuple[str, int]]:
    split = projection.get("split") or ["heldout"] * projection["n"]
    return {(split[i], projection["indices"][i]) for i in positions}


def test_component_colours_follow_the_matched_digits(runs, page, latent_map, shot):
    m = latent_map
    quality = runs.file("gm", "clusters/cluster_quality_epoch_3.json")
    projection = runs.file("gm", "projections/latent_2d_epoch_3.json")
    matching = {row["component"]: row for row in quality["mixture"]["matching"]}
    digit_of = {c: row["digit"] for c, row in matching.items() if row["digit"] is not None and row["count"] > 0}
    assert digit_of, "the tiny GM-VAE matched some components to digits"
    canvas = open_map(page, runs.latent("gm"), m)
    page.get_by_test_id("map-colour").select_option("component")
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-colour", "component")
    legend = page.get_by_test_id("legend")
    expect(page.get_by_test_id("legend-matching")).to_contain_text("colours matched at epoch 3")
    for c in sorted(set(projection["component"])):
        row = matching[c]
        if c in digit_of:
            expect(page.get_by_test_id(f"legend-{c}")).to_have_text(f"c{c} → {digit_of[c]} (purity {round(100 * row['purity'])} %)")
        else:
            expect(page.get_by_test_id(f"legend-{c}")).to_contain_text("unmatched")
    expect(legend).to_contain_text("→")
    time.sleep(0.3)
    colours = canvas.evaluate(POINT_RGB)
    for i, c in enumerate(projection["component"]):
        if c in digit_of:  # the point wears its component's matched digit's colour, not the colour of number c
            assert colours[i] == rgb(PALETTE[digit_of[c]]), (i, c, digit_of[c], colours[i])
    swapped = [c for c in digit_of if digit_of[c] != c]
    assert swapped, "a component whose number is not its digit (else this test could not tell the two colourings apart)"
    # the hover card names the hovered point's component with its match
    screen, box = canvas.evaluate(m.SCREEN), canvas.bounding_box()
    i = m.isolated(screen)
    page.mouse.move(box["x"] + screen[i][0], box["y"] + screen[i][1])
    expect(page.get_by_test_id("hover-card")).to_have_attribute("data-index", str(projection["indices"][i]))
    c = projection["component"][i]
    expect(page.get_by_test_id("hover-component")).to_have_text(f"c{c} → {digit_of[c]}" if c in digit_of else f"c{c} (unmatched)")
    page.mouse.move(box["x"] + 2, box["y"] + box["height"] - 2)
    bar = page.get_by_test_id(f"mixture-bar-{swapped[0]}").locator("span")
    assert bar.evaluate("(e) => getComputedStyle(e).backgroundColor") == "rgb({}, {}, {})".format(*rgb(PALETTE[digit_of[swapped[0]]]))
    # the prior means: every component's tile, ordered by matched digit, each named by its match
    strip = page.get_by_test_id("prior-means")
    expect(strip).to_have_attribute("data-state", "ready")
    order = [int(c) for c in strip.get_attribute("data-order").split(",")]
    assert [digit_of.get(c, 99) for c in order] == sorted(digit_of.get(c, 99) for c in order)
    expect(page.get_by_test_id(f"prior-mean-{swapped[0]}")).to_contain_text(f"c{swapped[0]} → {digit_of[swapped[0]]}")
    shot(page, "latent-explorer-matched-colours")


def test_a_pretraining_epoch_shows_no_prior_tiles_but_says_why(runs, page, latent_map):
    open_map(page, runs.latent("gm"), latent_map)
    page.get_by_test_id("timeline-scrubber").fill("0")  # epoch 1: pretraining
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-epoch", "1")
    strip = page.get_by_test_id("prior-means")
    expect(strip).to_have_attribute("data-state", "pretraining")
    expect(page.get_by_test_id("prior-means-note")).to_contain_text("not initialised")
    expect(strip.locator("[role=img]")).to_have_count(0)
    quality = runs.file("gm", "clusters/cluster_quality_epoch_1.json")
    note = quality.get("phase_note") or quality["mixture"].get("phase_note")
    assert note, "the clusters generator marks a pretraining epoch's scores"
    expect(page.get_by_test_id("cluster-phase-note")).to_have_text(note)  # the scores are not passed off as learnt clusters
    # the timeline marks the phases the run declares and names the shown epoch's
    phases = page.get_by_test_id("timeline-phases")
    expect(phases.get_by_test_id("phase-pretraining")).to_contain_text("pretraining")
    expect(phases.get_by_test_id("phase-prior_init")).to_have_attribute("title", re.compile(r"before epoch 2"))
    expect(page.get_by_test_id("timeline-phase-now")).to_contain_text("epoch 1: pretraining")
    page.get_by_test_id("timeline-scrubber").fill("1")
    expect(page.get_by_test_id("timeline-phase-now")).to_contain_text("epoch 2: just after “prior initialised”")
    page.get_by_test_id("phase-pretraining").click()  # a band shows its first epoch
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-epoch", "1")


def test_a_component_digit_cell_focuses_exactly_its_points(runs, page, latent_map, shot):
    m = latent_map
    quality = runs.file("gm", "clusters/cluster_quality_epoch_3.json")
    projection = runs.file("gm", "projections/latent_2d_epoch_3.json")
    mixture = quality["mixture"]
    panel = page.get_by_test_id("cluster-panel")
    canvas = open_map(page, runs.latent("gm"), m)
    expect(panel).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("cluster-accuracy")).to_have_text(f"{round(100 * mixture['accuracy'])} %")
    expect(page.get_by_test_id("cluster-nmi")).to_have_text(f"{mixture['nmi']:.2f}")
    expect(page.get_by_test_id("cluster-labels-note")).to_contain_text("used only to score")
    # the fullest cell: a component and the digit it holds most
    k, d = max(((k, d) for k in range(mixture["components"]) for d in range(quality["classes"])),
               key=lambda kd: mixture["confusion"][kd[0]][kd[1]])
    cell = page.get_by_test_id(f"cluster-mixture-matrix-{k}-{d}")
    expect(cell).to_have_text(str(mixture["confusion"][k][d]))
    cell.click()
    expect(cell).to_have_attribute("aria-pressed", "true")
    positions = mixture["cells"][k][d]
    expect(page.get_by_test_id("cluster-focus")).to_have_attribute("data-count", str(len(positions)))
    expect(page.get_by_test_id("focus-box")).to_contain_text(f"{len(positions)} chosen")
    assert exported_focus(page) == keys_of(projection, positions)
    time.sleep(0.3)
    alpha = canvas.evaluate(m.POINT_ALPHA)
    assert all(alpha[i] > 100 for i in positions), "every point of the cell is drawn bright"
    shot(page, "latent-explorer-cluster-cell")
    cell.click()  # again: released
    expect(page.get_by_test_id("focus-box")).not_to_have_attribute("data-count", str(len(positions)))
    expect(page.get_by_test_id("cluster-focus")).to_have_count(0)


def test_the_ae_heldout_confusion_matrix_focuses_a_cell(runs, page, latent_map, shot):
    m = latent_map
    quality = runs.file("ae", "clusters/cluster_quality_epoch_2.json")
    projection = runs.file("ae", "projections/latent_2d_epoch_2.json")
    classifier = quality["classifier"]
    assert quality["mixture"] is None and classifier["split"] == "heldout"
    open_map(page, runs.latent("ae"), m)
    expect(page.get_by_test_id("cluster-panel")).to_have_attribute("data-state", "ready")
    expect(page.get_by_test_id("classifier-accuracy")).to_have_text(f"{round(100 * classifier['accuracy'])} %")
    expect(page.get_by_test_id("cluster-mixture")).to_have_count(0)
    cells = [(t, p) for t in range(quality["classes"]) for p in range(quality["classes"]) if classifier["confusion"][t][p]]
    wrong = [(t, p) for t, p in cells if t != p]
    t, p = (wrong or cells)[0]  # e.g. "the fours predicted as nines"
    cell = page.get_by_test_id(f"cluster-classifier-matrix-{t}-{p}")
    expect(cell).to_have_text(str(classifier["confusion"][t][p]))
    cell.click()
    positions = classifier["cells"][t][p]
    expect(page.get_by_test_id("cluster-focus")).to_contain_text(
        f"labelled {t} that the classifier predicts as {p}" if t != p else f"labelled {t} that the classifier gets right")
    assert exported_focus(page) == keys_of(projection, positions)
    assert all(projection["labels"][i] == t and projection["predicted"][i] == p for i in positions), "the file's own cell"
    shot(page, "latent-explorer-classifier-confusion")


def test_a_run_without_cluster_files_keeps_its_colours_and_says_how_to_get_them(lab, page, latent_map):
    """The session's shared tiny GM-VAE was trained without the clusters generators, like a run from before them."""
    m = latent_map
    assert not (lab.runs / lab.ids["gm"] / "clusters").exists()
    canvas = m.open(page, lab, m)
    page.get_by_test_id("map-colour").select_option("component")
    expect(page.get_by_test_id("legend-matching")).to_have_text(
        f"colours not matched (no cluster file: run latentdeck backfill {lab.ids['gm']})")
    expect(page.get_by_test_id("cluster-panel")).to_have_attribute("data-state", "missing")
    time.sleep(0.3)
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    colours = canvas.evaluate(POINT_RGB)
    assert all(colours[i] == rgb(PALETTE[c % 10]) for i, c in enumerate(projection["component"])), "today's colours: by number"


def test_colours_stay_matched_as_a_running_run_writes_new_epochs(runs, page, running_copy):
    """A running run (the GM-VAE's files copied in epoch by epoch, announced in its event log): the colours
    keep the matching the page started with until the person asks for the newer one."""
    run_id = "20991231-000000-c1a5e5"
    copy = running_copy(runs.root / runs.ids["gm"], runs.root / run_id)

    def publish(epoch: int) -> None:
        copy(epoch, [f"projections/latent_2d_epoch_{epoch}.json", f"clusters/cluster_quality_epoch_{epoch}.json"])

    publish(2)
    page.goto(f"{runs.url}/runs/{run_id}/latent/")
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-epoch", "2")
    page.get_by_test_id("map-colour").select_option("component")
    matching = page.get_by_test_id("legend-matching")
    expect(matching).to_have_attribute("data-matched", "2")
    publish(3)
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-epoch", "3", timeout=15_000)  # the map follows
    expect(page.get_by_test_id("legend-rematch")).to_have_text("match again at epoch 3")
    expect(matching).to_have_attribute("data-matched", "2")  # the colours do not move on their own
    page.get_by_test_id("legend-rematch").click()
    expect(matching).to_have_attribute("data-matched", "3")
    expect(matching).to_contain_text("colours matched at epoch 3")
    expect(page.get_by_test_id("legend-rematch")).to_have_count(0)
