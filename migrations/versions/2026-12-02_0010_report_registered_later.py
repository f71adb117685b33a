"""report: registered_at, registered_by, received_by for reports registered after they were received

A report that reached the organisation on paper, by phone or in person can be registered later: its
received_at is the real receipt, registered_at when it was stored. Every report stored before this
revision was registered the moment it was received, so registered_at is filled from received_at.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("registered_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column("received_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
    op.execute("UPDATE report SET registered_at = received_at")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.alter_column("registered_at", existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("received_by")
        batch_op.drop_column("registered_by")
        batch_op.drop_column("registered_at")
