"""The artifact namespace: a writer refuses escaping, malformed, undeclared or host folders with an
exception (never an ``assert``, which ``python -O`` removes)."""

from __future__ import annotations

import pytest

from latentdeck import ComputationSpec, NoOptions, hookimpl
from latentdeck.engine.context import RunContext
from latentdeck.registry.namespace import ArtifactNameError, check_write, folder_problem, name_problem
from latentdeck.registry import collect, make_plugin_manager


def plugin(name: str, **hooks):
    import types

    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def context(run_dir, folders=None) -> RunContext:
    return RunContext(run_id="r", run_dir=run_dir, epoch=2, config={}, model=None, model_spec=None,
                           dataset_spec=None, viz=None, outputs={}, generator="g", folders=folders)


@pytest.mark.parametrize("folder, template, expected", [
    ("../escape", "x_{tag}.json", "'..'"),
    ("/abs", "x_{tag}.json", "relative"),
    ("stats", "../../x_{tag}.json", "'..'"),
    ("stats", "x.json", "{tag} placeholder"),
    ("checkpoints", "x_{tag}.json", "belongs to the host"),
    ("config.json", "x_{tag}.json", "the run's own files"),
    (".hidden", "x_{tag}.json", "hidden"),
    ("a/b", "x_{tag}.json", "one top-level name"),
])
def test_context_refuses_unsafe_names_with_an_exception(tmp_path, folder, template, expected):
    ctx = context(tmp_path)
    with pytest.raises(ArtifactNameError, match=expected.replace("{", r"\{").replace("}", r"\}")):
        ctx.save_json(folder, template, {})
    assert not any(tmp_path.parent.glob("x_*")) and list(tmp_path.iterdir()) == []


def test_context_writes_only_into_its_declared_folders(tmp_path):
    ctx = context(tmp_path, folders=frozenset({"stats"}))
    assert ctx.save_json("stats", "per_dim/s_{tag}.json", {"a": 1}) == "stats/per_dim/s_epoch_2.json"
    assert (tmp_path / "stats/per_dim/s_latest.json").is_file()
    with pytest.raises(ArtifactNameError, match="not a folder this writer declared \\(stats\\)"):
        ctx.save_json("density", "x_{tag}.json", {})
    with pytest.raises(ArtifactNameError, match="'..'"):
        ctx.save_run_file("stats", "../x.json", {})
    with pytest.raises(ArtifactNameError, match="plain name without"):
        ctx.save_run_file("stats", "x_{tag}.json", {})


def test_name_and_folder_rules():
    assert name_problem("reconstructions/recon_grid_latest.png") is None
    assert "1024" in name_problem("a/" + "b" * 1100)
    assert "255" in name_problem("a/" + "b" * 300)
    assert folder_problem("quality") is None and folder_problem("events.jsonl")
    assert check_write("quality", "q_epoch_1.json", frozenset({"quality"})) == "quality/q_epoch_1.json"


# --- the artifact namespace: declared folders, one owner each ----------------------------------

def test_declared_folders_include_the_hosts_and_every_plugins(monkeypatch):
    from latentdeck.registry import declared_folders

    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    pm = make_plugin_manager(entrypoints=True)
    folders = declared_folders(pm)
    assert folders["checkpoints"].startswith("latentdeck") and folders["projections"].startswith("latentdeck")
    assert folders["neighbors"] == "latentdeck.knn" and folders["atlas"] == "latentdeck.atlas"
    assert folders["walks"] == "latentdeck.walk" and folders["network"] == "latentdeck.network"
    assert folders["samples"] == "latentdeck.sampling"


def test_a_plugin_claiming_a_builtin_folder_is_disabled_naming_both(monkeypatch):
    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    squatter = plugin("squatter", register_computations=lambda: [
        ComputationSpec("stats", compute=print, folder="neighbors", files=("stats_{tag}.json",))])
    pm = make_plugin_manager(entrypoints=True, plugins=[squatter])
    error = pm.infos["squatter"].error
    assert pm.infos["squatter"].status == "failed" and not pm.has_plugin("squatter")
    assert "'neighbors'" in error and "'latentdeck.knn'" in error and "'stats'" in error
    assert "knn" in collect(pm, "computations")


def test_two_third_party_plugins_claiming_one_folder_the_second_is_disabled():
    first = plugin("a_first", register_computations=lambda: [ComputationSpec("q1", compute=print, folder="quality",
                                                                       files=("q1_{tag}.json",))])
    second = plugin("b_second", register_computations=lambda: [ComputationSpec(
        "q2", runs="on_demand", request=NoOptions, compute=print, folder="quality", files=("q2.json",))])
    pm = make_plugin_manager(entrypoints=False, plugins=[first, second])
    assert pm.infos["a_first"].status == "ok" and pm.infos["b_second"].status == "failed"
    assert "'a_first'" in pm.infos["b_second"].error and "'quality'" in pm.infos["b_second"].error


def test_an_on_demand_computation_that_writes_nothing_declares_no_files():
    answers = plugin("answers_only", register_computations=lambda: [ComputationSpec(
        "facts", runs="on_demand", request=NoOptions, compute=print, folder="facts", files=())])
    pm = make_plugin_manager(entrypoints=False, plugins=[answers])
    assert pm.infos["answers_only"].status == "ok", pm.infos["answers_only"].error


def test_a_plugin_may_use_its_folder_in_several_specs():
    both = plugin("both_kinds", register_computations=lambda: [
        ComputationSpec("q1", compute=print, folder="quality", files=("q1_{tag}.json",)),
        ComputationSpec("q2", compute=print, folder="quality", files=("q2_{tag}.json",)),
        ComputationSpec("q3", runs="on_demand", request=NoOptions, compute=print, folder="quality",
                        files=("on_demand/{idx:int}.json",))])
    pm = make_plugin_manager(entrypoints=False, plugins=[both])
    assert pm.infos["both_kinds"].status == "ok"
    assert list(collect(pm, "computations")) == ["q1", "q2", "q3"]


@pytest.mark.parametrize("record, expected", [
    (ComputationSpec("o", runs="on_demand", request=dict, compute=print, folder="o", files=("o.json",)), "request must be a pydantic model"),
    (ComputationSpec("o", runs="on_demand", compute=print, folder="o", files=("o.json",)), "runs on demand needs a request"),
    (ComputationSpec("o", runs=0, compute=print, folder="o", files=("o.json",)), "runs must be 'every_epoch'"),
    (ComputationSpec("o", runs="on_demand", request=NoOptions, key="k_{nope}", compute=print, folder="o",
                     files=("o.json",)), "names ['nope'], which are not fields"),
    (ComputationSpec("o", key="k_{epoch}", compute=print, folder="o", files=("o.json",)), "key needs a request model"),
    (ComputationSpec("o", budget_s=-1, compute=print, folder="o", files=("o_{tag}.json",)), "budget_s must be a positive"),
    (ComputationSpec("o", runs="on_demand", request=NoOptions, compute=None, folder="o", files=("o.json",)), "compute must be callable"),
    (ComputationSpec("o", runs="on_demand", request=NoOptions, compute=print, folder="", files=("o.json",)), "folder must name"),
    (ComputationSpec("o", runs="on_demand", request=NoOptions, compute=print, folder="o", files=("/etc/o.json",)), "escapes"),
    (ComputationSpec("o", runs="on_demand", request=NoOptions, compute=print, folder="o", files=("{a}/{a}.json",)), "repeats a placeholder"),
    (ComputationSpec("o", runs="on_demand", request=NoOptions, compute=print, folder="o", files=("o.json",),
                  requires=frozenset({"telepathy"})), "unknown capabilities ['telepathy']"),
    (ComputationSpec("o", compute=print, folder="o", files=()), "files must be a non-empty tuple"),
    (ComputationSpec("o", runs="on_demand", request=NoOptions, key="k_{epoch}", compute=print, folder="o", files=()),
     "only an on-demand computation without a key"),
    (ComputationSpec("o", compute=print, folder="o", files=("o_{tag}.json",), provides={"o_{tag}.json": "edges"}),
     "provides role 'edges'"),
    (ComputationSpec("o", compute=print, folder="o", files=("o_{tag}.json",), provides={"p_{tag}.json": "neighbours"}),
     "not one of its files"),
])
def test_register_computations_records_are_checked_at_load(record, expected):
    bad = plugin("bad_ondemand", register_computations=lambda: [record])
    pm = make_plugin_manager(entrypoints=False, plugins=[bad])
    assert pm.infos["bad_ondemand"].status == "failed" and expected in pm.infos["bad_ondemand"].error


# --- explorer roles: what the latent explorer reads, one provider each (overlays excepted) ------------

def test_a_plugin_providing_a_role_another_provides_is_disabled_naming_both(monkeypatch):
    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    rival = plugin("rival_graph", register_computations=lambda: [ComputationSpec(
        "faiss", compute=print, folder="graph", files=("nn_{method}_{tag}.json",),
        provides={"nn_{method}_{tag}.json": "neighbours"})])
    pm = make_plugin_manager(entrypoints=True, plugins=[rival])
    error = pm.infos["rival_graph"].error
    assert pm.infos["rival_graph"].status == "failed" and "'neighbours'" in error and "'latentdeck.knn'" in error
    assert "knn" in collect(pm, "computations")


def test_a_role_is_served_by_whoever_provides_it_and_overlays_may_be_many(monkeypatch):
    from latentdeck.engine.run_files import file_parsers, parse_name

    monkeypatch.setenv("LATENTDECK_DISABLE_PLUGINS", "latentdeck.knn")
    graph = plugin("faiss_graph", register_computations=lambda: [
        ComputationSpec("faiss", compute=print, folder="graph", files=("nn_{method}_{tag}.json",),
                        provides={"nn_{method}_{tag}.json": "neighbours"}),
        ComputationSpec("blur", compute=print, folder="blur", files=("blur_{score}_{tag}_{method}.json",), overlay=True)])
    pm = make_plugin_manager(entrypoints=True, plugins=[graph])
    assert pm.infos["faiss_graph"].status == "ok", pm.infos["faiss_graph"].error
    parsers = file_parsers(pm)
    assert parse_name(parsers, "graph/nn_umap_epoch_3.json")["role"] == "neighbours"
    assert parse_name(parsers, "blur/blur_sharp_epoch_3_pca.json")["role"] == "overlay"
    assert parse_name(parsers, "density/posterior_2d_epoch_3_pca.json")["role"] == "overlay"
    assert parse_name(parsers, "atlas/atlas_inputs.json")["role"] == "input-thumbnails"
    assert parse_name(parsers, "atlas/atlas_inputs.png")["role"] is None
