"""Baselines: the least a report intake, and an audited report read, could do over HTTP.

- POST /bare (bench/intake.py): validates a small JSON body and does ONE INSERT into
  `bench_bare` (created and dropped by bench/intake.py).
- GET /bare/reports/{id} (bench/load.py): ONE SELECT of the report's row by primary key
  and ONE INSERT of an access record into `bench_access` (same columns and indexes as
  `audit_record`, created by bench/load.py), committed in one transaction; answers
  with the report's fields as JSON.
- GET /bare/scoped-reports/{id} (bench/reads.py): the same, but the SELECT is the service's
  own (service/reports.py: the caller's scope and the report's enheter, one row per enhet),
  for an investigator on the demo organisation's förvaltning: what the SQL costs in Python.

Both run on the same database and with the same engine settings as the service
(`service.db.make_engine`, so on SQLite also its writer queue). No auth, no middleware,
no ORM session: whatever the real endpoints cost beyond this is the price of their
features.

    AVV_DATABASE_URL=postgresql+psycopg://... uvicorn --app-dir bench bare_app:app
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, HTTPException, status
from pydantic import BaseModel, Field
from sqlalchemy import Column, Connection, Index, MetaData, Table, bindparam, insert, select, text

# Importable both as bench.bare_app and, with --app-dir bench, as bare_app.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.db import make_engine
from service.domain.access import Scope
from service.models import AuditRecord, OrgUnit, Report, table_of
from service.reports import _report_read  # the service's own statement, private to it: measured as it is

INSERT = text("INSERT INTO bench_bare (id, body, received_at) VALUES (:id, :body, :received_at)")

# The access log's shape under another name: the bare read's records are not the service's (its sealer
# would chain them, in the real server's process, while the bare endpoint is being measured).
bench_metadata = MetaData()
_audit = table_of(AuditRecord)
bench_access = Table(
    "bench_access", bench_metadata,
    *(Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, autoincrement=c.autoincrement)
      for c in _audit.columns),
)
Index("ix_bench_access_actor_subject_id", bench_access.c.actor_subject, bench_access.c.id)
Index("ix_bench_access_report_id_id", bench_access.c.report_id, bench_access.c.id)
Index("ix_bench_access_at", bench_access.c.at)

_report = table_of(Report)
SELECT_REPORT = select(_report).where(_report.c.id == bindparam("id"))
INSERT_ACCESS = insert(bench_access)


def record_access(connection: Connection, report_id: uuid.UUID, *, allowed: bool) -> None:
    connection.execute(INSERT_ACCESS, {
        "at": datetime.now(UTC), "actor_subject": "bench", "actor_name": "Bench", "actor_kind": "person",
        "acting_roles": "investigator", "report_id": report_id, "action": "read_report",
        "outcome": "allowed" if allowed else "denied", "request_id": None, "detail": None})


class BareIn(BaseModel):
    description: str = Field(min_length=1, max_length=20_000)
    unit: str = Field(min_length=1, max_length=32)


class BareOut(BaseModel):
    id: uuid.UUID
    received_at: datetime


class BareReport(BaseModel):
    id: uuid.UUID
    case_number: str
    status: str
    received_at: datetime
    category: str
    channel: str
    occurred_at: datetime
    noticed_at: datetime
    reported_late: bool
    description: str
    immediate_actions: str
    subject_reference: str | None
    no_specific_subject: bool
    reporter_name: str
    reporter_title: str | None


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

    @app.get("/bare/reports/{report_id}")
    def bare_read(report_id: uuid.UUID) -> BareReport:
        with engine.begin() as connection:
            found = connection.execute(SELECT_REPORT, {"id": report_id}).mappings().first()
            record_access(connection, report_id, allowed=found is not None)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "No such report.")
        return BareReport.model_validate(dict(found))

    administration: list[str] = []  # the demo förvaltning's path, read at the first scoped read

    @app.get("/bare/scoped-reports/{report_id}")
    def bare_scoped_read(report_id: uuid.UUID) -> BareReport:
        with engine.begin() as connection:
            if not administration:
                administration.append(connection.execute(
                    select(table_of(OrgUnit).c.path).where(table_of(OrgUnit).c.code == "SOC")).scalar_one())
            statement = _report_read(Scope(frozenset(administration)))
            rows = connection.execute(statement, {"report_id": report_id, "subject": "bench"}).mappings().all()
            record_access(connection, report_id, allowed=bool(rows))
        if not rows:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "No such report.")
        return BareReport.model_validate(dict(rows[0]))

    return app


app: FastAPI  # made by __getattr__ below on first use


def __getattr__(name: str) -> FastAPI:
    # `app` is made on first use (uvicorn's `bare_app:app`), so that bench/load.py can import the tables.
    if name != "app":
        raise AttributeError(name)
    global app
    app = create_app(os.environ["AVV_DATABASE_URL"])
    return app
