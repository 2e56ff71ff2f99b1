"""Browser end-to-end fixtures: Playwright driving Debian's Chromium (/usr/bin/chromium; no browser
is ever downloaded) against a real latentdeck server on 127.0.0.1 serving the built web UI.

Skipped, with the reason, when Playwright, Chromium or the UI export (frontend/out) is missing:
`./test` installs all three (scripts/setup.sh)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from latentdeck.api.static import default_ui_dir, ui_available

CHROMIUM = os.environ.get("LATENTDECK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--enable-unsafe-swiftshader", "--no-sandbox", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
# Each e2e run saves a screenshot of every page here (git-ignored); the README's curated copies live
# in docs/screenshots/ and are refreshed on purpose: LATENTDECK_SCREENSHOTS=docs/screenshots ./test tests/e2e
SCREENSHOTS = Path(os.environ.get("LATENTDECK_SCREENSHOTS") or Path(__file__).resolve().parents[2] / ".screenshots")
VIEWPORT = {"width": 1366, "height": 900}


def _why_not() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (as root: apt-get install chromium; ./test does it)"
    if not ui_available(default_ui_dir()):
        return f"the web UI is not built ({default_ui_dir()} has no index.html; ./test builds it)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _why_not()
    if reason:
        for item in items:
            if "e2e" in item.nodeid.split("/"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page; console errors other than expected 404s and JS exceptions fail the test."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(30_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"uncaught: {exc}"))
    yield page
    context.close()
    assert not problems, problems


@pytest.fixture
def shot():
    """``shot(page, name)``: save <SCREENSHOTS>/<name>.png for a person to look at."""

    def take(page, name: str, full_page: bool = True) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return take


@pytest.fixture(autouse=True)
def _no_warm_workers(monkeypatch):
    """These runs project with first-dims only: no server should spend the 2 cores warming UMAP."""
    monkeypatch.setenv("LATENTDECK_WARMUP", "off")
