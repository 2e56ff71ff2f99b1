"""Checkpoints as one unit (issue 22, item 3): ``epoch_<N>.pt`` counts only with valid ``epoch_<N>.json``.

A worker killed between the two writes of ``save_checkpoint`` leaves a ``.pt`` without its metadata; a
damaged ``.json`` is the same. Every on-demand computation then answers 409 naming the ``.pt`` (it used to
be a 500 ``FileNotFoundError``), "latest" passes over it, and a backfill refuses or skips it by name.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from latentdeck.api.app import create_app
from latentdeck.engine.backfill import plan
from latentdeck.engine.checkpoints import CheckpointError, checkpoint_units, load_model
from latentdeck.cli import main as cli
from latentdeck.engine.epochs import resolve_epoch
from latentdeck.registry import askable, collect

# A valid value for each required field of the installed computations' requests, and the optional ones
# that their defaults need (sampling's default kind needs idx, walk's default mode needs to_idx).
NEEDED_BY_DEFAULTS = {"sampling": {"idx": 0}, "walk": {"to_idx": 1}}
FIELD_VALUES = {"idx": 0, "from_idx": 0, "layer": "trunk.layers.0", "out": 0, "ch": 0, "x": 0, "y": 0,
                "key": "z", "dim": 0, "delta": 0.5}

DAMAGES = {
    "missing": None,  # the kill between the two renames
    "not JSON": b'{"epoch": 2, "train_lo',
    "not UTF-8": b"\xff\xfe\x00",
    "another epoch": b'{"epoch": 1}\n',
    "not an object": b"[2]\n",
}


def damage(run_dir, epoch: int, how: str) -> str:
    """Break ``epoch``'s metadata the way ``how`` says; returns the checkpoint's name as errors give it."""
    meta = run_dir / "checkpoints" / f"epoch_{epoch}.json"
    if DAMAGES[how] is None:
        meta.unlink()
    else:
        meta.write_bytes(DAMAGES[how])
    return f"checkpoints/epoch_{epoch}.pt"


def request_body(spec, epoch: int | None) -> dict:
    body = {name: FIELD_VALUES[name] for name, field in spec.request.model_fields.items() if field.is_required()}
    body.update(NEEDED_BY_DEFAULTS.get(spec.name, {}))
    return body if epoch is None else {**body, "epoch": epoch}


@pytest.fixture
def client(plugin_manager, runs_dir):
    return TestClient(create_app(plugin_manager, runs_dir))


@pytest.mark.parametrize("how", sorted(DAMAGES))
def test_every_computation_answers_409_naming_a_checkpoint_without_valid_metadata(trained_run, client,
                                                                                   plugin_manager, how):
    run_dir = trained_run("ae")
    name = damage(run_dir, 2, how)
    before = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.name != "events.jsonl")
    specs = askable(plugin_manager)
    assert {"sampling", "network-forward", "walk"} <= set(specs)
    answers = {spec_name: client.post(f"/api/runs/{run_dir.name}/compute/{spec_name}", json=request_body(spec, 2))
               for spec_name, spec in specs.items()}
    wrong = {k: (r.status_code, r.text[:300]) for k, r in answers.items()
             if r.status_code != 409 or name not in r.json()["detail"]}
    assert not wrong, wrong
    assert "Other epochs with checkpoints: 1" in answers["sampling"].json()["detail"]
    assert sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.name != "events.jsonl") == before
    # "latest" passes over the incomplete newest one
    assert checkpoint_units(run_dir)[0] == [1] and resolve_epoch(run_dir, None) == 1


def test_without_any_complete_checkpoint_latest_is_a_409_naming_each(trained_run, client, plugin_manager):
    run_dir = trained_run("ae")
    names = [damage(run_dir, 1, "missing"), damage(run_dir, 2, "not JSON")]
    for spec_name in ("sampling", "network-layers"):
        spec = collect(plugin_manager, "computations")[spec_name]
        answer = client.post(f"/api/runs/{run_dir.name}/compute/{spec_name}", json=request_body(spec, None))
        assert answer.status_code == 409, answer.text
        assert all(name in answer.json()["detail"] for name in names), answer.text


def test_load_model_refuses_a_checkpoint_whose_metadata_went_missing(trained_run, plugin_manager):
    run_dir = trained_run("ae")
    name = damage(run_dir, 2, "missing")
    with pytest.raises(CheckpointError, match=f"{name} is incomplete: its metadata checkpoints/epoch_2.json is missing"):
        load_model(run_dir, plugin_manager, epoch=2)
    assert load_model(run_dir, plugin_manager, epoch=1)[1]["epoch"] == 1


@pytest.mark.parametrize("how", ["missing", "not JSON"])
def test_backfill_names_the_incomplete_checkpoint(trained_run, client, plugin_manager, runs_dir, capsys, how):
    run_dir = trained_run("ae")
    name = damage(run_dir, 2, how)
    answer = client.post(f"/api/runs/{run_dir.name}/backfill", json={"epochs": [2]})
    assert answer.status_code == 409 and name in answer.json()["detail"], answer.text
    assert cli(["backfill", run_dir.name, "--epochs", "2", "--runs-dir", str(runs_dir)]) == 2
    assert name in capsys.readouterr().err
    # by default the epochs with complete checkpoints are backfilled and the plan names the one left out
    chosen = plan(run_dir, plugin_manager)
    assert chosen["epochs"] == [1] and len(chosen["skipped"]) == 1 and name in chosen["skipped"][0]
    damage(run_dir, 1, "missing")
    answer = client.post(f"/api/runs/{run_dir.name}/backfill", json={})
    assert answer.status_code == 409 and name in answer.json()["detail"], answer.text


def test_a_backfill_whose_checkpoint_breaks_after_its_plan_fails_naming_it(trained_run, plugin_manager, monkeypatch):
    from latentdeck.engine import backfill as backfill_module
    from latentdeck.store.events import read_events
    from latentdeck.store.runs import RunConflict

    run_dir = trained_run("ae")
    for projection in (run_dir / "projections").glob("*epoch_2*"):
        projection.unlink()  # something for the backfill to do
    planned = checkpoint_units(run_dir)  # what the plan saw: both complete
    monkeypatch.setattr(backfill_module, "checkpoint_units", lambda _run_dir: planned)
    name = damage(run_dir, 2, "missing")  # then the metadata went missing
    with pytest.raises(RunConflict, match=f"backfill stopped: {name} is incomplete"):
        backfill_module.backfill(run_dir, plugin_manager, epochs=[2])
    failed = list(read_events(run_dir / "events.jsonl"))[-1]
    assert failed["type"] == "backfill.failed" and name in failed["data"]["error"]
