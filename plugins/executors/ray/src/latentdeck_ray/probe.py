"""Is there a Ray GCS at the configured address? A look that costs at most a few seconds, before ``ray.init``.

``ray.init`` against a port where something else answers (Ray's dashboard on 8265, a web server, a
silent service) retries for minutes. Ray's GCS speaks gRPC, that is HTTP/2: it sends a SETTINGS frame
as soon as a client connects (and answers the HTTP/2 connection preface with one). So this opens a
TCP connection, sends the preface, and reads what comes back within :data:`READ_TIMEOUT_S`:

- a SETTINGS frame: an HTTP/2 server, which may be a GCS (``ray.init`` decides the rest);
- ``HTTP/1.x ...``: a web server, most likely Ray's dashboard (the GCS port is usually 6379);
- nothing, a closed connection, or other bytes: not a GCS, and the message says which.

With ``RAY_USE_TLS`` set the GCS expects TLS first, so only the TCP connection is checked.
"""

from __future__ import annotations

import os
import socket
import time

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 2.0
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # length 0, type SETTINGS, no flags, stream 0
SETTINGS = 0x04
DASHBOARD_PORT = 8265
GCS_PORT = 6379


class RayUnreachable(ConnectionError):
    """The configured Ray address does not answer as Ray does (the message says what is there, and what to check)."""


def split_address(where: str) -> tuple[str, int] | None:
    """(host, port) of ``host:port``, ``[v6]:port`` or ``ray://host:port``; None for forms Ray resolves
    itself (``auto``, ``local``, a bare host)."""
    address = where.strip().removeprefix("ray://")
    host, sep, port = address.rpartition(":")
    if "://" in address or not sep or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


def variable() -> str:
    """The environment variable the address came from, for messages."""
    return "LATENTDECK_RAY_ADDRESS" if os.environ.get("LATENTDECK_RAY_ADDRESS") else "RAY_ADDRESS"


def probe(where: str, connect_timeout: float | None = None, read_timeout: float | None = None) -> None:
    """Return when ``where`` may be a Ray GCS; else raise :class:`RayUnreachable` naming what answered
    (within ``connect_timeout`` + ``read_timeout``, by default :data:`CONNECT_TIMEOUT_S` + :data:`READ_TIMEOUT_S`)."""
    connect_timeout = CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout
    read_timeout = READ_TIMEOUT_S if read_timeout is None else read_timeout
    parts = split_address(where)
    if parts is None:
        return
    named = f"{variable()}={where}"
    try:
        sock = socket.create_connection(parts, timeout=connect_timeout)
    except OSError as exc:
        raise RayUnreachable(f"nothing answers at {where} ({exc}); start the cluster's head there (`ray start "
                             "--head`), or fix LATENTDECK_RAY_ADDRESS / RAY_ADDRESS, or unset both for a local Ray") from None
    with sock:
        if os.environ.get("RAY_USE_TLS", "").strip().lower() in ("1", "true", "yes"):
            return  # a TLS GCS waits for a TLS hello: the connection is all we can check cheaply
        heard, closed = _exchange(sock, read_timeout)
    verdict = judge(heard, closed, read_timeout)
    if verdict is not None:
        hint = (f"; is this Ray's dashboard port {DASHBOARD_PORT}? the GCS port is usually {GCS_PORT}"
                if heard.startswith(b"HTTP/") or _web_page(heard) or parts[1] == DASHBOARD_PORT else "")
        raise RayUnreachable(f"{named} answers but is not a Ray GCS ({verdict}{hint}). Point it at the head node's "
                             f"GCS address (`ray start --head` prints it; usually host:{GCS_PORT}), or unset it for "
                             "a local Ray")


def _exchange(sock: socket.socket, read_timeout: float) -> tuple[bytes, bool]:
    """Send the HTTP/2 preface; the first bytes the server sends (at most 64) before the timeout, and
    whether it closed the connection."""
    deadline = time.monotonic() + read_timeout
    heard = b""
    try:
        sock.sendall(PREFACE + EMPTY_SETTINGS)
    except OSError:
        pass  # a server that already hung up: read what it said, if anything
    while len(heard) < 9 and not heard.startswith(b"HTTP/"):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(64 - len(heard))
        except (TimeoutError, socket.timeout):
            break
        except OSError:  # reset by the peer
            return heard, True
        if not chunk:
            return heard, True
        heard += chunk
    return heard, False


def judge(heard: bytes, closed: bool = False, read_timeout: float = READ_TIMEOUT_S) -> str | None:
    """None when ``heard`` opens with an HTTP/2 SETTINGS frame (a gRPC server); else what it was, in words."""
    if heard.startswith(b"HTTP/"):
        status = heard.split(b"\r\n", 1)[0].decode("ascii", "replace")[:60]
        return f"it sent an HTTP response, {status!r}"
    if _web_page(heard):
        return "it sent a web page, as an HTTP server does"
    if len(heard) >= 9 and heard[3] == SETTINGS and int.from_bytes(heard[5:9], "big") & 0x7FFFFFFF == 0:
        return None
    if not heard and closed:
        return "it accepted the connection and closed it without a word, where a Ray GCS answers in HTTP/2"
    if not heard:
        return (f"it accepted the connection but sent nothing within {read_timeout:g} s, where a Ray GCS answers "
                "at once")
    return f"it sent {len(heard)} bytes that are not HTTP/2, starting {heard[:16]!r}"


def _web_page(heard: bytes) -> bool:
    start = heard.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html"))
