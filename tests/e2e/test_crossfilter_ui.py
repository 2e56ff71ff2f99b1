"""The latent explorer's cross-filter histograms in a real browser, on the session's tiny GM-VAE run (fixture
``lab``): the bars count the projection file's labels, components and confidences; a click writes the term
into the search box and the map matches exactly those points; a modifier-click adds a value, a click on a
chosen bar removes it; typed terms stay and combine; the other charts split into selected and all."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def bars(page, key: str) -> dict[str, tuple[int, int]]:
    """{term: (total, selected)} of one chart."""
    rows = page.get_by_test_id(f"xf-{key}").locator("button")
    return {r.get_attribute("data-value"): (int(r.get_attribute("data-total")), int(r.get_attribute("data-selected")))
            for r in rows.all()}


def tenth(v: float) -> str:
    """The bin a confidence falls in: [k/10, (k+1)/10), the last also holding 1."""
    k = min(max(math.floor(v * 10), 0), 9)
    if v < k / 10:
        k -= 1
    return f"{k / 10:g}-{(k + 1) / 10:g}"


def test_bars_count_the_file_and_clicks_write_the_filter(lab, page, latent_map, shot):
    m = latent_map
    m.open(page, lab, m)
    projection = lab.file("gm", "projections/latent_2d_epoch_3.json")
    labels, components = projection["labels"], projection["component"]
    assert not projection.get("predicted"), "the tiny GM-VAE has no classifier"
    expect(page.get_by_test_id("xf-label").locator("button")).to_have_count(len(set(labels)))
    assert bars(page, "label") == {str(d): (n, n) for d, n in Counter(labels).items()}, "label bars: the file's counts"
    assert bars(page, "component") == {str(c): (n, n) for c, n in Counter(components).items()}
    expect(page.get_by_test_id("xf-predicted")).to_have_count(0)  # no prediction column, no chart
    qc_max = lab.file("gm", "atlas/atlas_epoch_3.json")["qc_max"]
    confidence = bars(page, "confidence")
    assert {t: n for t, (n, _) in confidence.items() if n} == dict(Counter(tenth(v) for v in qc_max)), "confidence bins"

    page.get_by_test_id("crossfilter").scroll_into_view_if_needed()
    shot(page, "latent-explorer-crossfilter-all", full_page=False)

    filt, matches = page.get_by_test_id("map-filter"), page.get_by_test_id("filter-matches")
    label = page.get_by_test_id("xf-label")
    ranked = [d for d, _ in Counter(labels).most_common()]
    d, e = ranked[0], ranked[1]
    label.locator(f"button[data-value='{d}']").click()
    expect(filt).to_have_value(f"label:{d}")
    expect(matches).to_have_attribute("data-count", str(labels.count(d)))
    expect(label.locator(f"button[data-value='{d}']")).to_have_attribute("aria-pressed", "true")
    # of the d's, how many sit in each component: the component chart's dark parts
    of_d = Counter(c for c, x in zip(components, labels) if x == d)
    assert bars(page, "component") == {str(c): (n, of_d.get(c, 0)) for c, n in Counter(components).items()}
    assert all(sel == (tot if t == str(d) else 0) for t, (tot, sel) in bars(page, "label").items())
    page.get_by_test_id("crossfilter").scroll_into_view_if_needed()
    shot(page, "latent-explorer-crossfilter", full_page=False)

    label.locator(f"button[data-value='{e}']").click(modifiers=["Shift"])
    expect(filt).to_have_value(f"label:{d},{e}")
    expect(matches).to_have_attribute("data-count", str(labels.count(d) + labels.count(e)))
    label.locator(f"button[data-value='{d}']").click()  # a chosen bar: removed
    expect(filt).to_have_value(f"label:{e}")
    expect(matches).to_have_attribute("data-count", str(labels.count(e)))
    label.locator(f"button[data-value='{e}']").click(modifiers=["Control"])
    expect(filt).to_have_value("")
    expect(matches).to_have_count(0)

    # a typed term stays and combines with a clicked one; a confidence bin filters by its range
    c = Counter(components).most_common(1)[0][0]
    filt.fill(f"comp:{c}")
    label.locator(f"button[data-value='{d}']").click()
    expect(filt).to_have_value(f"comp:{c} label:{d}")
    expect(matches).to_have_attribute("data-count", str(sum(x == d and y == c for x, y in zip(labels, components))))
    top = max(confidence, key=lambda t: confidence[t][0])
    filt.fill("")
    page.get_by_test_id("xf-confidence").locator(f"button[data-value='{top}']").click()
    expect(filt).to_have_value(f"conf:{top}")
    expect(matches).to_have_attribute("data-count", str(sum(tenth(v) == top for v in qc_max)))
    filt.fill(f"label:{d} conf:<0.5")
    expect(matches).to_have_attribute("data-count", str(sum(x == d and v < 0.5 for x, v in zip(labels, qc_max))))
    page.get_by_test_id("crossfilter").scroll_into_view_if_needed()
    shot(page, "latent-explorer-crossfilter-conf", full_page=False)
