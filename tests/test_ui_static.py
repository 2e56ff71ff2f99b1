"""The web UI's static export served by the API server: deep links to any run id, RSC payloads,
404s, and / falling back to the API docs when no export exists. Uses a tiny fake export, so it needs
neither node nor a build."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from latentdeck.api import create_app


def _page(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def export(tmp_path) -> Path:
    out = tmp_path / "out"
    _page(out / "index.html", "launch page")
    _page(out / "404.html", "no such page")
    _page(out / "runs" / "index.html", "runs list")
    _page(out / "runs" / "index.txt", "runs list payload")
    _page(out / "runs" / "_" / "index.html", "run page")
    _page(out / "runs" / "_" / "index.txt", "run payload")
    _page(out / "runs" / "_" / "__next.runs.$d$id.__PAGE__.txt", "run segment")
    _page(out / "runs" / "_" / "latent" / "index.html", "latent page")
    _page(out / "sweeps" / "index.html", "sweeps list")
    _page(out / "sweeps" / "_" / "index.html", "sweep page")
    _page(out / "_next" / "static" / "chunks" / "app.js", "js")
    return out


@pytest.fixture
def client(export, tmp_path, plugin_manager):
    with TestClient(create_app(plugin_manager, tmp_path / "runs", ui_dir=export)) as c:
        yield c


def test_front_page_is_the_ui_when_exported(client):
    response = client.get("/")
    assert response.status_code == 200 and response.text == "launch page"


@pytest.mark.parametrize("run_id", ["20261129-000234-6e5bb6", "any-id", "x"])
def test_deep_links_to_any_run_serve_the_placeholder_page(client, run_id):
    assert client.get(f"/runs/{run_id}/").text == "run page"
    assert client.get(f"/runs/{run_id}/latent/").text == "latent page"
    assert client.get(f"/runs/{run_id}/index.txt?_rsc=abc").text == "run payload"
    assert client.get(f"/runs/{run_id}/__next.runs.$d$id.__PAGE__.txt").text == "run segment"
    redirect = client.get(f"/runs/{run_id}", follow_redirects=False)
    assert redirect.status_code in (307, 308) and redirect.headers["location"].endswith(f"/runs/{run_id}/")


def test_deep_links_to_any_sweep_serve_its_placeholder_page(client):
    assert client.get("/sweeps/").text == "sweeps list"
    assert client.get("/sweeps/sw-20261202-000000-abcdef/").text == "sweep page"


def test_real_files_beside_the_placeholder_win(client):
    assert client.get("/runs/").text == "runs list"
    assert client.get("/runs/index.txt").text == "runs list payload"


def test_unknown_pages_get_the_exports_404_and_unknown_api_paths_json(client):
    page = client.get("/no/such/page/")
    assert page.status_code == 404 and page.text == "no such page"
    api = client.get("/api/no-such-endpoint")
    assert api.status_code == 404 and "no API endpoint" in api.json()["detail"]


def test_api_routes_still_win_over_the_ui(client):
    assert client.get("/api/runs").json() == []
    assert client.get("/api/health").json()["status"] == "ok"


def test_hashed_assets_are_cached_and_pages_are_not(client):
    assert "immutable" in client.get("/_next/static/chunks/app.js").headers["cache-control"]
    assert client.get("/runs/abc/").headers["cache-control"] == "no-cache"


def test_without_an_export_the_front_page_leads_to_the_api_docs(tmp_path, plugin_manager):
    with TestClient(create_app(plugin_manager, tmp_path / "runs", ui_dir=tmp_path / "missing")) as c:
        response = c.get("/", follow_redirects=False)
        assert response.status_code in (302, 307) and response.headers["location"] == "/docs"
