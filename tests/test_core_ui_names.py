"""The core UI names no built-in plugin (issue 23: views move into their plugins, the explorer reads data by role).
Counts every mention of a
built-in artifact plugin's name (plugins/artifacts/<name>: mixture, walk, knn, ...; projections and models are
choices the explorer is handed, not panels) or of a built-in panel's component in
frontend/src (the generated api-schema.ts left out) and fails when the count grows past CEILING (0);
``python -m pytest -s`` prints the breakdown."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "frontend" / "src"
GENERATED = {CORE / "lib" / "api-schema.ts"}
# the built-in panels the UI drew itself before views moved into plugins
PANELS = ("NetworkView", "NetworkPanels", "SamplesPanel", "MixturePanel", "WalkPanel", "ClusterPanel", "WhyPanel",
          "NearestTraining", "ReconGrid", "PriorMeansStrip")
CEILING = 0  # main had 803; views moved into their plugins (547 -> 471), then the explorer read its data by
#            role (neighbours, overlay, input-/reconstruction-thumbnails, cluster-scores: SPEC.md "Explorer roles")
#            and overlay and cluster-score files describe themselves, so no identifier, text or test names a plugin


def plugin_names() -> list[str]:
    return sorted(p.name for kind in ("artifacts",) for p in (ROOT / "plugins" / kind).iterdir()
                  if (p / "src").is_dir())


def name_pattern(names: list[str]) -> re.Pattern[str]:
    """A name as a word or the start of an identifier: mixture, Mixture, MIXTURE, mixtureName, knn_, recon/;
    not inside another word (reconnecting, reconstructions, ae in 'maes')."""
    forms = []
    for name in names:
        forms += [re.escape(name), re.escape(name[0].upper() + name[1:]), re.escape(name.upper())]
    return re.compile(rf"(?<![A-Za-z0-9])(?:{'|'.join(forms)})(?![a-z0-9])")


def core_mentions() -> Counter[str]:
    pattern = name_pattern(plugin_names() + [p[0].lower() + p[1:] for p in PANELS])
    found: Counter[str] = Counter()
    for path in sorted(CORE.rglob("*")):
        if path.suffix not in (".ts", ".tsx", ".css") or path in GENERATED:
            continue
        for match in pattern.finditer(path.read_text()):
            found[f"{path.relative_to(CORE)}: {match.group(0).lower()}"] += 1
    return found


def test_core_ui_names_no_more_builtin_plugins_than_before():
    found = core_mentions()
    total = sum(found.values())
    by_name = Counter()
    for key, n in found.items():
        by_name[key.split(": ")[1]] += n
    print(f"\ncore UI mentions of built-in plugins and panels: {total} (goal 0, ceiling {CEILING})")
    print("  by name: " + ", ".join(f"{k} {v}" for k, v in by_name.most_common()))
    assert {"mixture", "walk", "knn", "network", "recon"} <= set(plugin_names())
    assert total <= CEILING, (f"the core UI names built-in plugins {total} times (at most {CEILING}): a panel belongs "
                              "in its plugin as a view (SPEC.md 'Views that plugins ship'); "
                              + "; ".join(f"{k} x{v}" for k, v in found.most_common(20)))


def test_the_count_sees_a_mention():
    pattern = name_pattern(["mixture", "recon", "knn"])
    text = "mixtureName MixturePanel KNN neighbors/knn_umap reconstructions/recon_grid reconnecting premixture"
    assert [m.group(0) for m in pattern.finditer(text)] == ["mixture", "Mixture", "KNN", "knn", "recon"]
