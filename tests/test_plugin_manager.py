"""The plugin manager: loading, collecting, validating and listing plugins (a fresh manager per test)."""

from __future__ import annotations

import importlib.metadata
import sys
import types

import pytest

from latentdeck import (
    ArtifactSpec, Availability, DatasetSpec, ExecutorSpec, LossSpec, ModelSpec, ProjectionSpec, hookimpl,
)
from latentdeck.registry import (
    ENTRY_POINT_GROUP, DuplicateComponentError, PluginError, collect, list_plugins, make_plugin_manager,
    providers,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """No plugin-selection variables leak in from the shell or other tests."""
    monkeypatch.delenv("LATENTDECK_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("LATENTDECK_EXTRA_PLUGINS", raising=False)


def plugin(name: str, **hooks) -> types.ModuleType:
    """A module-shaped plugin named ``name`` whose hook implementations are ``hooks``."""
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def model(name: str, description: str = "") -> ModelSpec:
    return ModelSpec(name=name, build=lambda options, dataset: None,
                     loss_weights=lambda options, schedule: {}, description=description)


def dataset(name: str) -> DatasetSpec:
    return DatasetSpec(name=name, load=lambda data_dir, split: None,
                       availability=lambda data_dir: Availability(True))


# --- collecting ---------------------------------------------------------------------------------

def test_collect_returns_records_by_name_for_every_kind():
    zoo = plugin(
        "zoo",
        register_models=lambda: [model("zebra"), model("aardvark")],
        register_loss_components=lambda: [LossSpec("l1", lambda outputs, batch: 0)],
        register_datasets=lambda: [dataset("dots")],
        register_projections=lambda: [ProjectionSpec("identity", fit=lambda latents, dims, seed, options: latents)],
        register_artifacts=lambda: None,  # None counts as "nothing"
        register_executors=lambda: [ExecutorSpec("inline", submit=lambda job: {"pid": 1},
                                                 poll=lambda info: {"alive": False})],
    )
    pm = make_plugin_manager(entrypoints=False, plugins=[zoo])

    models = collect(pm, "models")
    assert list(models) == ["aardvark", "zebra"]  # sorted by name, not by pluggy's LIFO order
    assert isinstance(models["zebra"], ModelSpec) and models["zebra"].name == "zebra"
    assert list(collect(pm, "loss_components")) == ["l1"]
    assert list(collect(pm, "datasets")) == ["dots"]
    assert collect(pm, "projections")["identity"].dims == (2, 3)
    assert collect(pm, "artifacts") == {}
    assert list(collect(pm, "executors")) == ["inline"]
    assert providers(pm, "models") == {"aardvark": "zoo", "zebra": "zoo"}
    with pytest.raises(KeyError, match="unknown component kind 'widgets'"):
        collect(pm, "widgets")


def test_records_from_several_plugins_are_merged_and_sorted():
    pm = make_plugin_manager(entrypoints=False, plugins=[
        plugin("one", register_models=lambda: [model("m2")]),
        plugin("two", register_models=lambda: [model("m1"), model("m3")]),
    ])
    assert list(collect(pm, "models")) == ["m1", "m2", "m3"]
    assert providers(pm, "models") == {"m1": "two", "m2": "one", "m3": "two"}


def test_duplicate_name_raises_naming_both_providers():
    pm = make_plugin_manager(entrypoints=False, plugins=[plugin("alpha_plugin", register_models=lambda: [model("vae")])])
    pm.register(plugin("beta_plugin", register_models=lambda: [model("vae")]), name="beta_plugin")
    with pytest.raises(DuplicateComponentError) as info:
        collect(pm, "models")
    message = str(info.value)
    assert "'vae'" in message and "'alpha_plugin'" in message and "'beta_plugin'" in message
    assert info.value.providers == ("alpha_plugin", "beta_plugin")
    assert info.value.kind == "models" and info.value.name == "vae"


def test_two_third_party_duplicates_disable_one_of_them():
    pm = make_plugin_manager(entrypoints=False, plugins=[
        plugin("first_plugin", register_models=lambda: [model("vae", "first")]),
        plugin("second_plugin", register_models=lambda: [model("vae", "second")]),
    ])
    assert collect(pm, "models")["vae"].description == "first"
    assert pm.infos["second_plugin"].status == "failed"
    assert "first_plugin" in pm.infos["second_plugin"].error
    assert pm.infos["first_plugin"].status == "ok"


def test_third_party_duplicate_of_builtin_is_disabled_and_builtins_keep_working():
    dup = plugin("shadow_ae", register_models=lambda: [model("ae", "impostor")])
    pm = make_plugin_manager(entrypoints=True, plugins=[dup])

    models = collect(pm, "models")
    assert models["ae"].description != "impostor"
    assert providers(pm, "models")["ae"] == "latentdeck.ae"
    assert not pm.has_plugin("shadow_ae")
    rows = {row["name"]: row for row in list_plugins(pm)}
    assert rows["shadow_ae"]["status"] == "failed"
    assert "'ae'" in rows["shadow_ae"]["error"] and "latentdeck.ae" in rows["shadow_ae"]["error"]
    assert rows["shadow_ae"]["builtin"] is False
    # the built-in still builds
    ae = models["ae"]
    assert ae.loss_weights(ae.options(), None) == {"recon_mse": 1.0, "class_ce": 1.0}


# --- validation ---------------------------------------------------------------------------------

def test_misspelled_hook_disables_that_plugin_only():
    typo = plugin("typo_plugin", register_model=lambda: [model("x")], register_datasets=lambda: [dataset("d")])
    good = plugin("good_plugin", register_models=lambda: [model("fine")])
    pm = make_plugin_manager(entrypoints=False, plugins=[typo, good])
    assert list(collect(pm, "models")) == ["fine"] and collect(pm, "datasets") == {}
    assert not pm.has_plugin("typo_plugin")
    row = next(r for r in list_plugins(pm) if r["name"] == "typo_plugin")
    assert row["status"] == "failed" and row["hooks"] == []
    assert "'register_model' (did you mean 'register_models'?) is not a latentdeck hook" in row["error"]


def test_hook_argument_the_spec_lacks_disables_that_plugin_only():
    wrong = plugin("args_plugin", after_epoch=lambda epoch, losses: None)
    pm = make_plugin_manager(entrypoints=False, plugins=[wrong])
    assert pm.infos["args_plugin"].status == "failed" and "losses" in pm.infos["args_plugin"].error
    pm.hook.after_epoch(run_id="r", run_dir="/x", epoch=1, metrics={}, model=None)  # nothing left to call


OUT = {"folder": "out", "files": ("out_{tag}.json",)}


class NotPydantic:
    pass


@pytest.mark.parametrize("record, expected", [
    (ModelSpec("m", build=lambda o, d: None, loss_weights=lambda o, s: {}, options=dict),
     "options must be a pydantic model class"),
    (ModelSpec("m", build="not callable", loss_weights=lambda o, s: {}), "build must be callable, got str"),
    (ModelSpec("m", build=lambda o, d: None, loss_weights=lambda o, s: {}, capabilities=frozenset({"latent"})),
     "capabilities names unknown capabilities ['latent']"),
    (ArtifactSpec("a", generate=None), "generate must be callable"),
    (ArtifactSpec("a", generate=print), "folder: folder must name the run folder it writes"),
    (ArtifactSpec("a", generate=print, folder="../up", files=("x_{tag}.json",)), "folder: its part '..'"),
    (ArtifactSpec("a", generate=print, folder="checkpoints", files=("x_{tag}.json",)), "belongs to the host"),
    (ArtifactSpec("a", generate=print, folder="q", files=("../../x_{tag}.json",)), "escapes or breaks its folder"),
    (ArtifactSpec("a", generate=print, folder="q", files=()), "files must be a non-empty tuple"),
    (ArtifactSpec("a", generate=print, requires=frozenset({"latentz"}), **OUT), "requires names unknown capabilities ['latentz']"),
    (ArtifactSpec("a", generate=print, requires=["latents"], **OUT), "requires must be a frozenset"),
    (ArtifactSpec("a", generate=print, options=NotPydantic, **OUT), "options must be a pydantic model class"),
    (ProjectionSpec("p", fit=print, dims=(4,)), "dims must be a non-empty tuple of (2, 3)"),
    (ExecutorSpec("e", submit=print, poll=print, capacity="soon"), "capacity must be callable or None"),
    (DatasetSpec("d", load=print, availability=print, image_shape=(28, 28)), "image_shape must be"),
])
def test_bad_record_disables_only_its_plugin_with_the_field_named(record, expected):
    hook = {ModelSpec: "register_models", ArtifactSpec: "register_artifacts", ProjectionSpec: "register_projections",
            ExecutorSpec: "register_executors", DatasetSpec: "register_datasets"}[type(record)]
    bad = plugin("bad_plugin", **{hook: lambda: [record]})
    good = plugin("good_plugin", register_models=lambda: [model("fine")])
    pm = make_plugin_manager(entrypoints=False, plugins=[bad, good])
    assert pm.infos["bad_plugin"].status == "failed"
    assert expected in pm.infos["bad_plugin"].error and repr(record.name) in pm.infos["bad_plugin"].error
    assert list(collect(pm, "models")) == ["fine"]
    assert pm.infos["good_plugin"].status == "ok"


def test_bad_record_of_a_builtin_raises():
    from latentdeck.registry import PluginInfo, _fail

    pm = make_plugin_manager(entrypoints=False)
    pm.infos["latentdeck.x"] = PluginInfo("latentdeck.x", "1", True)
    with pytest.raises(PluginError, match="built-in plugin 'latentdeck.x': broken"):
        _fail(pm, "latentdeck.x", "broken")


def test_an_installed_plugin_passed_in_again_is_not_registered_twice(monkeypatch):
    """The plugin guide's test pattern works whether the plugin is installed or not."""
    import latentdeck_recon.plugin as recon

    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    pm = make_plugin_manager(entrypoints=True, plugins=[recon])
    assert providers(pm, "artifacts")["recon_grid"] == "latentdeck.recon"
    assert "latentdeck_recon.plugin" not in pm.infos


def test_third_party_record_of_wrong_type_disables_that_plugin_only():
    wrong = plugin("wrong_plugin", register_models=lambda: [dataset("not-a-model")])
    good = plugin("good_plugin", register_models=lambda: [model("fine")])
    pm = make_plugin_manager(entrypoints=False, plugins=[wrong, good])
    assert list(collect(pm, "models")) == ["fine"]
    row = next(r for r in list_plugins(pm, all=True) if r["name"] == "wrong_plugin")
    assert row["status"] == "failed"
    assert "returned DatasetSpec" in row["error"] and "expected a named ModelSpec" in row["error"]


def test_record_of_wrong_type_raises_plugin_error_naming_the_plugin_on_collect():
    pm = make_plugin_manager(entrypoints=False)
    pm.register(plugin("wrong_plugin", register_models=lambda: [dataset("not-a-model")]), name="wrong_plugin")
    with pytest.raises(PluginError, match="'wrong_plugin'.*returned DatasetSpec, expected ModelSpec"):
        collect(pm, "models")


def test_record_without_name_disables_the_plugin():
    nameless = plugin("nameless_plugin", register_models=lambda: [model("")])
    pm = make_plugin_manager(entrypoints=False, plugins=[nameless])
    row = next(r for r in list_plugins(pm, all=True) if r["name"] == "nameless_plugin")
    assert row["status"] == "failed" and "name must be a non-empty string" in row["error"]
    assert collect(pm, "models") == {}


# --- entry points -------------------------------------------------------------------------------

def _with_broken_entry_point(monkeypatch):
    real = importlib.metadata.entry_points
    broken = importlib.metadata.EntryPoint(name="broken", value="no_such_module_xyz", group=ENTRY_POINT_GROUP)
    assert broken.dist is None  # no distribution: treated as third-party

    def fake(**kwargs):
        found = list(real(**kwargs))
        if kwargs.get("group") == ENTRY_POINT_GROUP:
            found.append(broken)
        return found

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)


def test_broken_third_party_entry_point_is_skipped_and_reported(monkeypatch):
    _with_broken_entry_point(monkeypatch)
    pm = make_plugin_manager(entrypoints=True)

    rows = {row["name"]: row for row in list_plugins(pm)}
    assert rows["broken"]["status"] == "failed"
    assert rows["broken"]["builtin"] is False
    assert "No module named 'no_such_module_xyz'" in rows["broken"]["error"]
    assert rows["broken"]["error"].startswith("ModuleNotFoundError")
    assert "ae" in collect(pm, "models")
    assert not pm.has_plugin("broken")


def test_load_plugins_empty_skips_third_party_entry_points(monkeypatch):
    _with_broken_entry_point(monkeypatch)
    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")
    pm = make_plugin_manager(entrypoints=True)
    assert "broken" not in pm.infos
    assert "ae" in collect(pm, "models")  # built-ins always load


def test_load_plugins_names_the_ones_to_load(monkeypatch):
    _with_broken_entry_point(monkeypatch)
    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "something_else, broken")
    pm = make_plugin_manager(entrypoints=True)
    assert pm.infos["broken"].status == "failed"


def test_entrypoints_false_loads_no_builtins():
    pm = make_plugin_manager(entrypoints=False)
    assert pm.infos == {}
    assert collect(pm, "models") == {}


# --- listing ------------------------------------------------------------------------------------

def test_list_plugins_hides_ok_builtins_unless_all(monkeypatch):
    monkeypatch.setenv("LATENTDECK_LOAD_PLUGINS", "")  # whatever else is installed stays out
    extra = plugin("extra_plugin", register_datasets=lambda: [dataset("dots")])
    pm = make_plugin_manager(entrypoints=True, plugins=[extra])

    short = list_plugins(pm)
    assert [row["name"] for row in short] == ["extra_plugin"]
    assert short[0] == {"name": "extra_plugin", "version": None, "builtin": False, "status": "ok", "error": None,
                        "hooks": ["register_datasets"], "provides": {"datasets": ["dots"]}}

    full = {row["name"]: row for row in list_plugins(pm, all=True)}
    assert {"latentdeck.ae", "latentdeck.recon", "latentdeck.local", "extra_plugin"} <= set(full)
    ae = full["latentdeck.ae"]
    assert ae["builtin"] is True and ae["status"] == "ok" and ae["error"] is None
    assert ae["version"] == importlib.metadata.version("latentdeck")
    assert ae["hooks"] == ["register_loss_components", "register_models", "register_presets"]
    assert ae["provides"] == {"models": ["ae"], "loss_components": ["class_ce"], "presets": ["ae-quick"]}
    assert full["latentdeck.basic"]["provides"] == {"loss_components": ["recon_mse", "recon_sse"]}
    assert full["latentdeck.recon"]["provides"] == {"artifacts": ["recon_grid"], "views": ["recon-grid"]}
    assert full["latentdeck.local"]["provides"] == {"executors": ["local"]}


# --- LATENTDECK_EXTRA_PLUGINS --------------------------------------------------------------------

def test_extra_plugins_load_modules_by_import_path(monkeypatch, tmp_path):
    (tmp_path / "my_dev_plugin_xyz.py").write_text(
        "from latentdeck import Availability, DatasetSpec, hookimpl\n"
        "@hookimpl\n"
        "def register_datasets():\n"
        "    return [DatasetSpec('dev-dots', load=lambda d, s: None, availability=lambda d: Availability(True))]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", " my_dev_plugin_xyz , no_such_extra_module_xyz,")
    try:
        pm = make_plugin_manager(entrypoints=True)
        assert "dev-dots" in collect(pm, "datasets")
        assert providers(pm, "datasets")["dev-dots"] == "my_dev_plugin_xyz"
        assert pm.infos["my_dev_plugin_xyz"].status == "ok"
        assert pm.infos["my_dev_plugin_xyz"].builtin is False
        failed = pm.infos["no_such_extra_module_xyz"]
        assert failed.status == "failed" and "No module named 'no_such_extra_module_xyz'" in failed.error
    finally:
        sys.modules.pop("my_dev_plugin_xyz", None)


def test_extra_plugins_testing_module_provides_tiny_digits(monkeypatch):
    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    pm = make_plugin_manager(entrypoints=True)
    assert providers(pm, "datasets")["tiny-digits"] == "latentdeck.testing"


def test_lifecycle_hooks_accept_a_subset_of_arguments():
    seen = []
    listener = plugin("listener", after_epoch=lambda epoch: seen.append(epoch),
                      before_run=lambda run_id: seen.append(run_id))
    pm = make_plugin_manager(entrypoints=False, plugins=[listener])
    pm.hook.before_run(run_id="r1", run_dir="/nowhere", config={})
    pm.hook.after_epoch(run_id="r1", run_dir="/nowhere", epoch=3, metrics={}, model=None)
    assert seen == ["r1", 3]


# --- the API keeps working beside a broken plugin -----------------------------------------------

def test_api_lists_broken_plugins_and_components_stay_up(tmp_path):
    from fastapi.testclient import TestClient
    from pydantic import BaseModel

    import latentdeck.testing as testing
    from latentdeck.api.app import create_app

    class Fine(BaseModel):
        k: int = 3

    typo = plugin("typo_plugin", register_artifact=lambda: [])
    raw_options = plugin("dict_options_plugin", register_artifacts=lambda: [
        ArtifactSpec("raw", generate=print, options={"k": 3}, **OUT)])
    good = plugin("fine_plugin", register_artifacts=lambda: [ArtifactSpec("fine", generate=print, options=Fine, **OUT)])
    pm = make_plugin_manager(entrypoints=False, plugins=[testing, typo, raw_options, good])
    with TestClient(create_app(pm, tmp_path / "runs")) as client:
        rows = {row["name"]: row for row in client.get("/api/plugins").json()}
        assert rows["typo_plugin"]["status"] == "failed" and "register_artifacts" in rows["typo_plugin"]["error"]
        assert rows["dict_options_plugin"]["status"] == "failed"
        assert "options must be a pydantic model class" in rows["dict_options_plugin"]["error"]
        assert rows["fine_plugin"]["status"] == "ok"
        components = client.get("/api/components")
        assert components.status_code == 200
        assert [row["name"] for row in components.json()["artifacts"]] == ["fine"]
