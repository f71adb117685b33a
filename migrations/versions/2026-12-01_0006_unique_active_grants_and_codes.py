"""One active grant per (subject, role, unit); org-unit codes unique regardless of case, in the database

Existing duplicate active grants are revoked, keeping the oldest of each group (its history covers the
same access from an earlier time); the revoked ones stay listed, revoked by `system:migration-0006`.
Codes that differ only in case cannot be merged by a migration: the upgrade stops and names them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REVOKED_BY = "system:migration-0006"

_ON_UNIT = "revoked_at IS NULL AND org_unit_id IS NOT NULL"
_EVERYWHERE = "revoked_at IS NULL AND org_unit_id IS NULL"


def upgrade() -> None:
    connection = op.get_bind()
    clashing = connection.execute(sa.text(
        "SELECT code FROM org_unit WHERE lower(code) IN "
        "(SELECT lower(code) FROM org_unit GROUP BY lower(code) HAVING count(*) > 1) ORDER BY lower(code), id"
    )).scalars().all()
    if clashing:
        raise RuntimeError(
            "org_unit codes that differ only in case must be made distinct before this upgrade "
            f"(UPDATE org_unit SET code = ... WHERE id = ...): {', '.join(clashing)}")

    # Every active grant with an older active twin (same subject, role and unit, NULL = every förvaltning).
    connection.execute(
        sa.text(
            "UPDATE role_grant SET revoked_at = :now, revoked_by = :by WHERE revoked_at IS NULL AND EXISTS ("
            "SELECT 1 FROM role_grant older WHERE older.revoked_at IS NULL AND older.id < role_grant.id "
            "AND older.subject = role_grant.subject AND older.role = role_grant.role "
            "AND (older.org_unit_id = role_grant.org_unit_id "
            "OR (older.org_unit_id IS NULL AND role_grant.org_unit_id IS NULL)))"
        ).bindparams(sa.bindparam("now", datetime.now(UTC), type_=sqlmodel.sql.sqltypes.UTCDateTime()),
                     sa.bindparam("by", REVOKED_BY)))

    op.create_index("uq_role_grant_active_on_unit", "role_grant", ["subject", "role", "org_unit_id"], unique=True,
                    sqlite_where=sa.text(_ON_UNIT), postgresql_where=sa.text(_ON_UNIT))
    op.create_index("uq_role_grant_active_everywhere", "role_grant", ["subject", "role"], unique=True,
                    sqlite_where=sa.text(_EVERYWHERE), postgresql_where=sa.text(_EVERYWHERE))
    op.create_index("uq_org_unit_code_lower", "org_unit", [sa.text("lower(code)")], unique=True)


def downgrade() -> None:
    # The revoked duplicates stay revoked: bringing them back would only restore the defect.
    op.drop_index("uq_org_unit_code_lower", table_name="org_unit")
    op.drop_index("uq_role_grant_active_everywhere", table_name="role_grant")
    op.drop_index("uq_role_grant_active_on_unit", table_name="role_grant")
