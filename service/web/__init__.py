"""The web pages for staff (Swedish, server-rendered, working without JavaScript) and the offline API docs.

Nothing here is part of the API contract: every route is left out of the OpenAPI document.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import fastapi_offline
import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from service.config import Settings
from service.web import pages, signin
from service.web.render import STATIC_DIR, Pages
from service.web.session import FORM_MEDIA_TYPE, SignInRequired, WebRefusal, sign_in_url

# The paths that take a posted HTML form (application/x-www-form-urlencoded) instead of JSON.
FORM_PATHS = frozenset({"/rapportera", "/logga-in", "/logga-ut"})
FORM_MEDIA_TYPES = frozenset({FORM_MEDIA_TYPE})

# Swagger UI and ReDoc as the fastapi-offline package ships them: /docs and /redoc work without internet.
DOCS_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"


def _docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    versions = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12] for path in DOCS_ASSETS.iterdir()
                if path.is_file()}

    def asset(name: str) -> str:
        return f"/static/docs/{name}?v={versions.get(name, '0')}"

    @router.get("/docs", response_class=HTMLResponse)
    def swagger_ui(request: Request) -> HTMLResponse:
        return request.app.state.pages.render(
            request, "docs_swagger.html", title=app.title, openapi_url=app.openapi_url,
            swagger_css=asset("swagger-ui.css"), swagger_js=asset("swagger-ui-bundle.js"),
            favicon=asset("favicon.png"))

    @router.get("/redoc", response_class=HTMLResponse)
    def redoc(request: Request) -> HTMLResponse:
        return request.app.state.pages.render(
            request, "docs_redoc.html", title=app.title, openapi_url=app.openapi_url,
            redoc_js=asset("redoc.standalone.js"), favicon=asset("favicon.png"))

    return router


def install(app: FastAPI, settings: Settings) -> None:
    """Pages, static files, the docs, and the handlers that answer a page's refusals in Swedish HTML."""
    app.state.pages = Pages(settings.time_zone)
    app.state.oidc_http = httpx.Client(timeout=httpx.Timeout(5.0)) if settings.auth_mode == "oidc" else None
    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-static")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(_docs_router(app))
    app.include_router(pages.router)
    app.include_router(signin.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse(sign_in_url(exc.next_path), status_code=303)

    @app.exception_handler(WebRefusal)
    async def _refusal(request: Request, exc: WebRefusal) -> HTMLResponse:
        return request.app.state.pages.render(request, "fel.html", status_code=exc.status, title=exc.title,
                                              message=exc.message)
