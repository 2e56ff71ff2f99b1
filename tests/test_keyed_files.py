"""Keyed answers that are files (a key ending in ``.*``): the host publishes what the compute wrote into
``ctx.folder`` as ``<folder>/<stem><extension>``, then a hidden result file that marks the answer complete.
Served from disk without computing; a refusal writes nothing; a crash between two files leaves an answer that
is computed again, never served half; files written before results were kept are computed again."""

from __future__ import annotations

import json
import types

import pytest
from pydantic import BaseModel, ConfigDict, Field

from latentdeck import ComputationResult, ComputationSpec, hookimpl
from latentdeck.engine import keyfiles
from latentdeck.kit import OnDemandError
from latentdeck.testing import ask, client, run_tiny

KEY = "epoch_{epoch}/label_idx_{idx}.*"
FILES = ("epoch_{epoch}/label_idx_{idx:int}.json", "epoch_{epoch}/label_idx_{idx:int}.txt")


class Key(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    idx: int = Field(ge=0)
    epoch: int | None = None


def _plugin(name: str, compute, key=KEY, files=FILES):
    module = types.ModuleType(name)
    module.register_computations = hookimpl(lambda: [ComputationSpec(
        name="flat", compute=compute, runs="on_demand", request=Key, key=key, folder="flat", files=files)])
    return module


def _visible(run) -> list[str]:
    return [name for name in run.files("flat") if not name.rsplit("/", 1)[-1].startswith(".")]


def _counted(calls: list):
    def compute(ctx, request):
        calls.append(request.idx)
        _, label = ctx.heldout_example(request.idx)  # 422 naming the range, before anything is written
        (ctx.folder / "grid.json").write_text(json.dumps({"label": label, "self": ctx.answer_file("grid.json")}))
        (ctx.folder / "grid.txt").write_text(f"label {label}\n")
        return ComputationResult(payload={"label": label, "txt": ctx.answer_file("grid.txt")}, notes=("computed",))
    return compute


def test_a_file_key_publishes_stem_named_files_and_serves_repeats_from_disk(tmp_path):
    calls: list[int] = []
    plugin = _plugin("flat_plugin", _counted(calls))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    url = f"/api/runs/{run.run_id}/compute/flat"
    with client([plugin], tmp_path) as http:
        first = http.post(url, json={"idx": 2}).json()
        again = http.post(url, json={"idx": 2}).json()
        rows = http.get(f"/api/runs/{run.run_id}/files").json()["files"]
    names = ["flat/epoch_1/label_idx_2.json", "flat/epoch_1/label_idx_2.txt"]
    assert first["created"] is True and first["files"] == names and first["folder"] == "flat/epoch_1"
    assert again["created"] is False and calls == [2]  # from disk: not computed again
    assert again["payload"] == first["payload"] and again["notes"] == ["computed"] and again["files"] == names
    assert first["payload"]["txt"] == names[1]
    assert json.loads((run.dir / names[0]).read_text())["self"] == names[0]
    assert _visible(run) == names  # the result file is hidden: the folder holds the declared names only
    assert (run.dir / "flat/epoch_1/.label_idx_2.result.json").is_file()
    assert [(r["name"], r["kind"], r["fields"]) for r in rows if r["folder"] == "flat"] == [
        (n, "computations", {"idx": 2}) for n in names]
    announced = [e["data"]["name"] for e in run.events("artifact.created") if e["data"]["generator"] == "flat:on_demand"]
    assert announced == names  # each file once, the hidden result never
    assert not [p for p in (run.dir / "flat/epoch_1").iterdir() if p.name.endswith(".tmp")]


def test_a_refused_file_key_request_writes_nothing(tmp_path):
    calls: list[int] = []
    plugin = _plugin("flat_refused", _counted(calls))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    with pytest.raises(OnDemandError) as refused:
        ask(run, "flat", [plugin], idx=10**6)
    assert refused.value.status == 422 and calls == [10**6]
    assert not (run.dir / "flat").exists()  # no file, no temporary folder, no empty parent


def test_a_crash_between_two_files_is_computed_again_not_served_half(tmp_path, monkeypatch):
    calls: list[int] = []
    plugin = _plugin("flat_crash", _counted(calls))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    real, moved = keyfiles.os.replace, []

    def crash_after_one(src, dst, **kw):
        if moved:
            raise OSError("the machine went down")
        moved.append(dst)
        return real(src, dst, **kw)

    monkeypatch.setattr(keyfiles.os, "replace", crash_after_one)
    with pytest.raises(OSError):
        ask(run, "flat", [plugin], idx=3)
    monkeypatch.setattr(keyfiles.os, "replace", real)
    assert run.files("flat") == ["flat/epoch_1/label_idx_3.json"]  # half an answer, and no result file
    answer = ask(run, "flat", [plugin], idx=3)
    assert answer["created"] is True and calls == [3, 3]  # computed again, not served half
    assert answer["files"] == _visible(run) == ["flat/epoch_1/label_idx_3.json", "flat/epoch_1/label_idx_3.txt"]
    assert ask(run, "flat", [plugin], idx=3)["created"] is False and calls == [3, 3]


def test_files_written_before_results_were_kept_are_computed_again_and_replaced(tmp_path):
    calls: list[int] = []
    plugin = _plugin("flat_old", _counted(calls))
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    old = run.dir / "flat/epoch_1"
    old.mkdir(parents=True)
    (old / "label_idx_1.json").write_text('{"written": "by an older release"}')
    (old / "label_idx_1.txt").write_text("old\n")
    answer = ask(run, "flat", [plugin], idx=1)
    assert answer["created"] is True and calls == [1]
    assert "label" in json.loads((old / "label_idx_1.json").read_text()) and (old / ".label_idx_1.result.json").is_file()


def test_a_file_key_answer_of_one_extension_per_file(tmp_path):
    def twice(ctx, request):
        (ctx.folder / "a.json").write_text("{}")
        (ctx.folder / "b.json").write_text("{}")

    plugin = _plugin("flat_twice", twice)
    run = run_tiny([plugin], {"epochs": 1, "projections": []}, runs_dir=tmp_path)
    with pytest.raises(RuntimeError, match="a.json and b.json"):
        ask(run, "flat", [plugin], idx=1)
    assert not (run.dir / "flat").exists()


@pytest.mark.parametrize("key, problem", [(".*", "file stem"), ("epoch_{epoch}/.*", "file stem"),
                                          ("idx_{nope}.*", "not fields of its request")])
def test_a_bad_file_key_disables_the_plugin(key, problem, monkeypatch):
    from latentdeck.registry import make_plugin_manager

    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    pm = make_plugin_manager(entrypoints=False, plugins=[_plugin("flat_bad", _counted([]), key=key)])
    assert pm.infos["flat_bad"].status == "failed" and problem in pm.infos["flat_bad"].error
