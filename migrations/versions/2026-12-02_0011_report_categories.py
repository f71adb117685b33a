"""report_category: each förvaltning's categories as data, valid over time, seeded from the configured list

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:30:00

Every existing förvaltning gets the list the deployment was configured with when it migrates: the
setting AVV_REPORT_CATEGORIES (JSON, code → Swedish label) if it is set, else the defaults the service
shipped with (frozen below, so that this migration does the same whatever the code says later). Each is
valid from the förvaltning's valid_from, or from the first day one of its reports was received if that is
earlier. A code its reports carry that the list no longer holds becomes a retired category of its own,
labelled by its code, valid from the first to the last day a report with it was received, so old reports
and old years' statistics keep it.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEFAULTS = {  # service/config.py DEFAULT_CATEGORIES as of this migration, with the English labels
    "treatment": ("Bemötande", "Treatment of people"),
    "documentation": ("Dokumentation", "Documentation"),
    "communication": ("Kommunikation/information", "Communication/information"),
    "case_handling": ("Handläggning", "Case handling"),
    "care": ("Omvårdnad", "Care"),
    "medication": ("Läkemedel", "Medication"),
    "it_support": ("IT-stöd", "IT support"),
    "safety": ("Säkerhet", "Safety"),
    "confidentiality": ("Sekretess", "Confidentiality"),
    "other": ("Övrigt", "Other"),
}
_NOT_STATED = "not_stated"

_org_unit = sa.table("org_unit", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                     sa.column("valid_from", sa.Date))
_report = sa.table("report", sa.column("administration_id", sa.Integer), sa.column("category", sa.String),
                   sa.column("received_on", sa.Date))


def _configured() -> dict[str, tuple[str, str]]:
    setting = os.environ.get("AVV_REPORT_CATEGORIES", "").strip()
    if not setting:
        return dict(_DEFAULTS)
    labels = json.loads(setting)
    return {str(code): (str(label), _DEFAULTS.get(str(code), (None, str(label)))[1]) for code, label in labels.items()}


def upgrade() -> None:
    category = op.create_table(
        "report_category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("administration_id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("label_sv", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("label_en", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["administration_id"], ["org_unit.id"],
                                name=op.f("fk_report_category_administration_id_org_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_category")),
    )
    op.create_index("uq_report_category_administration_id_code_lower", "report_category",
                    ["administration_id", sa.text("lower(code)")], unique=True)

    connection = op.get_bind()
    configured = _configured()
    now = datetime.now(UTC)
    rows = []
    administrations = connection.execute(
        sa.select(_org_unit.c.id, _org_unit.c.valid_from).where(_org_unit.c.kind == "administration")
        .order_by(_org_unit.c.id)).all()
    for administration_id, valid_from in administrations:
        used = connection.execute(
            sa.select(_report.c.category, sa.func.min(_report.c.received_on, type_=sa.Date),
                      sa.func.max(_report.c.received_on, type_=sa.Date))
            .where(_report.c.administration_id == administration_id)
            .group_by(_report.c.category).order_by(_report.c.category)).all()
        first_report = min((first for _, first, _ in used if first is not None), default=None)
        start = min(valid_from, first_report) if first_report is not None else valid_from
        taken: set[str] = set()
        for code, (label_sv, label_en) in configured.items():
            if code.lower() == _NOT_STATED or code.lower() in taken:
                continue
            taken.add(code.lower())
            rows.append(dict(administration_id=administration_id, code=code, label_sv=label_sv, label_en=label_en,
                             valid_from=start, valid_to=None, created_at=now, updated_at=now))
        for code, first, last in used:
            if code is None or code.lower() in taken:
                continue  # a code differing from a listed one only in case keeps showing under its own code
            taken.add(code.lower())
            rows.append(dict(administration_id=administration_id, code=code, label_sv=code, label_en=code,
                             valid_from=first or start, valid_to=last or first or start, created_at=now,
                             updated_at=now))
    if rows:
        op.bulk_insert(category, rows)


def downgrade() -> None:
    op.drop_index("uq_report_category_administration_id_code_lower", table_name="report_category")
    op.drop_table("report_category")
