"""Use cases for reports: intake with case numbers and de-duplication, and reads scoped to the caller."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    insert,
    select as sa_select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service import audit
from service.categories import CategoryBook, check_category
from service.config import Settings
from service.domain.access import Permission, Principal, Role, Scope
from service.domain.deadlines import Policy, first_assessment_deadline
from service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.domain.late_registration import LateRegistrationPolicy, check_may_register_late, check_received
from service.domain.lifecycle import CaseStatus
from service.domain.org import OrgKind
from service.domain.reports import (
    Channel,
    case_number,
    case_number_prefix,
    check_subject,
    check_times,
    is_late_report,
    local_date,
)
from service.models import CaseDeadline, CaseEvent, CaseNumberSequence, OrgUnit, Report, ReportUnit, table_of
from service.org_units import OrgSnapshot, UnitInfo
from service.scope import readable_by, reports_within


@dataclass(frozen=True)
class Reporter:
    subject: str
    name: str
    title: str | None = None


@dataclass(frozen=True)
class NewReport:
    unit_codes: list[str]
    occurred_at: datetime
    noticed_at: datetime
    description: str
    immediate_actions: str
    subject_reference: str | None
    no_specific_subject: bool
    category: str | None  # None: not stated (service/domain/categories.py)
    channel: Channel | None
    external_reference: str | None
    reporter: Reporter | None  # integration clients name the reporter, and handlers registering a report later
    fingerprint: str  # SHA-256 of the canonical request body
    # A report that reached the organisation earlier (paper, phone, in person) and is registered now: when it
    # was received and by whom (service/domain/late_registration.py). None: received now, through the service.
    received_at: datetime | None = None
    received_by: str | None = None


def fingerprint(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class StoredReport:
    report: Report
    units: list[UnitInfo]
    created: bool = True


def submit_report(session: Session, principal: Principal, new: NewReport, now: datetime,
                  settings: Settings, org: OrgSnapshot, categories: CategoryBook | None = None) -> StoredReport:
    """Store a new report with its case number, its timeline event and its access record, or replay one.

    On PostgreSQL a session that has not opened a transaction yet (an API request's has not: the grant
    and org caches read in sessions of their own) runs in autocommit, and the intake is one statement:
    the förvaltning's counter row is then locked only while the database executes it, never while this
    process waits for its turn to send COMMIT, which under load is what limited intake throughput.
    `categories` is the cached copy of the categories (the API's and the form's); without it they are read here.
    """
    # A report registered later writes two timeline records: not the one-statement intake (below).
    autocommit = (session.get_bind().dialect.name == "postgresql" and not session.in_transaction()
                  and new.received_at is None)
    if autocommit:
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    try:
        stored = _submit(session, principal, new, now, settings, org, categories, autocommit=autocommit)
    except Forbidden as refused:  # an enhet outside the caller's grants, or no right to register later
        detail = "no right to register later" if refused.field == "received_at" else "enhet outside grants"
        audit.record(session, principal, "submit_report", outcome=audit.DENIED, detail=detail)
        raise
    if not stored.created:
        audit.record(session, principal, "submit_report_replay", report_id=stored.report.id,
                     roles=audit.roles_on(principal, (unit.path for unit in stored.units)))
    return stored


def _submit(session: Session, principal: Principal, new: NewReport, now: datetime,
            settings: Settings, org: OrgSnapshot, categories: CategoryBook | None, *, autocommit: bool) -> StoredReport:
    check_times(new.occurred_at, new.noticed_at, now)
    late = late_registration_policy(settings) if new.received_at is not None else None
    if late is not None and new.received_at is not None:
        if principal.is_integration:  # a client is refused before anything else about its stated receipt
            check_may_register_late(principal, (), late)
        check_received(new.received_at, new.received_by, new.channel, new.occurred_at, new.noticed_at, now, late)
    check_subject(new.subject_reference, new.no_specific_subject)
    reporter = _reporter_for(principal, new.reporter, registering_later=late is not None)

    if new.external_reference is not None:
        earlier = _by_external_reference(session, principal.subject, new.external_reference)
        if earlier is not None:
            return _replay(session, earlier, new)

    units = _units_for_report(org, principal, new, settings)
    if late is not None:
        check_may_register_late(principal, (unit.path for unit in units), late)
    administration = org.by_id[int(units[0].path.split("/")[1])]
    # The real receipt: the case number's year, the statistics' day, the "genast" flag and every deadline
    # count from it, not from when the report was typed in.
    received_at = new.received_at.astimezone(UTC) if new.received_at is not None else now
    received_on = local_date(received_at, settings.time_zone)
    category = check_category(session, administration.id, new.category, received_on, book=categories)
    year = received_on.year
    channel = new.channel or (Channel.integration if principal.is_integration else Channel.web_form)
    report_id = uuid.uuid4()
    row: dict[str, Any] = dict(
        id=report_id, case_number=f"pending-{report_id.hex}", administration_id=administration.id,
        status=CaseStatus.reported.value, category=category, channel=channel.value,
        occurred_at=new.occurred_at, noticed_at=new.noticed_at,
        received_at=received_at, received_on=received_on, registered_at=now,
        registered_by=principal.display_name if late is not None else None,
        received_by=new.received_by if late is not None else None,
        description=new.description, immediate_actions=new.immediate_actions,
        subject_reference=new.subject_reference, no_specific_subject=new.no_specific_subject,
        reporter_subject=reporter.subject, reporter_name=reporter.name, reporter_title=reporter.title,
        submitted_by=principal.subject, external_reference=new.external_reference, payload_sha256=new.fingerprint,
        reported_late=is_late_report(new.noticed_at, received_at, timedelta(hours=settings.late_report_hours)),
        search_text=_search_text(new.description, new.immediate_actions),
    )
    units = sorted(units, key=lambda unit: unit.code)
    # The case's first deadline (its first assessment), stored with the report: nothing else would store it.
    first = first_assessment_deadline(received_at, Policy(first_assessment_hours=settings.first_assessment_hours))
    deadline = {"report_id": report_id, "kind": first.kind.value, "due_at": first.due_at}
    access = audit.entry(principal, "submit_report", report_id=report_id,
                         roles=audit.roles_on(principal, (unit.path for unit in units)),
                         detail="registered later" if late is not None else None)

    def write() -> str:
        """Insert the report, its enheter, its timeline event and its access record; the case number."""
        # Intake is the hottest path in the service: constant statements with bound parameters on the
        # session's connection, not ORM flushes. The access record is written here, not at commit, so
        # that a lost race on the external reference (below) takes it back with the report.
        connection = session.connection()
        created = {"status": [None, row["status"]], "units": [None, [unit.code for unit in units]]}
        event = {"report_id": report_id, "at": now, "actor_subject": principal.subject,
                 "actor_name": principal.display_name, "kind": "reported",
                 "detail": json.dumps({"changes": created})}
        events = [event]
        if late is not None:
            # Two records: the receipt at its real time under the receiver's name, then the registration.
            # Both keep the registering caller's subject: the receiver need not have an account here.
            events = [{**event, "at": received_at, "actor_name": new.received_by, "kind": "received",
                       "detail": json.dumps({"changes": {**created, "channel": [None, channel.value]}},
                                            ensure_ascii=False)},
                      {**event, "kind": "registered",
                       "detail": json.dumps({"changes": {"received_at": [None, received_at.isoformat()],
                                                         "received_by": [None, new.received_by]}},
                                            ensure_ascii=False)}]
        if connection.dialect.name == "postgresql" and late is None:
            return connection.execute(_PG_INTAKE, {
                **row, **{f"event_{key}": value for key, value in event.items()},
                **{f"audit_{key}": value for key, value in access.items()},
                "deadline_kind": deadline["kind"], "deadline_due_at": deadline["due_at"],
                "unit_ids": [unit.id for unit in units], "year": year,
                "prefix": case_number_prefix(administration.code)}).scalar_one()
        # SQLite (and a report registered later, on either database): statement by statement in the
        # request's transaction; on SQLite it holds the database's one write lock from its first statement
        # (BEGIN IMMEDIATE) to the commit, on PostgreSQL the counter row is locked until the commit.
        connection.execute(_INSERT_REPORT, row)
        connection.execute(_INSERT_REPORT_UNIT, [{"report_id": report_id, "unit_id": unit.id,
                                                  "received_on": received_on} for unit in units])
        connection.execute(_INSERT_CASE_EVENT, events)
        connection.execute(_INSERT_CASE_DEADLINE, deadline)
        number = case_number(administration.code, year, _next_case_number(session, administration.id, year))
        connection.execute(_SET_CASE_NUMBER, {"report_id": report_id, "number": number})
        connection.execute(audit.INSERT, access)
        return number

    def stored(number: str) -> StoredReport:
        # The receipt's view of the row just written, not an ORM object (it never joins the session):
        # model_construct skips validation and instrumentation, a large part of the intake's own Python.
        return StoredReport(report=Report.model_construct(**{**row, "case_number": number}), units=units)

    if new.external_reference is None:
        return stored(write())
    try:
        if autocommit:
            return stored(write())  # one statement: when it fails, nothing of it was written
        with session.begin_nested():
            number = write()
        return stored(number)
    except IntegrityError:
        # A concurrent request with the same external reference won the race; answer as its replay.
        earlier = _by_external_reference(session, principal.subject, new.external_reference)
        if earlier is None:
            raise
        return _replay(session, earlier, new)


_REPORT_TABLE = table_of(Report)
# What the intake's `row` fills: every column but those later steps of the case set, and the marks of an
# imported case (service/history_import.py).
_REPORT_COLUMNS = [column.name for column in _REPORT_TABLE.columns
                   if column.name not in ("first_assessed_at", "judged_serious_at", "closed_at", "import_source",
                                          "previous_case_number", "imported_at", "imported_by")]
_INSERT_REPORT = insert(_REPORT_TABLE)
_INSERT_REPORT_UNIT = insert(table_of(ReportUnit))
_INSERT_CASE_EVENT = insert(table_of(CaseEvent))
_INSERT_CASE_DEADLINE = insert(table_of(CaseDeadline))
_NUMBERED_COLUMNS = [c for c in _REPORT_COLUMNS if c != "case_number"]
_AUDIT_COLUMNS = [c for c in audit.ENTRY_COLUMNS if c != "report_id"]
# The whole intake in one statement, case number and access record included. The counter row is locked
# by the first CTE until the statement's transaction ends. The number is formatted as domain
# case_number() does (tests/api/test_reports.py checks both databases give the same numbers).
_PG_INTAKE = text(f"""
WITH number AS (
    INSERT INTO case_number_sequence (administration_id, year, last_number)
    VALUES (:administration_id, :year, 1)
    ON CONFLICT (administration_id, year) DO UPDATE SET last_number = case_number_sequence.last_number + 1
    RETURNING last_number
), new_report AS (
    INSERT INTO report ({", ".join(_NUMBERED_COLUMNS)}, case_number)
    SELECT {", ".join(":" + c for c in _NUMBERED_COLUMNS)},
           :prefix || '-' || :year || '-' || lpad(last_number::text, greatest(5, length(last_number::text)), '0')
    FROM number
    RETURNING id, case_number
), new_units AS (
    INSERT INTO report_unit (report_id, unit_id, received_on)
    SELECT new_report.id, unit_id, :received_on FROM new_report, unnest(CAST(:unit_ids AS integer[])) AS unit_id
), new_event AS (
    INSERT INTO case_event (report_id, at, actor_subject, actor_name, kind, detail)
    SELECT new_report.id, :event_at, :event_actor_subject, :event_actor_name, :event_kind, :event_detail
    FROM new_report
), new_deadline AS (
    INSERT INTO case_deadline (report_id, kind, due_at)
    SELECT new_report.id, :deadline_kind, :deadline_due_at FROM new_report
), access AS (
    INSERT INTO audit_record (report_id, {", ".join(_AUDIT_COLUMNS)})
    SELECT new_report.id, {", ".join(":audit_" + c for c in _AUDIT_COLUMNS)}
    FROM new_report
)
SELECT case_number FROM new_report
""").bindparams(*(bindparam(c, type_=_REPORT_TABLE.c[c].type) for c in _NUMBERED_COLUMNS),
                bindparam("event_at", type_=table_of(CaseEvent).c.at.type),
                bindparam("deadline_due_at", type_=table_of(CaseDeadline).c.due_at.type),
                bindparam("audit_at", type_=audit.INSERT.table.c.at.type))
_SET_CASE_NUMBER = (update(_REPORT_TABLE).where(_REPORT_TABLE.c.id == bindparam("report_id"))
                    .values(case_number=bindparam("number")))


def late_registration_policy(settings: Settings) -> LateRegistrationPolicy:
    return LateRegistrationPolicy(window_days=settings.late_registration_days,
                                  by_clients=settings.late_registration_by_clients)


def _reporter_for(principal: Principal, named: Reporter | None, *, registering_later: bool = False) -> Reporter:
    if principal.is_integration:
        if named is None:
            raise InvalidInput("An integration client must name the reporter.", field="reporter")
        return named
    if registering_later and named is not None:  # a handler typing in someone else's paper or phone report
        return named
    if named is not None:
        raise InvalidInput("The reporter is the signed-in person; leave reporter out.", field="reporter")
    return Reporter(subject=principal.subject, name=principal.display_name)


def _by_external_reference(session: Session, submitted_by: str, reference: str) -> Report | None:
    return session.exec(
        select(Report).where(Report.submitted_by == submitted_by, Report.external_reference == reference)
    ).first()


def _replay(session: Session, earlier: Report, new: NewReport) -> StoredReport:
    if earlier.payload_sha256 != new.fingerprint:
        raise Conflict(
            f"external_reference was already used for {earlier.case_number} with different contents.",
            field="external_reference", reason="reused_reference",
        )
    return StoredReport(report=earlier, units=units_of(session, [earlier.id])[earlier.id], created=False)


def _units_for_report(org: OrgSnapshot, principal: Principal, new: NewReport, settings: Settings) -> list[UnitInfo]:
    return units_for_report(org, principal, new.unit_codes, new.occurred_at, settings)


def units_for_report(org: OrgSnapshot, principal: Principal, unit_codes: list[str], occurred_at: datetime,
                     settings: Settings) -> list[UnitInfo]:
    """The enheter a report names, checked: known, enheter, active the day it happened, the caller's to report
    for, in one förvaltning. Raises the first rule broken."""
    occurred_on = local_date(occurred_at, settings.time_zone)
    units: list[UnitInfo] = []
    for index, code in enumerate(unit_codes):
        pointer = f"/units/{index}"
        unit = org.by_code.get(code)
        if unit is None:
            raise InvalidInput("No enhet has this code.", field=pointer, reason="unknown_unit")
        if unit.kind != OrgKind.unit:
            raise InvalidInput(f"This code names a {unit.kind}; a report concerns enheter (units).", field=pointer,
                               reason="not_a_unit")
        if not unit.is_active_on(occurred_on):
            raise InvalidInput("This enhet was not active on the day of occurred_at.", field=pointer,
                               reason="inactive_unit")
        if not principal.may(Permission.submit_report, unit.path):
            raise Forbidden("You may not submit reports for this enhet.", field=pointer, reason="not_permitted")
        units.append(unit)
    if len({unit.path.split("/")[1] for unit in units}) > 1:
        raise InvalidInput("All enheter of one report must belong to the same förvaltning.", field="units",
                           reason="several_administrations")
    return units


def _next_case_number(session: Session, administration_id: int, year: int) -> int:
    """Atomic upsert-and-increment; concurrent requests queue on the row instead of colliding."""
    statement = _NEXT_NUMBER[session.get_bind().dialect.name]
    return int(session.connection().execute(statement, {"administration_id": administration_id,
                                                        "year": year}).scalar_one())


def _upsert_increment(dialect_insert: Callable[[Table], Any]) -> Any:  # the dialects' own insert constructs
    table = table_of(CaseNumberSequence)
    return (
        dialect_insert(table)
        .values(administration_id=bindparam("administration_id"), year=bindparam("year"), last_number=1)
        .on_conflict_do_update(index_elements=["administration_id", "year"],
                               set_={"last_number": table.c.last_number + 1})
        .returning(table.c.last_number)
    )


_NEXT_NUMBER = {"postgresql": _upsert_increment(postgresql.insert), "sqlite": _upsert_increment(sqlite.insert)}


def _search_text(*parts: str) -> str:
    return "\n".join(parts).casefold()


def units_of(session: Session, report_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[UnitInfo]]:
    result: dict[uuid.UUID, list[UnitInfo]] = {report_id: [] for report_id in report_ids}
    if not report_ids:
        return result
    rows = session.execute(
        sa_select(col(ReportUnit.report_id), col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.name), col(OrgUnit.kind),
                  col(OrgUnit.path), col(OrgUnit.valid_from), col(OrgUnit.valid_to))
        .join(OrgUnit, col(OrgUnit.id) == col(ReportUnit.unit_id))
        .where(col(ReportUnit.report_id).in_(report_ids)).order_by(col(OrgUnit.code))
    ).all()
    for report_id, *unit in rows:
        result[report_id].append(UnitInfo(*unit))
    return result


def recent_unit_ids(session: Session, reporter_subject: str, *, reports: int = 5) -> list[int]:
    """The enheter of a person's latest reports, newest first: where they are likely to report from again."""
    latest = (select(Report.id).where(Report.reporter_subject == reporter_subject)
              .order_by(col(Report.received_at).desc()).limit(reports).subquery())
    rows = session.exec(select(ReportUnit.unit_id).where(col(ReportUnit.report_id).in_(select(latest.c.id)))).all()
    return list(dict.fromkeys(rows))


# ---- reads -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportView:
    report: Report | ListedReport  # a listing's views: ListedReport
    units: list[UnitInfo]
    case_access: bool  # False: the caller sees the receipt and status of their own report only
    reporter_visible: bool


class _Viewer:
    """What one caller sees of reports: their scopes worked out once for a whole page."""

    def __init__(self, principal: Principal) -> None:
        self.subject = principal.subject
        self.read_scope = principal.scope(Permission.read_case)
        self.identity_scope = principal.scope(Permission.read_reporter_identity)

    def view(self, report: Report | ListedReport, units: list[UnitInfo]) -> ReportView:
        own = self.subject in (report.reporter_subject, report.submitted_by)
        return ReportView(
            report=report, units=units,
            case_access=any(self.read_scope.covers(unit.path) for unit in units),
            reporter_visible=own or any(self.identity_scope.covers(unit.path) for unit in units),
        )


def _view(principal: Principal, report: Report, units: list[UnitInfo]) -> ReportView:
    return _Viewer(principal).view(report, units)


def get_report(session: Session, principal: Principal, report_id: uuid.UUID) -> ReportView:
    """One report with its enheter, in one statement that also checks the caller may read it."""
    statement = _report_read(principal.scope(Permission.read_case))
    rows = session.connection().execute(statement, {"report_id": report_id, "subject": principal.subject}).all()
    if not rows:
        audit.record(session, principal, "read_report", report_id=report_id, outcome=audit.DENIED)
        raise NotFound("No such report.")
    report = Report.model_construct(**{name: rows[0][index] for index, name in enumerate(_REPORT_COLUMN_NAMES)})
    view = _view(principal, report, [_unit_of(row, len(_REPORT_COLUMN_NAMES)) for row in rows
                                     if row[len(_REPORT_COLUMN_NAMES)] is not None])
    _audit_view(session, principal, "read_report", view)
    return view


_REPORT_UNIT_TABLE = ReportUnit.__table__  # type: ignore[attr-defined]
_ORG_UNIT_TABLE = OrgUnit.__table__  # type: ignore[attr-defined]
_REPORT_COLUMN_NAMES = tuple(column.name for column in _REPORT_TABLE.columns)
# A report's enheter as UnitInfo's fields, in its order, after the report's own columns.
_UNIT_COLUMNS = tuple(_ORG_UNIT_TABLE.c[name].label(f"unit_{name}")
                      for name in ("id", "code", "name", "kind", "path", "valid_from", "valid_to"))


def _unit_of(row: Any, start: int) -> UnitInfo:
    return UnitInfo(*row[start:start + len(_UNIT_COLUMNS)])


@lru_cache(maxsize=512)
def _readable(case_scope: Scope) -> ColumnElement[bool]:
    """The reads' scope condition for callers with this case scope, the caller bound as :subject: built once,
    since building it costs more than a listing's statement around it."""
    return readable_by(case_scope, bindparam("subject", type_=String))


@lru_cache(maxsize=512)
def _report_read(case_scope: Scope) -> Any:
    """The read of one report (:report_id) with its enheter, one row per enhet, for a caller with this case
    scope (:subject): no row when they may not read it. Built once per scope: building a statement and
    its cache key costs more Python than running it, and callers' scopes are few (the subject is bound)."""
    return (sa_select(*_REPORT_TABLE.columns, *_UNIT_COLUMNS)
            .select_from(_REPORT_TABLE)
            .outerjoin(_REPORT_UNIT_TABLE, _REPORT_UNIT_TABLE.c.report_id == _REPORT_TABLE.c.id)
            .outerjoin(_ORG_UNIT_TABLE, _ORG_UNIT_TABLE.c.id == _REPORT_UNIT_TABLE.c.unit_id)
            .where(_REPORT_TABLE.c.id == bindparam("report_id"), _readable(case_scope))
            .order_by(_ORG_UNIT_TABLE.c.code))


def _access(principal: Principal, view: ReportView) -> tuple[uuid.UUID, frozenset[Role], str | None]:
    """What the access record of a shown report says besides the action: the case, the roles the caller holds
    on its enheter, and whether they saw only the receipt."""
    return (view.report.id, audit.roles_on(principal, (unit.path for unit in view.units)),
            None if view.case_access else "receipt only")


def _audit_view(session: Session, principal: Principal, action: str, view: ReportView) -> None:
    report_id, roles, detail = _access(principal, view)
    audit.record(session, principal, action, report_id=report_id, roles=roles, detail=detail)


def audit_listing(session: Session, principal: Principal, action: str, report_ids: Iterable[uuid.UUID]) -> None:
    """Log a listing that shows something of cases other than the reports themselves (GET /deadlines).

    As GET /reports: one record per listed case, in the roles the caller holds on its enheter, and a
    listing that shows nothing still logged ("no hits"); a caller with no case scope at all is logged
    as refused, since nothing in their grants lets them read what the listing is about.
    """
    if principal.scope(Permission.read_case).is_empty:
        audit.record(session, principal, action, outcome=audit.DENIED, detail="no case scope")
        return
    listed = list(dict.fromkeys(report_ids))  # a case with several deadlines is listed once
    if not listed:
        audit.record(session, principal, action, detail="no hits")
    units = units_of(session, listed)
    audit.record_cases(session, principal, action, (
        (report_id, audit.roles_on(principal, (unit.path for unit in units[report_id])), None)
        for report_id in listed))


def view_of_new(principal: Principal, stored: StoredReport) -> ReportView:
    return _view(principal, stored.report, stored.units)


@dataclass(frozen=True)
class ReportFilter:
    unit_id: int | None = None
    received_from: date | None = None
    received_to: date | None = None
    statuses: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    text: str | None = None
    own_only: bool = False  # only the reports the caller made (the web form's "Mina rapporter")
    previous_case_number: str | None = None  # imported cases: the number in the previous system


@dataclass(frozen=True, slots=True)
class ListedReport:
    """What a listing loads of a report: what its summary shows and what decides how much the caller sees.
    (A whole Report per row cost more to load than the rest of a page together.)"""

    id: uuid.UUID
    case_number: str
    status: str
    received_at: datetime
    external_reference: str | None
    category: str
    occurred_at: datetime
    reporter_subject: str
    submitted_by: str


_LISTED_COLUMNS = tuple(_REPORT_TABLE.c[item.name] for item in fields(ListedReport))


@dataclass(frozen=True)
class Page:
    items: list[ReportView]  # their reports are ListedReport
    last_key: tuple[datetime, uuid.UUID] | None  # keyset position after the last item, if more follow


@lru_cache(maxsize=512)
def _page_read(case_scope: Scope, within: Scope | None, filters: frozenset[str]) -> Any:
    """The read of a listing's page and its reports' enheter, one row per (report, enhet), newest report first:
    at most :limit reports readable with this case scope (the caller bound as :subject), concerning an enhet
    within `within` (a unit filter's subtree) if given, narrowed by the filters named (each bound under its
    name, see list_reports). Built once per such shape, like _report_read: building the statement and its
    cache key cost more than a fifth of a listing's CPU."""
    table = _REPORT_TABLE.c
    conditions: list[ColumnElement[bool]] = [_readable(case_scope)]
    if within is not None:
        conditions.append(reports_within(within))
    if "received_from" in filters:
        conditions.append(table.received_at >= bindparam("received_from", type_=table.received_at.type))
    if "received_before" in filters:
        conditions.append(table.received_at < bindparam("received_before", type_=table.received_at.type))
    if "statuses" in filters:
        conditions.append(table.status.in_(bindparam("statuses", expanding=True)))
    if "categories" in filters:
        conditions.append(table.category.in_(bindparam("categories", expanding=True)))
    if "own_only" in filters:
        conditions.append(table.reporter_subject == bindparam("subject", type_=String))
    if "previous_case_number" in filters:
        conditions.append(table.previous_case_number == bindparam("previous_case_number"))
    if "text" in filters:  # bound as a LIKE pattern, escaped with "/" (list_reports)
        conditions.append(table.search_text.like(bindparam("text", type_=String), escape="/"))
    if "after" in filters:
        conditions.append(tuple_(table.received_at, table.id) < tuple_(
            bindparam("after_received_at", type_=table.received_at.type), bindparam("after_id", type_=table.id.type)))
    page = (sa_select(*_LISTED_COLUMNS).where(and_(true(), *conditions))
            .order_by(table.received_at.desc(), table.id.desc()).limit(bindparam("limit", type_=Integer))
            .subquery("page"))
    return (sa_select(page, *_UNIT_COLUMNS).select_from(page)
            .outerjoin(_REPORT_UNIT_TABLE, _REPORT_UNIT_TABLE.c.report_id == page.c.id)
            .outerjoin(_ORG_UNIT_TABLE, _ORG_UNIT_TABLE.c.id == _REPORT_UNIT_TABLE.c.unit_id)
            .order_by(page.c.received_at.desc(), page.c.id.desc(), _ORG_UNIT_TABLE.c.code))


def _like_pattern(words: str) -> str:
    """Text contained anywhere, as a LIKE pattern whose wildcards in the text itself match only themselves.
    SQLAlchemy's contains(autoescape=True) does the same but only for a literal, and _page_read binds the text
    so that its statement serves every search; this escapes as autoescape does ("/" the escape character)."""
    return "%" + words.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def list_reports(session: Session, principal: Principal, wanted: ReportFilter, *, limit: int,
                 after: tuple[datetime, uuid.UUID] | None, time_zone: str) -> Page:
    within = None
    if wanted.unit_id is not None:
        root = session.get(OrgUnit, wanted.unit_id)
        if root is None:
            raise InvalidInput("No org unit has this id.", field="unit_id")
        within = Scope.of({root.path})
    zone = ZoneInfo(time_zone)
    bound: dict[str, Any] = {}  # the filters given, under the names _page_read binds them by
    if wanted.received_from is not None:
        bound["received_from"] = datetime.combine(wanted.received_from, time(), zone)
    if wanted.received_to is not None:
        bound["received_before"] = datetime.combine(wanted.received_to + timedelta(days=1), time(), zone)
    if wanted.statuses:
        bound["statuses"] = list(wanted.statuses)
    if wanted.categories:
        bound["categories"] = list(wanted.categories)
    if wanted.previous_case_number is not None:
        bound["previous_case_number"] = wanted.previous_case_number
    if wanted.text:
        bound["text"] = _like_pattern(wanted.text.casefold())
    if after is not None:
        bound["after_received_at"], bound["after_id"] = after
    filters = frozenset(name if not name.startswith("after_") else "after" for name in bound)
    if wanted.own_only:
        filters |= {"own_only"}
    statement = _page_read(principal.scope(Permission.read_case), within, filters)
    rows = session.connection().execute(statement, {**bound, "subject": principal.subject, "limit": limit + 1}).all()
    listed: dict[uuid.UUID, tuple[ListedReport, list[UnitInfo]]] = {}
    width = len(_LISTED_COLUMNS)
    more = False
    for row in rows:
        report_id = row[0]
        if report_id not in listed:
            if len(listed) == limit:  # the row after the page only tells that more follow
                more = True
                break
            listed[report_id] = (ListedReport(*row[:width]), [])
        if row[width] is not None:
            listed[report_id][1].append(_unit_of(row, width))
    viewer = _Viewer(principal)
    items = [viewer.view(report, units) for report, units in listed.values()]
    if not items:  # a search that finds nothing is still a search of case content, and may be a probe
        audit.record(session, principal, "list_cases", detail="no hits")
    # One record per listed report; the session inserts them in one statement.
    audit.record_cases(session, principal, "list_cases", (_access(principal, view) for view in items))
    last = (items[-1].report.received_at, items[-1].report.id) if more else None
    return Page(items=items, last_key=last)
