"""What runs beside the API while it serves: the metrics listener and draining on SIGTERM.

The app's lifespan (service/main.py) enters `operations(app)`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import start_http_server

log = logging.getLogger("service.ops")


def _drain_on_sigterm(app: FastAPI, seconds: float) -> Any:
    """Replace the server's SIGTERM handler (uvicorn's) with one that first marks the app draining, so
    /readyz answers 503, and hands the signal on `seconds` later; the server then stops taking new
    connections and lets the requests in flight finish (uvicorn --timeout-graceful-shutdown).
    Returns the handler replaced, or None where there is none to wrap (tests, not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    if not callable(previous):
        return None
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: Any) -> None:
        if not app.state.draining:
            app.state.draining = True
            log.info("SIGTERM: draining; /readyz answers 503, stopping in %s s", seconds)
        loop.call_soon_threadsafe(loop.call_later, seconds, previous, signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
    return previous


@asynccontextmanager
async def operations(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    app.state.draining = False
    server = None
    if settings.metrics_port is not None:
        try:
            server, _ = start_http_server(settings.metrics_port, settings.metrics_host,
                                          registry=app.state.metrics_registry)
            log.info("metrics on %s:%d/metrics", settings.metrics_host, server.server_address[1])
        except OSError as exc:  # another worker of this server has the port: metrics come from that one
            log.error("metrics listener not started on port %d: %s", settings.metrics_port, exc)
    app.state.metrics_server = server
    previous = _drain_on_sigterm(app, settings.drain_seconds)
    try:
        yield
    finally:
        if previous is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)
        if server is not None:
            server.shutdown()
            server.server_close()
