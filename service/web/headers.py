"""Response headers for browsers: the content security policy, framing, caching; CORS for the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.middleware.cors import CORSMiddleware

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

# The pages load nothing from elsewhere and run no inline script or style.
_PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
                "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'")
# Swagger UI and ReDoc set styles from script and ReDoc runs its search in a worker made from a blob.
DOCS_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; form-action 'self'; "
               "base-uri 'none'; object-src 'none'")
# Anything else (JSON, files): nothing to run or frame.
_OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    """nosniff and a referrer policy everywhere; on HTML, a CSP without inline script, the framing rule from
    AVV_FRAME_ANCESTORS and no caching (pages show case numbers); static files cached by their fingerprint."""

    def __init__(self, app: ASGIApp, *, frame_ancestors: list[str], extra_form_action: list[str] | None = None) -> None:
        self.app = app
        ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
        form_action = " ".join(["'self'", *(extra_form_action or [])])
        self.page_policy = _PAGE_POLICY.replace("form-action 'self'", f"form-action {form_action}") + \
            f"; frame-ancestors {ancestors}"
        self.docs_policy = DOCS_POLICY + f"; frame-ancestors {ancestors}"
        self.frame_options = None if frame_ancestors else b"DENY"

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                content_type = next((value for name, value in headers if name.lower() == b"content-type"), b"")
                added = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]
                if content_type.startswith(b"text/html"):
                    policy = self.docs_policy if path in ("/docs", "/redoc") else self.page_policy
                    added += [(b"content-security-policy", policy.encode()),
                              (b"cache-control", b"no-store"), (b"cross-origin-opener-policy", b"same-origin")]
                    if self.frame_options:
                        added.append((b"x-frame-options", self.frame_options))
                elif path.startswith("/static/") and message.get("status") == 200:
                    # URLs carry the file's fingerprint (?v=...): a changed file has a new URL.
                    added += [(b"cache-control", b"public, max-age=31536000, immutable"),
                              (b"content-security-policy", _OTHER_POLICY.encode())]
                else:
                    added.append((b"content-security-policy", _OTHER_POLICY.encode()))
                message["headers"] = headers + [(name, value) for name, value in added if name not in names]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ApiCorsMiddleware:
    """CORS for /api/ only, for the origins in AVV_CORS_ORIGINS: bearer tokens, no cookies (credentials off)."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app, allow_origins=origins, allow_credentials=False,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID", "Accept"],
            expose_headers=["Location", "X-Request-ID", "Content-Disposition"], max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
