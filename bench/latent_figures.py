"""Figures of bench/latent_explorer.py: explorer ÷ bare deck.gl ratios per pass pair, their summary, and the
side-by-side table of several point counts measured in one run."""

from __future__ import annotations

import statistics
from pathlib import Path

from latent_bench_pages import quartiles

GOALS = {"load": 1.25, "pan_2d": 1.25, "pan_2d_focused": 1.25, "pan_2d_trails": 1.25, "pan_2d_digits": 2.0,
         "pan_2d_all_edges": 1.25, "epoch_switch": 1.25, "orbit_3d": 1.25}
NAMES = {"load": "page load to the first map frame (÷ bare page drawing the same file)",
         "pan_2d": "2-D pan, default edges", "pan_2d_focused": "2-D pan, one focused point + its edges (÷ bare points)",
         "pan_2d_trails": "2-D pan, difference trails", "pan_2d_digits": "2-D pan, digit thumbnails (÷ bare points)",
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
           "passes": len(ratios), "goal": GOALS[key], "met": med <= GOALS[key], "load": loadavg(), **extra}
    cpu_text = ""
    if cpu:
        cpu_ratios = [e / b for b, e in zip(*cpu)]
        c1, cm, c3 = quartiles(cpu_ratios)
        row["cpu"] = {"ratio": round(cm, 3), "ratio_min": round(min(cpu_ratios), 3), "ratio_max": round(max(cpu_ratios), 3),
                      "ratio_iqr": [round(c1, 3), round(c3, 3)], "bare_ms": round(statistics.median(cpu[0]), 1),
                      "explorer_ms": round(statistics.median(cpu[1]), 1)}
        cpu_text = f"; browser CPU time {cm:.2f} (min-max {min(cpu_ratios):.2f}-{max(cpu_ratios):.2f})"
    print(f"{NAMES[key]}: {row['ratio']:.2f} (min-max {row['ratio_min']:.2f}-{row['ratio_max']:.2f}, IQR {q1:.2f}-{q3:.2f}; "
          f"explorer {row['explorer_ms']:.0f} ms / bare {row['bare_ms']:.0f} ms{cpu_text}; goal <= {GOALS[key]}; "
          f"load {row['load']}) {'met' if row['met'] else 'MISSED'}", flush=True)
    return row


def table(runs: dict[int, dict]) -> None:
    """Each figure's median ratio (with min-max, explorer / bare ms and the load average when it was measured)
    for every point count measured, side by side."""
    sizes = sorted(runs)
    head = "".join(f"{f'{n:,} points':>40}" for n in sizes)
    print(f"\n{'figure (explorer / bare; goal)':58}{head}")
    for key in NAMES:
        if not any(key in runs[n] for n in sizes):
            continue
        cells = []
        for n in sizes:
            row = runs[n].get(key)
            if not row:
                cells.append(f"{'not measured':>40}")
            elif "ratio" not in row:
                cells.append(f"{row.get('skipped', 'skipped')[:38]:>40}")
            else:
                text = (f"{row['ratio']:.2f} ({row['ratio_min']:.2f}-{row['ratio_max']:.2f}) "
                        f"{row['explorer_ms']:.0f}/{row['bare_ms']:.0f} ms {'ok' if row['met'] else 'NO'}")
                cells.append(f"{text:>40}")
        print(f"{NAMES[key][:56] + f' ({GOALS[key]})':58}{''.join(cells)}")
    for n in sizes:
        r = runs[n]
        print(f"{n:,} points: load average {r.get('load_start')} -> {r.get('load_end')}; projection file "
              f"{r.get('epoch_switch', {}).get('file_kb', '?')} KB ({r.get('epoch_switch', {}).get('bytes_per_point', '?')} B/point)"
              + (f"; page JS {r['page_js']['gzip_kb']} KB gz" if "page_js" in r else ""))
