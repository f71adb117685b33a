"""report.received_on: the local calendar day a report was received, for period statistics

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:00:00
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The zone case numbers and periods use (AVV_TIME_ZONE's default); rows received before this
# migration get their day in it.
_ZONE = ZoneInfo("Europe/Stockholm")


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("received_on", sa.Date(), nullable=True))
    bind = op.get_bind()
    report = sa.table("report", sa.column("id", sa.Uuid()), sa.column("received_at", sa.DateTime(timezone=True)),
                      sa.column("received_on", sa.Date()))
    for report_id, received_at in bind.execute(sa.select(report.c.id, report.c.received_at)).all():
        if isinstance(received_at, str):  # SQLite hands back text here, without SQLModel's type
            from datetime import datetime

            received_at = datetime.fromisoformat(received_at).replace(tzinfo=UTC)
        bind.execute(sa.update(report).where(report.c.id == report_id)
                     .values(received_on=received_at.astimezone(_ZONE).date()))
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.alter_column("received_on", existing_type=sa.Date(), nullable=False)
        batch_op.create_index(batch_op.f("ix_report_received_on"), ["received_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_received_on"))
        batch_op.drop_column("received_on")
