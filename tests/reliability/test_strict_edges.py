"""Issue 22 (9), strict edges: the ``Host`` header is ``host[:port]`` and nothing else; the token cookie is
found by name even next to malformed cookies; numeric query parameters (``?epoch=``, ``last_event_id``)
accept one spelling per number (digits only, see ``latentdeck/api/params.py``).

All in-process (no server, no run): each check fails on the old code, which read ``127.0.0.1:P@evil.example``
as host 127.0.0.1, lost the token when ``SimpleCookie`` met a cookie value with a space, and let ``int()``
and pydantic read ``+0.0`` and ``1_0`` as numbers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from latentdeck.api import create_app
from latentdeck.api.access import policy_for

NO_RUN = "20990101-000000-000000"


@pytest.fixture
def loopback(plugin_manager, runs_dir):
    return TestClient(create_app(plugin_manager, runs_dir, access=policy_for("127.0.0.1")), base_url="http://127.0.0.1")


@pytest.mark.parametrize("host", [
    "127.0.0.1:8000@evil.example", "127.0.0.1:8000, evil.example", "127.0.0.1:8000,evil.example",
    "localhost@evil.example", "127.0.0.1:8000/evil", "127.0.0.1:8000 evil.example", "127.0.0.1:8000:9",
    "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:+80", "[::1]evil", "::1", "127.0.0.1\tevil",
])
def test_a_host_header_that_is_not_host_port_is_refused(loopback, runs_dir, host):
    response = loopback.get("/api/runs", headers={"Host": host})
    assert response.status_code == 400, (host, response.text)
    assert "DNS rebinding" in response.json()["detail"]


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "LOCALHOST.:80", "[::1]:8000", "[::1]"])
def test_host_port_still_passes(loopback, host):
    assert loopback.get("/api/runs", headers={"Host": host}).status_code == 200, host


def test_the_token_cookie_is_read_next_to_malformed_cookies(plugin_manager, runs_dir):
    policy = policy_for("0.0.0.0")
    client = TestClient(create_app(plugin_manager, runs_dir, access=policy))
    name = "latentdeck-token-80"  # the cookie is per port; TestClient serves http://testserver (80)
    for header in (f"other=a b; {name}={policy.token}",          # a value with a space, set by another app
                   f'{name}={policy.token}; x="unterminated; y=1',
                   f"junk; {name}=\"{policy.token}\"; =; a=b=c",
                   f"{name}=stale; {name}={policy.token}"):       # two paths, two values: either may match
        assert client.get("/api/runs", headers={"Cookie": header}).status_code == 200, header
    for header in (f"other=a b; {name}=wrong", f"x{name}={policy.token}", f"{name}x={policy.token}", ""):
        assert client.get("/api/runs", headers={"Cookie": header}).status_code == 401, header


@pytest.mark.parametrize("epoch", ["+0.0", "+1", "-0", "01", "1_0", "1.0", "1e0", " 1", "1 ", "\u0663", "0x1", ""])
def test_epoch_query_must_be_canonical(loopback, epoch):
    response = loopback.get(f"/api/runs/{NO_RUN}/files", params={"epoch": epoch})
    assert response.status_code == 422, (epoch, response.text)
    assert "query parameter epoch" in response.json()["detail"]


@pytest.mark.parametrize("epoch", ["0", "7", "120"])
def test_canonical_epochs_pass_validation(loopback, epoch):
    response = loopback.get(f"/api/runs/{NO_RUN}/files", params={"epoch": epoch})
    assert response.status_code == 404, response.text  # reached the run lookup


@pytest.mark.parametrize("cursor", ["+3", "03", "1_0", "\u0663", "3.0", " 3", "3 "])
def test_event_cursor_must_be_canonical(loopback, cursor):
    for kwargs in ({"params": {"last_event_id": cursor}}, {"headers": {"Last-Event-ID": cursor.encode()}}):
        response = loopback.get(f"/api/runs/{NO_RUN}/events", **kwargs)
        assert response.status_code == 400, (cursor, kwargs, response.text)
        assert "integer seq" in response.json()["detail"]
