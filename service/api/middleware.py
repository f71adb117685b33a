"""ASGI middleware that refuses requests before FastAPI parses them: body size, media type; and request ids."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request

from service.api.problems import PROBLEM_BASE, PROBLEM_JSON, unhandled_error_response
from service.request_id import current_request_id

log = logging.getLogger("service.errors")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}



async def _send_problem(send: Send, status: int, title: str, type_: str, detail: str,
                        extra_headers: list[tuple[bytes, bytes]] | None = None,
                        **extensions: Any) -> None:
    # No `instance`: no route has matched yet, and the path as sent may hold anything (it is never echoed).
    body = json.dumps({"type": PROBLEM_BASE + type_, "title": title, "status": status,
                       "detail": detail, **extensions}).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": body})


def _nul_in_query(query_string: bytes) -> list[str]:
    """The query parameters holding a NUL character, which no text column of PostgreSQL can store or compare."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return []
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    return sorted({name for name, value in pairs if "\x00" in name or "\x00" in value})


_DIGITS = re.compile(rb"^[0-9]{1,19}$")


class RequestGuardMiddleware:
    """Refuses query strings holding NUL characters (422), ambiguous framing (400), oversized bodies (413)
    and bodies of a media type the route does not take (415), before the app sees any of the body.

    The body is counted as it arrives, whatever the headers say: a request is read up to
    `max_body_bytes` and refused with 413 at the first byte past it, whether it declared a length
    (checked against the limit up front too), came chunked, or sent more than it declared. A request
    with both Content-Length and Transfer-Encoding is refused (RFC 9112 §6.1: a server may not trust
    either), and one with neither has an empty body (RFC 9112 §6.3), so no media type is asked of it.
    `accepted_types(path)` names the media types a path takes; JSON everywhere unless told otherwise.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int,
                 accepted_types: Callable[[str], frozenset[str]],
                 streamed_body_bytes: Callable[[str], int | None] = lambda path: None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.accepted_types = accepted_types
        # Paths whose route reads the body as a stream (the history import), with their own, larger limit:
        # the route counts what arrives and refuses it past the limit; here only the headers are checked.
        self.streamed_body_bytes = streamed_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with_nul = _nul_in_query(scope.get("query_string", b""))
        if with_nul:  # the same shape as FastAPI's validation errors (service/api/problems.py)
            await _send_problem(
                send, 422, "Request validation failed", "validation", f"Invalid or missing: {', '.join(with_nul)}.",
                errors=[{"pointer": None, "location": "query", "name": name,
                         "detail": "must not contain NUL characters", "code": "nul_character"}
                        for name in with_nul])
            return
        lengths = {value.strip() for key, value in scope["headers"] if key.lower() == b"content-length"}
        chunked = any(key.lower() == b"transfer-encoding" for key, _ in scope["headers"])
        if lengths and chunked:
            await _send_problem(send, 400, "Bad Request", "ambiguous-framing",
                                "Send either Content-Length or Transfer-Encoding, not both.")
            return
        declared: int | None = None
        streamed_limit = self.streamed_body_bytes(scope["path"])
        limit = self.max_body_bytes if streamed_limit is None else streamed_limit
        if lengths:
            if len(lengths) > 1 or not _DIGITS.match(next(iter(lengths))):
                await _send_problem(send, 400, "Bad Request", "bad-content-length",
                                    "Content-Length is not one number.")
                return
            declared = int(next(iter(lengths)))
            if declared > limit:
                await self._too_large(send, limit)
                return
            if declared > 0 and not await self._media_type_accepted(scope, send):
                return  # refused before reading what was declared
        if streamed_limit is not None:
            if (declared is None and chunked) and not await self._media_type_accepted(scope, send):
                return
            await self.app(scope, receive, send)
            return

        # Read the body whole, counting what arrives, before the app sees any of it; then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(send, self.max_body_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        if declared is not None and size != declared:
            await _send_problem(send, 400, "Bad Request", "bad-content-length",
                                "The body is not as long as its Content-Length says.")
            return
        if declared is None and size > 0 and not await self._media_type_accepted(scope, send):
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _media_type_accepted(self, scope: Scope, send: Send) -> bool:
        """A body for a method that takes one must be of a media type the path takes; else a 415 is sent."""
        if scope["method"] not in _BODY_METHODS:
            return True  # a body on GET or DELETE means nothing here and is never parsed
        content_type = next((value for key, value in scope["headers"] if key.lower() == b"content-type"), b"")
        media_type = content_type.split(b";")[0].strip().decode("latin-1").lower()
        accepted = self.accepted_types(scope["path"])
        if media_type in accepted:
            return True
        await _send_problem(
            send, 415, "Unsupported Media Type", "unsupported-media-type",
            f"Send the body as {' or '.join(sorted(accepted))}.",
            [(b"accept-post" if scope["method"] == "POST" else b"accept-patch",
              ", ".join(sorted(accepted)).encode())],
        )
        return False

    async def _too_large(self, send: Send, limit: int) -> None:
        await _send_problem(send, 413, "Content Too Large", "body-too-large",
                            f"The request body is larger than {limit} bytes.")


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
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        token = current_request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


class UnhandledErrorMiddleware:
    """Answers an error that no handler took with the 500 problem (service/api/problems.py), inside the
    middlewares that put the request id on every answer and every log line, and count and log the request.

    Left to Starlette, its last resort sits outside all of them: that 500 went out without X-Request-ID, its log
    line without the request id, and the error was raised again for the server to log a second time. Here it
    ends: one line, with the request's id, and the client has the id to quote. An error after the answer began
    cannot be answered; it is logged and raised, so that the server breaks off the connection.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def send_noting_start(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        try:
            await self.app(scope, receive, send_noting_start)
        except Exception as exc:
            if answered:
                log.error("error after the answer began on %s %s", scope["method"], scope["path"], exc_info=exc)
                raise
            response = await unhandled_error_response(Request(scope), exc)
            await response(scope, receive, send)
