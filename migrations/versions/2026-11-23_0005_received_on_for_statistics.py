"""report_unit.received_on, report_type.received_on: the report's day, copied, with covering indexes for statistics

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, index name, key columns, columns carried in the index on PostgreSQL)
_INDEXES = (
    ("report_unit", "ix_report_unit_received_on_unit_id", ["received_on", "unit_id"], ["report_id"]),
    ("report_type", "ix_report_type_received_on", ["received_on"], ["report_id", "type", "lex_sarah_severity"]),
)


def upgrade() -> None:
    for table, index, columns, included in _INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("received_on", sa.Date(), nullable=True))
        op.execute(f"UPDATE {table} SET received_on = "
                   f"(SELECT report.received_on FROM report WHERE report.id = {table}.report_id)")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("received_on", existing_type=sa.Date(), nullable=False)
            batch_op.create_index(index, columns, unique=False, postgresql_include=included)


def downgrade() -> None:
    for table, index, _columns, _included in reversed(_INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)
            batch_op.drop_column("received_on")
