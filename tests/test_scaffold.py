"""`latentdeck new-plugin NAME --kind KIND` (issue 23 item 4): the package it writes passes its own tests as
written (pytest in a subprocess, the package not installed), and bad input is refused with exit 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest

from latentdeck.cli import main
from latentdeck.cli.scaffold import KINDS


# per kind, the generated test that uses the plugin through the lab (a run, the API)
WORKS = {"artifact": "test_every_epoch_writes_its_file_and_the_api_serves_it",
         "projection": "test_a_tiny_run_writes_its_projection_files",
         "computation": "test_computed_once_then_served_from_disk",
         "dataset": "test_a_tiny_run_trains_on_it",
         "executor": "test_a_run_started_through_the_api_completes_in_its_worker"}


def test_the_scaffold_of_each_kind_passes_its_own_tests(tmp_path, capsys):
    """Every kind scaffolded, then one pytest (a subprocess, the packages not installed) over all their tests."""
    packages = []
    for kind in KINDS:
        name = f"my_{kind}"
        assert main(["new-plugin", name, "--kind", kind, "--dir", str(tmp_path)]) == 0
        package = tmp_path / f"latentdeck-{name}"
        assert f"wrote {os.path.relpath(package)}" in capsys.readouterr().out
        assert sorted(str(p.relative_to(package)) for p in package.rglob("*") if p.is_file()) == [
            "README.md", "pyproject.toml", f"src/latentdeck_{name}/__init__.py", f"src/latentdeck_{name}/plugin.py",
            "tests/test_plugin.py"]
        project = tomllib.loads((package / "pyproject.toml").read_text())
        assert project["project"]["entry-points"]["latentdeck.plugins"] == {name: f"latentdeck_{name}.plugin"}
        test_text = (package / "tests" / "test_plugin.py").read_text()
        assert "from latentdeck.testing import" in test_text
        assert not re.search(r"latentdeck\.(launch|runs|training|plugins|api)\b", test_text + (
            package / "src" / f"latentdeck_{name}" / "plugin.py").read_text())  # only the public modules
        packages.append(package)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*(str(p / "src") for p in packages),
                                                        os.environ.get("PYTHONPATH", "")])}
    env.pop("LATENTDECK_EXTRA_PLUGINS", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                           "-rA", *(str(p / "tests") for p in packages)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    passed = [line for line in proc.stdout.splitlines() if line.startswith("PASSED ")]
    for kind, test in WORKS.items():  # each kind's test through the lab ran and passed (none skipped)
        assert any(line.endswith(f"::{test}") for line in passed), f"{kind}: {test} did not pass\n{proc.stdout[-3000:]}"
    assert sum(line.endswith("::test_importing_the_plugin_pulls_in_no_heavy_library") for line in passed) == len(KINDS)
    assert "skipped" not in proc.stdout and "failed" not in proc.stdout


@pytest.mark.parametrize("argv, message", [
    (["new-plugin", "my-stats", "--kind", "artifact"], "'my-stats' is not a Python identifier"),
    (["new-plugin", "class", "--kind", "artifact"], "'class' is not a Python identifier"),
    (["new-plugin", "MyStats", "--kind", "artifact"], "use lower case"),
    (["new-plugin", "my_stats", "--kind", "widget"], "unknown kind 'widget' for --kind: use one of artifact, "),
])
def test_bad_input_is_refused_with_exit_2_and_the_fix(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:  # argparse exits for an unknown kind; main() returns otherwise
        raise SystemExit(main(argv))
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_an_existing_folder_is_refused_and_left_alone(tmp_path, capsys):
    (tmp_path / "latentdeck-my_stats").mkdir()
    (tmp_path / "latentdeck-my_stats" / "mine.txt").write_text("keep")
    assert main(["new-plugin", "my_stats", "--kind", "artifact", "--dir", str(tmp_path)]) == 2
    assert "already exists: choose another NAME, another --dir, or remove that folder" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "latentdeck-my_stats").iterdir()] == ["mine.txt"]
