"""/plugins in the browser: a plugin whose components failed at run time shows the counts and the last error
(issue 23 item 8), and a plugin that failed to load says how to restart the server on a wheel install."""

from __future__ import annotations

import types

from playwright.sync_api import expect

from latentdeck import hookimpl
from latentdeck.registry.health import note_failure
from latentdeck.testing import manager_with


def test_plugins_page_shows_runtime_failures_and_how_to_restart(serve_api, page, shot, runs_dir):
    # a record an earlier release wrote (kind "artifacts") still counts, beside one of today's ("computations")
    note_failure(runs_dir, "artifacts", "knn", "ValueError: the neighbour table broke", "run-one", epoch=2)
    note_failure(runs_dir, "computations", "knn", "knn took longer than its budget of 1 s", "run-two", epoch=3,
                 reason="timeout")
    typo = types.ModuleType("typo_ui_health_plugin")

    @hookimpl
    def register_artifact():  # a misspelled hook: the plugin fails to load
        return []

    typo.register_artifact = register_artifact
    live = serve_api(pm=manager_with([typo]))
    page.goto(f"{live.url}/plugins/")
    expect(page.get_by_test_id("plugin-counts")).to_contain_text("1 failed to load, 1 failed at run time")
    card = page.locator("[data-plugin='latentdeck.knn']")
    health = card.get_by_test_id("plugin-health")
    expect(health).to_contain_text("Failed at run time: 1 failure, 1 over its time budget.")
    expect(health).to_contain_text("knn took longer than its budget of 1 s")
    expect(health).to_contain_text("epoch 3")
    expect(health.get_by_role("link", name="run-two")).to_have_attribute("href", "/runs/run-two/")
    expect(page.locator("[data-plugin='latentdeck.recon'] [data-testid=plugin-health]")).to_have_count(0)
    broken = page.locator("[data-plugin='typo_ui_health_plugin']")
    expect(broken).to_contain_text("failed")
    expect(broken).to_contain_text("run `latentdeck serve` again")
    shot(page, "plugins-health")


def test_the_run_page_marks_an_artifact_over_its_time_budget(serve_api, page, runs_dir):
    """A generator given up for running past the run's budget (generator_budget_s) is listed under "Artifact
    problems" with the budget named, told apart from one that raised (issue 23 item 1: over-budget on the run page)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "helpers"))
    import slow_stage_plugin
    from latentdeck.testing import run_tiny

    run = run_tiny([slow_stage_plugin], {"epochs": 1, "projections": [], "artifacts": ["slow-stage"],
                                         "artifact_options": {"slow-stage": {"seconds": 2}}, "generator_budget_s": 0.5},
                   runs_dir=runs_dir)
    assert [e["data"].get("reason") for e in run.events("artifact.failed")] == ["timeout"]
    live = serve_api(pm=manager_with([slow_stage_plugin]))
    page.goto(f"{live.url}/runs/{run.run_id}/")
    problem = page.locator("[data-testid=artifact-problems] li[data-reason=timeout]")
    expect(problem).to_contain_text("slow-stage · epoch 1")
    expect(problem).to_contain_text("over its time budget of 0.5 s")
