"""The web UI of a lab that requires a token (bound off loopback): opening the printed link once is
enough for every page, its API calls and its live event stream (the token is kept in a cookie);
without it, the page says how to get in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from latentdeck.api import create_app
from latentdeck.api.access import policy_for

pytestmark = pytest.mark.slow


def test_the_printed_link_opens_every_page(plugin_manager, runs_dir, live_server, page, tiny_config):
    policy = policy_for("0.0.0.0")
    live = live_server(create_app(plugin_manager, runs_dir, access=policy))
    headers = {"Authorization": f"Bearer {policy.token}"}
    run_id = live.client.post("/api/runs", json={**tiny_config, "epochs": 2}, headers=headers).json()["summary"]["run_id"]

    page.goto(f"{live.url}/runs/")
    expect(page.get_by_text("Token needed")).to_be_visible()

    page.goto(f"{live.url}/?token={policy.token}")  # the link `latentdeck serve` prints
    page.goto(f"{live.url}/runs/")  # no token in the address any more: the cookie carries it
    expect(page.locator(f"tr[data-run-id='{run_id}']")).to_be_visible()
    page.goto(f"{live.url}/runs/{run_id}/")
    expect(page.get_by_test_id("status")).to_have_text("completed", timeout=90_000)
    page.wait_for_function("document.querySelectorAll('[data-testid=epoch-list] tbody tr').length === 2")
