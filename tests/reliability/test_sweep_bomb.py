"""Issue 22 (4): a sweep's member count comes from its value lists' sizes before anything is expanded, so a
small request that names millions of members (a "sweep bomb") is refused at once, with little memory, by the
API (422) and by ``latentdeck sweep`` (exit 2), naming the count and the limit, and nothing is written.

The bounds are generous for this machine yet fail the old code, which built the whole cartesian product
first (about 260 MB and seconds per million members)."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest

from latentdeck.cli import main

# a guard against expanding the grid (minutes, or never), not a speed figure: parsing the 1 MB body took up to
# 0.8 s on a loaded 2-core machine running the whole suite (0.5 s failed there once)
MAX_SECONDS = 2.0
MAX_EXTRA_BYTES = 20 * 2**20

THREE_BY_144 = {f"{f}": list(range(1, 145)) for f in ("epochs", "batch_size", "model_options.latent_dim")}
# two values in each of 50,000 fields: 2^50000 members in an ~800 KB body (never expandable, nor printable)
WIDE = {f"f{i}": [0, 1] for i in range(50_000)}

BOMBS = {
    "3 fields x 144 values": ({"grid": THREE_BY_144}, "2,985,984 members"),
    "one field x 100,000 values": ({"grid": {"epochs": list(range(1, 100_001))}}, "100,000 members"),
    "40 fields x 2 values x 3 seeds": ({"grid": {f"model_options.f{i}": [0, 1] for i in range(40)},
                                        "seeds": [0, 1, 2]}, f"{3 * 2**40:,} members"),
    "50,000 fields x 2 values (1 MB)": ({"grid": WIDE}, "about 10^15051 members"),
    "random 256 samples x 64 seeds": ({"random": {"epochs": [1, 2]}, "samples": 256, "seeds": list(range(64))},
                                      "16,384 members"),
    # one member, but each would set and name 50,000 fields (seconds, tens of MB): too many fields to vary
    "50,000 fields x 1 value": ({"grid": {f"f{i}": [0] for i in range(50_000)}}, "50,000 fields; at most 64"),
}


def _measured(call):
    """(results, seconds, peak bytes allocated beyond what was live before) of ``call()``, made twice: timed
    without tracemalloc (which slows parsing a 1 MB body several times over), then traced for its memory."""
    started = time.perf_counter()
    first = call()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        second = call()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return (first, second), seconds, peak


@pytest.mark.parametrize("name", list(BOMBS))
def test_a_sweep_bomb_is_refused_fast_with_bounded_memory(serve_api, runs_dir, tiny_config, name):
    extra, needle = BOMBS[name]
    live = serve_api()
    assert live.client.get("/api/health").status_code == 200  # the server is warm before measuring
    body = json.dumps({"name": "bomb", "config": tiny_config, **extra}).encode()
    assert len(body) <= 2**20
    post = lambda: live.client.post("/api/sweeps", content=body, headers={"content-type": "application/json"})
    (response, again), seconds, peak = _measured(post)
    assert response.status_code == again.status_code == 422, response.text[:300]
    assert seconds < MAX_SECONDS, f"refused after {seconds:.2f} s"
    assert peak < MAX_EXTRA_BYTES, f"{peak / 2**20:.1f} MB allocated to refuse it"
    detail = response.json()["detail"]
    assert needle in detail and "at most" in detail, detail
    assert not (runs_dir / "sweeps").exists()
    assert [p.name for p in runs_dir.iterdir() if not p.name.startswith(".")] == []


@pytest.mark.parametrize("grids, needle", [
    ([f"{field}={','.join(map(str, values))}" for field, values in THREE_BY_144.items()], "2,985,984 members"),
    ([f"epochs={json.dumps(list(range(1, 100_001)))}"], "100,000 members"),
])
def test_cli_sweep_refuses_a_bomb_with_exit_2_before_expanding(cli_env, tmp_path, capsys, grids, needle):
    runs = tmp_path / "runs"
    args = ["sweep", "--dataset", "tiny-digits", "--epochs", "1", "--runs-dir", str(runs)]
    for grid in grids:
        args += ["--grid", grid]
    codes, seconds, peak = _measured(lambda: main(args))
    err = capsys.readouterr().err
    assert codes == (2, 2), err[:300]
    assert seconds < MAX_SECONDS, f"refused after {seconds:.2f} s"
    assert peak < MAX_EXTRA_BYTES, f"{peak / 2**20:.1f} MB allocated to refuse it"
    assert needle in err and "at most 256" in err, err[:300]
    assert not runs.exists() or list(runs.iterdir()) == []
