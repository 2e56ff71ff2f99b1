"""``latentdeck serve``: the API under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import uvicorn

from .access import AccessPolicy, policy_for
from .app import create_app

GRACEFUL_SHUTDOWN_S = 3  # requests still running after this are cancelled


class Server(uvicorn.Server):
    """uvicorn's server, ending open event streams as soon as shutdown starts.

    uvicorn waits for open responses before it stops; an event stream never finishes by itself, so
    each would hold shutdown for ``timeout_graceful_shutdown`` and then die with a traceback. Ending
    them cleanly first lets EventSource clients reconnect (with ``Last-Event-ID``) to the next server.
    """

    def __init__(self, config: uvicorn.Config, app: Any = None):
        super().__init__(config)
        self._app = app if app is not None else config.app

    async def shutdown(self, sockets=None) -> None:
        hub = getattr(getattr(self._app, "state", None), "hub", None)
        if hub is not None:
            hub.end_streams()
        await super().shutdown(sockets=sockets)


def serve(host: str = "127.0.0.1", port: int = 8000, runs_dir: str | Path = "runs", pm=None,
          log_level: str = "info", access: AccessPolicy | None = None, **app_kwargs: Any) -> None:
    """Run the API until interrupted; ``access`` defaults to :func:`policy_for` the bound address (a
    token is required off loopback); ``app_kwargs`` go to :func:`create_app` (heartbeat_s, ...)."""
    app = create_app(pm, runs_dir, access=access or policy_for(host), **app_kwargs)
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    Server(config, app).run()
