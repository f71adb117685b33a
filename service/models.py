"""Tables. Only Alembic creates them (migrations/); the naming convention keeps constraint names stable."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Index, Integer, Table, Text, UniqueConstraint, func, literal_column, text
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
    # Codes are unique regardless of case ("abc" and "ABC" are one code); the database holds it under races.
    # SQLite cannot reflect an index on an expression: a later batch ALTER of org_unit there must recreate it.
    __table_args__ = (Index("uq_org_unit_code_lower", func.lower(literal_column("code")), unique=True),)

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
    # At most one active grant of a role to a subject on a unit (or on every förvaltning): a duplicate
    # would keep the access after the grant an admin sees is revoked. Two indexes, as NULLs never clash.
    __table_args__ = (
        Index("uq_role_grant_active_on_unit", "subject", "role", "org_unit_id", unique=True,
              sqlite_where=text("revoked_at IS NULL AND org_unit_id IS NOT NULL"),
              postgresql_where=text("revoked_at IS NULL AND org_unit_id IS NOT NULL")),
        Index("uq_role_grant_active_everywhere", "subject", "role", unique=True,
              sqlite_where=text("revoked_at IS NULL AND org_unit_id IS NULL"),
              postgresql_where=text("revoked_at IS NULL AND org_unit_id IS NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=255, index=True)
    role: str = Field(max_length=32)
    # NULL: the grant covers every förvaltning.
    org_unit_id: int | None = Field(default=None, foreign_key="org_unit.id")
    granted_by: str = Field(max_length=255)
    granted_at: datetime
    revoked_by: str | None = Field(default=None, max_length=255)
    revoked_at: datetime | None = None
    # The behovs- och riskanalys the grant rests on (docs/requirements.md L4), when the granting admin names one.
    reference: str | None = Field(default=None, max_length=200)


class ReportCategory(SQLModel, table=True):
    """A förvaltning's report category, valid from a day to a day (service/domain/categories.py).

    Rows are never deleted and a code never changes: a retired category keeps its row (and its meaning) for the
    reports and statistics of the years it was in use. Codes are unique within the förvaltning regardless of case.
    """

    __tablename__ = "report_category"
    __table_args__ = (Index("uq_report_category_administration_id_code_lower", "administration_id",
                            func.lower(literal_column("code")), unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    administration_id: int = Field(foreign_key="org_unit.id")
    code: str = Field(max_length=64)  # as report.category; new codes follow the org code rule (32 characters)
    label_sv: str = Field(max_length=200)
    label_en: str = Field(max_length=200)
    valid_from: date
    valid_to: date | None = None
    created_at: datetime
    updated_at: datetime


class CaseNumberSequence(SQLModel, table=True):
    __tablename__ = "case_number_sequence"

    administration_id: int = Field(foreign_key="org_unit.id", primary_key=True)
    year: int = Field(primary_key=True)
    last_number: int


class Report(SQLModel, table=True):
    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("submitted_by", "external_reference", name="uq_report_submitted_by_external_reference"),
        # An imported case is stored once per previous system and its number there (service/history_import.py).
        UniqueConstraint("import_source", "previous_case_number", name="uq_report_import_source_previous_case_number"),
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
    received_on: date = Field(index=True)  # the local calendar day of received_at: what periods count by
    # When the report was stored here. Equal to received_at, except for a report that reached the
    # organisation on paper, by phone or in person and was registered later: received_at is then the real
    # receipt, which everything counts from, and registered_by and received_by name the two people.
    registered_at: datetime
    registered_by: str | None = Field(default=None, max_length=200)
    received_by: str | None = Field(default=None, max_length=200)
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
    first_assessed_at: datetime | None = None
    judged_serious_at: datetime | None = None
    closed_at: datetime | None = None
    # Imported history (docs/history-import.md): the previous system, its case number, when and by whom.
    import_source: str | None = Field(default=None, max_length=32)
    previous_case_number: str | None = Field(default=None, max_length=64, index=True)
    imported_at: datetime | None = None
    imported_by: str | None = Field(default=None, max_length=255)


class ReportUnit(SQLModel, table=True):
    __tablename__ = "report_unit"
    # The statistics read a period's (report, enhet) pairs from this index alone, without the report table.
    __table_args__ = (Index("ix_report_unit_received_on_unit_id", "received_on", "unit_id",
                            postgresql_include=["report_id"]),)

    report_id: uuid.UUID = Field(foreign_key="report.id", primary_key=True)
    unit_id: int = Field(foreign_key="org_unit.id", primary_key=True, index=True)
    received_on: date  # the report's, copied (it never changes) so periods need no join to report


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


# ---- the case lifecycle -------------------------------------------------------------------------------


class Assessment(SQLModel, table=True):
    """Every bedömning, kept; the current one is also spread into report_type for counting."""

    __tablename__ = "assessment"

    id: int | None = Field(default=None, primary_key=True)
    report_id: uuid.UUID = Field(foreign_key="report.id", index=True)
    assessed_at: datetime
    assessor_subject: str = Field(max_length=255)
    assessor_name: str = Field(max_length=200)
    justification: str = Field(sa_column=Column(Text, nullable=False))
    findings: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of the types and details
    incident_aware_at: datetime | None = None
    is_current: bool


class ReportType(SQLModel, table=True):
    """The report's current types, one row each: what the statistics count."""

    __tablename__ = "report_type"
    # The annual table reads a period's types and lex Sarah severities from this index alone.
    __table_args__ = (Index("ix_report_type_received_on", "received_on",
                            postgresql_include=["report_id", "type", "lex_sarah_severity"]),)

    report_id: uuid.UUID = Field(foreign_key="report.id", primary_key=True)
    type: str = Field(max_length=32, primary_key=True, index=True)
    received_on: date  # the report's, copied (it never changes) so periods need no join to report
    lex_sarah_severity: str | None = Field(default=None, max_length=32)
    incident_risk: str | None = Field(default=None, max_length=16)
    complaint_kind: str | None = Field(default=None, max_length=16)
    complaint_submitter: str | None = Field(default=None, max_length=16)


class CaseLink(SQLModel, table=True):
    __tablename__ = "case_link"

    report_id: uuid.UUID = Field(foreign_key="report.id", primary_key=True)
    related_report_id: uuid.UUID = Field(foreign_key="report.id", primary_key=True)


class Investigation(SQLModel, table=True):
    __tablename__ = "investigation"

    id: int | None = Field(default=None, primary_key=True)
    report_id: uuid.UUID = Field(foreign_key="report.id", unique=True)
    kind: str = Field(max_length=16)  # full (SOSFS 2011:5) or light (handled within the unit)
    started_at: datetime
    started_by_name: str = Field(max_length=200)
    decision: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decided_at: datetime | None = None
    decided_by_name: str | None = Field(default=None, max_length=200)
    decided_by_title: str | None = Field(default=None, max_length=200)


class InvestigationRootCause(SQLModel, table=True):
    __tablename__ = "investigation_root_cause"

    investigation_id: int = Field(foreign_key="investigation.id", primary_key=True)
    cause: str = Field(max_length=64, primary_key=True, index=True)


class InvestigationEntry(SQLModel, table=True):
    """Append-only: a correction is a new entry pointing at the one it corrects."""

    __tablename__ = "investigation_entry"

    id: int | None = Field(default=None, primary_key=True)
    investigation_id: int = Field(foreign_key="investigation.id", index=True)
    topic: str = Field(max_length=32)
    documented_on: date
    source: str = Field(max_length=500)
    nature: str = Field(max_length=16)  # fact or assessment
    author_name: str = Field(max_length=200)
    author_title: str = Field(max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    corrects_entry_id: int | None = Field(default=None, foreign_key="investigation_entry.id")
    recorded_at: datetime
    recorded_by: str = Field(max_length=255)


class CaseAction(SQLModel, table=True):
    __tablename__ = "case_action"

    id: int | None = Field(default=None, primary_key=True)
    report_id: uuid.UUID = Field(foreign_key="report.id", index=True)
    kind: str = Field(max_length=16)  # immediate or planned
    description: str = Field(sa_column=Column(Text, nullable=False))
    owner_name: str = Field(max_length=200)
    due_date: date | None = None
    done_date: date | None = None
    effect_evaluation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    evaluated_at: datetime | None = None
    created_at: datetime


class Notification(SQLModel, table=True):
    """An IVO or IMY notification: a draft until sent, then frozen."""

    __tablename__ = "notification"
    __table_args__ = (UniqueConstraint("report_id", "authority", name="uq_notification_report_id_authority"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: uuid.UUID = Field(foreign_key="report.id", index=True)
    authority: str = Field(max_length=8)
    created_at: datetime
    sender_reference: str | None = Field(default=None, max_length=100)
    content: str = Field(sa_column=Column(Text, nullable=False))  # JSON: the form's fields (docs/lifecycle.md)
    investigation_attached: bool = False
    aware_at: datetime | None = None  # IMY
    delay_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    decision_maker_name: str | None = Field(default=None, max_length=200)
    delegation_reference: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = None
    channel: str | None = Field(default=None, max_length=16)
    sent_by_name: str | None = Field(default=None, max_length=200)
    authority_reference: str | None = Field(default=None, max_length=100)
    authority_decision: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    authority_decision_at: date | None = None


class NotificationSupplement(SQLModel, table=True):
    __tablename__ = "notification_supplement"

    id: int | None = Field(default=None, primary_key=True)
    notification_id: int = Field(foreign_key="notification.id", index=True)
    kind: str = Field(max_length=16)
    content: str = Field(sa_column=Column(Text, nullable=False))
    sent_at: datetime
    channel: str = Field(max_length=16)
    recorded_at: datetime
    recorded_by_name: str = Field(max_length=200)


class DataSubjectCommunication(SQLModel, table=True):
    """GDPR art. 34 for a high-risk incident: the data subjects informed, or the exemption and why."""

    __tablename__ = "data_subject_communication"

    report_id: uuid.UUID = Field(foreign_key="report.id", primary_key=True)
    informed_at: datetime | None = None
    method: str | None = Field(default=None, max_length=200)
    exemption: str | None = Field(default=None, max_length=32)
    justification: str = Field(sa_column=Column(Text, nullable=False))
    recorded_at: datetime
    recorded_by_name: str = Field(max_length=200)


class FollowUp(SQLModel, table=True):
    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    report_id: uuid.UUID = Field(foreign_key="report.id", index=True)
    followed_up_at: datetime
    by_name: str = Field(max_length=200)
    summary: str = Field(sa_column=Column(Text, nullable=False))


class CaseDeadline(SQLModel, table=True):
    """Open deadlines only; recomputed from the case's facts after every change."""

    __tablename__ = "case_deadline"
    __table_args__ = (Index("ix_case_deadline_due_at", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: uuid.UUID = Field(foreign_key="report.id", index=True)
    kind: str = Field(max_length=32)
    action_id: int | None = Field(default=None, foreign_key="case_action.id")
    due_at: datetime


# ---- the access log -----------------------------------------------------------------------------------


class AuditRecord(SQLModel, table=True):
    """One access to case data or to the access controls (docs/requirements.md L1), allowed or denied. service/audit.py.

    Rows are only inserted; the sealer later fills chain_seq, prev_hash and hash once, chaining each
    record to the one before it. report_id has no foreign key: a denied probe names an id that may not
    exist, and the log outlives gallring of the case it points at.
    """

    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_actor_subject_id", "actor_subject", "id"),
        Index("ix_audit_record_report_id_id", "report_id", "id"),
        Index("ix_audit_record_at", "at"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    at: datetime
    actor_subject: str = Field(max_length=255)
    actor_name: str = Field(max_length=200)
    actor_kind: str = Field(max_length=8)  # person, or system for integration clients
    acting_roles: str = Field(max_length=200)  # comma list
    report_id: uuid.UUID | None = None
    action: str = Field(max_length=64)
    outcome: str = Field(max_length=8)  # allowed or denied
    request_id: str | None = Field(default=None, max_length=128)
    detail: str | None = Field(default=None, max_length=500)  # never personal data or case content
    chain_seq: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True, unique=True))
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class LogReview(SQLModel, table=True):
    """A loggkontroll (docs/requirements.md L3): who reviewed which part of the access log, when, and what they
    found."""

    __tablename__ = "log_review"

    id: int | None = Field(default=None, primary_key=True)
    reviewer_subject: str = Field(max_length=255)
    reviewer_name: str = Field(max_length=200)
    reviewed_at: datetime = Field(index=True)
    period_from: datetime
    period_to: datetime
    subject_filter: str | None = Field(default=None, max_length=255)
    report_filter: uuid.UUID | None = None
    result: str = Field(sa_column=Column(Text, nullable=False))


# ---- browser sign-in ----------------------------------------------------------------------------------


class WebSession(SQLModel, table=True):
    """A browser's session with the web pages (service/web_sessions.py). The cookie holds a random token;
    the row holds only its SHA-256, so a copy of the table signs no one in. A row without a subject is a
    sign-in under way (its CSRF token protects the sign-in form; an OIDC sign-in keeps its state here)."""

    __tablename__ = "web_session"
    __table_args__ = (Index("ix_web_session_expires_at", "expires_at"),)

    token_hash: str = Field(primary_key=True, max_length=64)
    subject: str | None = Field(default=None, max_length=255, index=True)
    # What the principal is built from, as a token's claims would be: sub, name and (AVV_GRANT_SOURCE=token)
    # the identity provider's grants claim. JSON.
    claims: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    csrf_token: str = Field(max_length=64)
    # An OIDC sign-in under way: state, nonce, PKCE verifier, where to go afterwards. JSON.
    login_state: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    id_token: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # for signing out at the IdP
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # whichever comes first: idle time from last_seen_at, or the absolute lifetime


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for statements written in SQLAlchemy Core (bulk inserts, statistics)."""
    return model.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table=True classes, undeclared
