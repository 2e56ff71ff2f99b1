"""The network page in a browser: a trained GM-VAE's layers for one held-out example, a channel with a
probe and its receptive field, one conv step that agrees with the model, kernels, a perturbation slider
and top-K, each drawn from the files the API persisted. The page is the network plugin's view (mount "page",
/runs/<id>/view/?name=network, linked from the run page like every page view); the old address
/runs/<id>/network/ is sent on to it."""

from __future__ import annotations

import re

from playwright.sync_api import expect

IMG_LOADED = "(sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0 }"


def test_network_page_inspects_a_trained_model(trained_run, serve_api, page, shot):
    run_dir = trained_run("gmvae")
    run_id = run_dir.name
    live = serve_api()

    page.goto(f"{live.url}/runs/{run_id}/")
    page.locator("[data-testid=view-page-link][data-view=network]").click()
    here = f"{live.url}/runs/{run_id}/view/?name=network"
    expect(page).to_have_url(f"{here}&epoch=2&idx=0&layer=trunk.layers.0&ch=0")
    expect(page.get_by_test_id("run-title")).to_have_text(run_id)
    expect(page.get_by_test_id("layer-trunk.layers.0")).to_be_visible()
    page.wait_for_function(IMG_LOADED, arg="[data-testid=net-recon]")
    expect(page.get_by_test_id("net-vectors")).to_contain_text("z_sample")
    expect(page.get_by_test_id("net-conv-agree")).to_contain_text("agree")

    # a deeper layer, channel 2 picked by clicking its tile; a probe at the corner clamps the field
    card = page.get_by_test_id("layer-trunk.layers.8")
    grid = card.locator("img")
    page.wait_for_function(IMG_LOADED, arg='[data-testid="layer-trunk.layers.8"] img')
    box = grid.bounding_box()
    # the 8-channel grid is 3x3 tiles: the third tile of the first row is channel 2
    grid.click(position={"x": box["width"] * (2.5 / 3), "y": box["height"] * (0.5 / 3)})
    expect(page.get_by_test_id("net-channel")).to_contain_text("Channel 2 of trunk.layers.8")
    expect(page).to_have_url(f"{here}&epoch=2&idx=0&layer=trunk.layers.8&ch=2")
    page.get_by_test_id("net-channel-map").click(position={"x": 2, "y": 2})
    expect(page.get_by_test_id("net-probe")).to_contain_text("x 0–4, y 0–4 of the input (a 9×9 field, clamped at the border)")
    expect(page.get_by_test_id("net-rf")).to_be_visible()
    expect(page.get_by_test_id("net-kernels")).to_contain_text("trunk.layers.6")  # the conv feeding it
    expect(page.get_by_test_id("net-convstep")).to_contain_text("shown for the first convolution")

    page.get_by_test_id("net-topk-run").click()
    expect(page.get_by_test_id("net-topk-items").locator("button")).to_have_count(12)

    slider = page.get_by_test_id("net-perturb-slider")
    expect(slider).to_be_enabled()  # once the server has stated the dimension's spread
    sd = float(slider.get_attribute("data-sd"))
    direction = page.get_by_test_id("net-perturb-direction")
    expect(direction).to_contain_text("[0]")
    slider.fill("2")  # two standard deviations of the dimension, not 2 latent units
    delta = float(f"{2 * sd:.4g}")
    expect(page.get_by_test_id("net-perturb-delta")).to_contain_text("+2sd = +")
    expect(page.get_by_test_id("net-perturb-caption")).to_contain_text(f"(Δ +{delta:g})")
    assert direction.get_attribute("data-ignored") in ("true", "false")
    page.wait_for_function(IMG_LOADED, arg="[data-testid=net-perturb-img]")
    page.wait_for_function("() => [...document.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)")
    shot(page, "network")

    # back to the first convolution: the single step arithmetic at the probed position
    page.get_by_test_id("net-goto-conv1").click()
    page.get_by_test_id("net-channel-map").click(position={"x": 100, "y": 100})
    expect(page.get_by_test_id("net-convstep")).to_contain_text("at x 14, y 14")
    expect(page.get_by_test_id("net-conv-agree")).to_contain_text("agree")
    expect(page.get_by_test_id("net-products").locator("span")).to_have_count(9)
    page.get_by_test_id("net-convstep").scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)")
    shot(page, "network-conv-step", full_page=False)

    # a reload keeps the place (epoch, example, layer, channel in the address)
    page.reload()
    expect(page.get_by_test_id("net-channel")).to_contain_text("Channel 2 of trunk.layers.0")
    # the page's old address (a bookmark from before it became the plugin's view) lands on the same place
    page.goto(f"{live.url}/runs/{run_id}/network/?epoch=2&idx=0&layer=trunk.layers.0&ch=2")
    expect(page).to_have_url(f"{here}&epoch=2&idx=0&layer=trunk.layers.0&ch=2")
    expect(page.get_by_test_id("net-channel")).to_contain_text("Channel 2 of trunk.layers.0")
    page.get_by_test_id("net-idx").fill("99999")
    expect(page.get_by_test_id("net-idx-hint")).to_have_text("use 0..63")  # out of range: nothing requested
    names = {row["name"] for row in live.client.get(f"/api/runs/{run_id}/files").json()["files"]}
    assert "network/forward/epoch_2/idx_0/layers.json" in names
    # the channel's answer at the seed specification's path, the probe's beside it (never nested in it)
    inspected = "network/inspect/epoch_2/idx_0/layer_trunk.layers.8"
    assert {f"{inspected}/ch_2/{n}" for n in ("inspect.json", "channel.png", "heat_rgba.png", "overlay.png")} <= names
    assert f"{inspected}/ch_2_probe_x_0_y_0/inspect.json" in names
    assert not any(re.search(r"^network/inspect/.*/ch_\d+/[^/]+/", name) for name in names)
    assert not any("idx_99999" in name for name in names)
