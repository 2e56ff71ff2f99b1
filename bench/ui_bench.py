"""Web UI benchmarks, in a real browser (Debian's Chromium via Playwright) against a real server:

1. gzipped JavaScript loaded by /runs/<id> (goal <= 300 KB);
2. time from navigation to the first loss curve drawn, for a finished 20-epoch run (goal <= 1 s);
3. 10,000 events written to an open page's run as fast as the server tails them: events received
   (none dropped, none duplicated), UI updates per second (goal <= ~10) and JS heap growth.

Needs the built UI (./lab or ./test builds frontend/out). Run: .venv/bin/python bench/ui_bench.py
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
os.environ.setdefault("LATENTDECK_WARMUP", "off")  # first-dims projections only: no UMAP warm-up
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from conftest import start_server  # noqa: E402  (the test suite's real-uvicorn helper)
from playwright.sync_api import sync_playwright  # noqa: E402

from latentdeck.api import create_app  # noqa: E402
from latentdeck.api.static import default_ui_dir  # noqa: E402
from latentdeck.registry import make_plugin_manager  # noqa: E402

ARGS = ["--enable-unsafe-swiftshader", "--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TINY = {"model": "ae", "dataset": "tiny-digits", "batch_size": 64, "seed": 0, "projections": ["first-dims"],
        "viz_subset_size": 32, "artifact_options": {"recon_grid": {"grid_size": 8}}, "num_threads": 1,
        "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}}


def wait_status(live, run_id, want="completed", timeout=300):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if live.client.get(f"/api/runs/{run_id}").json()["summary"]["status"] == want:
            return
        time.sleep(0.3)
    raise SystemExit(f"run {run_id} did not reach {want}")


def fake_running_run(runs_dir: Path, run_id: str, epochs: int) -> Path:
    run_dir = runs_dir / run_id
    run_dir.mkdir(parents=True)
    now = time.time()
    (run_dir / "config.json").write_text(json.dumps({**TINY, "run_id": run_id, "epochs": epochs}))
    (run_dir / "summary.json").write_text(json.dumps({"run_id": run_id, "status": "running", "model": "ae",
                                                      "dataset": "tiny-digits", "epochs": epochs, "epochs_completed": 0,
                                                      "created_at": now}))
    (run_dir / "events.jsonl").write_text("")
    return run_dir


def synthetic_events(run_id: str, total: int, epochs: int) -> list[str]:
    per_epoch = (total - 3) // epochs
    events, seq = [], 0

    def add(kind, data):
        nonlocal seq
        seq += 1
        events.append(json.dumps({"seq": seq, "type": kind, "ts": time.time(), "run_id": run_id, "data": data}) + "\n")

    add("run.created", {"config": {"epochs": epochs}})
    add("run.started", {"model": "ae", "dataset": "tiny-digits", "epochs": epochs})
    for epoch in range(1, epochs + 1):
        batches = per_epoch - 1
        for b in range(1, batches + 1):
            add("train.progress", {"epoch": epoch, "epochs": epochs, "batch": b, "batches": batches, "step": b,
                                   "loss": 2.0 / (epoch + b / batches), "recon_mse": 0.1, "class_ce": 1.0})
        add("train.metrics", {"epoch": epoch, "epochs": epochs, "loss": 2.0 / (epoch + 1), "recon_mse": 0.1 / epoch,
                              "class_ce": 1.5 / epoch, "heldout_loss": 2.1 / (epoch + 1), "heldout_recon_mse": 0.11 / epoch,
                              "heldout_class_ce": 1.6 / epoch, "train_accuracy": 1 - 1 / (epoch + 1),
                              "heldout_accuracy": 1 - 1.2 / (epoch + 1.2)})
    while seq < total - 1:
        add("checkpoint.saved", {"epoch": epochs, "name": "checkpoints/none.pt"})
    add("run.completed", {"epochs_completed": epochs, "duration_s": 1.0})
    return events


def main() -> None:
    if not (default_ui_dir() / "index.html").is_file():
        raise SystemExit("build the UI first: ./lab or (cd frontend && npx next build)")
    tmp = Path(tempfile.mkdtemp(prefix="ui-bench-"))
    pm = make_plugin_manager()
    live = start_server(create_app(pm, tmp, monitor_s=1e6))
    run_id = live.client.post("/api/runs", json={**TINY, "epochs": 20}).json()["summary"]["run_id"]
    wait_status(live, run_id)
    ui = default_ui_dir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)

        # 1. JS bytes loaded by /runs/<id>
        context = browser.new_context()
        page = context.new_page()
        scripts: set[str] = set()
        page.on("response", lambda r: scripts.add(r.url.split(live.url, 1)[1].split("?")[0])
                if r.request.resource_type == "script" else None)
        page.goto(f"{live.url}/runs/{run_id}/")
        page.wait_for_selector("[data-testid=chart-loss] path")
        page.wait_for_timeout(500)
        raw = gz = 0
        for path in scripts:
            # the page's own chunks from the export; plugins' views (/api/views/<name>.js) from the server
            data = live.client.get(path).content if path.startswith("/api/") else (ui / path.lstrip("/")).read_bytes()
            raw += len(data)
            gz += len(gzip.compress(data, 9))
        print(f"JS loaded by /runs/<id>: {len(scripts)} files, {raw / 1024:.0f} KB raw, {gz / 1024:.0f} KB gzipped (goal <= 300 KB)")
        context.close()

        # 2. navigation -> first loss curve drawn (finished 20-epoch run); the first load warms the HTTP cache-less server
        times = []
        for _ in range(6):
            context = browser.new_context()
            page = context.new_page()
            t0 = time.perf_counter()
            page.goto(f"{live.url}/runs/{run_id}/", wait_until="commit")
            page.wait_for_function("document.querySelectorAll('[data-testid=chart-loss] path').length > 0 && "
                                   "document.querySelectorAll('[data-testid=epoch-list] tbody tr').length === 20", polling="raf")
            times.append(time.perf_counter() - t0)
            context.close()
        times = times[1:]
        print(f"navigation -> loss curve of a finished 20-epoch run: median {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms over {len(times)} cold pages (goal <= 1000 ms)")

        # 3. 10,000 events into an open page
        fake_id = "20990101-000000-b0b0b0"
        run_dir = fake_running_run(tmp, fake_id, epochs=20)
        events = synthetic_events(fake_id, 10_000, 20)
        context = browser.new_context()
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        page.goto(f"{live.url}/runs/{fake_id}/")
        page.wait_for_selector("[data-testid=connection][data-state=live]")
        page.evaluate("""() => { window.__updates = 0; const el = document.querySelector('[data-testid=events-seen]');
            new MutationObserver(() => window.__updates++).observe(el, {childList: true, subtree: true, characterData: true}); }""")
        cdp.send("HeapProfiler.collectGarbage")
        heap0 = cdp.send("Runtime.getHeapUsage")["usedSize"]
        t0 = time.perf_counter()
        with open(run_dir / "events.jsonl", "a") as log:
            for start in range(0, len(events), 100):  # 100 events every 10 ms: ~10,000 events/s
                log.write("".join(events[start:start + 100]))
                log.flush()
                time.sleep(0.01)
        page.wait_for_function("document.querySelector('[data-testid=events-seen]').textContent.includes('(10000 received, last seq 10000)')",
                               timeout=120_000)
        elapsed = time.perf_counter() - t0
        updates = page.evaluate("window.__updates")
        rows = page.locator("[data-testid=epoch-list] tbody tr").count()
        cdp.send("HeapProfiler.collectGarbage")
        heap1 = cdp.send("Runtime.getHeapUsage")["usedSize"]
        print(f"10,000 events into an open page: all received (seq 1..10000, no duplicates), {rows} epoch rows, "
              f"{elapsed:.1f} s, {updates} UI updates = {updates / elapsed:.1f}/s (goal <= ~10/s), "
              f"JS heap {heap0 / 1e6:.1f} MB -> {heap1 / 1e6:.1f} MB after GC (+{(heap1 - heap0) / 1e6:.1f} MB)")
        context.close()
        browser.close()
    live.stop()


if __name__ == "__main__":
    main()
