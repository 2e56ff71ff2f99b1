"""Views that plugins ship, in a real browser: the mixture plugin's view is loaded at run time into the latent
explorer, and a third-party plugin's views that cannot be shown (a module with a syntax error, one missing from
its package, one that throws while drawing) each show an inline error in their own slot while the rest of the
page (the map, the mixture view, the samples panel) works."""

from __future__ import annotations

import types

import pytest
from playwright.sync_api import expect

from latentdeck import ViewSpec, hookimpl

pytestmark = pytest.mark.slow


def broken_views(folder):
    (folder / "syntax.js").write_text("export default function ( {\n")
    (folder / "throws.js").write_text("export default function Throws() { throw new Error('the view broke on purpose'); }\n")
    module = types.ModuleType("broken_views")
    module.register_views = hookimpl(lambda: [
        ViewSpec(name="broken-syntax", module=str(folder / "syntax.js"), mount="explorer-side", title="Broken syntax"),
        ViewSpec(name="broken-missing", module=str(folder / "missing.js"), mount="explorer-side", title="Missing"),
        ViewSpec(name="broken-throws", module=str(folder / "throws.js"), mount="explorer-side", title="Throws"),
    ])
    return module


def test_broken_views_show_inline_errors_and_the_page_works(lab, page, live_server, tmp_path, shot):
    import latentdeck.testing as testing
    from latentdeck.api import create_app
    from latentdeck.registry import make_plugin_manager

    pm = make_plugin_manager(plugins=[testing, broken_views(tmp_path)])
    assert pm.infos["broken_views"].status == "ok"
    live = live_server(create_app(pm, lab.runs, monitor_s=1e6))
    page.goto(f"{live.url}/runs/{lab.ids['collapsed']}/latent/")

    expect(page.get_by_test_id("mixture-panel")).to_be_visible(timeout=30_000)  # a built-in view, loaded at run time
    expect(page.get_by_test_id("mixture-bars").locator("button")).to_have_count(4)
    errors = page.get_by_test_id("view-error")
    expect(errors).to_have_count(3)
    expect(page.locator('[data-testid=view-error][data-view=broken-missing]')).to_contain_text("is not built")
    expect(page.locator('[data-testid=view-error][data-view=broken-throws]')).to_contain_text("the view broke on purpose")
    expect(page.locator('[data-testid=view-error][data-view=broken-syntax]')).to_contain_text("Broken syntax")
    for error in errors.all():
        expect(error).to_contain_text("broken_views")
    # the rest of the page works: the map draws, the samples panel answers
    expect(page.get_by_test_id("latent-map")).to_be_visible()
    expect(page.get_by_test_id("samples-panel")).to_be_visible()
    shot(page, "plugin-views-broken")


def test_a_third_party_page_view_is_linked_from_the_run_page_and_told_the_run(lab, page, live_server, tmp_path):
    """A plain ES module using the page's React (window.__latentdeck) through the same door as the built-ins:
    mount "page", linked from the run page, drawn at /runs/<id>/view/?name=<view> with the run's files."""
    import latentdeck.testing as testing
    from latentdeck.api import create_app
    from latentdeck.registry import make_plugin_manager

    (tmp_path / "files.js").write_text(
        "const { createElement: h } = window.__latentdeck.react;\n"
        "export default function Files({ run, files }) {\n"
        "  return h('section', { className: 'panel', 'data-testid': 'files-page', 'data-run': run.id }, `${files.length} files`);\n"
        "}\n")
    module = types.ModuleType("files_page")
    module.register_views = hookimpl(lambda: [ViewSpec(name="run-files", module=str(tmp_path / "files.js"), mount="page",
                                                       title="Run files")])
    live = live_server(create_app(make_plugin_manager(plugins=[testing, module]), lab.runs, monitor_s=1e6))
    run_id = lab.ids["collapsed"]
    page.goto(f"{live.url}/runs/{run_id}/")
    link = page.locator("[data-testid=view-page-link][data-view=run-files]")
    expect(link).to_have_text("Run files")
    link.click()
    files = len(live.client.get(f"/api/runs/{run_id}/files").json()["files"])
    expect(page.get_by_test_id("files-page")).to_have_text(f"{files} files")
    expect(page.get_by_test_id("files-page")).to_have_attribute("data-run", run_id)
    page.goto(f"{live.url}/runs/{run_id}/view/?name=nothing")
    expect(page.get_by_text("No plugin offers a page named “nothing”.")).to_be_visible()
