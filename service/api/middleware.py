"""ASGI middleware that refuses requests before FastAPI parses them: body size, media type; and request ids."""

from __future__ import annotations

import json
import re
import uuid
from urllib.parse import parse_qsl
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from service.api.problems import PROBLEM_BASE, PROBLEM_JSON

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}

# The current request's id, for code far from the request object (the audit log); None outside a request.
# Starlette copies the context into the threadpool that runs sync endpoints, so they see it too.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


async def _send_problem(send: Send, status: int, title: str, type_: str, detail: str,
                        path: str, extra_headers: list[tuple[bytes, bytes]] | None = None,
                        **extensions: Any) -> None:
    body = json.dumps({"type": PROBLEM_BASE + type_, "title": title, "status": status,
                       "detail": detail, "instance": path, **extensions}).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": body})


def _nul_in_query(query_string: bytes) -> list[str]:
    """The query parameters holding a NUL character, which no text column of PostgreSQL can store or compare."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return []
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    return sorted({name for name, value in pairs if "\x00" in name or "\x00" in value})


class RequestGuardMiddleware:
    """Refuses query strings holding NUL characters (422), oversized bodies (413) and bodies of a media
    type the route does not take (415).

    `accepted_types(path)` names the media types a path takes; JSON everywhere unless told otherwise.
    A body without Content-Length (chunked) is read up to the limit before the app sees any of it.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int,
                 accepted_types: Callable[[str], frozenset[str]]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.accepted_types = accepted_types

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        with_nul = _nul_in_query(scope.get("query_string", b""))
        if with_nul:  # the same shape as FastAPI's validation errors (service/api/problems.py)
            await _send_problem(
                send, 422, "Request validation failed", "validation", f"Invalid or missing: {', '.join(with_nul)}.",
                path, errors=[{"pointer": None, "location": "query", "name": name,
                               "detail": "must not contain NUL characters", "code": "nul_character"}
                              for name in with_nul])
            return
        if scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {key.lower(): value for key, value in scope["headers"]}
        length_header = headers.get(b"content-length")
        if length_header is not None:
            try:
                length = int(length_header)
            except ValueError:
                await _send_problem(send, 400, "Bad Request", "bad-content-length",
                                    "Content-Length is not a number.", path)
                return
            if length > self.max_body_bytes:
                await self._too_large(send, path)
                return
        else:
            length = -1  # unknown until it has streamed in

        if length != 0:
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().decode("latin-1").lower()
            accepted = self.accepted_types(path)
            if media_type not in accepted:
                await _send_problem(
                    send, 415, "Unsupported Media Type", "unsupported-media-type",
                    f"Send the body as {' or '.join(sorted(accepted))}.", path,
                    [(b"accept-post" if scope["method"] == "POST" else b"accept-patch",
                      ", ".join(sorted(accepted)).encode())],
                )
                return

        if length >= 0:
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked): read up to the limit before the app sees any of it, then replay.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send, path)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, path: str) -> None:
        await _send_problem(send, 413, "Content Too Large", "body-too-large",
                            f"The request body is larger than {self.max_body_bytes} bytes.", path)


class RequestIdMiddleware:
    """Accepts a sane X-Request-ID or makes one, exposes it to handlers and echoes it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)
