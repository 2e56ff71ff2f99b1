"""Who may talk to the lab: the ``Host`` check, the token, and the request-body limit (one ASGI middleware).

- **Host**: a request must name one of the hosts the lab serves (by default ``localhost``,
  ``127.0.0.1``, ``::1`` and the address it is bound to). A page on another site that points its own
  name at 127.0.0.1 (DNS rebinding) sends its own name, and is refused with 400, as Jupyter does.
  The header must be exactly ``host[:port]`` (``[v6]`` bracketed): anything else, such as
  ``127.0.0.1:P@evil.example`` or ``127.0.0.1:P, evil.example``, is refused the same way, since a
  proxy or library downstream may read such a value as naming another host.
- **Token**: when the server is bound to an address other than loopback it requires a token
  (printed at start, as Jupyter does), sent as ``Authorization: Bearer <token>``, as ``?token=<token>``
  (which also sets an HttpOnly, SameSite=Strict cookie, so the web UI and its event streams work
  after opening the printed link once) or as that cookie. ``/api/health`` stays open. 401 otherwise.
  The cookie is found by name in the raw ``Cookie`` header: ``SimpleCookie`` drops every cookie
  once one is malformed, and any other app on localhost can set such a cookie.
- **Body limit**: a request body larger than ``max_body_bytes`` is refused with 413, whether it
  declares its length or not (chunked bodies are counted as they arrive).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_MAX_BODY = 1 << 20  # a run config is a few KB; 10,000 viz indices ~60 KB
OPEN_PATHS = frozenset({"/api/health"})


# An app made by create_app() without a policy (tests, embedding) also answers to the name Starlette's
# TestClient sends; `latentdeck serve` always passes policy_for(), which does not.
IN_PROCESS_NAMES = LOOPBACK_NAMES | {"testserver"}


@dataclass(frozen=True)
class AccessPolicy:
    allowed_hosts: frozenset[str] | None = IN_PROCESS_NAMES  # None: any Host
    token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without port, brackets or a trailing dot, lower-cased."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


# host[:port] and nothing else: a bracketed IPv6 address or a name of letters, digits, '-', '_' and '.',
# then at most one ':' and 1-5 digits. No userinfo ('@'), lists (','), paths, spaces or empty ports.
_HOST_HEADER = re.compile(r"(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?")


def parse_host_header(header: str) -> str | None:
    """The name in a ``Host`` header (as :func:`host_name` gives it), or None when the header is not
    exactly ``host[:port]``."""
    match = _HOST_HEADER.fullmatch(header.lower())
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    return match["v6"] if match["v6"] is not None else match["name"].rstrip(".")


def cookie_values(header: str, name: str) -> list[str]:
    """Every value of cookie ``name`` in a raw ``Cookie`` header (quotes removed), found by name so that
    other, malformed cookies around it do not hide it (two apps may set the same name on other paths)."""
    values = []
    for pair in header.split(";"):
        key, sep, value = pair.partition("=")
        if sep and key.strip() == name:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            values.append(value)
    return values


def policy_for(bind_host: str, token: str | None = None, no_token: bool = False,
               allow_hosts: tuple[str, ...] = (), max_body_bytes: int = DEFAULT_MAX_BODY) -> AccessPolicy:
    """The policy for a server bound to ``bind_host``: loopback needs no token and checks ``Host``;
    any other address requires a token (generated unless given; ``no_token`` disables it) and accepts
    any ``Host`` unless ``allow_hosts`` names them."""
    extra = {host_name(h) for h in allow_hosts}
    if is_loopback(bind_host):
        return AccessPolicy(LOOPBACK_NAMES | {host_name(bind_host)} | extra, token, max_body_bytes)
    if not no_token and not token:
        token = secrets.token_urlsafe(24)
    hosts = None
    if extra:
        hosts = LOOPBACK_NAMES | extra | ({host_name(bind_host)} if bind_host not in ("0.0.0.0", "::") else set())
    return AccessPolicy(hosts, None if no_token else token, max_body_bytes)


DRAIN_CAP = 64 << 20  # a refused body up to this size is read and dropped, so the client sees the 413


async def _drain(receive: Receive, cap: int) -> None:
    """Read and drop the rest of a refused body (up to ``cap`` bytes): a client still sending it would
    otherwise get a broken pipe instead of the answer."""
    dropped = 0
    while dropped < cap:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyTooLarge(BaseException):
    """Raised from ``receive`` past the limit; a BaseException so that no body parser swallows it."""


def cookie_name(scope: Scope) -> str:
    server = scope.get("server") or ("", 0)
    return f"latentdeck-token-{server[1] or 0}"


class AccessGuard:
    def __init__(self, app: ASGIApp, policy: AccessPolicy):
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refuse_host(headers) or self._refuse_token(scope, headers)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})  # policy violation
            else:
                await refusal(scope, receive, send)
            return
        send = self._with_cookie(scope, send)
        limit = self.policy.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _drain(receive, DRAIN_CAP)
            await self._too_large()(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _drain(receive, DRAIN_CAP)
            await self._too_large()(scope, receive, send)

    def _too_large(self) -> JSONResponse:
        return JSONResponse({"detail": f"the request body is larger than the limit of {self.policy.max_body_bytes:,} "
                                       "bytes; send less (a run config is a few KB)"}, status_code=413,
                            headers={"Connection": "close"})

    def _refuse_host(self, headers: Headers) -> JSONResponse | None:
        allowed = self.policy.allowed_hosts
        if allowed is None:
            return None
        raw = headers.get("host", "")
        name = parse_host_header(raw)
        if name is not None and name in allowed:
            return None
        name = raw if name is None else name  # a malformed header is shown as it came
        return JSONResponse({"detail": (
            f"Host {short(name)} is not one this lab answers to ({', '.join(sorted(allowed))}): open it as "
            "http://127.0.0.1:<port>/ or http://localhost:<port>/, or start it with --allow-host NAME "
            "(this check stops other web sites from reaching the lab through DNS rebinding)")}, status_code=400)

    def _refuse_token(self, scope: Scope, headers: Headers):
        token = self.policy.token
        if token is None or scope.get("path") in OPEN_PATHS:
            return None
        offered = []
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "token"):
            offered.append(value.strip())
        offered += parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [])
        offered += cookie_values("; ".join(headers.getlist("cookie")), cookie_name(scope))
        if any(secrets.compare_digest(o.encode(), token.encode()) for o in offered):
            return None
        detail = ("this lab needs its token: open the link printed when it started (http://<host>:<port>/?token=...) "
                  "or send 'Authorization: Bearer <token>'")
        if "text/html" in headers.get("accept", "") and not str(scope.get("path", "")).startswith("/api/"):
            return HTMLResponse(f"<!doctype html><title>latentdeck: token needed</title><h1>Token needed</h1>"
                                f"<p>{detail.replace('<', '&lt;')}.</p>", status_code=401)
        return JSONResponse({"detail": detail}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    def _with_cookie(self, scope: Scope, send: Send) -> Send:
        """Remember a token given as ``?token=`` in a cookie, so the page's own requests carry it."""
        token = self.policy.token
        if token is None or b"token=" not in scope.get("query_string", b""):
            return send

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "set-cookie", f"{cookie_name(scope)}={token}; Path=/; HttpOnly; SameSite=Strict")
            await send(message)

        return send_with_cookie


def start_lines(bind_host: str, port: int, policy: AccessPolicy) -> list[str]:
    """What ``latentdeck serve`` prints about who can reach it (the token, when there is one)."""
    shown = bind_host if bind_host not in ("0.0.0.0", "::") else socket.gethostname()
    shown = f"[{shown}]" if ":" in shown else shown
    url = f"http://{shown}:{port}/"
    if is_loopback(bind_host):
        lines = [f"latentdeck on {url}" + (f"?token={policy.token}" if policy.token else "")]
        if policy.token:
            lines.append("requests need the token (--token): open the link above, or send 'Authorization: Bearer <token>'")
        return lines
    lines = [f"latentdeck on {url} (bound to {bind_host}: reachable from other machines)"]
    if policy.token:
        lines += [f"requests need this token; open  {url}?token={policy.token}",
                  f"API clients send 'Authorization: Bearer {policy.token}' (/api/health needs none)"]
    else:
        lines.append(f"WARNING: no token (--no-token): anyone who can reach port {port} can start, cancel and delete runs")
    if policy.allowed_hosts is not None:
        lines.append(f"answers only to Host: {', '.join(sorted(policy.allowed_hosts))}")
    return lines


def short(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:80] + "...")
