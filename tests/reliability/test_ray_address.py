"""A misconfigured Ray address never hangs the API (issue 22, items 7 and 8).

Before: with LATENTDECK_RAY_ADDRESS at a port where another service answers (Ray's dashboard port by
mistake), each Ray POST waited 120 s in ``ray.init``, they queued on one lock, and 45 of them used up
the server's threads: /api/health, /api/runs and /api/presets timed out. Now the address is probed
first (a TCP connect and an HTTP/2 greeting, a few seconds at most) and the verdict kept for a while;
no request waits on a check another one started.

Fake services stand in for the wrong address: one answers like an HTTP/1 server, one accepts
connections and never says a word. No Ray is started.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

pytest.importorskip("ray", reason="the ray executor's checks need Ray: pip install 'latentdeck[ray]'")
from latentdeck_ray import session  # noqa: E402

POSTS = 45


class FakeService:
    """A TCP service on a free 127.0.0.1 port: ``http`` answers an HTTP/1 400 to anything, ``silent``
    accepts and holds every connection without answering."""

    def __init__(self, kind: str):
        self.kind = kind
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            if self.kind == "http":
                threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket) -> None:
        try:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nBad Request")
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


@pytest.fixture
def wrong_address(monkeypatch):
    """``wrong_address(kind) -> FakeService``, set as LATENTDECK_RAY_ADDRESS; no Ray state before or after."""
    services: list[FakeService] = []
    session.shutdown()

    def make(kind: str) -> FakeService:
        service = FakeService(kind)
        services.append(service)
        monkeypatch.setenv("LATENTDECK_RAY_ADDRESS", f"127.0.0.1:{service.port}")
        monkeypatch.delenv("RAY_ADDRESS", raising=False)
        return service

    yield make
    session.shutdown()
    for service in services:
        service.close()


WHAT_IS_THERE = {
    "http": r"it sent an HTTP response, 'HTTP/1.1 400 Bad Request'; is this Ray's dashboard port 8265\? "
            r"the GCS port is usually 6379",
    "silent": r"it accepted the connection but sent nothing within 2 s",
}


@pytest.mark.parametrize("kind", ["http", "silent"])
def test_a_wrong_ray_address_is_refused_within_5_s_naming_what_answers_there(kind, serve_api, tiny_config, wrong_address):
    service = wrong_address(kind)
    live = serve_api()
    began = time.monotonic()
    answer = live.client.post("/api/runs", json={**tiny_config, "executor": "ray"})
    took = time.monotonic() - began
    assert answer.status_code == 422, answer.text
    assert took < 5.0, f"{took:.1f} s"
    detail = answer.json()["detail"]
    assert f"LATENTDECK_RAY_ADDRESS=127.0.0.1:{service.port} answers but is not a Ray GCS" in detail, detail
    assert __import__("re").search(WHAT_IS_THERE[kind], detail), detail
    # the verdict is kept: the next POST hears it at once, and nothing was written
    began = time.monotonic()
    again = live.client.post("/api/runs", json={**tiny_config, "executor": "ray"})
    assert again.status_code == 422 and time.monotonic() - began < 1.0
    assert live.client.get("/api/runs").json() == []


def _post(url: str, body: dict, answers: list) -> None:
    began = time.monotonic()
    try:
        response = httpx.post(url + "/api/runs", json=body, timeout=60)
        answers.append((response.status_code, response.json().get("detail", ""), time.monotonic() - began))
    except httpx.HTTPError as exc:
        answers.append((None, f"{type(exc).__name__}: {exc}", time.monotonic() - began))


def test_the_api_answers_while_45_ray_posts_to_a_silent_address_are_pending(serve_api, tiny_config, wrong_address):
    service = wrong_address("silent")
    live = serve_api()
    answers: list = []
    posts = [threading.Thread(target=_post, args=(live.url, {**tiny_config, "executor": "ray"}, answers))
             for _ in range(POSTS)]
    for thread in posts:
        thread.start()
    time.sleep(0.3)  # the first POST is probing the silent port (2 s); the others have arrived
    slowest = 0.0
    with httpx.Client(base_url=live.url, timeout=10) as client:
        for _ in range(5):
            for path in ("/api/health", "/api/runs", "/api/presets"):
                began = time.monotonic()
                assert client.get(path).status_code == 200, path
                took = time.monotonic() - began
                slowest = max(slowest, took)
                assert took < 1.0, f"{path} took {took:.2f} s while {POSTS} Ray POSTs were pending"
            time.sleep(0.1)
    for thread in posts:
        thread.join(30)
    assert len(answers) == POSTS
    assert all(status == 422 for status, _, _ in answers), [a for a in answers if a[0] != 422][:3]
    assert max(took for _, _, took in answers) < 5.0, sorted(took for _, _, took in answers)[-3:]
    assert all(f"127.0.0.1:{service.port}" in detail for _, detail, _ in answers)
    named = [detail for _, detail, _ in answers if "sent nothing within 2 s" in detail]
    assert named, "the POST that probed the address names what it found"
    assert live.client.get("/api/runs").json() == []
    print(f"slowest health/runs/presets answer {slowest * 1000:.0f} ms; slowest POST "
          f"{max(took for _, _, took in answers):.2f} s")
