"""report: imported history (issue 11): where a case came from and its number there

An imported report keeps the previous system's case number beside our own, unique per source so that
loading the same file twice cannot store a case twice; `imported_at` and `imported_by` mark it as
imported. Live reports leave all four empty (NULLs never clash in the unique constraint).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))
        batch_op.add_column(sa.Column("previous_case_number", sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column("imported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("imported_by", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True))
        batch_op.create_unique_constraint("uq_report_import_source_previous_case_number",
                                          ["import_source", "previous_case_number"])
        batch_op.create_index(batch_op.f("ix_report_previous_case_number"), ["previous_case_number"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_previous_case_number"))
        batch_op.drop_constraint("uq_report_import_source_previous_case_number", type_="unique")
        batch_op.drop_column("imported_by")
        batch_op.drop_column("imported_at")
        batch_op.drop_column("previous_case_number")
        batch_op.drop_column("import_source")
