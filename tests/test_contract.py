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


@pytest.mark.parametrize("module", ["hookspecs.py", "types.py", "plugins.py", "__init__.py"])
def test_contract_modules_import_no_builtin_plugin(module):
    source = (HOST / module).read_text()
    assert "latentdeck_" not in source, f"{module} refers to a built-in plugin package"


def test_no_platform_package():
    assert not (ROOT / "platform" / "__init__.py").exists(), "platform/__init__.py shadows the stdlib 'platform'"


@pytest.mark.parametrize("module", ["training.py", "artifacts.py"])
def test_engine_knows_no_component_by_name(module):
    source = (HOST / module).read_text()
    for name in ('"ae"', "'ae'", "gmvae", "mnist", "recon_grid", "recon_mse", "class_ce"):
        assert name not in source.lower(), f"{module} names the built-in component {name}"


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
