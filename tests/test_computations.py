"""One computation spec (issue 23 item 1): the schedule (every N epochs and the last), heavy per-epoch
computations in the background (training goes on, epoch order kept, the run waits for them), one budget
accounting for the epoch loop and for requests (artifact.failed with reason timeout, counted on /plugins),
and the host's keyed path (computed once into a temporary folder, repeats from disk, refusals leave nothing)."""

from __future__ import annotations

import time
import types
import warnings

import pytest
from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ArtifactSpec, ComputationResult, ComputationSpec, OnDemandSpec, hookimpl
from latentdeck.kit import OnDemandError
from latentdeck.registry import health as plugin_health
from latentdeck.testing import ask, client, run_tiny


def _module(name: str, *specs: ComputationSpec):
    module = types.ModuleType(name)
    module.register_computations = hookimpl(lambda: list(specs))
    return module


def _stamp(ctx, request=None) -> None:
    ctx.save_json(ctx.spec.folder, "stamp_{tag}.json", {"epoch": ctx.epoch, "at": time.time()})


def _slow_stamp(ctx, request=None) -> None:
    time.sleep(0.6)
    _stamp(ctx)


def test_runs_every_n_epochs_and_the_last(tmp_path):
    plugin = _module("every_two", ComputationSpec(name="every-two", compute=_stamp, runs=2, folder="every_two",
                                                  files=("stamp_{tag}.json",)))
    run = run_tiny([plugin], {"epochs": 5, "projections": [], "artifacts": ["every-two"]}, runs_dir=tmp_path)
    assert run.failures() == []
    assert [f for f in run.files("every_two") if "epoch_" in f] == [
        f"every_two/stamp_epoch_{n}.json" for n in (2, 4, 5)]


def test_a_heavy_computation_runs_behind_training_in_epoch_order(tmp_path):
    plugin = _module("heavy_stamp", ComputationSpec(name="heavy-stamp", compute=_slow_stamp, heavy=True,
                                                    folder="heavy_stamp", files=("stamp_{tag}.json",)))
    run = run_tiny([plugin], {"epochs": 3, "projections": [], "artifacts": ["heavy-stamp"]}, runs_dir=tmp_path)
    assert run.status == "completed" and run.failures() == []
    events = run.events()
    created = [e for e in events if e["type"] == "artifact.created" and e["data"]["generator"] == "heavy-stamp"
               and e["data"]["latest"]]
    assert [e["data"]["epoch"] for e in created] == [1, 2, 3]  # one at a time, in epoch order
    seq_of = {(e["type"], e["data"].get("epoch")): e["seq"] for e in events}
    # training went on: epoch 2's metrics came before epoch 1's heavy file (it sleeps 0.6 s, an epoch is faster)
    assert seq_of[("train.metrics", 2)] < created[0]["seq"]
    assert created[-1]["seq"] < seq_of[("run.completed", None)]  # the run waited for the queue


def test_over_its_budget_a_computation_is_reported_and_counted_alike_per_epoch_and_asked_for(tmp_path):
    class Ask(BaseModel):
        model_config = ConfigDict(extra="forbid")
        epoch: int | None = None

    def sleepy(ctx, request=None):
        time.sleep(3)
        ctx.save_json(ctx.spec.folder, "late_{tag}.json", {})

    plugin = _module("slow_budget", ComputationSpec(name="slow", compute=sleepy, budget_s=0.3, request=Ask,
                                                    folder="slow", files=("late_{tag}.json",)))
    run = run_tiny([plugin], {"epochs": 1, "projections": [], "artifacts": ["slow"]}, runs_dir=tmp_path)
    failed = run.events("artifact.failed")
    assert [(e["data"]["generator"], e["data"]["reason"]) for e in failed] == [("slow", "timeout")]
    assert "budget_s of computation slow" in failed[0]["data"]["error"]
    with client([plugin], tmp_path) as http:
        answer = http.post(f"/api/runs/{run.run_id}/compute/slow", json={})
    assert answer.status_code == 504 and "budget" in answer.json()["detail"]
    failed = run.events("artifact.failed")
    assert [(e["data"]["generator"], e["data"]["reason"]) for e in failed] == [
        ("slow", "timeout"), ("slow:on_demand", "timeout")]
    assert plugin_health.read(tmp_path)["computations/slow"]["over_budget"] == 2  # one count for both paths
    assert run.files("slow") == []


class Key(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    idx: int = Field(ge=0)
    epoch: int | None = None


def _keyed(ctx, request: Key) -> ComputationResult:
    _, label = ctx.heldout_example(request.idx)  # 422 naming the range, before anything is written
    (ctx.folder / "label.json").write_text(f'{{"label": {label}}}')
    return ComputationResult(payload={"label": label, "epoch": ctx.epoch}, notes=("computed once",))


def test_the_host_keeps_a_keyed_answer_once_and_serves_repeats_from_disk(tmp_path):
    calls = []

    def counted(ctx, request):
        calls.append(request.idx)
        return _keyed(ctx, request)

    plugin = _module("keyed_plugin", ComputationSpec(
        name="keyed", compute=counted, runs="on_demand", request=Key, key="epoch_{epoch}/idx_{idx}", folder="keyed",
        files=("epoch_{epoch}/idx_{idx:int}/label.json",)))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    url = f"/api/runs/{run.run_id}/compute/keyed"
    with client([plugin], tmp_path) as http:
        first = http.post(url, json={"idx": 2}).json()
        again = http.post(url, json={"idx": 2}).json()
        refused = http.post(url, json={"idx": 10**6})
        rows = [r for r in http.get(f"/api/runs/{run.run_id}/files").json()["files"] if r["artifact"] == "keyed"]
    assert first["created"] is True and again["created"] is False and calls == [2, 10**6]
    assert first["folder"] == "keyed/epoch_1/idx_2" and again["payload"] == first["payload"]
    assert again["notes"] == ["computed once"] and first["payload"]["epoch"] == 1
    assert refused.status_code == 422 and "outside the held-out split" in refused.json()["detail"]
    assert run.files("keyed") == ["keyed/epoch_1/idx_2/label.json", "keyed/epoch_1/idx_2/result.json"]
    announced = [e["data"]["name"] for e in run.events("artifact.created") if e["data"]["generator"] == "keyed:on_demand"]
    assert sorted(announced) == sorted(first["files"])  # each file once
    assert {r["kind"] for r in rows} == {"computations"} and len(rows) == 2


def test_a_key_may_take_the_run_context_and_a_per_epoch_run_answers_through_the_same_path(tmp_path):
    """key(request, epoch, ctx) names a folder from what only the run knows (here the example's label); the
    epoch loop's ctx.answer(request) publishes the same folders, so a person's repeat is served from disk."""
    calls = []

    def label_key(request, epoch, ctx):
        return f"epoch_{epoch}/label_{ctx.heldout_example(request.idx)[1]}/idx_{request.idx}"

    def compute(ctx, request):
        if request is None:  # the epoch loop: its per-epoch set, one keyed answer each
            return {"made": [ctx.answer(Key(idx=i)).folder for i in (0, 1)]}
        calls.append(request.idx)
        (ctx.folder / "named.json").write_text(f'{{"file": "{ctx.answer_file("named.json")}"}}')
        return _keyed(ctx, request)

    plugin = _module("ctx_key_plugin", ComputationSpec(
        name="labelled", compute=compute, request=Key, key=label_key, folder="labelled",
        files=("epoch_{epoch}/label_{label:int}/idx_{idx:int}/{file}",)))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    assert calls == [0, 1] and len(run.files("labelled")) == 2 * 3  # label.json, named.json, result.json each
    url = f"/api/runs/{run.run_id}/compute/labelled"
    with client([plugin], tmp_path) as http:
        again = http.post(url, json={"idx": 1}).json()
        other = http.post(url, json={"idx": 2}).json()
        refused = http.post(url, json={"idx": 10**6})
    assert again["created"] is False and calls == [0, 1, 2] and again["folder"] == "labelled/epoch_1/label_1/idx_1"
    assert other["created"] is True and other["folder"] == "labelled/epoch_1/label_2/idx_2"
    assert run.files("labelled")[-1].startswith("labelled/epoch_1/label_2/idx_2/")
    assert '"labelled/epoch_1/label_2/idx_2/named.json"' in (tmp_path / run.run_id / "labelled/epoch_1/label_2/idx_2/named.json").read_text()
    assert refused.status_code == 422 and len(run.files("labelled")) == 3 * 3  # refused by the key: nothing written
    announced = [e["data"]["name"] for e in run.events("artifact.created") if e["data"]["generator"] == "labelled"]
    assert len(announced) == 2 * 3 and len(set(announced)) == len(announced)  # the epoch loop's, each once


def test_the_deprecated_constructors_make_computation_specs():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = ArtifactSpec("old", generate=lambda ctx: None, folder="old", files=("o_{tag}.json",))
        asked = OnDemandSpec("asked", request=Key, compute=_keyed, folder="asked", files=("a.json",))
    assert isinstance(old, ComputationSpec) and old.runs == "every_epoch" and old.compute(None, None) is None
    assert asked.runs == "on_demand" and asked.request is Key
    assert sum(issubclass(w.category, DeprecationWarning) for w in caught) == 2


def test_a_refusal_of_a_request_is_not_counted_as_a_failure(tmp_path):
    def refuse(ctx, request):
        raise OnDemandError("no such thing at this epoch", 404)

    plugin = _module("refusing", ComputationSpec(name="refusing", compute=refuse, runs="on_demand", request=Key,
                                                 folder="refusing", files=("x.json",)))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    with client([plugin], tmp_path) as http:
        answer = http.post(f"/api/runs/{run.run_id}/compute/refusing", json={"idx": 1})
    assert answer.status_code == 404 and run.events("artifact.failed") == []
    assert "computations/refusing" not in plugin_health.read(tmp_path)


@pytest.mark.parametrize("runs", ["sometimes", 0, True])
def test_a_bad_schedule_disables_the_plugin_naming_runs(runs, monkeypatch):
    from latentdeck.registry import make_plugin_manager

    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    plugin = _module("bad_schedule", ComputationSpec(name="bad", compute=_stamp, runs=runs, folder="bad",
                                                     files=("b_{tag}.json",)))
    pm = make_plugin_manager(entrypoints=False, plugins=[plugin])
    assert pm.infos["bad_schedule"].status == "failed" and "runs must be" in pm.infos["bad_schedule"].error


def test_ask_runs_the_one_path_in_this_process(tmp_path):
    plugin = _module("asked_plugin", ComputationSpec(name="asked", compute=_keyed, runs="on_demand", request=Key,
                                                     key="epoch_{epoch}/idx_{idx}", folder="asked",
                                                     files=("epoch_{epoch}/idx_{idx:int}/label.json",)))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    first = ask(run, "asked", [plugin], idx=4)
    assert first["created"] and ask(run, "asked", [plugin], idx=4)["created"] is False
    with pytest.raises(OnDemandError) as refused:
        ask(run, "asked", [plugin], idx=10**6)
    assert refused.value.status == 422


def test_a_plugin_still_implementing_a_replaced_hook_is_told_what_replaced_it(monkeypatch):
    from latentdeck.registry import make_plugin_manager

    old = types.ModuleType("old_style_plugin")
    old.register_artifacts = hookimpl(lambda: [])
    pm = make_plugin_manager(entrypoints=False, plugins=[old])
    assert pm.infos["old_style_plugin"].status == "failed"
    assert "'register_artifacts' (replaced by 'register_computations'" in pm.infos["old_style_plugin"].error


def test_a_keyed_folder_from_before_the_host_kept_results_gets_its_result_and_keeps_its_files(tmp_path):
    plugin = _module("healed_plugin", ComputationSpec(name="healed", compute=_keyed, runs="on_demand", request=Key,
                                                      key="epoch_{epoch}/idx_{idx}", folder="healed",
                                                      files=("epoch_{epoch}/idx_{idx:int}/label.json",)))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    first = ask(run, "healed", [plugin], idx=1)
    (run.dir / "healed/epoch_1/idx_1/result.json").unlink()  # as a folder written by an earlier release
    label = run.dir / "healed/epoch_1/idx_1/label.json"
    before = label.stat().st_mtime_ns
    again = ask(run, "healed", [plugin], idx=1)
    assert again["created"] is False and again["payload"] == first["payload"]
    assert label.stat().st_mtime_ns == before and (run.dir / "healed/epoch_1/idx_1/result.json").is_file()


def test_a_heavy_computation_another_one_reads_runs_in_line(tmp_path):
    def reader(ctx, request=None):
        name, stamp = ctx.read("heavy-read", epoch=None)
        ctx.save_json("reader", "seen_{tag}.json", {"read": name, "epoch": stamp["epoch"]})

    plugin = _module("heavy_read", ComputationSpec(name="heavy-read", compute=_slow_stamp, heavy=True,
                                                   folder="heavy_read", files=("stamp_{tag}.json",)),
                     ComputationSpec(name="reader", compute=reader, after=frozenset({"heavy-read"}), folder="reader",
                                     files=("seen_{tag}.json",)))
    run = run_tiny([plugin], {"epochs": 2, "projections": [], "artifacts": ["heavy-read", "reader"]}, runs_dir=tmp_path)
    assert run.failures() == [] and "reader/seen_epoch_2.json" in run.files("reader")
