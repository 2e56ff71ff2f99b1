"""The API's OpenAPI schema as a document: what the frontend's typed client is generated from
(``frontend/scripts/gen-api.sh``) and what ``tests/test_ui_api_types.py`` compares with the committed copy."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from .app import create_app


def openapi_document() -> dict[str, Any]:
    """The API's OpenAPI schema, independent of any runs folder or UI export."""
    with tempfile.TemporaryDirectory() as tmp:
        return create_app(runs_dir=tmp, ui_dir=Path(tmp) / "no-ui").openapi()


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n"

