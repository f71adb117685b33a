"""Liveness and readiness, outside /api and outside the OpenAPI document."""

from __future__ import annotations

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.migrate import alembic_config

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    if getattr(request.app.state, "draining", False):  # SIGTERM: let the load balancer take us out (service/ops.py)
        return JSONResponse({"status": "draining"}, status_code=503)
    head = request.app.state.migration_head
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = MigrationContext.configure(connection).get_current_revision()
    except Exception:  # noqa: BLE001 - any failure means "not ready"; details stay in our logs
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if current != head:
        return JSONResponse({"status": "unavailable", "database": "migrations not at head"}, status_code=503)
    return JSONResponse({"status": "ok"})


def migration_head() -> str | None:
    config: Config = alembic_config()
    return ScriptDirectory.from_config(config).get_current_head()
