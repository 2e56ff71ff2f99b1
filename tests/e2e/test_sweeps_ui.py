"""The sweep view in a real browser: a finished 3-member tiny sweep listed on /sweeps, its page with the
members table (sortable), the curves and the parameter plot drawn, and links to each member's pages."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from latentdeck import PresetSpec, hookimpl

pytestmark = pytest.mark.slow


def test_a_finished_sweep_shows_its_members_charts_and_links(serve_api, tiny_config, page, shot):
    live = serve_api()
    body = {"name": "tiny dims", "config": {**tiny_config, "epochs": 2, "projections": ["first-dims", "pca"]},
            "grid": {"model_options.latent_dim": [2, 3, 4]}}
    answer = live.client.post("/api/sweeps", json=body)
    assert answer.status_code == 201, answer.text
    sweep_id = answer.json()["sweep_id"]
    deadline = time.monotonic() + 240
    while live.client.get(f"/api/sweeps/{sweep_id}").json()["counts"] != {"completed": 3}:
        assert time.monotonic() < deadline, live.client.get(f"/api/sweeps/{sweep_id}").json()["counts"]
        time.sleep(0.5)
    members = [m["run_id"] for m in live.client.get(f"/api/sweeps/{sweep_id}").json()["members"]]

    page.goto(live.url + "/sweeps/")
    row = page.locator(f"[data-testid=sweeps-table] tr[data-sweep-id='{sweep_id}']")
    expect(row).to_contain_text("tiny dims")
    expect(row).to_contain_text("3 completed")
    row.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/sweeps/{sweep_id}/$"))

    expect(page.get_by_test_id("sweep-name")).to_have_text("tiny dims")
    table = page.get_by_test_id("sweep-members")
    expect(table.locator("tbody tr")).to_have_count(3)
    for run_id in members:
        expect(table.locator(f"tr[data-run-id='{run_id}']")).to_contain_text("completed")
    expect(page.get_by_test_id("sweep-curves").locator("path.sweep-curve")).to_have_count(3)
    expect(page.get_by_test_id("sweep-param-plot").locator("circle")).to_have_count(3)
    expect(page.get_by_test_id("sweep-groups").locator("tbody tr")).to_have_count(3)
    expect(page.get_by_test_id("sweep-pooling")).to_have_text("dots: runs · bar: mean ± sd over seeds")

    maps = page.get_by_test_id("sweep-maps")  # small multiples: every member's PCA map at one epoch, linked cameras
    expect(maps).to_have_attribute("data-epoch", "2")
    expect(maps.locator("[data-testid=sweep-map][data-drawn=true]")).to_have_count(3)
    first, second = page.get_by_test_id("sweep-map-0"), page.get_by_test_id("sweep-map-1")
    expect(first).to_have_attribute("data-points", "32")
    first.scroll_into_view_if_needed()
    box = first.bounding_box()
    view = lambda loc: loc.locator("[data-frames]").get_attribute("data-view")  # noqa: E731
    before = view(second)
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -200)
    time.sleep(0.5)
    assert view(first) != before and view(first) == view(second), "zooming one map zooms the others"

    page.locator("button[data-sort='model_options.latent_dim']").click()  # ascending
    page.locator("button[data-sort='model_options.latent_dim']").click()  # descending
    expect(table.locator("tbody tr").first).to_have_attribute("data-run-id", members[2])
    shot(page, "sweep-view")

    latent = table.locator(f"tr[data-run-id='{members[0]}']").get_by_test_id("member-latent-link")
    expect(latent).to_have_attribute("href", f"/runs/{members[0]}/latent/")
    table.locator(f"tr[data-run-id='{members[0]}']").get_by_test_id("member-run-link").click()
    page.wait_for_url(re.compile(rf"/runs/{members[0]}/$"))


class TinyPreset:
    @staticmethod
    @hookimpl
    def register_presets():
        return [PresetSpec(name="tiny-sweep", title="Tiny sweep base", order=1, description="a tiny AE run",
                           config={"dataset": "tiny-digits", "batch_size": 64, "epochs": 1, "projections": ["first-dims"],
                                   "viz_subset_size": 32, "num_threads": 1,
                                   "artifact_options": {"recon_grid": {"grid_size": 8}},
                                   "model_options": {"latent_dim": 4, "channels": [8, 8], "head_hidden": 16}})]


def test_the_launch_form_starts_a_sweep(plugin_manager, serve_api, page):
    plugin_manager.register(TinyPreset, name="tiny_sweep_preset")
    live = serve_api()
    page.goto(live.url + "/")
    page.get_by_test_id("preset-tiny-sweep").click()
    page.get_by_test_id("sweep-mode").check()
    page.get_by_test_id("sweep-grid").fill("model_options.latent_dim=2,nope")
    page.get_by_test_id("launch").click()
    expect(page.get_by_role("alert").first).to_contain_text("model_options.latent_dim")
    assert live.client.get("/api/sweeps").json() == [] and live.client.get("/api/runs").json() == []

    page.get_by_test_id("sweep-grid").fill("model_options.latent_dim=2,3")
    page.get_by_test_id("sweep-seeds").fill("0,1")
    expect(page.get_by_test_id("launch")).to_have_text("Start sweep")
    page.get_by_test_id("launch").click()
    page.wait_for_url(re.compile(r"/sweeps/sw-[^/]+/$"))
    expect(page.get_by_test_id("sweep-members").locator("tbody tr")).to_have_count(4)
    (sweep,) = live.client.get("/api/sweeps").json()
    assert sorted((m["params"]["model_options.latent_dim"], m["seed"]) for m in sweep["members"]) == [
        (2, 0), (2, 1), (3, 0), (3, 1)]
    expect(page.get_by_test_id("sweep-members")).to_contain_text("completed", timeout=120_000)  # live updates
