"""The latent explorer in a real browser (Debian's Chromium, software WebGL through SwiftShader, 1280x800),
as ratios against a bare deck.gl page drawing the same data in the same browser run:

1. frame time while the camera moves (2-D pan, 3-D orbit), 10,000 points, the explorer's default edge
   display (edges of the focused set: none until a point is focused) ÷ the bare page with the same points
   (goal <= 1.25); one focused point with its 15 edges ÷ bare points only (goal <= 1.5); all 150,000 kNN
   edges (an explicit choice) ÷ bare with the same segments; absolute fps for each;
2. epoch switch, 10,000 points: from the scrubber to the first rendered frame of the new epoch (fetch,
   parse, buffers, upload) ÷ the bare page fetching the same file and swapping its position buffer
   (goal <= 1.5), and the payload's bytes per point;
3. gzipped JavaScript loaded by /runs/<id>/latent (deck.gl included; goal <= 450 KB).

Data: a 10,000-point run written in the artifact format by the host's own projection and kNN code
(PCA 2-D and 3-D over 6 epochs of synthetic 16-D latents drifting between epochs; kNN k = 15 by KD-tree).
Each figure is the median of the frame intervals of two alternating passes (bare, explorer, bare, explorer).

Needs the built UI (./lab or ./test). Run: .venv/bin/python bench/latent_explorer.py [--points 10000]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LATENTDECK_WARMUP", "off")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from conftest import start_server  # noqa: E402  (the test suite's real-uvicorn helper)

ARGS = ["--enable-unsafe-swiftshader", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
EPOCHS = 6
RUN_ID = "20990101-000000-bench0"


def write_run(runs_dir: Path, n: int) -> Path:
    """A finished run with PCA 2-D/3-D and kNN files for EPOCHS epochs of n synthetic 16-D latents."""
    import numpy as np
    import torch

    from latent_data import HostEngine
    from latentdeck.artifacts import run_generators
    from latentdeck_knn.plugin import KNNOptions

    rng = np.random.default_rng(0)
    labels = np.arange(n) % 10
    centres = rng.normal(size=(10, 16)) * 3
    noise = rng.normal(size=(n, 16))
    engine = HostEngine(n, torch.as_tensor(labels), ["pca"], ["knn"])
    for epoch in range(1, EPOCHS + 1):
        latents = (centres[labels] * (0.4 + 0.2 * epoch) + noise * (1.6 - 0.2 * epoch)).astype(np.float32)
        projections = engine.project(latents, epoch)

        def context(name, projections=projections, latents=latents, epoch=epoch):
            return engine.engine._context(epoch, None, {}, latents, projections, name, KNNOptions(index="kd_tree"))

        run_generators(context, engine.engine.generators, engine.events)
    run_dir = runs_dir / RUN_ID
    run_dir.mkdir(parents=True)
    for folder in ("projections", "neighbors"):
        shutil.copytree(engine.run_dir / folder, run_dir / folder)
    engine.close()
    config = {"run_id": RUN_ID, "model": "ae", "dataset": "mnist", "epochs": EPOCHS, "seed": 0, "viz_subset_size": n,
              "model_options": {}, "name": "bench: 10,000 synthetic points"}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "summary.json").write_text(json.dumps({
        "run_id": RUN_ID, "status": "completed", "model": "ae", "dataset": "mnist", "epochs": EPOCHS,
        "epochs_completed": EPOCHS, "created_at": time.time(), "name": config["name"]}))
    (run_dir / "events.jsonl").write_text("")
    return run_dir


def bundle_harness(out: Path) -> tuple[str, str]:
    """esbuild the bare page (bench/deck_harness/harness.ts) with the frontend's deck.gl."""
    frontend = ROOT / "frontend"
    target = out / "harness.js"
    subprocess.run([str(frontend / "node_modules" / ".bin" / "esbuild"), str(ROOT / "bench/deck_harness/harness.ts"),
                    "--bundle", "--minify", "--format=iife", f"--outfile={target}", "--log-level=error"],
                   cwd=frontend, check=True, env={**os.environ, "NODE_PATH": str(frontend / "node_modules")})
    html = "<!doctype html><html><body style='margin:0'><div id='map' style='position:relative'></div>" \
           "<script src='harness.js'></script></body></html>"
    return html, target.read_text()


# Drive the camera one step per rendered frame; returns the frame timestamps (ms).
DRIVE = """async ({ frames, kind, explorer }) => {
  const box = explorer ? document.querySelector('[data-testid=latent-canvas] [data-frames]') : null;
  const deck = explorer ? box.__deck : window.harness.deck;
  const stamps = [];
  let wake = null;
  const original = deck.props.onAfterRender;
  deck.setProps({ onAfterRender: (ctx) => { stamps.push(performance.now()); if (original) original(ctx); if (wake) { const w = wake; wake = null; w(); } } });
  const start = { ...deck.props.viewState };
  for (let i = 1; i <= frames; i++) {
    const vs = kind === 'orbit' ? { ...start, rotationOrbit: (start.rotationOrbit || 0) + 3 * i }
      : { ...start, target: [start.target[0] + 0.004 * i, start.target[1] + 0.002 * i, start.target[2] || 0] };
    const rendered = new Promise((resolve) => { wake = resolve; });
    if (explorer) deck.props.onViewStateChange({ viewState: vs, interactionState: { isDragging: true }, oldViewState: start, viewId: 'x' });
    else deck.setProps({ viewState: vs });
    await rendered;
  }
  deck.setProps({ onAfterRender: original });
  return stamps;
}"""

# Both pages are timed to the same point: the first frame drawn from the new file has been submitted
# (onAfterRender) and the browser has finished with it (the next task runs: with software WebGL the main
# thread waits for the rasteriser after each frame).
SWITCH = """async ({ index, epoch }) => {
  const input = document.querySelector('[data-testid=timeline-scrubber]');
  const badge = document.querySelector('[data-testid=map-badge]');
  const box = document.querySelector('[data-testid=latent-canvas] [data-frames]');
  const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  let shown = null;
  const done = new Promise((resolve) => {
    const watch = new MutationObserver(() => {
      if (shown === null && badge.dataset.epoch === String(epoch)) shown = performance.now();
      else if (shown !== null) { watch.disconnect(); setTimeout(() => resolve(performance.now()), 0); }
    });
    watch.observe(badge, { attributes: true, attributeFilter: ['data-epoch'] });
    watch.observe(box, { attributes: true, attributeFilter: ['data-frames'] });
  });
  const t0 = performance.now();
  setter.call(input, String(index));
  input.dispatchEvent(new Event('input', { bubbles: true }));
  const end = await done;
  return [end - t0, shown - t0];
}"""


def median_interval(stamps: list[float]) -> float:
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return statistics.median(gaps) if gaps else float("nan")


POINTS_OF = """(box) => { const deck = box.querySelector('[data-frames]').__deck;
  const layer = deck.props.layers.find((l) => l.id === 'points');
  const a = layer.props.data.attributes;
  return { positions: Array.from(a.getPosition.value), colours: Array.from(a.getFillColor.value), radius: layer.props.getRadius,
           viewState: deck.props.viewState, width: box.clientWidth, height: box.clientHeight }; }"""

EDGES_OF = """(box) => { const layer = box.querySelector('[data-frames]').__deck.props.layers.find((l) => l.id === 'edges');
  if (!layer) return null; const a = layer.props.data.attributes;
  return [Array.from(a.getSourcePosition.value), Array.from(a.getTargetPosition.value)]; }"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=24, help="frames per timed pass (points only)")
    parser.add_argument("--edge-frames", type=int, default=4, help="frames per timed pass with all edges drawn")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from latentdeck.api import create_app
    from latentdeck.api.static import default_ui_dir
    from latentdeck.plugins import get_plugin_manager

    tmp = Path(tempfile.mkdtemp(prefix="latentdeck-explorer-bench-"))
    runs = tmp / "runs"
    runs.mkdir()
    started = time.perf_counter()
    run_dir = write_run(runs, args.points)
    html, js = bundle_harness(tmp)
    print(f"wrote {args.points} points x {EPOCHS} epochs in the artifact format ({time.perf_counter() - started:.0f} s)", flush=True)
    live = start_server(create_app(get_plugin_manager(), runs, monitor_s=1e6))
    out: dict = {"points": args.points}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            ectx = browser.new_context(viewport={"width": 1280, "height": 800})
            explorer = ectx.new_page()
            scripts: set[str] = set()
            explorer.on("response", lambda r: scripts.add(r.url.split(live.url, 1)[1].split("?")[0])
                        if r.request.resource_type == "script" else None)
            explorer.goto(f"{live.url}/runs/{RUN_ID}/latent/")
            box = explorer.locator("[data-testid=latent-canvas]")
            wait = "() => { const d = document.querySelector('[data-testid=latent-canvas] [data-frames]'); " \
                   "return d && Number(d.dataset.frames) > 0 && d.dataset.animating !== 'true'; }"
            explorer.wait_for_function(wait, timeout=120_000)
            explorer.wait_for_timeout(500)
            ui = default_ui_dir()
            raw = gz = 0
            for path in scripts:
                data = (ui / path.lstrip("/")).read_bytes()
                raw += len(data)
                gz += len(gzip.compress(data, 9))
            out["page_js"] = {"files": len(scripts), "raw_kb": round(raw / 1024), "gzip_kb": round(gz / 1024), "goal_gzip_kb": 450}
            print(f"page JS /runs/<id>/latent: {len(scripts)} files, {raw / 1024:.0f} KB raw, {gz / 1024:.0f} KB gzipped (goal <= 450)", flush=True)

            hctx = browser.new_context(viewport={"width": 1280, "height": 800})
            bare = hctx.new_page()
            bare.route(f"{live.url}/bench-harness/**", lambda route: route.fulfill(
                body=js if route.request.url.endswith(".js") else html,
                content_type="application/javascript" if route.request.url.endswith(".js") else "text/html"))
            bare.goto(f"{live.url}/bench-harness/index.html")
            bare.wait_for_function("() => window.harness !== undefined")

            def drive(page, kind: str, frames: int, on_explorer: bool) -> float:
                return median_interval(page.evaluate(DRIVE, {"frames": frames, "kind": kind, "explorer": on_explorer}))

            def mirror(dims: int) -> None:
                state = box.evaluate(POINTS_OF)
                bare.evaluate("(s) => { harness.init(s.dims, s.width, s.height, s.viewState); harness.setData(s.positions, s.colours, s.radius); }",
                              {**state, "dims": dims})
                bare.wait_for_timeout(800)

            def compare(name: str, kind: str, frames: int, passes: int = 2) -> dict:
                bare_ms, explorer_ms = [], []
                for _ in range(passes):
                    bare_ms.append(drive(bare, kind, frames, False))
                    explorer_ms.append(drive(explorer, kind, frames, True))
                b, e = statistics.median(bare_ms), statistics.median(explorer_ms)
                row = {"bare_ms": round(b, 1), "explorer_ms": round(e, 1), "ratio": round(e / b, 3),
                       "bare_fps": round(1000 / b, 2), "explorer_fps": round(1000 / e, 2)}
                print(f"{name}: explorer {e:.0f} ms ({1000 / e:.2f} fps) / bare {b:.0f} ms ({1000 / b:.2f} fps) = {e / b:.2f}", flush=True)
                return row

            mirror(2)
            out["pan_2d"] = compare("2-D pan, default edges", "pan", args.frames)
            points_only = out["pan_2d"]["bare_ms"]
            screen = box.evaluate("""(b) => { const deck = b.querySelector('[data-frames]').__deck;
                const v = deck.props.layers.find((l) => l.id === 'points').props.data.attributes.getPosition.value;
                return deck.getViewports()[0].project([v[0], v[1], v[2]]); }""")
            at = box.bounding_box()
            explorer.mouse.click(at["x"] + screen[0], at["y"] + screen[1])
            explorer.wait_for_timeout(800)
            focused = [drive(explorer, "pan", args.frames, True) for _ in range(2)]
            out["pan_2d_focused"] = {"explorer_ms": round(statistics.median(focused), 1),
                                     "edges": int(box.locator("[data-frames]").get_attribute("data-edges")),
                                     "ratio_to_bare_points": round(statistics.median(focused) / points_only, 3)}
            print(f"2-D pan, one focused point with its {out['pan_2d_focused']['edges']} edges: {statistics.median(focused):.0f} ms = "
                  f"{statistics.median(focused) / points_only:.2f} x bare points only (goal <= 1.5)", flush=True)
            explorer.get_by_test_id("map-edges").select_option("all")
            explorer.wait_for_function("() => Number(document.querySelector('[data-testid=latent-canvas] [data-frames]').dataset.edges) > 0", timeout=300_000)
            explorer.wait_for_timeout(1500)
            ends = box.evaluate(EDGES_OF)
            bare.evaluate("(e) => harness.setEdges(e[0], e[1])", ends)
            bare.wait_for_timeout(1500)
            out["pan_2d_all_edges"] = {**compare("2-D pan, all edges", "pan", args.edge_frames, passes=1), "edges": len(ends[0]) // 3}
            bare.evaluate("() => harness.setEdges(null, null)")
            explorer.get_by_test_id("map-edges").select_option("focused")
            if explorer.get_by_test_id("focus-clear").count():
                explorer.get_by_test_id("focus-clear").click()
            explorer.wait_for_timeout(1000)

            # epoch switch: the explorer shows the newest epoch; switch to ones it has not loaded (it prefetches the
            # epoch after the one shown, so 6 -> 1 -> 3 -> 5 is cold every time; then 5 -> 6 is a prefetched one)
            names = {e: f"projections/latent_2d_epoch_{e}.json" for e in range(1, EPOCHS + 1)}
            switch_explorer, switch_bare = [], []
            for epoch in (1, 3, 5):
                index = epoch - 1
                doc = json.loads((run_dir / names[epoch]).read_text())
                reach = max(abs(v) for axis in doc["bounds"] for v in axis)
                switch_bare.append(bare.evaluate("(a) => harness.swap(a.url, a.scale, [0, 0, 0])",
                                                 {"url": f"{live.url}/api/runs/{RUN_ID}/artifacts/{names[epoch]}", "scale": 1 / reach})["ms"])
                bare.wait_for_timeout(300)
                total, to_badge = explorer.evaluate(SWITCH, {"index": index, "epoch": epoch})
                switch_explorer.append(total)
                print(f"  explorer switch to epoch {epoch}: file shown {to_badge:.0f} ms, first frame {total:.0f} ms", flush=True)
                explorer.wait_for_timeout(1200)  # let the transition finish
            explorer.wait_for_timeout(500)
            warm, _ = explorer.evaluate(SWITCH, {"index": EPOCHS - 1, "epoch": EPOCHS})
            print(f"  explorer switch to the prefetched epoch {EPOCHS}: first frame {warm:.0f} ms", flush=True)
            explorer.wait_for_timeout(1200)
            size = (run_dir / names[1]).stat().st_size
            b, e = statistics.median(switch_bare), statistics.median(switch_explorer)
            out["epoch_switch"] = {"bare_ms": round(b, 1), "explorer_ms": round(e, 1), "ratio": round(e / b, 3),
                                   "bytes_per_point": round(size / args.points, 1), "file_kb": round(size / 1024),
                                   "runs_bare": [round(v) for v in switch_bare], "runs_explorer": [round(v) for v in switch_explorer],
                                   "explorer_prefetched_ms": round(warm, 1)}
            print(f"epoch switch (2-D, {args.points} points): explorer {e:.0f} ms / bare {b:.0f} ms = {e / b:.2f} (goal <= 1.5); "
                  f"payload {size / args.points:.1f} bytes per point ({size / 1024:.0f} KB JSON)", flush=True)

            explorer.get_by_test_id("map-dims").locator("button[data-value='3']").click()
            explorer.wait_for_function("() => document.querySelector('[data-testid=map-badge]').dataset.dims === '3'")
            explorer.wait_for_function(wait, timeout=120_000)
            explorer.wait_for_timeout(1500)
            mirror(3)
            out["orbit_3d"] = compare("3-D orbit, default edges", "orbit", args.frames)
            browser.close()
    finally:
        live.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
