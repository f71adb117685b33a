"""The current request's id, for code far from the request object (the access log).

Set by service/api/middleware.py (RequestIdMiddleware) for the length of a request; None outside one.
Starlette copies the context into the threadpool that runs sync endpoints, so they see it too.
"""

from __future__ import annotations

from contextvars import ContextVar

current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
