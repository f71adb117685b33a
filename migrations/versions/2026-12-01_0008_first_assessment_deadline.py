"""case_deadline: the first-assessment deadline for reports nobody has assessed yet

Intake now stores a `first_assessment` deadline with every new report (received_at plus
AVV_FIRST_ASSESSMENT_HOURS, default 24). Reports received before this revision and still unassessed get
theirs here, from the same setting as the environment gives it when the migration runs. No schema change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:00:00
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND = "first_assessment"

_report = sa.table("report", sa.column("id", sa.Uuid()), sa.column("status", sa.String()),
                   sa.column("received_at", sqlmodel.sql.sqltypes.UTCDateTime()),
                   sa.column("first_assessed_at", sqlmodel.sql.sqltypes.UTCDateTime()))
_deadline = sa.table("case_deadline", sa.column("report_id", sa.Uuid()), sa.column("kind", sa.String()),
                     sa.column("due_at", sqlmodel.sql.sqltypes.UTCDateTime()))


def upgrade() -> None:
    hours = int(os.environ.get("AVV_FIRST_ASSESSMENT_HOURS", "24"))
    connection = op.get_bind()
    already = sa.select(_deadline.c.report_id).where(_deadline.c.kind == KIND)
    rows = connection.execute(
        sa.select(_report.c.id, _report.c.received_at)
        .where(_report.c.first_assessed_at.is_(None), _report.c.status == "reported",
               _report.c.id.not_in(already))
    ).all()
    if rows:
        connection.execute(sa.insert(_deadline), [
            {"report_id": report_id, "kind": KIND, "due_at": received_at + timedelta(hours=hours)}
            for report_id, received_at in rows])


def downgrade() -> None:
    op.execute(sa.delete(_deadline).where(_deadline.c.kind == KIND))
