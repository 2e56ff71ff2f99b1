"""Views that plugins ship (SPEC.md "Views"): declared by ``register_views``, listed with the components and on
/api/plugins, their module served by the view's name only, refused at load when a name is taken or a field is
wrong, never served for a plugin that failed to load."""

from __future__ import annotations

import shutil
import subprocess
import types
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from latentdeck import ComputationSpec, ViewSpec, hookimpl
from latentdeck.api import create_app
from latentdeck.registry import collect, make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]


def plugin(name: str, **hooks):
    module = types.ModuleType(name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def view_plugin(name: str, module: Path, view: str = "quality-chart", mount: str = "run-panel", **hooks):
    return plugin(name, register_views=lambda: [ViewSpec(name=view, module=str(module), mount=mount, title="Quality",
                                                          computations=("quality",))], **hooks)


@pytest.fixture()
def bundle(tmp_path) -> Path:
    path = tmp_path / "pkg" / "views" / "quality-chart.js"
    path.parent.mkdir(parents=True)
    path.write_text("export default function QualityChart() { return null; }\n")
    return path


def client(tmp_path, *plugins) -> TestClient:
    return TestClient(create_app(make_plugin_manager(plugins=plugins), tmp_path / "runs"))


def test_a_view_is_listed_and_its_module_served_by_name(tmp_path, bundle):
    c = client(tmp_path, view_plugin("quality_plugin", bundle))
    rows = {row["name"]: row for row in c.get("/api/components").json()["views"]}
    row = rows["quality-chart"]
    assert (row["provider"], row["mount"], row["title"], row["computations"], row["url"]) == (
        "quality_plugin", "run-panel", "Quality", ["quality"], "/api/views/quality-chart.js")
    plugins = {p["name"]: p for p in c.get("/api/plugins").json()}
    assert plugins["quality_plugin"]["provides"] == {"views": ["quality-chart"]}
    assert "register_views" in plugins["quality_plugin"]["hooks"]
    answer = c.get("/api/views/quality-chart.js")
    assert answer.status_code == 200 and answer.text == bundle.read_text()
    assert answer.headers["content-type"].startswith("text/javascript")


def test_only_a_declared_view_is_served(tmp_path, bundle):
    c = client(tmp_path, view_plugin("quality_plugin", bundle))
    for name in ("nothing", "Quality-Chart", "quality_plugin", "quality-chart.js%00"):
        answer = c.get(f"/api/views/{name}.js")
        assert answer.status_code == 404, name
        assert "no loaded plugin declares a view" in answer.json()["detail"] and "quality-chart" in answer.json()["detail"]
    for path in ("/api/views/..%2Fsecret.js", "/api/views/../../pyproject.toml", "/api/views/quality-chart.json"):
        assert c.get(path).status_code == 404, path


def test_a_view_whose_module_is_not_built_answers_404_with_the_fix(tmp_path, bundle):
    bundle.unlink()
    answer = client(tmp_path, view_plugin("quality_plugin", bundle)).get("/api/views/quality-chart.js")
    assert answer.status_code == 404
    assert "not built" in answer.json()["detail"] and "scripts/setup.sh" in answer.json()["detail"]


def test_a_view_of_a_plugin_that_failed_to_load_is_not_served(tmp_path, bundle):
    broken = view_plugin("broken_plugin", bundle, register_computations=lambda: [ComputationSpec(
        name="q", compute=print, folder="../escape", files=("q_{tag}.json",))])
    pm = make_plugin_manager(plugins=[broken])
    assert pm.infos["broken_plugin"].status == "failed"
    c = TestClient(create_app(pm, tmp_path / "runs"))
    assert c.get("/api/views/quality-chart.js").status_code == 404
    assert "quality-chart" not in {row["name"] for row in c.get("/api/components").json()["views"]}


def test_a_view_name_another_plugin_owns_is_refused_naming_both(bundle):
    pm = make_plugin_manager(plugins=[view_plugin("a_first", bundle), view_plugin("b_second", bundle, mount="explorer-side")])
    assert pm.infos["a_first"].status == "ok"
    error = pm.infos["b_second"].error
    assert pm.infos["b_second"].status == "failed" and "'quality-chart'" in error and "a_first" in error and "b_second" in error
    assert set(collect(pm, "views")) >= {"quality-chart"} and collect(pm, "views")["quality-chart"].mount == "run-panel"


def test_a_builtin_view_name_cannot_be_taken(bundle):
    pm = make_plugin_manager(plugins=[view_plugin("mine", bundle, view="mixture-health")])
    assert pm.infos["mine"].status == "failed" and "latentdeck.mixture" in pm.infos["mine"].error


@pytest.mark.parametrize("field, value, expected", [
    ("mount", "sidebar", "mount must be one of run-panel, explorer-side, explorer-layer, page"),
    ("module", "views/x.js", "module must be the absolute path of a .js file"),
    ("module", "/abs/x.tsx", "module must be the absolute path of a .js file"),
    ("name", "../x", "name must be lowercase letters"),
    ("computations", ["quality"], "computations must be a tuple"),
])
def test_a_malformed_view_disables_its_plugin_naming_the_field(bundle, field, value, expected):
    fields = dict(name="quality-chart", module=str(bundle), mount="run-panel")
    fields[field] = value
    pm = make_plugin_manager(plugins=[plugin("bad_view", register_views=lambda: [ViewSpec(**fields)])])
    assert pm.infos["bad_view"].status == "failed" and expected in pm.infos["bad_view"].error


def test_every_builtin_view_has_its_source_and_is_built_by_setup():
    """Each built-in view's module is views/<name>.js beside its plugin, built from frontend/<name>.tsx."""
    pm = make_plugin_manager()
    views = collect(pm, "views")
    assert "mixture-health" in views and views["mixture-health"].mount == "explorer-side"
    assert views["network"].mount == "page"  # the network page: /runs/<id>/view/?name=network
    for name, spec in views.items():
        module = Path(spec.module)
        assert module.name == f"{name}.js" and module.parent.name == "views"
        plugin_dir = module.parents[3]
        assert (plugin_dir / "frontend" / f"{name}.tsx").is_file(), f"{name}: no source {plugin_dir}/frontend/{name}.tsx"
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "node scripts/build-views.mjs" in setup
    assert 'artifacts = ["plugins/*/*/src/*/views/*.js"]' in (ROOT / "pyproject.toml").read_text()


FRONTEND = ROOT / "frontend"


@pytest.mark.slow
@pytest.mark.skipif(not (FRONTEND / "node_modules" / ".bin" / "eslint").exists() or not shutil.which("node"),
                    reason="frontend/node_modules is not installed (scripts/setup.sh installs it)")
def test_plugin_view_sources_pass_the_core_lint_and_type_check():
    """Every plugin's and example's view sources (plugins/*/*/frontend, examples/*/frontend) are linted with the
    core's rules (npm run lint: scripts/lint.mjs) and type-checked with it (tsconfig.json includes them)."""
    lint = subprocess.run(["node", "scripts/lint.mjs"], cwd=FRONTEND, capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0, f"npm run lint (in frontend/) finds problems:\n{lint.stdout[-4000:]}{lint.stderr[-2000:]}"
    for plugin in ("plugins/artifacts/network/frontend", "plugins/artifacts/walk/frontend"):
        assert plugin in lint.stderr, f"the lint did not cover {plugin}: {lint.stderr[-1000:]}"
    tsc = subprocess.run([str(FRONTEND / "node_modules" / ".bin" / "tsc"), "--noEmit"], cwd=FRONTEND, capture_output=True,
                         text=True, timeout=300)
    assert tsc.returncode == 0, f"npx tsc --noEmit (in frontend/) fails:\n{tsc.stdout[-4000:]}"
