"""The run page's charts in a real browser, watched live from the launch of a tiny GM-VAE (the entropy bonus on
at weight 0, i.e. off; pretraining; a prior initialised from a GMM) to its end: no console error and no failed request on the
way, the phases marked on the charts, the applied loss weights charted, the weight of the switched-off
option behind the inactive toggle and drawn without NaN, legends that follow a picked epoch, and the
explorer's mixture charts with the same phases and legends at the timeline's epoch."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

EPOCHS = 5
GMVAE_LIVE = {"latent_dim": 4, "channels": [8, 8], "num_components": 3, "pretrain_epochs": 2, "prior_init": "gmm",
              "qc_hold_epochs": 1, "entropy_bonus_enable": True, "entropy_bonus_weight": 0.0,
              "entropy_bonus_epochs": 3}

# Every drawn attribute of every chart that holds NaN or Infinity ("[]" when none does).
BAD_ATTRIBUTES = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('[data-testid=charts] svg, [data-testid=charts] svg *')) {
    for (const a of el.attributes) if (/NaN|Infinity/.test(a.value)) bad.push(`${el.tagName} ${a.name}=${a.value}`);
  }
  return bad;
}"""

# The y pixel of every vertex of the chart's path for one series.
PATH_YS = """([chart, series]) => {
  const g = document.querySelector(`[data-testid=${chart}] g[data-series="${series}"]`);
  const d = g ? g.querySelector('path').getAttribute('d') : '';
  return [...d.matchAll(/[ML][-\\d.]+,([-\\d.]+)/g)].map((m) => Number(m[1]));
}"""


def watch(page) -> tuple[list[str], list[str]]:
    """Collect the page's console errors and its failed requests: network failures and answers >= 400.
    Next's link prefetch sends HEAD probes and drops them once the headers arrive (Chromium then reports
    net::ERR_ABORTED for a request the server answered): a request answered below 400 is not a failure."""
    errors: list[str] = []
    failed: list[str] = []
    answered: set = set()

    def on_response(res) -> None:
        if res.status >= 400:
            failed.append(f"{res.status} {res.request.method} {res.url}")
        else:
            answered.add(res.request)

    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", on_response)
    page.on("requestfailed", lambda req: None if req in answered else failed.append(f"{req.method} {req.url}: {req.failure}"))
    return errors, failed


def test_a_live_gmvae_run_page_charts_phases_and_weights_without_errors(serve_api, page, shot, tiny_config):
    live = serve_api()
    errors, failed = watch(page)
    config = {**tiny_config, "model": "gmvae", "epochs": EPOCHS, "model_options": GMVAE_LIVE, "name": "live gmvae",
              "artifacts": ["mixture_health", "component_prototypes"]}
    created = live.client.post("/api/runs", json=config)
    assert created.status_code == 201, created.text
    run_id = created.json()["summary"]["run_id"]
    page.goto(f"{live.url}/runs/{run_id}/")
    expect(page.get_by_test_id("connection")).to_have_attribute("data-state", re.compile("connecting|live"))
    page.wait_for_function("document.querySelectorAll('[data-testid=epoch-list] tbody tr').length >= 1", timeout=120_000)
    assert page.get_by_test_id("connection").get_attribute("data-state") == "live", "the run was watched while it trained"
    shot(page, "charts-live")
    expect(page.get_by_test_id("status")).to_have_text("completed", timeout=120_000)
    page.wait_for_function(f"document.querySelectorAll('[data-testid=epoch-list] tbody tr').length === {EPOCHS}")
    time.sleep(0.5)  # the last batch of events and the artifact listing

    # the phases the model reported, on the loss chart and the weights chart
    detail = live.client.get(f"/api/runs/{run_id}").json()
    names = {p["name"] for p in detail["phases"]}
    assert {"pretraining", "prior_init"} <= names, detail["phases"]
    for chart in ("chart-loss", "chart-loss_weights"):
        box = page.get_by_test_id(chart)
        band = box.locator("[data-testid=phase-band][data-phase=pretraining]")
        expect(band).to_have_attribute("data-from", "0")
        expect(band).to_have_attribute("data-to", "2")
        expect(band.locator("title")).to_contain_text("epochs 1–2")
        expect(box.locator("[data-testid=phase-moment][data-phase=prior_init]")).to_have_attribute("data-x", "2")
    labels = page.get_by_test_id("chart-loss").locator(".phase-label")
    expect(labels.filter(has_text="pretraining")).to_have_count(1)
    ys = labels.evaluate_all("xs => xs.map((x) => x.getAttribute('y'))")
    assert len(ys) == len(set(ys)), f"labels of overlapping phases in rows of their own: {ys}"

    # the weights the loss applied: KL weights 0 while pretraining, then 1; the entropy bonus (off) hidden
    weights = page.get_by_test_id("chart-loss_weights")
    expect(weights.locator("figcaption")).to_contain_text("loss weights applied")
    charted = weights.locator("[data-testid=legend-item]").evaluate_all("xs => xs.map((x) => x.dataset.series)")
    assert "recon_sse" in charted and "kld_c" in charted and "qc_usage_entropy" not in charted, charted
    kld_c = page.evaluate(PATH_YS, ["chart-loss_weights", "kld_c"])
    assert len(kld_c) == EPOCHS and kld_c[0] == kld_c[1] and kld_c[2] < kld_c[1], f"0, 0, then 1 (up): {kld_c}"
    assert page.locator("[data-testid=chart-entropy_bonus_weight], [data-testid=chart-cat_kl_weight]").count() == 0

    toggle = page.get_by_test_id("inactive-toggle")
    expect(toggle).to_contain_text("1 series of options that are off")
    toggle.click()
    off = page.evaluate(PATH_YS, ["chart-loss_weights", "qc_usage_entropy (off)"])
    assert len(off) == EPOCHS and len(set(off)) == 1, f"a flat line for the weight at 0: {off}"
    recon = page.evaluate(PATH_YS, ["chart-loss_weights", "recon_sse"])
    assert len(recon) == EPOCHS and len(set(recon)) == 1 and recon[0] < off[0], f"recon's weight 1 above 0: {recon}"
    assert page.evaluate(BAD_ATTRIBUTES) == []
    shot(page, "charts-inactive-shown")
    toggle.click()

    # a click picks an epoch for every legend; a second click releases it
    loss = page.get_by_test_id("chart-loss")
    box = loss.locator("svg").bounding_box()
    loss.locator("svg").click(position={"x": 48 / 320 * box["width"] + (2 / EPOCHS) * (1 - 58 / 320) * box["width"],
                                        "y": box["height"] / 2})
    expect(page.get_by_test_id("picked-epoch")).to_have_attribute("data-epoch", "2")
    expect(weights.get_by_test_id("legend-epoch")).to_have_text("epoch 2")
    expect(weights.locator("[data-series=kld_c] .legend-value")).to_have_attribute("data-value", "0")
    expect(weights.get_by_test_id("chart-selected")).to_have_count(1)
    page.mouse.move(0, 0)
    shot(page, "charts-epoch-picked")
    loss.locator("svg").click(position={"x": 48 / 320 * box["width"] + (2 / EPOCHS) * (1 - 58 / 320) * box["width"],
                                        "y": box["height"] / 2})
    page.mouse.move(0, 0)
    expect(page.get_by_test_id("picked-epoch")).to_have_attribute("data-epoch", "")
    expect(weights.get_by_test_id("legend-epoch")).to_have_count(0)
    expect(weights.locator("[data-series=kld_c] .legend-value")).to_have_attribute("data-value", "1")

    assert page.evaluate(BAD_ATTRIBUTES) == []
    assert errors == [], errors[:5]
    assert failed == [], failed

    # a generic view carries the file's word: the decoded prior means of a pretraining epoch say why they are blank
    prototypes = page.get_by_test_id("generic-component_prototypes")
    expect(prototypes.get_by_test_id("generic-file-note")).to_have_count(0)  # the last epoch: the prior is in use
    prototypes.get_by_label("epoch of component_prototypes").fill("0")
    expect(prototypes.get_by_test_id("generic-file-note")).to_contain_text("Epoch 1 is a pretraining epoch")

    # the icon: declared by every page and served (headless Chromium asks for none, a desktop browser does)
    icon = page.locator("link[rel=icon]").first.get_attribute("href")
    assert live.client.get(icon).status_code == 200, icon
    assert live.client.get("/favicon.ico").status_code == 200, "browsers that ask /favicon.ico by name get one"

    # the explorer's mixture charts: the same phases, legends at the epoch the timeline shows
    page.goto(f"{live.url}/runs/{run_id}/latent/")
    neff = page.get_by_test_id("mixture-neff")
    expect(neff.locator("[data-testid=phase-band][data-phase=pretraining]")).to_have_count(1)
    expect(neff.locator("[data-testid=phase-moment][data-phase=prior_init]")).to_have_count(1)
    expect(page.get_by_test_id("timeline-epoch")).to_have_text(str(EPOCHS))
    page.get_by_test_id("timeline-scrubber").fill("0")  # epoch 1: pretraining
    expect(page.get_by_test_id("timeline-epoch")).to_have_text("1")
    for chart in ("mixture-neff", "mixture-pmax"):
        expect(page.get_by_test_id(chart).get_by_test_id("legend-epoch")).to_have_text("epoch 1")
    first = live.client.get(f"/api/runs/{run_id}/artifacts/mixture/mixture_health_epoch_1.json").json()
    expect(page.get_by_test_id("mixture-pmax").locator(".legend-value")).to_have_attribute("data-value", str(first["pmax"]))
    shot(page, "charts-mixture-epoch-1")
    assert errors == [], errors[:5]
    assert failed == [], failed
