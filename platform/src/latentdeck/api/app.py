"""The FastAPI app factory: settings on ``app.state``, the worker monitor, error handlers, routers.

Everything lives under ``/api/``; OpenAPI at ``/openapi.json``, docs at ``/docs``. Blocking file IO
runs in the threadpool (plain ``def`` endpoints) so listings stay fast while a run trains.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from .. import __version__
from ..launch.deferred import DeferredStarts
from ..launch import reap_dead_workers, resume_waiting_runs
from ..registry import collect, declared_folders, get_plugin_manager, PluginError
from ..store.cleanup import start_cleanup
from ..store.lifecycle import InvalidTransition
from ..store.runs import RunStore, RunStoreError
from .access import AccessGuard, AccessPolicy
from .docs import mount_docs
from .errors import SafetyNet, document_errors, http_error_response, validation_error_response
from .event_feed import EventHub
from .events import router as events_router
from .ondemand import ondemand_router
from .plugins import router as plugins_router
from .run_files import router as files_router
from .runs import router as runs_router
from .sweeps import router as sweeps_router
from .static import mount_ui

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiSettings:
    heartbeat_s: float = 15.0  # `: ping` after this long without events on a stream
    max_stream_s: float = 300.0  # a stream closes after this long; EventSource resumes with Last-Event-ID
    poll_s: float = 0.02  # how often a run's shared tail polls events.jsonl
    monitor_s: float = 1.0  # how often the server looks for runs whose worker died


async def _monitor_workers(app: FastAPI) -> None:
    """Every ``monitor_s``: fail active runs whose worker vanished (killed, OOM, crashed)."""
    store, pm, every = app.state.store, app.state.pm, app.state.settings.monitor_s
    while True:
        await asyncio.sleep(every)
        try:
            failed = await asyncio.to_thread(reap_dead_workers, store, pm, "worker_died")
            for run_id in failed:
                log.warning("run %s failed: its worker process is gone", run_id)
        except Exception:  # keep monitoring; one bad run folder must not stop it
            log.exception("worker monitor pass failed")


def _ask_executor_capacities(pm) -> None:
    """Ask each executor with a ``capacity`` once, in its own daemon thread, so it may start preparing: a
    ``capacity`` that names ``warm_ups`` gets the installed projections' warm-ups (``ProjectionSpec.warm_up``)
    by name, which the local executor runs in its fork server. Startup, requests and shutdown never wait.

    ``LATENTDECK_WARMUP=off`` is read here, at startup, so a thread that starts late (e.g. after a
    test restored the environment) can never begin a warm-up that was switched off."""
    if os.environ.get("LATENTDECK_WARMUP", "").strip().lower() == "off":
        log.info("warm-ups are off (LATENTDECK_WARMUP=off)")
        return
    # On-demand computations need torch: import it now, off the request path.
    threading.Thread(target=lambda: __import__("torch"), name="latentdeck-import-torch", daemon=True).start()

    def ask(spec) -> None:
        try:
            if "warm_ups" in inspect.signature(spec.capacity).parameters:
                spec.capacity(warm_ups=warm_ups)
            else:
                spec.capacity()
        except Exception:
            log.exception("executor %s: capacity() failed (its runs start without waiting for it)", spec.name)

    try:
        executors = collect(pm, "executors")
        warm_ups = {name: spec.warm_up for name, spec in collect(pm, "projections").items() if spec.warm_up is not None}
    except Exception:
        log.exception("cannot list executors to ask their capacity")
        return
    for spec in executors.values():
        if spec.capacity is not None:
            threading.Thread(target=ask, args=(spec,), name=f"latentdeck-capacity-{spec.name}", daemon=True).start()


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    store, pm = app.state.store, app.state.pm
    app.state.hub.ending = False  # the same app may be served again after a shutdown
    app.state.startup_cleanup = start_cleanup(store.root)  # leftovers of killed writers and deletes; not awaited
    resumed, interrupted = await asyncio.to_thread(resume_waiting_runs, store, pm, app.state.deferred)
    if resumed:
        log.info("resumed %d run(s) a previous server left queued: %s", len(resumed), ", ".join(resumed))
    for run_id in interrupted:
        log.warning("run %s failed: it was left active by a server that is gone", run_id)
    monitor = asyncio.create_task(_monitor_workers(app), name="latentdeck-worker-monitor")
    _ask_executor_capacities(pm)
    try:
        yield
    finally:
        await asyncio.to_thread(app.state.deferred.flush)  # queued runs stay created for the next server
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
        await app.state.hub.close()


def create_app(pm=None, runs_dir: str | Path = "runs", *, heartbeat_s: float = 15.0, max_stream_s: float = 300.0,
               poll_s: float = 0.02, monitor_s: float = 1.0, ui_dir: str | Path | None = None,
               max_start_wait_s: float | None = None, access: AccessPolicy | None = None,
               max_concurrent_runs: int | None = None) -> FastAPI:
    """The latentdeck API over the run store in ``runs_dir`` with the plugins of ``pm``; the web UI
    from ``ui_dir`` (default: the repository's ``frontend/out`` export) when it has been built.
    ``max_start_wait_s`` (default ``$LATENTDECK_START_WAIT_S`` or 120): how long a new run may wait
    for its executor to be ready (see :mod:`latentdeck.launch.deferred`). ``max_concurrent_runs`` (default
    ``$LATENTDECK_MAX_CONCURRENT_RUNS`` or the core count, at least 1): how many runs of an executor that
    queues its runs (the local one) train at once; the rest wait in order (both reach the executor's queue
    through the server's runner, ``JobRunner.queue``). ``access`` (default: loopback
    hosts only, no token, 1 MiB bodies) guards every request."""
    app = FastAPI(
        title="latentdeck", version=__version__, lifespan=_lifespan, docs_url=None, redoc_url=None,
        description="Train autoencoders on MNIST and watch the latent space form. Runs, their events "
                    "(Server-Sent Events), artifacts, plugins and component schemas.",
    )
    app.state.pm = pm if pm is not None else get_plugin_manager()
    app.state.store = RunStore(runs_dir, folders=declared_folders(app.state.pm))
    app.state.settings = ApiSettings(heartbeat_s=heartbeat_s, max_stream_s=max_stream_s, poll_s=poll_s,
                                     monitor_s=monitor_s)
    app.state.hub = EventHub(poll_s=poll_s)
    store = app.state.store
    wait = max_start_wait_s if max_start_wait_s is not None else float(os.environ.get("LATENTDECK_START_WAIT_S", "120"))
    app.state.deferred = DeferredStarts(store, max_wait_s=wait, max_concurrent_runs=max_concurrent_runs)

    @app.exception_handler(RunStoreError)
    async def _store_error(request: Request, exc: RunStoreError) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": str(exc)})

    @app.exception_handler(InvalidTransition)
    async def _transition_error(request: Request, exc: InvalidTransition) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})

    @app.exception_handler(PluginError)
    async def _plugin_error(request: Request, exc: PluginError) -> JSONResponse:
        return JSONResponse(status_code=500, content={"detail": f"plugin problem: {exc}"})

    app.add_exception_handler(RequestValidationError, validation_error_response)
    app.add_exception_handler(StarletteHTTPException, http_error_response)

    app.include_router(runs_router)
    app.include_router(sweeps_router)
    app.include_router(events_router)
    app.include_router(plugins_router)
    app.include_router(files_router)
    app.include_router(ondemand_router(app.state.pm))
    _add_api_fallback(app)  # after every API router: it answers the /api/... paths none of them takes

    mount_docs(app)
    mount_ui(app, ui_dir)  # last: the web UI answers every path the API does not (else / -> /docs)

    app.add_middleware(SafetyNet)
    app.add_middleware(AccessGuard, policy=access or AccessPolicy())  # outermost: refuses before any work
    generate = app.openapi
    app.openapi = lambda: app.openapi_schema or document_errors(generate(), app.state.store.folders)  # type: ignore[method-assign]
    return app


ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def _add_api_fallback(app: FastAPI) -> None:
    """Unknown ``/api/...`` paths are JSON 404s; a known path with a method it does not take (any
    method, QUERY or made-up ones included) is 405 with ``Allow``."""

    class ApiFallback:  # an ASGI app, not a function: Starlette then matches it for every method
        async def __call__(self, scope, receive, send) -> None:
            await answer(Request(scope, receive))(scope, receive, send)

    fallback = ApiFallback()

    def answer(request: Request) -> JSONResponse:
        allowed = {method for method in ALL_METHODS if method != request.method and any(
            getattr(route, "endpoint", None) is not fallback and not isinstance(route, Mount)
            and route.matches({**request.scope, "method": method})[0] is Match.FULL for route in app.router.routes)}
        if allowed:
            methods = ", ".join(sorted(allowed))
            return JSONResponse({"detail": f"{request.method[:20]} is not supported on {request.url.path[:200]}; "
                                           f"use {methods}"}, status_code=405, headers={"Allow": methods})
        return JSONResponse({"detail": f"no API endpoint {request.method[:20]} {request.url.path[:200]}: see /docs "
                                       "for the list"}, status_code=404)

    app.router.add_route("/api/{rest:path}", fallback, include_in_schema=False)
