"""The web UI: the Next.js static export (``frontend/out``) served on the API's own port.

Next's static export writes each dynamic route once, for the placeholder id ``_``
(``runs/_/index.html``, ``runs/_/latent/index.html`` and their RSC ``.txt`` payloads). Any
``/runs/<run id>/...`` request is answered with the placeholder's file; the page reads the real id
from the address bar. So a deep link like ``/runs/20261129-000234-6e5bb6/latent/`` survives a reload.

When there is no export (a wheel install, or ``npm run build`` never ran) ``/`` redirects to the
API docs, as before the UI existed.
"""

from __future__ import annotations

import os
from pathlib import Path
import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Scope


PLACEHOLDER = "_"  # the id the export's dynamic routes are built for (generateStaticParams)
DYNAMIC_PREFIXES = ("runs", "sweeps")  # /runs/<id>/... and /sweeps/<id>/...


def default_ui_dir() -> Path:
    """``$LATENTDECK_UI_DIR``; else the export shipped inside the package (``latentdeck/_ui``, in a wheel
    built by ``pip install .``); else the repository's ``frontend/out`` (an editable install, after
    ``./lab`` builds it)."""
    env = os.environ.get("LATENTDECK_UI_DIR")
    if env:
        return Path(env)
    packaged = Path(__file__).resolve().parents[1] / "_ui"
    if ui_available(packaged):
        return packaged
    return Path(__file__).resolve().parents[4] / "frontend" / "out"


def ui_available(ui_dir: Path) -> bool:
    return (ui_dir / "index.html").is_file()


class UIFiles(StaticFiles):
    """StaticFiles over the export, mapping ``runs/<id>/...`` onto ``runs/_/...``."""

    def __init__(self, directory: Path):
        super().__init__(directory=str(directory), html=True)
        self.root = Path(directory)

    def map_path(self, path: str) -> str:
        parts = path.split("/")
        if len(parts) >= 2 and parts[0] in DYNAMIC_PREFIXES and parts[1] not in ("", PLACEHOLDER):
            # a real file beside the placeholder (e.g. runs/index.txt, the /runs page's payload) wins
            if not (self.root / parts[0] / parts[1]).exists():
                parts[1] = PLACEHOLDER
        return "/".join(parts)

    async def get_response(self, path: str, scope: Scope):
        if path == "api" or path.startswith("api/"):
            return JSONResponse({"detail": f"no API endpoint /{path[:200]}: see /docs for the list"}, status_code=404)
        try:
            response = await super().get_response(self.map_path(path), scope)
        except OSError:  # a name too long for the file system, a broken link: not a page of the export
            return JSONResponse({"detail": "no such page"}, status_code=404)
        if path.startswith("_next/static/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers.setdefault("Cache-Control", "no-cache")
        return response


def mount_ui(app: FastAPI, ui_dir: str | Path | None = None) -> bool:
    """Serve the export at ``/`` when it exists (returns True); otherwise ``/`` redirects to ``/docs``.

    Call it after every other route: the mount answers whatever they do not.
    """
    directory = Path(ui_dir) if ui_dir is not None else default_ui_dir()
    if ui_available(directory):
        app.mount("/", UIFiles(directory), name="ui")
        return True

    logging.getLogger(__name__).warning(
        "no web UI export in %s, so / leads to the API docs: build it with scripts/setup.sh (Node.js 20+), "
        "or install from a wheel that ships it", directory)

    @app.get("/", include_in_schema=False)
    def _home() -> RedirectResponse:
        """No web UI export here (run ./lab or `npm run build` in frontend/): show the API docs."""
        return RedirectResponse("/docs")

    return False
