"""Browser end-to-end fixtures: Playwright driving Debian's Chromium (/usr/bin/chromium; no browser
is ever downloaded) against a real latentdeck server on 127.0.0.1 serving the built web UI.

Skipped, with the reason, when Playwright, Chromium or the UI export (frontend/out) is missing:
`./test` installs all three (scripts/setup.sh)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from latentdeck.api.static import default_ui_dir, ui_available

CHROMIUM = os.environ.get("LATENTDECK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--enable-unsafe-swiftshader", "--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
# Each e2e run saves a screenshot of every page here (git-ignored); the README's curated copies live
# in docs/screenshots/ and are refreshed on purpose: LATENTDECK_SCREENSHOTS=docs/screenshots ./test tests/e2e
SCREENSHOTS = Path(os.environ.get("LATENTDECK_SCREENSHOTS") or Path(__file__).resolve().parents[2] / ".screenshots")
VIEWPORT = {"width": 1366, "height": 900}


def _why_not() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (as root: apt-get install chromium; ./test does it)"
    if not ui_available(default_ui_dir()):
        return f"the web UI is not built ({default_ui_dir()} has no index.html; ./test builds it)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _why_not()
    if reason:
        for item in items:
            if "e2e" in item.nodeid.split("/"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; console errors other than expected 404s and JS exceptions fail the test."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def shot():
    """``shot(page, name)``: save <SCREENSHOTS>/<name>.png for a person to look at."""

    def take(page, name: str, full_page: bool = True) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return take


@pytest.fixture(autouse=True)
def _no_warm_workers(monkeypatch):
    """These runs project with first-dims only: no server should spend the 2 cores warming UMAP."""
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")


# --- the latent explorer's WebGL map (fixture ``latent_map``) --------------------------------------
# Where each point is on screen (from the deck.gl instance the map exposes on its element), what the GPU
# buffers hold, and pixel counts of a screenshot of the map (a WebGL canvas cannot be read back
# reliably; a screenshot can).

# Screen positions (CSS px, relative to the map) of every point, in the projection file's order.
SCREEN = """(box) => {
  const deck = box.querySelector('[data-frames]').__deck;
  const layer = deck.props.layers.find((l) => l.id === 'points');
  const pos = layer.props.data.attributes.getPosition.value;
  const vp = deck.getViewports()[0];
  const out = [];
  for (let i = 0; i < pos.length / 3; i++) {
    const p = vp.project([pos[3 * i], pos[3 * i + 1], pos[3 * i + 2]]);
    out.push([p[0], p[1]]);
  }
  return out;
}"""

# Alpha of every point's colour (0-255), as uploaded to the GPU.
POINT_ALPHA = """(box) => {
  const deck = box.querySelector('[data-frames]').__deck;
  const c = deck.props.layers.find((l) => l.id === 'points').props.data.attributes.getFillColor.value;
  return Array.from({ length: c.length / 4 }, (_, i) => c[4 * i + 3]);
}"""

# Alpha of every drawn kNN edge (empty when none).
EDGE_ALPHA = """(box) => {
  const deck = box.querySelector('[data-frames]').__deck;
  const layer = deck.props.layers.find((l) => l.id === 'edges');
  if (!layer) return [];
  const c = layer.props.data.attributes.getColor.value;
  return Array.from({ length: c.length / 4 }, (_, i) => c[4 * i + 3]);
}"""

FRAMES = "(box) => Number(box.querySelector('[data-frames]').dataset.frames)"

BACKGROUND = (0xFB, 0xFB, 0xFA)


def _wait_drawn(page, test_id: str = "latent-canvas") -> None:
    """Until the map has rendered at least one frame and no epoch transition is running."""
    page.wait_for_function(
        """(id) => { const d = document.querySelector(`[data-testid=${id}] [data-frames]`);
                     return d && Number(d.dataset.frames) > 0 && d.dataset.animating !== 'true'; }""", arg=test_id)


def _map_pixels(locator, margin: int = 36):
    """The map's screenshot as an RGB image, without the labels drawn over its top and bottom edges."""
    from PIL import Image

    image = Image.open(io.BytesIO(locator.screenshot())).convert("RGB")
    return image.crop((4, margin, image.width - 4, image.height - margin))


def _drawn_pixels(image, tolerance: int = 24) -> int:
    """Pixels that differ from the map's background colour."""
    import numpy as np

    a = np.asarray(image).astype(int)
    return int((np.abs(a - np.array(BACKGROUND)).sum(-1) > tolerance).sum())


def _changed_pixels(a, b, tolerance: int = 24) -> int:
    import numpy as np

    x, y = np.asarray(a).astype(int), np.asarray(b).astype(int)
    return int((np.abs(x - y).sum(-1) > tolerance).sum())


@pytest.fixture
def latent_map():
    """Helpers for the explorer's map: ``SCREEN``, ``POINT_ALPHA``, ``EDGE_ALPHA`` (page scripts),
    ``wait_drawn(page)``, ``map_pixels(locator)``, ``drawn_pixels(image)``, ``changed_pixels(a, b)``,
    ``isolated(screen)``, ``open(page, lab, m, run)``, ``choose(page, m, group, value, attr)``, ``N`` (points),
    ``focus(page, canvas, x, y)`` (click a point until it is focused)."""
    from types import SimpleNamespace

    return SimpleNamespace(SCREEN=SCREEN, POINT_ALPHA=POINT_ALPHA, EDGE_ALPHA=EDGE_ALPHA, FRAMES=FRAMES,
                           wait_drawn=_wait_drawn, map_pixels=_map_pixels, drawn_pixels=_drawn_pixels,
                           changed_pixels=_changed_pixels, isolated=isolated, open=open_latent, choose=choose_view, N=N,
                           focus=focus_point)


# --- the latent explorer's shared tiny runs (fixture ``lab``, trained once per session) ------------

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
        from latentdeck.engine.projections import read_listed

        return read_listed(self.runs / self.ids[name] / artifact)  # either format, arrays as lists


@contextlib.contextmanager
def serving_trained(root: Path, configs: dict[str, dict]):
    """Trains each tiny run config in ``configs`` ({name: config}) into ``root`` in-process (the test plugins
    loaded, no warm-up) and serves the folder on a free port with no reaping (a test may fake a running run
    without a worker); yields ``(url, {name: run id})`` and stops the server after. The environment is
    restored before the yield: the server read it at startup, and later tests must not see it."""
    import uvicorn

    import latentdeck.testing as testing
    from latentdeck.api import create_app
    from latentdeck.api.server import Server
    from latentdeck.launch import prepare_run
    from latentdeck.registry import make_plugin_manager
    from latentdeck.store.runs import RunStore
    from latentdeck.engine.training import execute_run

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
        mp.setenv("LATENTDECK_WARMUP", "off")
        pm = make_plugin_manager(plugins=[testing])
        store = RunStore(root)
        ids = {}
        for name, config in configs.items():
            stored = prepare_run(pm, config)
            store.create(stored)
            assert execute_run(store.run_dir(stored["run_id"]), pm=pm) == "completed", f"the tiny run {name!r} failed"
            ids[name] = stored["run_id"]
        app = create_app(pm, root, monitor_s=1e6)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        server = Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1), app)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", ids
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture(scope="session")
def serve_trained():
    """:func:`serving_trained` for test modules: ``with serve_trained(root, {name: config}) as (url, ids)``."""
    return serving_trained


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    """Three finished tiny runs (a GM-VAE with every latent artifact, one with PCA and UMAP, a collapsed GM-VAE)
    and a server over them."""
    import httpx

    runs = tmp_path_factory.mktemp("runs")
    base = {"dataset": "tiny-digits", "batch_size": 64, "seed": 0, "viz_subset_size": N, "num_threads": 1,
            "artifact_options": {"recon_grid": {"grid_size": 8}}}
    configs = {
        "gm": {**base, "model": "gmvae", "model_options": GMVAE, "epochs": 3, "name": "tiny gmvae",
               "projections": ["first-dims", "pca"],
               "artifacts": ["knn", "density", "distortion", "atlas", "mixture_health"],
               "artifact_options": {"density": {"grid_size": 32}}},
        # UMAP next to PCA (the suite's first UMAP fit pays numba's JIT once for the whole process)
        "um": {**base, "model": "gmvae", "model_options": GMVAE, "epochs": 2, "name": "tiny gmvae with umap",
               "projections": ["pca", "umap"], "artifacts": ["knn", "atlas"],
               # more points than the atlas draws a reconstructions sheet for each epoch: drawn when first hovered
               "artifact_options": {"atlas": {"sheet_max_n": 8}}},
        "collapsed": {**base, "model": "gmvae", "epochs": 2, "name": "collapsed gmvae",
                      # q(c|x) from the latent with no categorical KL: every digit picks one component
                      "model_options": {**GMVAE, "num_components": 4, "qc_source": "latent", "kld_weight": 10.0,
                                        "categorical_kl_anneal": True, "categorical_kl_anneal_epochs": 1,
                                        "categorical_kl_max_weight": 0.0},
                      "projections": ["first-dims"], "artifacts": ["mixture_health", "atlas"]},
    }
    with serving_trained(runs, configs) as (url, ids):
        client = httpx.Client(base_url=url, timeout=30)
        yield Lab(url, runs, ids, client)
        client.close()


def isolated(screen: list[list[float]]) -> int:
    """The point farthest from its nearest neighbour on screen (hovering it cannot pick another)."""
    def gap(i: int) -> float:
        return min((screen[i][0] - x) ** 2 + (screen[i][1] - y) ** 2 for j, (x, y) in enumerate(screen) if j != i)
    return max(range(len(screen)), key=gap)


def open_latent(page, lab: Lab, m, run: str = "gm"):
    from playwright.sync_api import expect

    page.goto(lab.page_of(run))
    canvas = page.get_by_test_id("latent-canvas")
    expect(canvas).to_have_attribute("data-points", str(N))
    m.wait_drawn(page)
    return canvas


def focus_point(page, canvas, x: float, y: float) -> None:
    """Click the map at (x, y) (CSS px within it) until the badge shows a focus: deck.gl takes a press as a
    tap only when the button comes up within its tap time (250 ms), which a loaded 2-core machine can miss."""
    box = canvas.bounding_box()
    for _ in range(3):
        page.mouse.click(box["x"] + x, box["y"] + y)
        try:
            page.wait_for_function("() => document.querySelector('[data-testid=map-badge]')?.dataset.focus !== '0'",
                                   timeout=3000)
            return
        except Exception:  # noqa: BLE001 - a press too slow to be a tap: press again
            continue


def choose_view(page, m, group: str, value: str, badge_attr: str):
    from playwright.sync_api import expect

    page.get_by_test_id(group).locator(f"button[data-value='{value}']").click()
    expect(page.get_by_test_id("map-badge")).to_have_attribute(badge_attr, value)
    m.wait_drawn(page)
    time.sleep(0.3)  # the frame after the last transition step


@pytest.fixture
def running_copy():
    """``running_copy(source_dir, run_dir, epochs)`` makes ``run_dir`` a running run with ``source_dir``'s config
    and no files yet, and returns ``publish(epoch, names)``: copy those files of ``source_dir`` in and announce
    them in the event log, as a training worker would (a live page follows without any training)."""
    import shutil

    from latentdeck.store.events import EventLog

    def make(source: Path, run_dir: Path, epochs: int = 3):
        run_id = run_dir.name
        run_dir.mkdir()
        config = json.loads((source / "config.json").read_text())
        (run_dir / "config.json").write_text(json.dumps({**config, "run_id": run_id}))
        (run_dir / "summary.json").write_text(json.dumps({
            "run_id": run_id, "status": "running", "model": config.get("model"), "dataset": config.get("dataset"),
            "epochs": epochs, "epochs_completed": 0, "created_at": time.time()}))
        with EventLog(run_dir / "events.jsonl", run_id) as log:
            log.emit("run.created", {"config": config})

        def publish(epoch: int, names: list[str]) -> None:
            # a JSON artifact's array file goes in first, as the writer puts it (the header names it)
            ordered: list[str] = []
            for name in names:
                packed = name[:-5] + ".safetensors"
                if name.endswith(".json") and (source / packed).exists() and packed not in names + ordered:
                    ordered.append(packed)
                if name not in ordered:
                    ordered.append(name)
            names = ordered
            with EventLog(run_dir / "events.jsonl", run_id) as log:
                for name in names:
                    (run_dir / name).parent.mkdir(exist_ok=True)
                    shutil.copy(source / name, run_dir / name)
                    log.emit("artifact.created", {"name": name, "latest": None, "kind": name.split("/")[0],
                                                  "epoch": epoch, "generator": "test"})

        return publish

    return make
