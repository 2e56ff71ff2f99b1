"""The frontend's typed API client is generated from the server's OpenAPI schema: a backend change
the frontend has not followed fails here. Fix: `bash frontend/scripts/gen-api.sh`, then `npx tsc
--noEmit` in frontend/ shows what the pages must change."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from latentdeck.api.openapi import openapi_document

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"
FIX = "the frontend's API types are stale: run `bash frontend/scripts/gen-api.sh` and commit the result"


def test_committed_openapi_snapshot_matches_the_server():
    committed = json.loads((FRONTEND / "openapi.json").read_text())
    assert committed == openapi_document(), FIX


@pytest.mark.skipif(not (FRONTEND / "node_modules" / ".bin" / "openapi-typescript").exists() or not shutil.which("node"),
                    reason="frontend/node_modules is not installed (scripts/setup.sh installs it)")
def test_generated_typescript_matches_the_snapshot(tmp_path):
    out = tmp_path / "api-schema.ts"
    subprocess.run([str(FRONTEND / "node_modules" / ".bin" / "openapi-typescript"), "openapi.json", "-o", str(out)],
                   cwd=FRONTEND, check=True, capture_output=True, timeout=120)
    assert out.read_text() == (FRONTEND / "src" / "lib" / "api-schema.ts").read_text(), FIX
