"""The access line and the request metrics: one log record (service.access) and one histogram sample per
request, by the operation's path template, never the path as sent (it may hold ids or anything typed)."""

from __future__ import annotations

import logging
import time
from typing import Any

from service.api.middleware import ASGIApp, Message, Receive, Scope, Send
from service.logs import request_scope, route_template
from service.metrics import HTTP_DURATION, UNMATCHED_ROUTE

access_log = logging.getLogger("service.access")

# Probes come every few seconds from the orchestrator: counted, but kept out of the access log.
_QUIET_PATHS = frozenset({"/healthz", "/readyz"})


class ObserveMiddleware:
    """Sits inside RequestIdMiddleware (which puts the request id in the scope's state) and outside
    everything else, so that refusals by the request guard are counted too."""

    def __init__(self, app: ASGIApp, *, log_access: bool = True) -> None:
        self.app = app
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it starts a response
        token = request_scope.set(scope)

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            HTTP_DURATION.labels(scope["method"], route or UNMATCHED_ROUTE, str(status)).observe(seconds)
            if self.log_access and scope.get("path") not in _QUIET_PATHS:
                self._log(scope, route, status, seconds)
            request_scope.reset(token)

    @staticmethod
    def _log(scope: Scope, route: str | None, status: int, seconds: float) -> None:
        extra: dict[str, Any] = {"method": scope["method"], "route": route, "status": status,
                                 "duration_ms": round(seconds * 1000, 1)}
        access_log.info("%s %s %d %.1f ms", scope["method"], route or "-", status, seconds * 1000, extra=extra)
