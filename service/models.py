"""Tables. Only Alembic creates them (migrations/); the naming convention keeps constraint names stable."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class OrgUnit(SQLModel, table=True):
    __tablename__ = "org_unit"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    parent_id: int | None = Field(default=None, foreign_key="org_unit.id", index=True)
    # Materialised path of ids from the root ("/1/5/12/"); subtree queries are prefix matches.
    path: str = Field(default="", max_length=400, index=True)
    valid_from: date
    valid_to: date | None = None
    created_at: datetime
    updated_at: datetime


class OrgUnitPlacement(SQLModel, table=True):
    """Where a unit stood, under which name, from when to when: reorganisations keep old figures in place."""

    __tablename__ = "org_unit_placement"
    __table_args__ = (Index("ix_org_unit_placement_unit_from", "unit_id", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="org_unit.id")
    parent_id: int | None = Field(default=None, foreign_key="org_unit.id")
    name: str = Field(max_length=200)
    valid_from: date
    valid_to: date | None = None


class RoleGrant(SQLModel, table=True):
    __tablename__ = "role_grant"

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=255, index=True)
    role: str = Field(max_length=32)
    # NULL: the grant covers every förvaltning.
    org_unit_id: int | None = Field(default=None, foreign_key="org_unit.id")
    granted_by: str = Field(max_length=255)
    granted_at: datetime
    revoked_by: str | None = Field(default=None, max_length=255)
    revoked_at: datetime | None = None


class CaseNumberSequence(SQLModel, table=True):
    __tablename__ = "case_number_sequence"

    administration_id: int = Field(foreign_key="org_unit.id", primary_key=True)
    year: int = Field(primary_key=True)
    last_number: int


class Report(SQLModel, table=True):
    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("submitted_by", "external_reference", name="uq_report_submitted_by_external_reference"),
        Index("ix_report_received_at_id", "received_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_number: str = Field(max_length=48, unique=True)
    administration_id: int = Field(foreign_key="org_unit.id")
    status: str = Field(max_length=32, index=True)
    category: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=32)
    occurred_at: datetime
    noticed_at: datetime
    received_at: datetime
    description: str = Field(sa_column=Column(Text, nullable=False))
    immediate_actions: str = Field(sa_column=Column(Text, nullable=False))
    subject_reference: str | None = Field(default=None, max_length=100)
    no_specific_subject: bool
    reporter_subject: str = Field(max_length=255, index=True)
    reporter_name: str = Field(max_length=200)
    reporter_title: str | None = Field(default=None, max_length=200)
    # Who sent the request: the reporter, or the integration client that submitted for them.
    submitted_by: str = Field(max_length=255, index=True)
    external_reference: str | None = Field(default=None, max_length=200)
    payload_sha256: str = Field(max_length=64)
    reported_late: bool
    # Case-folded copy of the searchable text; SQLite's LIKE folds ASCII only, not å/ä/ö.
    search_text: str = Field(sa_column=Column(Text, nullable=False))


class ReportUnit(SQLModel, table=True):
    __tablename__ = "report_unit"

    report_id: uuid.UUID = Field(foreign_key="report.id", primary_key=True)
    unit_id: int = Field(foreign_key="org_unit.id", primary_key=True, index=True)


class CaseEvent(SQLModel, table=True):
    """One line of a case's timeline, written in the same transaction as the change it records."""

    __tablename__ = "case_event"

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    report_id: uuid.UUID = Field(foreign_key="report.id", index=True)
    at: datetime
    actor_subject: str = Field(max_length=255)
    actor_name: str = Field(max_length=200)
    kind: str = Field(max_length=64)
    detail: str = Field(sa_column=Column(Text, nullable=False))  # JSON: {field: [from, to]} and notes
