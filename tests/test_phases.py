"""Phases a model declares (ModelSpec.phases): checked by the host, emitted once, returned with the run,
and read by generators; a broken phases hook never stops a run or a page."""

from __future__ import annotations

import dataclasses
import sys

from latentdeck.kit.phases import phases_at, run_phases
from latentdeck.registry import collect


def spec_with(plugin_manager, produce):
    return dataclasses.replace(collect(plugin_manager, "models")["ae"], phases=produce)


def test_phases_are_sorted_clipped_to_the_run_and_moments_come_first(plugin_manager):
    spec = spec_with(plugin_manager, lambda options, epochs: [
        {"name": "late", "label": "late", "start": 3, "end": 99},
        {"name": "warm", "label": "warm", "kind": "span", "start": 1, "end": 2},
        {"name": "switch", "label": "switch", "kind": "moment", "start": 3, "end": 3},
        {"name": "never", "label": "after the run", "start": 7, "end": 9}])
    found = run_phases(spec, {"epochs": 5, "model_options": {}})
    assert [(p["name"], p["start"], p["end"]) for p in found] == [("warm", 1, 2), ("switch", 3, 3), ("late", 3, 5)]
    assert [p["name"] for p in phases_at(found, 3)] == ["switch", "late"] and phases_at(found, 0) == []


def test_a_malformed_or_failing_hook_gives_no_phases(plugin_manager, monkeypatch):
    import latentdeck.kit.phases

    logged: list[str] = []
    monkeypatch.setattr(latentdeck.kit.phases.log, "exception", lambda message, *args: logged.append(
        f"{message % args}: {sys.exc_info()[1]}"))  # other tests reconfigure logging: read the call itself
    backwards = spec_with(plugin_manager, lambda o, e: [{"name": "x", "label": "x", "start": 4, "end": 2}])
    assert run_phases(backwards, {"epochs": 5, "model_options": {}}) == []
    assert "ends (epoch 2) before it starts" in logged[0]

    def broken(options, epochs):
        raise RuntimeError("boom")

    assert run_phases(spec_with(plugin_manager, broken), {"epochs": 5, "model_options": {}}) == []
    assert run_phases(collect(plugin_manager, "models")["ae"], {"epochs": 5}) == []  # declares none


def test_the_api_returns_a_runs_phases(plugin_manager, runs_dir, trained_run):
    from fastapi.testclient import TestClient

    from latentdeck.api.app import create_app

    client = TestClient(create_app(plugin_manager, runs_dir))
    run_dir = trained_run("gmvae", epochs=2, model_options={
        "latent_dim": 4, "channels": [8, 8], "num_components": 3, "pretrain_epochs": 1})
    detail = client.get(f"/api/runs/{run_dir.name}").json()
    assert [(p["name"], p["start"], p["end"]) for p in detail["phases"]] == [("pretraining", 1, 1)]
    ae = trained_run("ae")
    assert client.get(f"/api/runs/{ae.name}").json()["phases"] == []
