"""The latent explorer in a real browser (Debian's Chromium, SwiftShader WebGL) against a real server and
real tiny runs trained once for the module: non-empty WebGL maps in 2-D and 3-D, switching method,
dimension and epoch changes the picture, play advances epochs, hover shows both thumbnails, both edge
modes draw edges and fuzzy gating changes opacity smoothly, a lasso focuses a set and the export lists
it, overlays draw, the mixture panel warns on a collapsed run, and new epochs of a running run appear
live."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

GMVAE = {"latent_dim": 4, "channels": [8, 8], "num_components": 3}
N = 64  # tiny-digits has 64 held-out digits: the whole split is the subset


@dataclass
class Lab:
    url: str
    runs: Path
    ids: dict[str, str]
    client: object

    def page_of(self, name: str) -> str:
        return f"{self.url}/runs/{self.ids[name]}/latent/"

    def file(self, name: str, artifact: str) -> dict:
        return json.loads((self.runs / self.ids[name] / artifact).read_text())


def _train(pm, store, config: dict) -> str:
    from latentdeck.launch import prepare_run
    from latentdeck.training import execute_run

    stored = prepare_run(pm, config)
    store.create(stored)
    assert execute_run(store.run_dir(stored["run_id"]), pm=pm) == "completed"
    return stored["run_id"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Three finished tiny runs (a GM-VAE with every latent artifact, a collapsed GM-VAE, an AE) and a server."""
    import httpx
    import uvicorn

    import latentdeck.testing as testing
    from latentdeck.api import create_app
    from latentdeck.api.server import Server
    from latentdeck.plugins import make_plugin_manager
    from latentdeck.runs.store import RunStore

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
        mp.setenv("LATENTDECK_WARMUP", "off")
        pm = make_plugin_manager(plugins=[testing])
        runs = tmp_path_factory.mktemp("runs")
        store = RunStore(runs)
        base = {"dataset": "tiny-digits", "batch_size": 64, "seed": 0, "viz_subset_size": N, "num_threads": 1,
                "recon_grid_size": 8}
        ids = {
            "gm": _train(pm, store, {**base, "model": "gmvae", "model_options": GMVAE, "epochs": 3, "name": "tiny gmvae",
                                     "projections": ["first-dims", "pca"],
                                     "artifacts": ["knn", "density", "distortion", "atlas", "mixture_health"],
                                     "artifact_options": {"density": {"grid_size": 32}}}),
            "collapsed": _train(pm, store, {**base, "model": "gmvae", "epochs": 2, "name": "collapsed gmvae",
                                            # q(c|x) from the latent with no categorical KL: every digit picks one component
                                            "model_options": {**GMVAE, "num_components": 4, "qc_source": "latent", "kld_weight": 10.0,
                                                              "categorical_kl_anneal": True, "categorical_kl_anneal_epochs": 1,
                                                              "categorical_kl_max_weight": 0.0},
                                            "projections": ["first-dims"], "artifacts": ["mixture_health", "atlas"]}),
        }
        app = create_app(pm, runs, monitor_s=1e6)  # no reaping: the live test fakes a running run without a worker
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        server = Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1), app)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        client = httpx.Client(base_url=url, timeout=30)
        yield Lab(url, runs, ids, client)
        client.close()
        server.should_exit = True
        thread.join(15)


def isolated(screen: list[list[float]]) -> int:
    """The point farthest from its nearest neighbour on screen (hovering it cannot pick another)."""
    def gap(i: int) -> float:
        return min((screen[i][0] - x) ** 2 + (screen[i][1] - y) ** 2 for j, (x, y) in enumerate(screen) if j != i)
    return max(range(len(screen)), key=gap)


def _open(page, lab: Lab, m, run: str = "gm"):
    page.goto(lab.page_of(run))
    canvas = page.get_by_test_id("latent-canvas")
    expect(canvas).to_have_attribute("data-points", str(N))
    m.wait_drawn(page)
    return canvas


def _choose(page, m, group: str, value: str, badge_attr: str):
    page.get_by_test_id(group).locator(f"button[data-value='{value}']").click()
    expect(page.get_by_test_id("map-badge")).to_have_attribute(badge_attr, value)
    m.wait_drawn(page)
    time.sleep(0.3)  # the frame after the last transition step


def test_method_dimension_and_epoch_each_change_the_picture(lab, page, latent_map, shot):
    m = latent_map
    canvas = _open(page, lab, m)
    badge = page.get_by_test_id("map-badge")
    expect(badge).to_have_attribute("data-epoch", "3")
    _choose(page, m, "map-method", "first-dims", "data-method")
    first = m.map_pixels(canvas)
    assert m.drawn_pixels(first) > N * 20, "the 2-D WebGL map draws its points"
    _choose(page, m, "map-method", "pca", "data-method")
    pca = m.map_pixels(canvas)
    assert m.drawn_pixels(pca) > N * 20
    assert m.changed_pixels(first, pca) > N * 10, "PCA and first-dims place the points differently"
    shot(page, "latent-explorer-pca-2d")

    _choose(page, m, "map-dims", "3", "data-dims")
    three = m.map_pixels(canvas)
    assert m.drawn_pixels(three) > N * 10, "the 3-D WebGL map draws its points"
    assert m.changed_pixels(pca, three) > N * 10
    shot(page, "latent-explorer-pca-3d")
    _choose(page, m, "map-dims", "2", "data-dims")

    page.get_by_test_id("timeline-scrubber").fill("0")  # epoch 1
    expect(badge).to_have_attribute("data-epoch", "1")
    m.wait_drawn(page)
    time.sleep(0.3)
    assert m.changed_pixels(pca, m.map_pixels(canvas)) > N * 5, "epoch 1's map differs from epoch 3's"
    expect(page.get_by_test_id("timeline-follow")).not_to_be_checked()
    expect(page.get_by_test_id("trust")).to_contain_text("trustworthiness")
    trust = lab.file("gm", "projections/latent_2d_epoch_1.json")["trustworthiness"]["value"]
    expect(page.get_by_test_id("trust-value")).to_have_text(f"{trust:.3f}")


def test_play_advances_through_the_epochs(lab, page, latent_map):
    m = latent_map
    _open(page, lab, m)
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
    canvas = _open(page, lab, m)
    badge = page.get_by_test_id("map-badge")
    method = badge.get_attribute("data-method")
    name = "projections/latent_2d_epoch_3.json" if method == "pca" else f"projections/latent_2d_epoch_3_{method}.json"
    projection = lab.file("gm", name)
    screen = canvas.evaluate(m.SCREEN)
    box = canvas.bounding_box()
    i = isolated(screen)
    page.mouse.move(box["x"] + screen[i][0], box["y"] + screen[i][1])
    card = page.get_by_test_id("hover-card")
    expect(card).to_have_attribute("data-index", str(projection["indices"][i]))
    expect(page.get_by_test_id("hover-label")).to_have_text(str(projection["labels"][i]))
    atlas = lab.file("gm", "reconstructions/atlas_epoch_3.json")
    for test_id, png in (("thumb-input", "reconstructions/atlas_inputs.png"), ("thumb-recon epoch 3", atlas["png"])):
        thumb = page.get_by_test_id(test_id)
        expect(thumb).to_have_attribute("data-tile", str(i))
        style = thumb.get_attribute("style")
        assert png in style, f"{test_id} is cut from {png}: {style}"
        assert lab.client.get(f"/api/runs/{lab.ids['gm']}/artifacts/{png}").status_code == 200
    expect(page.get_by_test_id("hover-qc")).to_be_visible()  # q(c|x) of the GM-VAE
    shot(page, "latent-explorer-hover")


def test_edge_modes_and_smooth_fuzzy_gating(lab, page, latent_map):
    m = latent_map
    canvas = _open(page, lab, m)
    page.get_by_test_id("map-edges").select_option("all")
    page.get_by_test_id("map-edge-mode").select_option("top_k")
    k = lab.file("gm", "neighbors/knn_pca_epoch_3.json")["k"]
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-edges-drawn", str(N * k))
    top_k = canvas.evaluate(m.EDGE_ALPHA)
    assert len(top_k) == N * k and len(set(top_k)) == 1, "top-k: every edge at the same opacity"

    page.get_by_test_id("map-edge-mode").select_option("extent_gated")
    time.sleep(0.3)
    gated = canvas.evaluate(m.EDGE_ALPHA)
    assert len(gated) == N * k and min(gated) < max(gated) == top_k[0], "gated: long edges fade"

    slider = page.get_by_test_id("map-radius")
    slider.fill("1.05")
    time.sleep(0.3)
    wider = canvas.evaluate(m.EDGE_ALPHA)
    deltas = [b - a for a, b in zip(gated, wider)]
    assert any(d > 0 for d in deltas), "a larger radius lets more of the long edges show"
    assert min(deltas) >= -1, "opacity never drops when the radius grows (monotone)"
    assert max(deltas) <= 30, "a 5% larger radius changes an edge's opacity a little, never pops it"


def test_lasso_focuses_a_set_dims_the_rest_and_exports_it(lab, page, latent_map, shot):
    m = latent_map
    canvas = _open(page, lab, m)
    screen = canvas.evaluate(m.SCREEN)
    xs = sorted(p[0] for p in screen)
    ys = sorted(p[1] for p in screen)
    x0, x1 = xs[0] - 3, (xs[N // 2] + xs[N // 2 + 1]) / 2  # the left half of the points
    y0, y1 = ys[0] - 3, ys[-1] + 3
    inside = [i for i, (x, y) in enumerate(screen) if x0 < x < x1 and y0 < y < y1]
    assert 10 < len(inside) < N
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
    assert sum(a > 100 for a in alpha) == members and sum(a < 60 for a in alpha) == N - members, "the rest is dimmed"
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
    canvas = _open(page, lab, m)
    none = m.drawn_pixels(m.map_pixels(canvas))
    for kind in ("posterior", "distortion"):
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
    _choose(page, m, "map-dims", "3", "data-dims")
    expect(page.get_by_test_id("map-badge")).to_have_attribute("data-overlay", "none")  # overlays are 2-D only


def test_mixture_panel_warns_on_a_collapsed_run(lab, page, shot):
    page.goto(lab.page_of("collapsed"))
    panel = page.get_by_test_id("mixture-panel")
    health = lab.file("collapsed", "mixture/mixture_health_epoch_2.json")
    assert health["argmax_neff"] < 1.5, "the tiny run collapsed onto one component, as intended"
    if "health" in health:
        expect(page.get_by_test_id("mixture-status")).to_have_text(health["health"]["status"])
        assert health["health"]["status"] == "collapsed"
        expect(page.get_by_test_id("mixture-summary")).to_have_text(health["health"]["summary"])
        for advice in health["health"]["advice"]:
            expect(panel).to_contain_text(advice)
    else:  # a file written before the backend assessed health: the raw numbers, no verdict made up here
        expect(page.get_by_test_id("mixture-health-raw")).to_contain_text(f"argmax_neff {health['argmax_neff']:.3g}")
    expect(page.get_by_test_id("mixture-bars").locator("button")).to_have_count(4)
    shot(page, "latent-explorer-mixture-collapsed")


def test_clicking_a_component_highlights_its_digits_and_samples_it(lab, page, latent_map):
    m = latent_map
    canvas = _open(page, lab, m)
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    c = projection["component"][0]
    page.get_by_test_id(f"mixture-bar-{c}").click()
    expect(page.get_by_test_id("map-filter")).to_have_value(f"comp:{c}")
    time.sleep(0.3)
    alpha = canvas.evaluate(m.POINT_ALPHA)
    assert [a > 100 for a in alpha] == [x == c for x in projection["component"]]
    expect(page.get_by_test_id("samples-meta")).to_contain_text(f"component {c}", timeout=60_000)


def test_new_epochs_of_a_running_run_appear_live(lab, page):
    """A running run (its files copied in step by step, announced in its event log): the page follows."""
    source = lab.runs / lab.ids["gm"]
    run_id = "20990101-000000-abcdef"
    run_dir = lab.runs / run_id
    run_dir.mkdir()
    config = json.loads((source / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps({**config, "run_id": run_id}))
    (run_dir / "summary.json").write_text(json.dumps({"run_id": run_id, "status": "running", "model": "gmvae",
                                                      "dataset": "tiny-digits", "epochs": 3, "epochs_completed": 0,
                                                      "created_at": time.time()}))
    from latentdeck.events import EventLog

    def publish(epoch: int) -> None:
        names = [f"projections/latent_2d_epoch_{epoch}.json", f"neighbors/knn_pca_epoch_{epoch}.json"]
        with EventLog(run_dir / "events.jsonl", run_id) as log:
            for name in names:
                (run_dir / name).parent.mkdir(exist_ok=True)
                shutil.copy(source / name, run_dir / name)
                log.emit("artifact.created", {"name": name, "latest": None, "kind": name.split("/")[0], "epoch": epoch,
                                              "generator": "test"})

    with EventLog(run_dir / "events.jsonl", run_id) as log:
        log.emit("run.created", {"config": config})
    publish(1)
    page.goto(f"{lab.url}/runs/{run_id}/latent/")
    badge = page.get_by_test_id("map-badge")
    expect(badge).to_have_attribute("data-epoch", "1")
    expect(page.get_by_test_id("timeline-feed")).to_have_attribute("data-state", "live")
    publish(2)
    expect(badge).to_have_attribute("data-epoch", "2", timeout=15_000)  # followed without a reload
    page.get_by_test_id("timeline-scrubber").fill("0")
    expect(badge).to_have_attribute("data-epoch", "1")
    publish(3)
    expect(page.get_by_test_id("timeline-epoch")).to_have_text("1")  # a chosen epoch stays put
    expect(page.get_by_test_id("timeline")).to_contain_text("/ 3", timeout=15_000)


def test_compare_mirrors_the_camera_and_the_hover(lab, page, latent_map, shot):
    m = latent_map
    _open(page, lab, m)
    _choose(page, m, "map-method", "first-dims", "data-method")
    page.get_by_test_id("compare-toggle").click()
    m.wait_drawn(page, "compare-left")
    m.wait_drawn(page, "compare-right")
    view = lambda side: page.locator(f"[data-testid=compare-{side}] [data-frames]").get_attribute("data-view")  # noqa: E731
    before = view("left")
    assert before == view("right")
    page.get_by_test_id("compare-left").scroll_into_view_if_needed()
    box = page.get_by_test_id("compare-left").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 30, steps=6)
    page.mouse.up()
    page.mouse.wheel(0, -300)
    time.sleep(0.5)
    assert view("left") != before, "dragging and scrolling moved the left camera"
    assert view("right") == view("left"), "the right camera follows"

    screen = page.get_by_test_id("compare-left").evaluate(m.SCREEN)
    i = isolated(screen)
    page.mouse.move(box["x"] + screen[i][0], box["y"] + screen[i][1])
    left_epoch = lab.file("gm", "projections/latent_2d_epoch_1_first-dims.json")
    expect(page.get_by_test_id("compare-right-hover")).to_contain_text(f"#{left_epoch['indices'][i]} ")

    _choose(page, m, "map-dims", "3", "data-dims")
    m.wait_drawn(page, "compare-left")
    rotated = view("left")
    page.get_by_test_id("compare-right").scroll_into_view_if_needed()
    box = page.get_by_test_id("compare-right").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 90, box["y"] + box["height"] / 2, steps=6)
    page.mouse.up()
    time.sleep(0.5)
    assert json.loads(view("right"))["rotationOrbit"] != json.loads(rotated)["rotationOrbit"], "the drag orbits in 3-D"
    assert view("left") == view("right"), "orbiting one 3-D map orbits the other"

    page.get_by_test_id("compare-mode").locator("button[data-value='runs']").click()
    page.get_by_test_id("compare-run").select_option(lab.ids["collapsed"])
    expect(page.get_by_test_id("compare-shared")).to_contain_text(f"{N} of {N} digits are in both subsets")
    shot(page, "latent-explorer-compare")


def test_a_latent_walk_is_decoded_and_drawn_on_the_map(lab, page, latent_map, shot):
    m = latent_map
    canvas = _open(page, lab, m)
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    screen = canvas.evaluate(m.SCREEN)
    box = canvas.bounding_box()
    a = isolated(screen)
    b = max(range(N), key=lambda j: (screen[j][0] - screen[a][0]) ** 2 + (screen[j][1] - screen[a][1]) ** 2)
    page.mouse.click(box["x"] + screen[a][0], box["y"] + screen[a][1])
    panel = page.get_by_test_id("walk-panel")
    expect(panel).to_contain_text(f"from #{projection['indices'][a]}")
    page.get_by_test_id("walk-pick").click()
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + screen[b][0], box["y"] + screen[b][1])
    expect(page.get_by_test_id("walk-target")).to_contain_text(f"#{projection['indices'][b]}")
    expect(page.get_by_test_id("focus-box")).to_contain_text("1 chosen")  # picking the end did not refocus
    page.get_by_test_id("walk-steps").select_option("5")
    page.get_by_test_id("walk-run").click()
    result = page.get_by_test_id("walk-result")
    expect(result).to_have_attribute("data-exact", "true", timeout=60_000)
    expect(page.get_by_test_id("walk-placement")).to_contain_text("Placed exactly")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=page.get_by_test_id("walk-strip").element_handle())
    layers = canvas.evaluate("(box) => box.querySelector('[data-frames]').__deck.props.layers.map((l) => l.id)")
    assert "walk-path" in layers and "walk-steps" in layers
    ends = canvas.evaluate("""(box) => { const deck = box.querySelector('[data-frames]').__deck;
        const d = deck.props.layers.find((l) => l.id === 'walk-steps').props.data; return [d[0], d[d.length - 1]]; }""")
    points = canvas.evaluate("""(box) => Array.from(box.querySelector('[data-frames]').__deck.props.layers
        .find((l) => l.id === 'points').props.data.attributes.getPosition.value)""")
    for end, i in zip(ends, (a, b)):  # PCA places the path exactly: its ends sit on the two digits
        assert abs(end[0] - points[3 * i]) < 1e-3 and abs(end[1] - points[3 * i + 1]) < 1e-3
    shot(page, "latent-explorer-walk")
    walks = list((lab.runs / lab.ids["gm"] / "samples" / "walks").rglob("walk.json"))
    assert len(walks) == 1 and json.loads(walks[0].read_text())["steps"] == 5
    _choose(page, m, "map-method", "first-dims", "data-method")
    layers = canvas.evaluate("(box) => box.querySelector('[data-frames]').__deck.props.layers.map((l) => l.id)")
    assert "walk-path" not in layers, "a walk placed on the PCA map is not drawn on another map"
