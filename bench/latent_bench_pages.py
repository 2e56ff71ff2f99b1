"""The pieces bench/latent_explorer.py drives: the synthetic run it measures (projections, kNN files and an
input atlas of drawn digits, in the artifact format of issue 24: a small JSON header beside a safetensors array
file, written by the host's ArtifactWriter), the bare deck.gl page, and the page scripts that move the camera one
step per rendered frame, switch the epoch and read the explorer's buffers."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_ID = "20990101-000000-bench0"


def write_atlas(run_dir: Path, labels) -> None:
    """atlas/atlas_inputs.png + .json as the atlas plugin lays them out (its own tile()), with each point's
    label drawn as a 28 x 28 white-on-black digit (DejaVu Sans, shifted up to 3 px, varied weight)."""
    import numpy as np
    import torch
    from PIL import Image, ImageDraw, ImageFont

    from latentdeck_atlas.plugin import INPUTS, tile

    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 22) \
        if Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf").exists() else ImageFont.load_default(size=22)
    glyphs = []
    for digit in range(10):
        image = Image.new("L", (28, 28), 0)
        ImageDraw.Draw(image).text((14, 14), str(digit), fill=255, font=font, anchor="mm")
        glyphs.append(np.asarray(image, dtype=np.float32) / 255)
    rng = np.random.default_rng(1)
    n = len(labels)
    shifts = rng.integers(-3, 4, size=(n, 2))
    gains = rng.uniform(0.7, 1.0, size=n).astype(np.float32)
    images = np.stack([np.roll(glyphs[label], tuple(shift), axis=(0, 1)) * gain
                       for label, shift, gain in zip(labels, shifts, gains)])
    sheet, layout = tile(torch.as_tensor(images, dtype=torch.float32)[:, None])
    folder = run_dir / "atlas"
    folder.mkdir(exist_ok=True)
    Image.fromarray(sheet).save(folder / f"{INPUTS}.png")
    from latentdeck.engine.writer import ArtifactWriter

    ArtifactWriter(run_dir=run_dir, epoch=0, generator="atlas").write_with_arrays("atlas", f"atlas/{INPUTS}.json", {
        "kind": "inputs", **layout, "indices": np.arange(n, dtype=np.int32), "labels": _small_ints(labels),
        "png": f"atlas/{INPUTS}.png", "pixels": "uint8 grayscale (mean over channels), 0 = black"})


def _small_ints(values):
    """U8 codes, U16 when a value is over 255 (the decided dtypes of labels, predictions, components)."""
    import numpy as np

    values = np.asarray(values)
    return values.astype(np.uint8 if values.size == 0 or values.max() <= 255 else np.uint16)


def packed_payload(doc: dict) -> dict | None:
    """An inline (old-format) projection, kNN file, thumbnail-sheet index or overlay grid as the payload the host
    writer stores in the array format (issue 24's decided names and dtypes); None for a document already in the
    array format, or of another kind."""
    import numpy as np

    if not isinstance(doc, dict) or "arrays" in doc:
        return None
    out = dict(doc)
    if "png" in doc and "tile" in doc:  # an atlas sheet index
        out["indices"] = np.asarray(doc["indices"], dtype=np.int32)
        if doc.get("labels") is not None:
            out["labels"] = _small_ints(doc["labels"])
        for name in ("mse", "qc", "qc_max", "softmax", "softmax_max"):
            if doc.get(name) is not None:
                out[name] = np.asarray(doc[name], dtype=np.float32)
        return out
    if "grid" in doc and "values" in doc:  # a density or distortion grid
        for name in ("values", "point_ratio"):
            if doc.get(name) is not None:
                out[name] = np.asarray([np.nan if v is None else v for v in doc[name]], dtype=np.float32)
        return out
    if "neighbors" not in doc and "coords" not in doc:
        return None
    if "coords" in doc:  # a projection
        out["coords"] = np.asarray(doc["coords"], dtype=np.float32)
        out["indices"] = np.asarray(doc["indices"], dtype=np.int32)
        for name in ("labels", "predicted", "component"):
            if doc.get(name) is not None:
                out[name] = _small_ints(doc[name])
        if doc.get("split") is not None:
            values = ["heldout", "train"]
            out["split"] = np.asarray([values.index(s) for s in doc["split"]], dtype=np.uint8)
            out["split_values"] = values
        if doc.get("trained") is not None:
            out["trained"] = np.asarray(doc["trained"], dtype=bool)
        return out
    n = int(doc["n"])  # a kNN file
    out["neighbors"] = np.asarray(doc["neighbors"], dtype=np.uint16 if n <= 65_536 else np.int32)
    out["distances"] = np.asarray(doc["distances"], dtype=np.float32)
    out["d_k"] = np.asarray(doc["d_k"], dtype=np.float32)
    out["indices"] = np.asarray(doc["indices"], dtype=np.int32)
    out["labels"] = _small_ints(doc["labels"])
    out["extent"] = {}
    for key, e in doc.get("extent", {}).items():
        out[f"radius_{key}"] = np.asarray(e["radius"], dtype=np.float32)
        out["extent"][key] = {"dims": e["dims"], "scale": e["scale"]}
    out["edge_lengths"] = "computed by readers from the projection coordinates (same method and epoch)"
    return out


def pack_folder(run_dir: Path, folder: str) -> None:
    """Rewrite a folder's inline JSON artifacts in the array format with the host's writer (JSON header + array
    file); each ``*_latest`` mirror becomes a hard link of its newest epoch's JSON, as the writer leaves it."""
    import re

    from latentdeck.engine.writer import ArtifactWriter

    newest: dict[str, tuple[int, str]] = {}
    for path in sorted((run_dir / folder).glob("*.json")):
        if "_latest" in path.name:
            path.unlink()
            continue
        found = re.search(r"epoch_(\d+)", path.name)  # None: a file of no epoch (the input thumbnails' index)
        epoch = int(found.group(1)) if found else 0
        payload = packed_payload(json.loads(path.read_text()))
        if payload is not None:
            ArtifactWriter(run_dir=run_dir, epoch=epoch, generator="bench").write_with_arrays(folder, f"{folder}/{path.name}", payload)
        if not found:
            continue
        mirror = path.name.replace(f"epoch_{epoch}", "latest")
        if epoch >= newest.get(mirror, (-1, ""))[0]:
            newest[mirror] = (epoch, path.name)
    for mirror, (_, name) in newest.items():
        os.link(run_dir / folder / name, run_dir / folder / mirror)


def write_run(runs_dir: Path, n: int, epochs: int) -> Path:
    """A finished run with PCA 2-D/3-D and kNN files for `epochs` epochs of n synthetic 16-D latents, and an
    input atlas."""
    import numpy as np
    import torch

    from latent_data import HostEngine
    from latentdeck.engine.artifacts import run_generators
    from latentdeck_knn.plugin import KNNOptions

    rng = np.random.default_rng(0)
    labels = np.arange(n) % 10
    centres = rng.normal(size=(10, 16)) * 3
    noise = rng.normal(size=(n, 16))
    engine = HostEngine(n, torch.as_tensor(labels), ["pca"], ["knn"])
    for epoch in range(1, epochs + 1):
        t = epoch / epochs  # clusters tighten as training goes on
        latents = (centres[labels] * (0.6 + 0.8 * t) + noise * (1.4 - 0.8 * t)).astype(np.float32)
        projections = engine.project(latents, epoch)

        def context(name, projections=projections, latents=latents, epoch=epoch):
            return engine.engine._context(epoch, None, {}, latents, projections, generator=name, options=KNNOptions(index="kd_tree"))

        run_generators(context, engine.engine.generators, engine.events)
    run_dir = runs_dir / RUN_ID
    run_dir.mkdir(parents=True)
    for folder in ("projections", "neighbors"):
        shutil.copytree(engine.run_dir / folder, run_dir / folder)
        pack_folder(run_dir, folder)
    engine.close()
    write_atlas(run_dir, labels)
    config = {"run_id": RUN_ID, "model": "ae", "dataset": "mnist", "epochs": epochs, "seed": 0, "viz_subset_size": n,
              "model_options": {}, "name": f"bench: {n:,} synthetic points"}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "summary.json").write_text(json.dumps({
        "run_id": RUN_ID, "status": "completed", "model": "ae", "dataset": "mnist", "epochs": epochs,
        "epochs_completed": epochs, "created_at": time.time(), "name": config["name"]}))
    (run_dir / "events.jsonl").write_text("")
    return run_dir


def bundle_harness(out: Path) -> tuple[str, str]:
    """esbuild the bare page (bench/deck_harness/harness.ts) with the frontend's deck.gl."""
    frontend = ROOT / "frontend"
    target = out / "harness.js"
    subprocess.run([str(frontend / "node_modules" / ".bin" / "esbuild"), str(ROOT / "bench/deck_harness/harness.ts"),
                    "--bundle", "--minify", "--format=iife", f"--outfile={target}", "--log-level=error"],
                   cwd=frontend, check=True, env={**os.environ, "NODE_PATH": str(frontend / "node_modules")})
    # with an address #<JSON of harness.load's arguments>, the page loads that file by itself (the load figure)
    html = "<!doctype html><html><body style='margin:0'><div id='map' style='position:relative'></div>" \
           "<script src='harness.js'></script><script>if (location.hash.length > 1) { const a = JSON.parse(" \
           "decodeURIComponent(location.hash.slice(1))); harness.load(a.url, a.scale, 2, a.width, a.height, a.viewState, " \
           "a.palette, a.radius).then((t) => { window.__loadedAt = t; }); }</script></body></html>"
    return html, target.read_text()


def browser_cpu_s() -> float:
    """CPU seconds (user + system) used so far by this process's descendants that are alive: the browser's
    processes (the GPU process rasterises with SwiftShader), not the server in this process, nor other people's
    work on a shared machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = int(fields[11]) + int(fields[12])
    mine, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - mine
        mine |= frontier
    return sum(used[pid] for pid in mine) / ticks


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(lower quartile, median, upper quartile), linear between order statistics."""
    v = sorted(values)

    def at(q: float) -> float:
        x = q * (len(v) - 1)
        lo = math.floor(x)
        return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (x - lo)
    return at(0.25), at(0.5), at(0.75)


# Drive the camera one step per rendered frame and put it back after; returns the frame timestamps (ms).
DRIVE = """async ({ frames, kind, explorer }) => {
  const box = explorer ? document.querySelector('[data-testid=latent-canvas] [data-frames]') : null;
  const deck = explorer ? box.__deck : window.harness.deck;
  const stamps = [];
  let wake = null;
  const original = deck.props.onAfterRender;
  deck.setProps({ onAfterRender: (ctx) => { stamps.push(performance.now()); if (original) original(ctx); if (wake) { const w = wake; wake = null; w(); } } });
  const start = { ...deck.props.viewState };
  const move = (vs) => {
    const rendered = new Promise((resolve) => { wake = resolve; });
    if (explorer) deck.props.onViewStateChange({ viewState: vs, interactionState: { isDragging: true }, oldViewState: start, viewId: 'x' });
    else deck.setProps({ viewState: vs });
    return rendered;
  };
  for (let i = 1; i <= frames; i++) {
    await move(kind === 'orbit' ? { ...start, rotationOrbit: (start.rotationOrbit || 0) + 3 * i }
      : { ...start, target: [start.target[0] + 0.004 * i, start.target[1] + 0.002 * i, start.target[2] || 0] });
  }
  const timed = stamps.slice();
  await move({ ...start });  // every pass starts from the same view
  deck.setProps({ onAfterRender: original });
  return timed;
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

# (an init script) window.__mapAt: when the explorer's map first rendered a frame, in ms since navigation began
FIRST_FRAME = """(() => {
  const tick = () => {
    const d = document.querySelector('[data-testid=latent-canvas] [data-frames]');
    if (d && Number(d.dataset.frames) > 0) { window.__mapAt = performance.now(); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})()"""

# until the explorer has drawn nothing for `quiet` ms (its transition over, an idle-time redraw done): the GPU
# process is then free for the other page's measurement
SETTLE = """async ({ quiet, limit }) => {
  const box = document.querySelector('[data-testid=latent-canvas] [data-frames]');
  const started = performance.now();
  let last = box.dataset.frames, since = performance.now();
  while (performance.now() - since < quiet && performance.now() - started < limit) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (box.dataset.frames !== last || box.dataset.animating === 'true') { last = box.dataset.frames; since = performance.now(); }
  }
  return performance.now() - started;
}"""

POINTS_OF = """(box) => { const deck = box.querySelector('[data-frames]').__deck;
  const layer = deck.props.layers.find((l) => l.id === 'points');
  const a = layer.props.data.attributes;
  return { positions: Array.from(a.getPosition.value), colours: Array.from(a.getFillColor.value), radius: layer.props.getRadius,
           viewState: deck.props.viewState, width: box.clientWidth, height: box.clientHeight }; }"""

# every segment of a line layer ('edges', 'trails'): both ends, colours and width in pixels, or null
LINES_OF = """(box, id) => { const layer = box.querySelector('[data-frames]').__deck.props.layers.find((l) => l.id === id);
  if (!layer) return null; const a = layer.props.data.attributes;
  return [Array.from(a.getSourcePosition.value), Array.from(a.getTargetPosition.value),
          a.getColor ? Array.from(a.getColor.value) : null, layer.props.getWidth]; }"""

# the thumbnails layer: drawn, its icon count and whether its sheet is on the GPU
SPRITES_OF = """(box) => { const deck = box.querySelector('[data-frames]').__deck;
  const layer = deck.layerManager.getLayers().find((l) => l.id === 'sprites');
  return layer ? { count: layer.props.data.length, loaded: layer.isLoaded, size: layer.props.sizeScale } : null; }"""

MAP_READY = "() => { const d = document.querySelector('[data-testid=latent-canvas] [data-frames]'); " \
            "return d && Number(d.dataset.frames) > 0 && d.dataset.animating !== 'true'; }"
