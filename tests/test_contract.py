"""Meta-tests that police the plugin contract (after datasette's test_plugin_hooks_are_documented)."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import pytest

from latentdeck import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOST = ROOT / "platform" / "src" / "latentdeck"
PLUGIN_KINDS = ("models", "losses", "datasets", "projections", "artifacts", "executors")


def hook_names() -> list[str]:
    return sorted(name for name, value in vars(hookspecs).items()
                  if callable(value) and hasattr(value, "latentdeck_spec"))


def signature(name: str) -> str:
    return f"{name}({', '.join(inspect.signature(getattr(hookspecs, name)).parameters)})"


def plugin_folders() -> list[Path]:
    return sorted(folder for kind in PLUGIN_KINDS if (ROOT / "plugins" / kind).is_dir()
                  for folder in (ROOT / "plugins" / kind).iterdir()
                  if folder.is_dir() and folder.name not in ("tests", "__pycache__") and not folder.name.startswith("."))


def test_hookspecs_are_found():
    names = hook_names()
    assert {"register_models", "register_datasets", "before_run", "after_epoch", "after_run",
            "on_run_error"} <= set(names)
    assert signature("after_epoch") == "after_epoch(run_id, run_dir, epoch, metrics, model)"
    assert signature("register_models") == "register_models()"


@pytest.mark.parametrize("hook", hook_names())
def test_hook_is_documented_in_spec_with_its_signature(hook):
    spec = ROOT / "SPEC.md"
    assert spec.is_file(), "SPEC.md is missing at the repository root"
    assert signature(hook) in spec.read_text(), f"SPEC.md does not show {signature(hook)}"


@pytest.mark.parametrize("hook", hook_names())
def test_hook_has_tests(hook):
    test_files = [p for p in (ROOT / "tests").rglob("test_*.py") if p.name != "test_contract.py"]
    test_files += list((ROOT / "plugins").glob("*/*/tests/**/test_*.py"))
    assert any(re.search(rf"\b{hook}\b", p.read_text()) for p in test_files), f"no test mentions {hook}"


@pytest.mark.parametrize("module", ["hookspecs.py", "types/__init__.py", "types/views.py", "registry/__init__.py", "__init__.py"])
def test_contract_modules_import_no_builtin_plugin(module):
    source = (HOST / module).read_text()
    assert "latentdeck_" not in source, f"{module} refers to a built-in plugin package"


def test_no_platform_package():
    assert not (ROOT / "platform" / "__init__.py").exists(), "platform/__init__.py shadows the stdlib 'platform'"


# Where the host still names a built-in component, and why (each one is a documented default or a field).
HOST_NAMES_ALLOWED = {
    ("mixtures.py", "kld_c"): "a statistic in the mixture helpers' payload that shares its name with a loss",
    ("kernel_cache.py", "umap"): "the umap-learn library's module, whose numba kernels the cache holds",
    # the one-time migration rewrites the inline files the built-in plugins wrote before the array files (their
    # old layouts are history, not features); a plugin's own future format change would ship its own migration
    ("migrate.py", "atlas"): "the old atlas folder's layout (latentdeck migrate)",
    ("migrate.py", "density"): "the old density folder's layout (latentdeck migrate)",
    ("migrate.py", "distortion"): "the old distortion folder's layout (latentdeck migrate)",
}


def _builtin_component_names() -> set[str]:
    from latentdeck.registry import make_plugin_manager, providers
    from latentdeck.types import KINDS

    pm = make_plugin_manager()
    names: set[str] = set()
    for kind in KINDS:
        names |= {name for name, provider in providers(pm, kind).items()
                  if provider.startswith("latentdeck.") and provider != "latentdeck.testing"}
    return names


def _code_strings(path: Path) -> list[tuple[str, int]]:
    """String constants of a module that are not docstrings (what the code compares and writes)."""
    import ast

    tree = ast.parse(path.read_text())
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [(node.value, node.lineno) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs]


def test_no_host_module_names_a_builtin_component():
    """Every host module (not only the engine): no code string equals a built-in component's name
    (models, losses, datasets, projections, artifacts, on-demand computations, executors, presets);
    features live in plugins and the host finds them through records. ``latentdeck.testing`` is the test plugin."""
    names = _builtin_component_names()
    assert {"ae", "gmvae", "mnist", "pca", "knn", "sampling", "walk", "network-forward", "local"} <= names
    found = []
    for path in sorted(HOST.rglob("*.py")):
        if "testing" in path.relative_to(HOST).parts[:1]:  # the test plugin (a package: testing/)
            continue
        for value, line in _code_strings(path):
            if value in names and (path.name, value) not in HOST_NAMES_ALLOWED:
                found.append(f"{path.relative_to(HOST)}:{line} names {value!r}")
    assert found == [], "the host names built-in components: " + "; ".join(found)


def test_there_are_builtin_plugin_folders():
    names = {folder.name for folder in plugin_folders()}
    assert {"ae", "recon", "local"} <= names


@pytest.mark.parametrize("folder", plugin_folders(), ids=lambda f: f"{f.parent.name}/{f.name}")
def test_builtin_plugin_folder_layout(folder):
    assert (folder / "README.md").is_file(), f"{folder.relative_to(ROOT)} has no README.md"
    assert (folder / "tests").is_dir(), f"{folder.relative_to(ROOT)} has no tests/"
    assert list((folder / "tests").glob("test_*.py")), f"{folder.relative_to(ROOT)}/tests has no test files"
    package = folder / "src" / f"latentdeck_{folder.name}"
    assert (package / "__init__.py").is_file(), f"missing {package.relative_to(ROOT)}/__init__.py"


@pytest.mark.parametrize("folder", plugin_folders(), ids=lambda f: f"{f.parent.name}/{f.name}")
def test_builtin_plugin_arrives_through_an_entry_point(folder):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    entry_points = project["project"]["entry-points"]["latentdeck.plugins"]
    package = f"latentdeck_{folder.name}"
    assert entry_points.get(f"latentdeck.{folder.name}") == f"{package}.plugin"
    assert (folder / "src" / package / "plugin.py").is_file()
    src = folder.relative_to(ROOT) / "src"
    assert str(src) in project["tool"]["hatch"]["build"]["dev-mode-dirs"]
