"""The latent explorer in a real browser (Debian's Chromium, software WebGL through SwiftShader, 1280x800),
as ratios against a bare deck.gl page (bench/deck_harness) drawing the same data in the same browser run.

Every figure is measured as P alternating passes (bare, explorer, bare, explorer, ...; --passes, default 5),
each pass the median frame interval of F camera steps (--frames; the camera is put back after each pass).
Each explorer pass is divided by the bare pass just before it, so load that drifts during the run cancels
pair by pair; a figure is the median of those P ratios, with their min-max and interquartile range. Beside it,
the same ratio of the browser's CPU time per frame (all of Chromium's processes, read from /proc; other
processes taking turns on a shared machine's cores do not count there).

Figures (at each --points count, e.g. --points 10000,70000 side by side in one run; goal in brackets):
0. page load: from navigation to the first map frame / the bare page loading its script and the same array file
   to its first frame, a fresh page per pass [<= 1.25];
1. 2-D pan, the explorer's default edges (none until a point is focused) / bare points [<= 1.25];
2. 2-D pan, one focused point with its kNN edges / bare points only [<= 1.25];
3. 2-D pan, difference trails ("changes since epoch N-1": a trail per point, points coloured by neighbourhood
   change) / bare points + the same segments [<= 1.25];
4. 2-D pan, digits as points ("digits: on", a thumbnail per point from the input atlas) / bare points [<= 2];
5. 2-D pan, all kNN edges (15 per point) (an explicit choice) / bare with the same segments [<= 1.25] (--edge-frames);
6. epoch switch: from the scrubber to the first rendered frame of a cold epoch (fetch, parse, buffers,
   upload) / the bare page fetching the same array file (.safetensors: the explorer fetches only it, its header
   holds the JSON's fields) and swapping its position buffer, --switches switches on each page per pass [<= 1.25];
7. 3-D orbit, default edges / bare [<= 1.25];
and the gzipped JavaScript loaded by /runs/<id>/latent (deck.gl included; goal <= 450 KB).

Data: a run written by the host's own projection and kNN code (PCA 2-D and 3-D over enough epochs for a cold
file at every switch, of synthetic 16-D latents whose clusters tighten; kNN k = 15 by KD-tree) and an input atlas
of drawn digits, stored in the array format (a JSON header beside a safetensors file, the host's ArtifactWriter;
bench/latent_bench_pages.py). Every figure's line carries the load average when it was measured.

Needs the built UI: ./lab or ./test (frontend/out), or LATENTDECK_UI_DIR=<an export>.
Run: .venv/bin/python bench/latent_explorer.py [--points 10000[,70000]] [--passes 5] [--frames 12] [--switches 4]
     [--only load,pan_2d,epoch_switch]   (at 70,000 points: fewer passes/switches keep the data small, e.g. 3 and 2)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LATENTDECK_WARMUP", "off")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from conftest import start_server  # noqa: E402  (the test suite's real-uvicorn helper)
from latent_bench_pages import (DRIVE, FIRST_FRAME, LINES_OF, MAP_READY, POINTS_OF, RUN_ID, SETTLE, SPRITES_OF,  # noqa: E402
                                SWITCH, browser_cpu_s, bundle_harness, write_run)
from latent_figures import NAMES, loadavg, median_interval, summarise, table  # noqa: E402

ARGS = ["--enable-unsafe-swiftshader", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def epochs_for(passes: int, switches: int) -> int:
    """Epochs the synthetic run needs: the newest is shown first (its difference mode reads the one before),
    then 1, 3, 5, ... are switched to, every one cold: a warm-up switch plus `switches` per pass."""
    return 2 * (1 + passes * switches) + 1


def epoch_switch(explorer, bare, url: str, run_dir: Path, passes: int, points: int, per_pass: int, epochs: int) -> dict:
    """The explorer shows the newest epoch and prefetches the one after the shown one, so newest -> 1 -> 3 -> 5
    -> ... is a cold file every time. A pass is `per_pass` switches on each page, alternating (bare, explorer,
    bare, explorer, ...), its ratio the explorer's total over the bare page's; the first pair is a warm-up.
    Each page is measured while the other draws nothing (the explorer settles: no frame for 0.6 s), since both
    share the browser's one GPU process, where a frame of software WebGL costs as much as the switch itself."""
    from latentdeck.kit.arrays import read_arrays

    names = {e: f"projections/latent_2d_epoch_{e}.safetensors" for e in range(1, epochs + 1)}
    targets = list(range(1, epochs - 1, 2))
    assert len(targets) >= 1 + passes * per_pass, "the run has too few epochs for these passes"
    switch_bare, switch_explorer, to_file, cpu_bare, cpu_explorer = [], [], [], [], []
    for epoch in targets[:1 + passes * per_pass]:
        _, doc = read_arrays(run_dir / names[epoch])  # the header's fields
        reach = max(abs(v) for axis in doc["bounds"] for v in axis)
        cpu = browser_cpu_s()
        switch_bare.append(bare.evaluate("(a) => harness.swap(a.url, a.scale, [0, 0, 0])",
                                         {"url": f"{url}/api/runs/{RUN_ID}/artifacts/{names[epoch]}", "scale": 1 / reach})["ms"])
        cpu_bare.append(1000 * (browser_cpu_s() - cpu))
        bare.wait_for_timeout(300)
        cpu = browser_cpu_s()
        total, shown = explorer.evaluate(SWITCH, {"index": epoch - 1, "epoch": epoch})
        cpu_explorer.append(1000 * (browser_cpu_s() - cpu))
        switch_explorer.append(total)
        to_file.append(round(shown))
        explorer.evaluate(SETTLE, {"quiet": 600, "limit": 8000})  # the transition and any idle-time redraw done

    def by_pass(values: list[float]) -> list[float]:
        return [sum(values[1 + k * per_pass:1 + (k + 1) * per_pass]) / per_pass for k in range(passes)]
    size = (run_dir / names[1]).stat().st_size
    return summarise("epoch_switch", by_pass(switch_bare), by_pass(switch_explorer), (by_pass(cpu_bare), by_pass(cpu_explorer)),
                     switches_per_pass=per_pass, file_shown_ms=to_file[1:], bytes_per_point=round(size / points, 1),
                     file_kb=round(size / 1024))


def measure(points: int, args, want: set[str], tmp: Path) -> dict:
    """Every figure in ``want`` at ``points`` shown points: its own run, server and browser."""
    from playwright.sync_api import sync_playwright

    from latentdeck.api import create_app
    from latentdeck.api.static import default_ui_dir
    from latentdeck.registry import get_plugin_manager

    runs = (args.data or tmp) / f"runs-{points}"
    runs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    epochs = epochs_for(args.passes, args.switches)
    run_dir = runs / RUN_ID
    if not (args.data and (run_dir / "summary.json").exists()
            and json.loads((run_dir / "config.json").read_text())["viz_subset_size"] == points
            and json.loads((run_dir / "config.json").read_text())["epochs"] == epochs):
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir = write_run(runs, points, epochs)
    html, js = bundle_harness(tmp)
    print(f"\n== {points:,} points: wrote {epochs} epochs and an input atlas ({time.perf_counter() - started:.0f} s); "
          f"UI {default_ui_dir()}; load {loadavg()}", flush=True)
    live = start_server(create_app(get_plugin_manager(), runs, monitor_s=1e6))
    out: dict = {"points": points, "passes": args.passes, "frames": args.frames, "load_start": loadavg()}
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
            explorer.wait_for_function(MAP_READY, timeout=120_000)
            explorer.wait_for_timeout(500)
            ui = default_ui_dir()
            raw = gz = 0
            for path in scripts:
                # the page's own chunks from the export; plugins' views (/api/views/<name>.js) from the server
                data = live.client.get(path).content if path.startswith("/api/") else (ui / path.lstrip("/")).read_bytes()
                raw += len(data)
                gz += len(gzip.compress(data, 9))
            out["page_js"] = {"files": len(scripts), "raw_kb": round(raw / 1024), "gzip_kb": round(gz / 1024), "goal_gzip_kb": 450}
            print(f"page JS /runs/<id>/latent: {len(scripts)} files, {raw / 1024:.0f} KB raw, {gz / 1024:.0f} KB gzipped (goal <= 450)", flush=True)

            hctx = browser.new_context(viewport={"width": 1280, "height": 800})
            bare = hctx.new_page()
            hctx.route(f"{live.url}/bench-harness/**", lambda route: route.fulfill(
                body=js if route.request.url.endswith(".js") else html,
                content_type="application/javascript" if route.request.url.endswith(".js") else "text/html"))
            bare.goto(f"{live.url}/bench-harness/index.html")
            bare.wait_for_function("() => window.harness !== undefined")

            def drive(page, kind: str, frames: int, on_explorer: bool) -> tuple[float, float]:
                """(median frame interval, browser CPU ms per frame) of one pass"""
                cpu = browser_cpu_s()
                stamps = page.evaluate(DRIVE, {"frames": frames, "kind": kind, "explorer": on_explorer})
                return median_interval(stamps), 1000 * (browser_cpu_s() - cpu) / (frames + 1)

            def mirror(dims: int, lines: str | None = None) -> None:
                """The bare page draws what the explorer draws now: its points (and one of its line layers)."""
                state = box.evaluate(POINTS_OF)
                bare.evaluate("(s) => { harness.init(s.dims, s.width, s.height, s.viewState); harness.setData(s.positions, s.colours, s.radius); }",
                              {**state, "dims": dims})
                ends = box.evaluate(LINES_OF, lines) if lines else None
                bare.evaluate("(e) => e ? harness.setEdges(e[0], e[1], e[2], e[3]) : harness.setEdges(null, null)", ends)
                bare.wait_for_timeout(800)

            def compare(key: str, kind: str, frames: int, **extra) -> dict:
                drive(bare, kind, 3, False)  # untimed: shaders compiled, buffers uploaded
                drive(explorer, kind, 3, True)
                bare_ms, explorer_ms, bare_cpu, explorer_cpu = [], [], [], []
                for _ in range(args.passes):
                    for page, on_explorer, ms, cpu in ((bare, False, bare_ms, bare_cpu), (explorer, True, explorer_ms, explorer_cpu)):
                        wall, used = drive(page, kind, frames, on_explorer)
                        ms.append(wall)
                        cpu.append(used)
                        if on_explorer:  # its late redraws (camera settling, idle-time work) not in the bare pass
                            explorer.evaluate(SETTLE, {"quiet": 400, "limit": 5000})
                return summarise(key, bare_ms, explorer_ms, (bare_cpu, explorer_cpu), **extra)

            def page_load() -> dict:
                """Fresh pages, alternating bare and explorer (the first pair a warm-up: the browser then has each
                page's scripts cached): the bare page loads the newest epoch's array file to its first frame, in
                the explorer's colours and view; the explorer opens the run's map, time from navigation each."""
                from latentdeck.kit.arrays import read_arrays

                from urllib.parse import quote

                state = box.evaluate(POINTS_OF)
                name = f"projections/latent_2d_epoch_{epochs}.safetensors"
                arrays, meta = read_arrays(run_dir / name)
                reach = max(abs(v) for axis in meta["bounds"] for v in axis)
                palette = {}  # label -> the explorer's colour of it
                for i, label in enumerate(arrays["labels"].tolist()):
                    palette.setdefault(str(label), state["colours"][4 * i:4 * i + 4])
                address = quote(json.dumps({"url": f"{live.url}/api/runs/{RUN_ID}/artifacts/{name}", "scale": 1 / reach,
                                            "width": state["width"], "height": state["height"], "viewState": state["viewState"],
                                            "palette": palette, "radius": state["radius"]}))
                bare_ms, explorer_ms = [], []
                for k in range(args.passes + 1):
                    page = hctx.new_page()
                    page.goto(f"{live.url}/bench-harness/index.html#{address}")
                    page.wait_for_function("() => window.__loadedAt !== undefined", timeout=180_000)
                    ms = page.evaluate("() => window.__loadedAt")
                    page.close()
                    page = ectx.new_page()
                    page.add_init_script(FIRST_FRAME)
                    page.goto(f"{live.url}/runs/{RUN_ID}/latent/")
                    page.wait_for_function("() => window.__mapAt !== undefined", timeout=180_000)
                    shown = page.evaluate("() => window.__mapAt")
                    page.close()
                    if k:
                        bare_ms.append(ms)
                        explorer_ms.append(shown)
                return summarise("load", bare_ms, explorer_ms, file=name)

            if "load" in want:
                out["load"] = page_load()
            mirror(2)
            if "pan_2d" in want:
                out["pan_2d"] = compare("pan_2d", "pan", args.frames)

            if "pan_2d_digits" in want:
                digits = explorer.get_by_test_id("sprites-toggle")
                digits.locator("button[data-value='on']").click()
                explorer.wait_for_function(f"() => {{ const s = ({SPRITES_OF})(document.querySelector('[data-testid=latent-canvas]')); "
                                           "return s && s.loaded; }", timeout=120_000)
                explorer.wait_for_timeout(800)
                sprites = box.evaluate(SPRITES_OF)
                out["pan_2d_digits"] = compare("pan_2d_digits", "pan", args.frames, thumbnails=sprites["count"], size_px=sprites["size"])
                digits.locator("button[data-value='auto']").click()
                explorer.wait_for_timeout(800)

            if "pan_2d_focused" in want:
                screen = box.evaluate("""(b) => { const deck = b.querySelector('[data-frames]').__deck;
                    const v = deck.props.layers.find((l) => l.id === 'points').props.data.attributes.getPosition.value;
                    return deck.getViewports()[0].project([v[0], v[1], v[2]]); }""")
                at = box.bounding_box()
                explorer.mouse.click(at["x"] + screen[0], at["y"] + screen[1])
                explorer.mouse.move(2, 2)  # away from the map: the focused point's edges only
                explorer.wait_for_timeout(1000)
                edges = int(box.locator("[data-frames]").get_attribute("data-edges"))
                out["pan_2d_focused"] = compare("pan_2d_focused", "pan", args.frames, edges=edges)
                if explorer.get_by_test_id("focus-clear").count():
                    explorer.get_by_test_id("focus-clear").click()
                explorer.wait_for_timeout(800)

            changes = explorer.get_by_test_id("changes-toggle")
            if "pan_2d_trails" in want and changes.count():
                changes.click()
                explorer.wait_for_function("() => { const p = document.querySelector('[data-testid=changes-panel]'); "
                                           "return p && p.dataset.state === 'ready' && Number(p.dataset.trails) > 0; }", timeout=120_000)
                explorer.wait_for_timeout(1000)
                mirror(2, "trails")  # the same points in the same colours, and the same segments, colours and width
                trails = int(explorer.get_by_test_id("changes-panel").get_attribute("data-trails"))
                out["pan_2d_trails"] = compare("pan_2d_trails", "pan", args.frames, trails=trails)
                changes.click()
                explorer.wait_for_timeout(800)
            elif "pan_2d_trails" in want:
                out["pan_2d_trails"] = {"skipped": "this UI has no difference mode (no changes-toggle)"}
                print("difference trails: skipped, the UI has no changes-toggle", flush=True)

            if "pan_2d_all_edges" in want:
                explorer.get_by_test_id("map-edges").select_option("all")
                explorer.wait_for_function("() => Number(document.querySelector('[data-testid=latent-canvas] [data-frames]').dataset.edges) > 0",
                                           timeout=300_000)
                explorer.wait_for_timeout(1500)
                mirror(2, "edges")
                bare.wait_for_timeout(700)
                drawn = int(box.locator("[data-frames]").get_attribute("data-edges"))
                out["pan_2d_all_edges"] = compare("pan_2d_all_edges", "pan", args.edge_frames, edges=drawn)
                bare.evaluate("() => harness.setEdges(null, null)")
                explorer.get_by_test_id("map-edges").select_option("focused")
                explorer.wait_for_timeout(1000)

            if "epoch_switch" in want:
                out["epoch_switch"] = epoch_switch(explorer, bare, live.url, run_dir, args.passes, points,
                                                   args.switches, epochs)

            if "orbit_3d" in want:
                explorer.get_by_test_id("map-dims").locator("button[data-value='3']").click()
                explorer.wait_for_function("() => document.querySelector('[data-testid=map-badge]').dataset.dims === '3'")
                explorer.wait_for_function(MAP_READY, timeout=120_000)
                explorer.wait_for_timeout(1500)
                mirror(3)
                out["orbit_3d"] = compare("orbit_3d", "orbit", args.frames)
            browser.close()
    finally:
        live.stop()
    out["load_end"] = loadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", default="10000", help="shown points; several, comma-separated, are measured one "
                                                          "after the other and tabled side by side (10000,70000)")
    parser.add_argument("--passes", type=int, default=5, help="alternating bare/explorer pass pairs per figure")
    parser.add_argument("--frames", type=int, default=12, help="camera steps per timed pass")
    parser.add_argument("--edge-frames", type=int, default=4, help="camera steps per timed pass with all edges drawn")
    parser.add_argument("--switches", type=int, default=4, help="cold epoch switches per timed pass")
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    parser.add_argument("--only", help=f"comma-separated figures to measure (of {', '.join(NAMES)}); default all")
    parser.add_argument("--data", type=Path, help="write the runs here, or reuse the ones written there before")
    args = parser.parse_args()
    want = set(args.only.split(",")) if args.only else set(NAMES)
    if want - set(NAMES):
        parser.error(f"unknown figures {sorted(want - set(NAMES))}: choose from {', '.join(NAMES)}")
    sizes = [int(v) for v in args.points.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="latentdeck-explorer-bench-"))
    try:
        results = {n: measure(n, args, want, tmp) for n in sizes}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{args.passes} passes of {args.frames} frames ({args.edge_frames} with all edges), {args.switches} switches "
          "per pass; ratio = explorer pass / the bare pass before it (median, min-max), explorer / bare ms")
    table(results)
    if args.out:
        args.out.write_text(json.dumps({str(n): r for n, r in results.items()}, indent=1))
    print(json.dumps({str(n): r for n, r in results.items()}, indent=1))


if __name__ == "__main__":
    main()
