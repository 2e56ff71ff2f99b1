"""The latent explorer in a real browser (Debian's Chromium, software WebGL through SwiftShader, 1280x800),
as ratios against a bare deck.gl page (bench/deck_harness) drawing the same data in the same browser run.

Every figure is measured as P alternating passes (bare, explorer, bare, explorer, ...; --passes, default 5),
each pass the median frame interval of F camera steps (--frames; the camera is put back after each pass).
Each explorer pass is divided by the bare pass just before it, so load that drifts during the run cancels
pair by pair; a figure is the median of those P ratios, with their min-max and interquartile range. Beside it,
the same ratio of the browser's CPU time per frame (all of Chromium's processes, read from /proc; other
processes taking turns on a shared machine's cores do not count there).

Figures (10,000 points; goal in brackets):
1. 2-D pan, the explorer's default edges (none until a point is focused) / bare points [<= 1.25];
2. 2-D pan, one focused point with its kNN edges / bare points only [<= 1.25];
3. 2-D pan, difference trails ("changes since epoch N-1": a trail per point, points coloured by neighbourhood
   change) / bare points + the same segments [<= 1.25];
4. 2-D pan, digits as points ("digits: on", 10,000 thumbnails from the input atlas) / bare points [<= 2];
5. 2-D pan, all 150,000 kNN edges (an explicit choice) / bare with the same segments [<= 1.25] (--edge-frames);
6. epoch switch: from the scrubber to the first rendered frame of a cold epoch (fetch, parse, buffers,
   upload) / the bare page fetching the same file and swapping its position buffer, four switches on each
   page per pass (--switches) [<= 1.25];
7. 3-D orbit, default edges / bare [<= 1.25];
and the gzipped JavaScript loaded by /runs/<id>/latent (deck.gl included; goal <= 450 KB).

Data: a run written in the artifact format by the host's own projection and kNN code (PCA 2-D and 3-D over
43 epochs (enough for a cold file at every switch) of synthetic 16-D latents whose clusters tighten; kNN k = 15 by KD-tree) and an input atlas of
drawn digits (bench/latent_bench_pages.py).

Needs the built UI: ./lab or ./test (frontend/out), or LATENTDECK_UI_DIR=<an export>.
Run: .venv/bin/python bench/latent_explorer.py [--points 10000] [--passes 5] [--frames 12] [--switches 4]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LATENTDECK_WARMUP", "off")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from conftest import start_server  # noqa: E402  (the test suite's real-uvicorn helper)
from latent_bench_pages import (DRIVE, LINES_OF, MAP_READY, POINTS_OF, RUN_ID, SETTLE, SPRITES_OF, SWITCH,  # noqa: E402
                                browser_cpu_s, bundle_harness, quartiles, write_run)

ARGS = ["--enable-unsafe-swiftshader", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def epochs_for(passes: int, switches: int) -> int:
    """Epochs the synthetic run needs: the newest is shown first (its difference mode reads the one before),
    then 1, 3, 5, ... are switched to, every one cold: a warm-up switch plus `switches` per pass."""
    return 2 * (1 + passes * switches) + 1


GOALS = {"pan_2d": 1.25, "pan_2d_focused": 1.25, "pan_2d_trails": 1.25, "pan_2d_digits": 2.0, "pan_2d_all_edges": 1.25,
         "epoch_switch": 1.25, "orbit_3d": 1.25}
NAMES = {"pan_2d": "2-D pan, default edges", "pan_2d_focused": "2-D pan, one focused point + its edges (÷ bare points)",
         "pan_2d_trails": "2-D pan, difference trails", "pan_2d_digits": "2-D pan, 10,000 digit thumbnails (÷ bare points)",
         "pan_2d_all_edges": "2-D pan, all kNN edges", "epoch_switch": "epoch switch (cold file)", "orbit_3d": "3-D orbit, default edges"}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median_interval(stamps: list[float]) -> float:
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return statistics.median(gaps) if gaps else float("nan")


def summarise(key: str, bare: list[float], explorer: list[float], cpu: tuple[list[float], list[float]] | None = None,
              **extra) -> dict:
    """Per-pass ratios (explorer pass / the bare pass before it): median, min-max, quartiles; with `cpu`, the
    same for the browser's CPU milliseconds per frame (unaffected by other processes taking turns on the cores)."""
    ratios = [e / b for b, e in zip(bare, explorer)]
    q1, med, q3 = quartiles(ratios)
    row = {"ratio": round(med, 3), "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
           "ratio_iqr": [round(q1, 3), round(q3, 3)], "ratios": [round(r, 3) for r in ratios],
           "bare_ms": round(statistics.median(bare), 1), "explorer_ms": round(statistics.median(explorer), 1),
           "passes": len(ratios), "goal": GOALS[key], "met": med <= GOALS[key], **extra}
    cpu_text = ""
    if cpu:
        cpu_ratios = [e / b for b, e in zip(*cpu)]
        c1, cm, c3 = quartiles(cpu_ratios)
        row["cpu"] = {"ratio": round(cm, 3), "ratio_min": round(min(cpu_ratios), 3), "ratio_max": round(max(cpu_ratios), 3),
                      "ratio_iqr": [round(c1, 3), round(c3, 3)], "bare_ms": round(statistics.median(cpu[0]), 1),
                      "explorer_ms": round(statistics.median(cpu[1]), 1)}
        cpu_text = f"; browser CPU time {cm:.2f} (min-max {min(cpu_ratios):.2f}-{max(cpu_ratios):.2f})"
    print(f"{NAMES[key]}: {row['ratio']:.2f} (min-max {row['ratio_min']:.2f}-{row['ratio_max']:.2f}, IQR {q1:.2f}-{q3:.2f}; "
          f"explorer {row['explorer_ms']:.0f} ms / bare {row['bare_ms']:.0f} ms{cpu_text}; goal <= {GOALS[key]}) "
          f"{'met' if row['met'] else 'MISSED'}", flush=True)
    return row


def epoch_switch(explorer, bare, url: str, run_dir: Path, passes: int, points: int, per_pass: int, epochs: int) -> dict:
    """The explorer shows the newest epoch and prefetches the one after the shown one, so newest -> 1 -> 3 -> 5
    -> ... is a cold file every time. A pass is `per_pass` switches on each page, alternating (bare, explorer,
    bare, explorer, ...), its ratio the explorer's total over the bare page's; the first pair is a warm-up.
    Each page is measured while the other draws nothing (the explorer settles: no frame for 0.6 s), since both
    share the browser's one GPU process, where a frame of software WebGL costs as much as the switch itself."""
    names = {e: f"projections/latent_2d_epoch_{e}.json" for e in range(1, epochs + 1)}
    targets = list(range(1, epochs - 1, 2))
    assert len(targets) >= 1 + passes * per_pass, "the run has too few epochs for these passes"
    switch_bare, switch_explorer, to_file, cpu_bare, cpu_explorer = [], [], [], [], []
    for epoch in targets[:1 + passes * per_pass]:
        doc = json.loads((run_dir / names[epoch]).read_text())
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=5, help="alternating bare/explorer pass pairs per figure")
    parser.add_argument("--frames", type=int, default=12, help="camera steps per timed pass")
    parser.add_argument("--edge-frames", type=int, default=4, help="camera steps per timed pass with all edges drawn")
    parser.add_argument("--switches", type=int, default=4, help="cold epoch switches per timed pass")
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    parser.add_argument("--only", help=f"comma-separated figures to measure (of {', '.join(NAMES)}); default all")
    parser.add_argument("--data", type=Path, help="write the run here, or reuse the one written there before")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from latentdeck.api import create_app
    from latentdeck.api.static import default_ui_dir
    from latentdeck.registry import get_plugin_manager

    want = set(args.only.split(",")) if args.only else set(NAMES)
    if want - set(NAMES):
        parser.error(f"unknown figures {sorted(want - set(NAMES))}: choose from {', '.join(NAMES)}")
    tmp = Path(tempfile.mkdtemp(prefix="latentdeck-explorer-bench-"))
    runs = (args.data or tmp) / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    epochs = epochs_for(args.passes, args.switches)
    run_dir = runs / RUN_ID
    if not (args.data and (run_dir / "summary.json").exists()
            and json.loads((run_dir / "config.json").read_text())["viz_subset_size"] == args.points
            and json.loads((run_dir / "config.json").read_text())["epochs"] == epochs):
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir = write_run(runs, args.points, epochs)
    html, js = bundle_harness(tmp)
    print(f"wrote {args.points} points x {epochs} epochs and an input atlas ({time.perf_counter() - started:.0f} s); "
          f"UI {default_ui_dir()}; load {loadavg()}", flush=True)
    live = start_server(create_app(get_plugin_manager(), runs, monitor_s=1e6))
    out: dict = {"points": args.points, "passes": args.passes, "frames": args.frames, "load_start": loadavg()}
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
            bare.route(f"{live.url}/bench-harness/**", lambda route: route.fulfill(
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
                out["epoch_switch"] = epoch_switch(explorer, bare, live.url, run_dir, args.passes, args.points,
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
        shutil.rmtree(tmp, ignore_errors=True)
    out["load_end"] = loadavg()
    print(f"\nload {out['load_start']} -> {out['load_end']}; {args.passes} passes of {args.frames} frames "
          f"({args.edge_frames} with all edges); ratio = explorer pass / the bare pass before it")
    print(f"{'figure':58} {'median':>7} {'min-max':>12} {'IQR':>12} {'goal':>5}  met  {'CPU time':>9} {'CPU min-max':>12}")
    for key in NAMES:
        row = out.get(key, {})
        if "ratio" not in row:
            print(f"{NAMES[key]:58} {row.get('skipped', 'not measured')}")
            continue
        cpu = row.get("cpu")
        print(f"{NAMES[key]:58} {row['ratio']:7.2f} {row['ratio_min']:5.2f}-{row['ratio_max']:<6.2f} "
              f"{row['ratio_iqr'][0]:5.2f}-{row['ratio_iqr'][1]:<6.2f} {row['goal']:5.2f}  {'yes' if row['met'] else 'NO ':3}  "
              + (f"{cpu['ratio']:9.2f} {cpu['ratio_min']:5.2f}-{cpu['ratio_max']:<6.2f}" if cpu else f"{'-':>9}"))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
