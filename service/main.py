"""The application factory: routers, error handlers, guards and the OpenAPI document."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from service import __version__, web
from service.api import (
    actions,
    audit as audit_api,
    cases,
    categories,
    closing,
    deadlines,
    grants,
    health,
    imports,
    investigations,
    meta,
    notifications,
    org_units,
    reports,
    statistics,
)
from service.api.deps import forget_org_data
from service.api.middleware import RequestGuardMiddleware, RequestIdMiddleware, UnhandledErrorMiddleware
from service.api.observe import ObserveMiddleware
from service.api.openapi_bodies import SCHEMA_REF, body_models
from service.api.problems import (
    DATABASE_UNAVAILABLE,
    FieldError,
    Problem,
    database_unavailable_response,
    install_problem_handlers,
    problem_responses,
)
from service.audit import Sealer
from service.cache_signal import CacheListener
from service.caches import TtlCache
from service.config import Settings, get_settings
from service.db import WalCheckpointer, install_session_listeners, make_engine, reading
from service.metrics import app_registry
from service.ops import operations
from service.tokens import JwksKeySource, StaticKeySource, TokenVerifier, discover_jwks_url, load_or_create_dev_key
from service.web.headers import ApiCorsMiddleware, SecurityHeadersMiddleware

API_PREFIX = "/api/v1"
JSON_ONLY = frozenset({"application/json"})
HISTORY_IMPORT_PATH = f"{API_PREFIX}/imports/reports"  # its body is read as a stream (service/api/imports.py)

log = logging.getLogger("service")


def _accepted_body_types(path: str) -> frozenset[str]:
    if path == f"{API_PREFIX}/org-units/import":
        return org_units.IMPORT_MEDIA_TYPES
    if path == HISTORY_IMPORT_PATH:
        return imports.IMPORT_MEDIA_TYPES
    if path in web.FORM_PATHS:
        return web.FORM_MEDIA_TYPES
    return JSON_ONLY


def build_token_verifier(settings: Settings) -> TokenVerifier:
    if settings.auth_mode == "dev":
        keys: StaticKeySource | JwksKeySource = StaticKeySource(
            load_or_create_dev_key(settings.dev_key_path).public_jwks())
    else:
        # Short timeouts: a slow identity provider must not hold request threads for long.
        http = httpx.Client(timeout=httpx.Timeout(5.0))
        # Discovered at the first fetch, not here: the service starts while the identity provider is down
        # and refuses tokens (jwks_unavailable) until it can fetch the keys.
        jwks_url = settings.oidc_jwks_url or (lambda: discover_jwks_url(settings.oidc_issuer, http))
        keys = JwksKeySource(jwks_url, http, ttl_seconds=settings.jwks_cache_seconds)
    return TokenVerifier(keys, issuer=settings.oidc_issuer, audience=settings.oidc_audience,
                         cache_seconds=settings.token_cache_seconds,
                         access_token_types=settings.oidc_access_token_types)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Chain new access-log records into the hash chain while the app serves; AVV_AUDIT_SEAL_SECONDS=0: off.
    seconds = app.state.settings.audit_seal_seconds
    sealer = Sealer(app.state.engine, seconds) if seconds > 0 else None
    if sealer is not None:
        sealer.start()
    # On SQLite the write-ahead log is copied into the database file here, not by the commits of requests.
    checkpointer = WalCheckpointer(app.state.engine) if app.state.engine.dialect.name == "sqlite" else None
    app.state.wal_checkpointer = checkpointer  # its last pass is a metric
    if checkpointer is not None:
        checkpointer.start()
    # On PostgreSQL, other instances' grant, org and category changes clear this process's caches at once.
    listener = None
    if app.state.engine.dialect.name == "postgresql":
        listener = CacheListener(app.state.engine, lambda _table: forget_org_data(app.state))
        listener.start()
    try:
        async with operations(app):  # metrics listener, draining on SIGTERM (service/ops.py)
            yield
    finally:
        if listener is not None:
            await run_in_threadpool(listener.stop)
        if sealer is not None:
            await run_in_threadpool(sealer.stop)
        if checkpointer is not None:
            await run_in_threadpool(checkpointer.stop)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] | None = None,
    token_verifier: TokenVerifier | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    install_session_listeners()  # the access log's, and the case-step guard
    app = FastAPI(
        title="Avvikelser: deviation reports and lex Sarah cases",
        version=__version__,
        summary="Reports, cases, notifications and statistics for Swedish municipal social services.",
        generate_unique_id_function=lambda route: route.name,
        responses=problem_responses(500),
        lifespan=_lifespan,
        docs_url=None, redoc_url=None,  # served from local files by service/web (no CDN)
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings.database_url, sqlite_background_checkpoints=True)
    app.state.reading_engine = reading(app.state.engine)  # for endpoints that only read (service/db.py)
    app.state.clock = clock or (lambda: datetime.now(UTC))
    app.state.token_verifier = token_verifier or build_token_verifier(settings)
    app.state.migration_head = health.migration_head()
    app.state.org_cache = TtlCache(settings.org_cache_seconds)
    app.state.grant_cache = TtlCache(settings.grant_cache_seconds)
    app.state.category_cache = TtlCache(settings.org_cache_seconds)  # report categories (service/categories.py)
    app.state.org_day = None  # the day whose org placements are applied (service/api/deps.py keep_org_current)
    app.state.org_day_lock = threading.Lock()
    app.state.draining = False
    app.state.wal_checkpointer = None  # on SQLite, the lifespan's (_lifespan)
    app.state.metrics_registry = app_registry(app.state.engine, app.state.clock, settings.metrics_cache_seconds,
                                              wal_checkpointer=lambda: app.state.wal_checkpointer)

    install_problem_handlers(app)
    app.add_middleware(UnhandledErrorMiddleware)  # the innermost of ours: its 500 passes through the others
    app.add_middleware(RequestGuardMiddleware, max_body_bytes=settings.max_body_bytes,
                       accepted_types=_accepted_body_types,
                       streamed_body_bytes=lambda path: (settings.max_import_bytes if path == HISTORY_IMPORT_PATH
                                                         else None))
    app.add_middleware(ObserveMiddleware, log_access=settings.access_log)  # access line and metrics
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware, frame_ancestors=settings.frame_ancestors,
                       extra_form_action=[settings.oidc_issuer] if settings.auth_mode == "oidc" else None)
    if settings.cors_origins:
        app.add_middleware(ApiCorsMiddleware, origins=settings.cors_origins)

    for router in (org_units.router, reports.router, cases.router, closing.router, investigations.router,
                   actions.router, notifications.router, deadlines.router, statistics.router, categories.router,
                   meta.router, grants.router, audit_api.router, imports.router):
        # 413 and 415 go to the operations that take a body (_openapi); unknown query parameters are refused by
        # CommittingRoute, the routers' route class.
        app.include_router(router, prefix=API_PREFIX, responses=problem_responses(400, 401, 422))
    app.include_router(health.router)
    web.install(app, settings)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's way to replace the document
    return app


# Where the document says the API is: the host that serves it (the paths carry the /api/v1 prefix).
SERVERS = [{"url": "/", "description": "The host that serves this document"}]
LICENSE = {"name": "EUPL-1.2", "identifier": "EUPL-1.2"}
BODY_PROBLEMS = problem_responses(413, 415)


def _add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    """The model's JSON schema and those of the models it holds, under their names; a clash is a bug."""
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    for name, definition in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.setdefault(name, definition) != definition:
            raise RuntimeError(f"two different schemas are named {name} in the OpenAPI document")


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with every error response pointing at the one Problem schema, the schemas of the
    bodies routes read themselves, 413/415 on the operations that take a body, and the shared 503 (database
    unavailable) on every operation, by reference."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes,
                       servers=SERVERS, license_info=LICENSE)
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for model in (FieldError, Problem):
        _add_schema(schemas, model)
    for body_model in body_models():
        _add_schema(schemas, body_model)
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                for code, response in BODY_PROBLEMS.items():
                    responses.setdefault(str(code), {**response})
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    response["content"] = {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
            responses["503"] = {"$ref": f"#/components/responses/{DATABASE_UNAVAILABLE}"}
            operation.setdefault("security", [{"bearer": []}])
    spec["components"]["responses"] = {DATABASE_UNAVAILABLE: database_unavailable_response()}
    spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
    app.openapi_schema = spec
    return spec
