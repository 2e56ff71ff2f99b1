"""Install like a user: the wheel ships the built web UI (``latentdeck/_ui``) and a server from that
install serves it at ``/`` (``pip install .`` without ``-e``)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not (ROOT / "frontend" / "out" / "index.html").is_file(),
                                reason="the web UI is not built (scripts/setup.sh builds frontend/out)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (found,) = out.glob("latentdeck-*.whl")
    return found


def test_the_wheel_carries_the_web_ui(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    ui = [n for n in names if n.startswith("latentdeck/_ui/")]
    assert "latentdeck/_ui/index.html" in ui and any(n.startswith("latentdeck/_ui/_next/") for n in ui)
    assert "latentdeck/_ui/runs/_/index.html" in ui  # the dynamic routes' shell
    assert "latentdeck_sampling/samples.py" in names and "latentdeck/kit/__init__.py" in names


def test_a_server_from_the_installed_wheel_serves_the_ui(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    code = (
        "import latentdeck, sys\n"
        f"assert latentdeck.__file__.startswith({str(target)!r}), latentdeck.__file__\n"
        "from fastapi.testclient import TestClient\n"
        "from latentdeck.api.app import create_app\n"
        "from latentdeck.api.static import default_ui_dir\n"
        "from latentdeck.registry import make_plugin_manager\n"
        "print(default_ui_dir())\n"
        f"client = TestClient(create_app(make_plugin_manager(entrypoints=False), {str(tmp_path / 'runs')!r}))\n"
        "page = client.get('/')\n"
        "assert page.status_code == 200 and '<html' in page.text.lower(), (page.status_code, page.text[:200])\n"
        "assert client.get('/runs/abc/').status_code == 200\n"
        "print('served')\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("LATENTDECK_UI_DIR", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0] == str(target / "latentdeck" / "_ui") and "served" in done.stdout


def test_the_wheel_carries_the_plugins_view_bundles(wheel):
    """The plugins' views (git-ignored bundles built by scripts/setup.sh) travel in the wheel beside their package."""
    from latentdeck.registry import collect, make_plugin_manager

    names = set(zipfile.ZipFile(wheel).namelist())
    views = collect(make_plugin_manager(), "views")
    assert "mixture-health" in views
    for name, spec in views.items():
        package = Path(spec.module).parents[1].name
        assert f"{package}/views/{name}.js" in names, f"the wheel lacks the view {name!r} ({package}/views/{name}.js)"


def test_from_the_installed_wheel_without_pytest_check_and_new_plugin_work(wheel, tmp_path):
    """A wheel install has no pytest: `latentdeck plugins --check` runs its tiny run, and `latentdeck new-plugin`
    finds its templates inside the package (issue 23 item 4)."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    code = (
        "import sys\n"
        "sys.modules['pytest'] = None  # import pytest raises ImportError, as where it is not installed\n"
        "import latentdeck\n"
        f"assert latentdeck.__file__.startswith({str(target)!r}), latentdeck.__file__\n"
        "from latentdeck.cli import main\n"
        "assert main(['new-plugin', 'wheel_stats', '--kind', 'artifact']) == 0\n"
        "sys.exit(main(['plugins', '--check', 'latentdeck.knn']))\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("LATENTDECK_EXTRA_PLUGINS", None)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr and done.stdout.strip().endswith("ok")
    assert (tmp_path / "latentdeck-wheel_stats" / "src" / "latentdeck_wheel_stats" / "plugin.py").is_file()
