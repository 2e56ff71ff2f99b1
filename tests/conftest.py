"""Shared fixtures for the API tests: a real uvicorn server on 127.0.0.1 and an SSE reader.

Event streams are endless by design, and in-process ASGI clients (TestClient, ASGITransport) hang on
them, so these tests talk to a real server running in a background thread.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
import uvicorn

from latentdeck.api import create_app
from latentdeck.api.server import Server
from latentdeck.kit.procs import pid_alive
from latentdeck.store.runs import RunStore, read_worker_info
from latentdeck.testing import wait_for


@dataclass
class Live:
    """A running server: its base URL, the app (for its state) and an httpx client."""

    url: str
    app: Any
    client: httpx.Client
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def store(self) -> RunStore:
        return self.app.state.store

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "uvicorn did not stop"


@dataclass
class SSEMessage:
    id: str | None = None
    data: str | None = None
    retry: str | None = None
    comments: list[str] = field(default_factory=list)

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.data)


def parse_sse(lines) -> Iterator[SSEMessage]:
    """Blocks of an SSE stream, one message per blank-line-terminated block."""
    message = SSEMessage()
    for line in lines:
        if line == "":
            if message.id is not None or message.data is not None or message.retry is not None or message.comments:
                yield message
            message = SSEMessage()
        elif line.startswith(":"):
            message.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                message.data = value if message.data is None else message.data + "\n" + value
            elif name in ("id", "retry"):
                setattr(message, name, value)
            else:
                raise AssertionError(f"unexpected SSE field {name!r} in line {line!r}")


@dataclass
class StreamResult:
    status: int
    headers: httpx.Headers
    messages: list[SSEMessage]
    closed_by_server: bool

    @property
    def events(self) -> list[dict[str, Any]]:
        return [m.event for m in self.messages if m.data is not None]

    @property
    def pings(self) -> int:
        return sum(c == "ping" for m in self.messages for c in m.comments)


def read_stream(client: httpx.Client, url: str, headers: dict[str, str] | None = None, params=None,
                until: Callable[[list[SSEMessage]], bool] | None = None, max_s: float = 30.0) -> StreamResult:
    """Read an SSE response until the server closes it, ``until(messages)`` holds, or ``max_s`` passes."""
    messages: list[SSEMessage] = []
    deadline = time.monotonic() + max_s
    with client.stream("GET", url, headers=headers or {}, params=params,
                       timeout=httpx.Timeout(10.0, read=max_s)) as response:
        if response.status_code != 200:
            response.read()
            return StreamResult(response.status_code, response.headers, [], True)
        for message in parse_sse(response.iter_lines()):
            messages.append(message)
            if until is not None and until(messages):
                return StreamResult(200, response.headers, messages, False)
            if time.monotonic() > deadline:
                raise AssertionError(f"stream {url} still open after {max_s}s")
        return StreamResult(200, response.headers, messages, True)


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # proto set: asyncio then sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def start_server(app) -> Live:
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1, lifespan="on")
    server = Server(config, app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), timeout=20, what="uvicorn to start")
    assert server.started, "uvicorn failed to start"
    url = f"http://127.0.0.1:{port}"
    return Live(url, app, httpx.Client(base_url=url, timeout=30.0), server, thread)


def _kill_leftover_workers(runs_dir: Path) -> None:
    """A test that fails halfway must not leave a training worker eating the 2 cores."""
    for run_dir in (p for p in Path(runs_dir).iterdir() if p.is_dir()) if Path(runs_dir).is_dir() else ():
        info = read_worker_info(run_dir) or {}
        if isinstance(info.get("pid"), int) and pid_alive(info["pid"], info.get("proc_start")):
            try:
                os.kill(int(info["pid"]), signal.SIGKILL)
            except OSError:
                pass


@pytest.fixture
def live_server():
    """``live_server(app) -> Live``: uvicorn serving ``app`` on a free 127.0.0.1 port until the test ends."""
    started: list[Live] = []

    def start(app) -> Live:
        live = start_server(app)
        started.append(live)
        return live

    yield start
    for live in started:
        if live.thread.is_alive():
            live.stop()


@pytest.fixture
def serve_api(plugin_manager, runs_dir, live_server):
    """``serve_api(pm=None, **create_app_kwargs) -> Live``: a real server over the test's runs_dir."""

    def start(pm=None, **kwargs: Any) -> Live:
        kwargs.setdefault("monitor_s", 0.2)
        return live_server(create_app(pm or plugin_manager, runs_dir, **kwargs))

    yield start
    _kill_leftover_workers(runs_dir)


@pytest.fixture
def sse():
    """The SSE reading helpers as one object: ``sse.read(client, url, ...)``, ``sse.parse(lines)``."""

    class Helpers:
        read = staticmethod(read_stream)
        parse = staticmethod(parse_sse)
        wait_for = staticmethod(wait_for)

    return Helpers


@pytest.fixture
def waiter():
    return wait_for


@pytest.fixture
def cli_env(monkeypatch):
    """For tests of the ``latentdeck`` command in process: the process-wide plugin manager sees the tiny
    dataset, and is rebuilt for the test (and after it)."""
    from latentdeck.registry import get_plugin_manager

    monkeypatch.setenv("LATENTDECK_EXTRA_PLUGINS", "latentdeck.testing")
    monkeypatch.delenv("LATENTDECK_LOAD_PLUGINS", raising=False)
    get_plugin_manager.cache_clear()
    yield
    get_plugin_manager.cache_clear()
