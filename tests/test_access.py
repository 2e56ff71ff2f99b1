"""Who may talk to the lab: the Host check (DNS rebinding), the token off loopback (as Jupyter does),
and the default ./lab flow (127.0.0.1, no token) unchanged."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from latentdeck.api import create_app
from latentdeck.api.access import policy_for


def test_the_host_header_must_name_this_lab(serve_api, tiny_config, tmp_path):
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("launch page")
    live = serve_api(ui_dir=ui)
    port = live.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost", "LOCALHOST."):
        assert live.client.get("/api/runs", headers={"Host": host}).status_code == 200, host
    for host in (f"evil.example:{port}", "attacker.test", f"127.0.0.1.nip.io:{port}", ""):
        for method, path in (("GET", "/api/runs"), ("GET", "/"), ("POST", "/api/runs"), ("GET", "/api/health")):
            response = live.client.request(method, path, headers={"Host": host}, json=tiny_config)
            assert response.status_code == 400, (host, path, response.text)
            assert "DNS rebinding" in response.json()["detail"]
    assert not any((live.store.root).iterdir()), "a refused request wrote nothing"


def test_off_loopback_every_request_needs_the_token(plugin_manager, runs_dir, live_server, tiny_config, sse):
    policy = policy_for("0.0.0.0")
    assert policy.token and len(policy.token) >= 24 and policy.allowed_hosts is None
    live = live_server(create_app(plugin_manager, runs_dir, access=policy))
    token = policy.token

    assert live.client.get("/api/health").status_code == 200  # liveness stays open
    for method, path in (("GET", "/api/runs"), ("POST", "/api/runs"), ("DELETE", "/api/runs/x"),
                         ("GET", "/openapi.json"), ("GET", "/api/runs/x/events")):
        response = live.client.request(method, path, json=tiny_config)
        assert response.status_code == 401, (method, path, response.text)
        assert "token" in response.json()["detail"]
    wrong = live.client.get("/api/runs", headers={"Authorization": "Bearer " + "x" * len(token)})
    assert wrong.status_code == 401
    page = live.client.get("/runs/", headers={"Accept": "text/html"})
    assert page.status_code == 401 and "Token needed" in page.text
    assert not any(runs_dir.iterdir())

    assert live.client.get("/api/runs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert live.client.get("/api/runs", headers={"Authorization": f"token {token}"}).status_code == 200
    # the printed link: ?token= sets a cookie, so the web UI's own requests (and EventSource) carry it
    with httpx.Client(base_url=live.url) as browser:
        first = browser.get("/docs", params={"token": token})
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert browser.get("/api/runs").status_code == 200
        created = browser.post("/api/runs", json={**tiny_config, "epochs": 1})
        assert created.status_code == 201, created.text
        run_id = created.json()["summary"]["run_id"]
        stream = sse.read(browser, f"/api/runs/{run_id}/events", max_s=90)
        assert stream.status == 200 and stream.events[-1]["type"] == "run.completed"


def test_policies_for_each_binding():
    loopback = policy_for("127.0.0.1")
    assert loopback.token is None and "localhost" in loopback.allowed_hosts
    assert policy_for("::1").token is None
    assert policy_for("localhost").token is None
    given = policy_for("192.168.1.5", token="s3cret")
    assert given.token == "s3cret" and given.allowed_hosts is None
    open_lab = policy_for("0.0.0.0", no_token=True)
    assert open_lab.token is None
    named = policy_for("0.0.0.0", allow_hosts=("lab.example:8000",))
    assert named.token and named.allowed_hosts == {"localhost", "127.0.0.1", "::1", "lab.example"}
    assert policy_for("127.0.0.1", allow_hosts=("box",)).allowed_hosts >= {"box", "localhost"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(args: list[str], runs_dir) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {**os.environ, "LATENTDECK_WARMUP": "off"}
    env.pop("LATENTDECK_TOKEN", None)
    proc = subprocess.Popen([sys.executable, "-m", "latentdeck.cli", "serve", "--port", str(port),
                             "--runs-dir", str(runs_dir), *args], env=env, stderr=subprocess.PIPE, text=True)
    return proc, port


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


@pytest.mark.parametrize("mode", ["default", "any-address"])
def test_latentdeck_serve_prints_how_to_connect(runs_dir, mode):
    args = [] if mode == "default" else ["--host", "0.0.0.0"]
    proc, port = _serve(args, runs_dir)
    url = f"http://127.0.0.1:{port}"
    printed = ""
    try:
        while "runs in" not in printed:  # the start lines come before uvicorn's own
            line = proc.stderr.readline()
            assert line, f"serve exited: {printed}"
            printed += line
        _wait_up(url)
        if mode == "default":  # ./lab: 127.0.0.1, no token, localhost works
            assert f"latentdeck on http://127.0.0.1:{port}/" in printed and "token" not in printed
            assert httpx.get(url + "/api/runs").status_code == 200
            assert httpx.get(f"http://localhost:{port}/api/runs").status_code == 200
            assert httpx.get(url + "/api/runs", headers={"Host": "evil.example"}).status_code == 400
        else:
            token = re.search(r"\?token=([A-Za-z0-9_-]+)", printed).group(1)
            assert "reachable from other machines" in printed and f"Authorization: Bearer {token}" in printed
            assert httpx.get(url + "/api/runs").status_code == 401
            assert httpx.get(url + "/api/runs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_serve_binds_loopback_unless_told_otherwise():
    from latentdeck.cli import make_parser

    args = make_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and not args.no_token and args.token is None
