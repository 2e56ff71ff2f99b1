"""Every error the API answers is JSON ``{"detail": "<what is wrong and how to fix it>"}``.

- Request validation (422): ``detail`` is one readable line per problem and ``errors`` the structured
  list; a bad value is echoed at most :data:`latentdeck.kit.errors.ECHO_LIMIT` characters long and never
  as NaN/Infinity (which JSON cannot carry).
- :class:`SafetyNet` turns an exception that escaped an endpoint into a JSON answer before any byte
  of the response was sent, without dropping the connection: a full disk is 507, an over-long file
  name 400, anything else 500 naming the error (the traceback goes to the server log).
- :func:`document_errors` makes ``/openapi.json`` say what the server really sends for errors.
"""

from __future__ import annotations

import errno
import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..kit.errors import DISK_FULL_ERRNOS, json_echo, short_repr
from ..registry.namespace import MAX_NAME, READABLE_TOP
from ..store.resolved import moved_fields

log = logging.getLogger(__name__)

ERROR_SCHEMA = {"title": "Error", "type": "object", "required": ["detail"],
                "properties": {"detail": {"type": "string", "description": "what is wrong and how to fix it"}}}


def _where(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("query", "path", "header", "cookie"):
        return f"{parts[0]} parameter {'.'.join(parts[1:])}"
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "request body"


def validation_detail(errors: list[dict[str, Any]], moved: dict[str, tuple[str, str, str]] | None = None) -> str:
    """One readable line per problem: ``epochs: Input should be greater than or equal to 1 (got -1)``.
    ``moved``: run-config fields that moved into a plugin's options (:func:`latentdeck.store.resolved.moved_fields`)."""
    lines = []
    for err in errors[:20]:
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbid" or err.get("type") == "extra_forbidden":
            loc = list(err.get("loc", ()))
            home = (moved or {}).get(str(loc[-1])) if len(loc) == 2 and loc[0] == "body" else None
            msg = (f"this field moved to {home[0]}.{home[1]}.{home[2]} (an option of the {home[1]!r} plugin)" if home
                   else "unknown field (not accepted here; /docs lists the fields of every request)")
        line = f"{_where(err.get('loc', ()))}: {msg}"
        if "input" in err and err.get("type") != "missing" and not isinstance(err["input"], (dict, list)):
            line += f" (got {short_repr(err['input'])})"
        lines.append(line)
    if len(errors) > 20:
        lines.append(f"and {len(errors) - 20} more problems")
    return "invalid request: " + "; ".join(lines)


def validation_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The structured errors, JSON-safe and short (inputs and contexts are cut, never echoed whole)."""
    rows = []
    for err in errors[:20]:  # as many as the readable detail names
        row: dict[str, Any] = {"loc": [p if isinstance(p, (str, int)) else str(p) for p in err.get("loc", ())],
                               "msg": str(err.get("msg", "invalid")), "type": str(err.get("type", "invalid"))}
        if "input" in err and err.get("type") != "missing":
            row["input"] = json_echo(err["input"])
        if isinstance(err.get("ctx"), dict):
            row["ctx"] = {str(k): json_echo(v) if isinstance(v, (int, float, str, bool)) or v is None else short_repr(v)
                          for k, v in err["ctx"].items()}
        rows.append(row)
    return rows


async def validation_error_response(request, exc) -> JSONResponse:
    errors = list(exc.errors())
    pm = getattr(request.app.state, "pm", None)
    moved = moved_fields(pm) if pm is not None and any("extra" in str(e.get("type")) for e in errors) else None
    return JSONResponse(status_code=422, content={"detail": validation_detail(errors, moved),
                                                  "errors": validation_errors(errors)})


def describe_exception(exc: BaseException) -> tuple[int, str]:
    """(status, detail) for an exception no endpoint handled."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return 507, ("the disk holding the run store is full (no space left on device): free some space "
                     "(e.g. delete old runs) and retry; nothing was changed by this request")
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        return 400, "a name in this request is too long for the file system (at most 255 bytes per name)"
    return 500, (f"internal error ({type(exc).__name__}: {short_repr(str(exc), 300)[1:-1]}); the server log has "
                 "the traceback. This is a latentdeck bug: please report it")


class SafetyNet:
    """ASGI middleware: an exception that escapes an endpoint before its response started becomes a
    JSON error (logged with its traceback) instead of a bare 500 followed by a dropped connection."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            status, detail = describe_exception(exc)
            if status >= 500 and status != 507:
                log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            else:
                log.warning("%s %s: %s", scope.get("method"), scope.get("path"), detail)
            await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)


# Path and query values the server checks in code (and answers with a 4xx naming the problem):
# documented here so that clients and schema fuzzers know them.
PARAMETER_SHAPES = {
    ("path", "run_id"): {"pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", "maxLength": 128},
    # ("path", "name"): an artifact name, its pattern made from the declared folders (artifact_name_shape)
    ("query", "layer"): {"pattern": r"^[A-Za-z0-9_.-]+$"},
    # numbers are canonical (digits only, no leading zero): see api/params.py; an empty cursor is "from the start"
    ("query", "epoch"): {"pattern": r"^(latest|0|[1-9][0-9]{0,8})$"},
    ("query", "last_event_id"): {"pattern": r"^(0|[1-9][0-9]{0,17})?$"},
    ("header", "Last-Event-ID"): {"pattern": r"^(0|[1-9][0-9]{0,17})?$"},
}


async def http_error_response(request, exc) -> JSONResponse:
    """Starlette/FastAPI's own HTTP errors, with a body that says what to do."""
    detail = exc.detail
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "the request body is not valid JSON (or not UTF-8): send a JSON object with Content-Type: application/json"
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def artifact_name_shape(folders: Iterable[str]) -> dict[str, Any]:
    """The OpenAPI shape of an artifact name: one of the run's readable top-level files, or a file below
    one of ``folders`` (the host's and every folder an installed plugin declares)."""
    tops = "|".join(re.escape(name) for name in READABLE_TOP)
    alternatives = "|".join(re.escape(folder) for folder in sorted(folders))
    return {"maxLength": MAX_NAME, "pattern": rf"^({tops}|({alternatives})(/[A-Za-z0-9_-][A-Za-z0-9_.-]{{0,254}})+)$"}


def document_errors(schema: dict[str, Any], folders: Iterable[str] = ()) -> dict[str, Any]:
    """The OpenAPI document as the server answers: 422 bodies are ``{detail: string, errors: [...]}``,
    every other documented error is ``{detail: string}``, request bodies may be refused with 400 (not
    JSON) or 413 (too large), and the shapes of ids and names the server checks are given (artifact
    names from ``folders``, the run store's declared folders)."""
    shapes = {**PARAMETER_SHAPES, ("path", "name"): artifact_name_shape(folders)}
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    if "HTTPValidationError" in schemas:
        schemas["HTTPValidationError"] = {
            "title": "HTTPValidationError", "type": "object", "required": ["detail", "errors"],
            "properties": {
                "detail": {"type": "string", "description": "every problem in one readable line"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"},
                           "description": "the problems one by one (inputs shortened)"}}}
    error_content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "the request body is not valid JSON"})
                responses.setdefault("413", {"description": "the request body is larger than the server accepts"})
            for parameter in operation.get("parameters", []):
                shape = shapes.get((parameter.get("in"), parameter.get("name")))
                target = parameter.get("schema", {})
                if shape and "anyOf" in target:  # optional: describe the string branch
                    target = next((t for t in target["anyOf"] if t.get("type") == "string"), target)
                if shape:
                    target.update(shape)
            for code, response in responses.items():
                if code[0] in "45" and code != "422" and "content" not in response:
                    response["content"] = error_content
    return schema
