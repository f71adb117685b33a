"""The baseline for bench/intake.py: the least a report intake could do over HTTP.

One sync endpoint, POST /bare, that validates a small JSON body and does ONE INSERT
into `bench_bare` (created and dropped by bench/intake.py) on the same database and
with the same engine settings as the service (`service.db.make_engine`). No auth, no
middleware, no ORM session: whatever the real intake costs beyond this is the price
of its features.

    AVV_DATABASE_URL=postgresql+psycopg://... uvicorn --app-dir bench bare_app:app
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, status
from pydantic import BaseModel, Field
from sqlalchemy import text

# Importable both as bench.bare_app and, with --app-dir bench, as bare_app.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.db import make_engine  # noqa: E402

INSERT = text("INSERT INTO bench_bare (id, body, received_at) VALUES (:id, :body, :received_at)")


class BareIn(BaseModel):
    description: str = Field(min_length=1, max_length=20_000)
    unit: str = Field(min_length=1, max_length=32)


class BareOut(BaseModel):
    id: uuid.UUID
    received_at: datetime


def create_app(database_url: str) -> FastAPI:
    engine = make_engine(database_url)
    app = FastAPI(title="bench: bare intake", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/bare", status_code=status.HTTP_201_CREATED)
    def bare(body: BareIn) -> BareOut:
        row = {"id": uuid.uuid4(), "body": body.description, "received_at": datetime.now(UTC)}
        with engine.begin() as connection:
            connection.execute(INSERT, row)
        return BareOut(id=row["id"], received_at=row["received_at"])

    return app


app = create_app(os.environ["AVV_DATABASE_URL"])
