"""The web UI's unit tests (pure TypeScript: the run charts' scales, phases and inactive options, the
line chart rendered to markup, the latent explorer's scaling, fuzzy gating, interpolation, lasso,
filters, catalogue and palette checks), run with node's test runner through tsx
(`cd frontend && npm run test:unit`). A failing TypeScript test fails this test with its report."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"


@pytest.mark.skipif(not (FRONTEND / "node_modules" / "tsx").exists() or not shutil.which("npm"),
                    reason="frontend/node_modules is not installed (scripts/setup.sh installs it)")
def test_typescript_unit_tests_pass():
    done = subprocess.run(["npm", "run", "--silent", "test:unit"], cwd=FRONTEND, capture_output=True, text=True,
                          timeout=300)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    assert "# fail 0" in report and "# pass 0" not in report, report[-3000:]
