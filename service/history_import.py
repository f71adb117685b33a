"""Use case: import the history of a previous register (docs/history-import.md), all or nothing, streamed.

Rows arrive one at a time (the API parses JSON, NDJSON or CSV into them) and are checked as they come: the
row's own rules (service/domain/history_import.py), its enheter on the day it was received, its category,
and a stored case with the same (source, previous case number). Valid rows are written in batches with
Core executemany, inside a savepoint of the request's one transaction, so that memory stays flat however
long the file is. At the end the savepoint is kept only when no row was refused and it is not a dry run:
a file either goes in whole or leaves nothing behind. A row loaded again unchanged is counted, not stored
twice; one that says something else than the stored case is refused, never merged.

An imported case gets the rows a live one has for what the statistics read (report, report_unit,
report_type with the report's received_on, the current assessment, sent notifications, first_assessed_at,
judged_serious_at, closed_at) and one timeline record, "imported": no step that did not happen here is
invented. A closed case has no deadlines; an open one gets those its history implies.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from service import audit
from service.cases import policy
from service.categories import CategoryBook, check_category
from service.config import Settings
from service.domain import history_import as rules
from service.domain.access import Permission, Principal, Scope
from service.domain.deadlines import open_deadlines
from service.domain.errors import Forbidden, InvalidInput
from service.domain.history_import import ImportedReport, RowError
from service.domain.org import OrgKind
from service.domain.personnummer import contains_identity_number
from service.domain.reports import Channel, case_number, is_late_report, local_date
from service.models import (
    Assessment,
    CaseDeadline,
    CaseEvent,
    CaseNumberSequence,
    Notification,
    Report,
    ReportType,
    ReportUnit,
    table_of,
)
from service.org_units import OrgSnapshot, UnitInfo

# Rows written per round of executemany: large enough that the statements' overhead is small, small enough
# that a batch's rows are a few megabytes at most.
BATCH_ROWS = 1000
ACTION = "import_reports"

_REPORT = table_of(Report)
_SEQUENCE = table_of(CaseNumberSequence)
_TABLES = [table_of(model) for model in (Report, ReportUnit, ReportType, Assessment, Notification, CaseEvent,
                                         CaseDeadline)]


@dataclass
class ImportSummary:
    dry_run: bool
    imported_at: datetime
    rows: int = 0
    new: int = 0
    unchanged: int = 0
    refused: int = 0  # rows with at least one error
    errors: list[RowError] = field(default_factory=list)  # pointers from the file's root: /reports/17/units/0
    errors_truncated: bool = False  # more errors than MAX_ERRORS: the rest of the file was not read
    possible_personal_identity_numbers: list[str] = field(default_factory=list)  # free text to check

    @property
    def stored(self) -> bool:
        return not self.dry_run and not self.errors


ParsedRow = ImportedReport | list[RowError]  # a row, or what made it unreadable (pointers relative to the row)


def require_importer(session: Session, principal: Principal) -> None:
    """Only admins import history; anyone else is refused before the body is read."""
    if principal.scope(Permission.manage_org).is_empty:
        audit.record(session, principal, ACTION, outcome=audit.DENIED, detail="not an admin")
        raise Forbidden("Only an admin may import history.")


def import_reports(session: Session, principal: Principal, rows: Iterable[ParsedRow], now: datetime,
                   settings: Settings, org: OrgSnapshot, *, dry_run: bool) -> ImportSummary:
    """Check and store every row of a file; nothing stays stored unless all rows are valid and it is no dry run."""
    require_importer(session, principal)
    summary = ImportSummary(dry_run=dry_run, imported_at=now)
    writer = _Writer(session, principal, now, settings, summary, org)
    admin_scope = principal.scope(Permission.manage_org)  # built once: it is asked for every enhet of every row
    categories = CategoryBook.load(session)  # likewise: every row's category is checked against its förvaltning's
    savepoint = session.begin_nested()
    try:
        for index, parsed in enumerate(rows):
            summary.rows += 1
            here = f"/reports/{index}"
            if isinstance(parsed, list):
                _refuse(summary, here, parsed)
            else:
                units, errors = _check(admin_scope, categories, parsed, now, settings, org)
                if errors:
                    _refuse(summary, here, errors)
                else:
                    _flag(summary, here, parsed)
                    writer.add(index, parsed, units)
            if summary.errors_truncated:
                break
        if not summary.errors_truncated:
            writer.flush()
    except BaseException:
        savepoint.rollback()
        # A body over its limit, a client gone, an unreadable file: the attempt is logged all the same.
        audit.record(session, principal, ACTION, outcome=audit.DENIED,
                     detail=f"{'dry run: ' if dry_run else ''}aborted after {summary.rows} rows")
        raise
    if summary.stored:
        savepoint.commit()
    else:
        savepoint.rollback()  # a dry run, or a refused file: nothing of it stays
    audit.record(session, principal, ACTION, outcome=audit.ALLOWED if not summary.errors else audit.DENIED,
                 detail=(f"{'dry run: ' if dry_run else ''}{summary.rows} rows, {summary.new} new, "
                         f"{summary.unchanged} unchanged, {summary.refused} refused"))
    return summary


def _refuse(summary: ImportSummary, here: str, errors: list[RowError]) -> None:
    summary.refused += 1
    for error in errors:
        if len(summary.errors) >= rules.MAX_ERRORS:
            summary.errors_truncated = True
            return
        summary.errors.append(RowError(here + error.pointer, error.detail, error.code))


def _flag(summary: ImportSummary, here: str, row: ImportedReport) -> None:
    """Free text that seems to hold a personnummer is flagged, as at intake; the row is still imported."""
    for name in ("description", "immediate_actions"):
        if (len(summary.possible_personal_identity_numbers) < rules.MAX_ERRORS
                and contains_identity_number(getattr(row, name))):
            summary.possible_personal_identity_numbers.append(f"{here}/{name}")


def _check(admin_scope: Scope, categories: CategoryBook, row: ImportedReport, now: datetime, settings: Settings,
           org: OrgSnapshot) -> tuple[list[UnitInfo], list[RowError]]:
    """The row's enheter, and every rule it breaks (none: it may be stored)."""
    errors = rules.check_row(row, now, settings.time_zone)
    received_on = local_date(row.received_at, settings.time_zone)
    units: list[UnitInfo] = []
    for index, code in enumerate(row.unit_codes):
        here = f"/units/{index}"
        unit = org.by_code.get(code)
        if unit is None:
            errors.append(RowError(here, "No enhet has this code.", "unknown_unit"))
        elif unit.kind != OrgKind.unit:
            errors.append(RowError(here, f"This code names a {unit.kind}; a report concerns enheter.", "not_a_unit"))
        elif not unit.is_active_on(received_on):
            errors.append(RowError(here, "This enhet was not active on the day the report was received.",
                                   "inactive_unit"))
        elif not admin_scope.covers(unit.path):
            errors.append(RowError(here, "You are not admin of this enhet's förvaltning.", "not_permitted"))
        else:
            units.append(unit)
    administrations = {_administration_id(unit) for unit in units}
    if len(administrations) > 1:
        errors.append(RowError("/units", "All enheter of one report must belong to the same förvaltning.",
                               "several_administrations"))
    if units and len(administrations) == 1:
        try:
            # The förvaltning's categories valid on the day received (a category of the past may be given
            # validity first: README "Report categories"); not_stated when the register recorded none.
            check_category(None, administrations.pop(), row.category, received_on, book=categories)
        except InvalidInput as refused:
            errors.append(RowError("/category", refused.detail, refused.reason or "unknown_category"))
    return units, errors


def _administration_id(unit: UnitInfo) -> int:
    return int(unit.path.split("/")[1])


class _Writer:
    """Collects valid rows and writes them a batch at a time; decides new, unchanged or refused per row."""

    def __init__(self, session: Session, principal: Principal, now: datetime, settings: Settings,
                 summary: ImportSummary, org: OrgSnapshot) -> None:
        self.session, self.principal, self.now, self.settings, self.summary = session, principal, now, settings, summary
        self.org = org
        self.pending: list[tuple[int, ImportedReport, list[UnitInfo], str]] = []
        self.policy = policy(settings)
        self.late_after = timedelta(hours=settings.late_report_hours)
        self.reserve = _RESERVE[session.get_bind().dialect.name]
        # The (source, previous number) of every row of the file so far, as 16-byte digests: a case listed
        # twice is refused. About 8 MB for 100 000 rows, the only state that grows with the file.
        self.seen: set[bytes] = set()

    def add(self, index: int, row: ImportedReport, units: list[UnitInfo]) -> None:
        self.pending.append((index, row, units, rules.fingerprint(row)))
        if len(self.pending) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        connection = self.session.connection()
        keys = list({(row.source, row.previous_case_number) for _, row, _, _ in batch})
        stored = {(source, number): fingerprint for source, number, fingerprint in
                  connection.execute(select(_REPORT.c.import_source, _REPORT.c.previous_case_number,
                                            _REPORT.c.payload_sha256)
                                     .where(tuple_(_REPORT.c.import_source, _REPORT.c.previous_case_number)
                                            .in_(keys))).all()}
        new: list[tuple[ImportedReport, list[UnitInfo], str]] = []
        for index, row, units, fingerprint in batch:
            key = (row.source, row.previous_case_number)
            earlier = stored.get(key)
            here = f"/reports/{index}/previous_case_number"
            digest = hashlib.blake2b(f"{row.source}\x00{row.previous_case_number}".encode(), digest_size=16).digest()
            if digest in self.seen:
                _refuse(self.summary, "", [RowError(here, "This file holds this case twice.", "duplicate_in_file")])
            elif earlier == fingerprint:
                self.summary.unchanged += 1
            elif earlier is not None:
                _refuse(self.summary, "", [RowError(
                    here, "A case with this source and previous case number is stored with other contents; "
                          "an import does not change stored cases.", "contradicts_stored")])
            else:
                new.append((row, units, fingerprint))
            self.seen.add(digest)
        self.summary.new += len(new)
        if new:
            self._write(new)

    def _numbers(self, new: list[tuple[ImportedReport, list[UnitInfo], str]]) -> list[str]:
        """Our own case numbers, from each förvaltning's sequence for the year the report was received."""
        wanted = [(_administration_id(units[0]), local_date(row.received_at, self.settings.time_zone).year)
                  for row, units, _ in new]
        connection = self.session.connection()
        next_free: dict[tuple[int, int], int] = {}
        for (administration_id, year), count in Counter(wanted).items():
            last = int(connection.execute(self.reserve, {"administration_id": administration_id, "year": year,
                                                         "count": count}).scalar_one())
            next_free[(administration_id, year)] = last - count + 1
        numbers = []
        for (administration_id, year), (_, units, _) in zip(wanted, new, strict=True):
            sequence = next_free[(administration_id, year)]
            next_free[(administration_id, year)] = sequence + 1
            numbers.append(case_number(self._code_of(units[0]), year, sequence))
        return numbers

    def _code_of(self, unit: UnitInfo) -> str:
        return self.org.by_id[_administration_id(unit)].code

    def _write(self, new: list[tuple[ImportedReport, list[UnitInfo], str]]) -> None:
        numbers = self._numbers(new)
        rows: tuple[list[dict[str, Any]], ...] = ([], [], [], [], [], [], [])
        reports, pairs, types, assessments, notifications, events, deadlines = rows
        for (row, units, fingerprint), number in zip(new, numbers, strict=True):
            report_id = uuid.uuid4()
            received_on = local_date(row.received_at, self.settings.time_zone)
            status = rules.case_status(row)
            assessment = row.assessment
            reports.append(dict(
                id=report_id, case_number=number, administration_id=_administration_id(units[0]),
                status=status.value, category=row.category, channel=Channel.imported.value,
                occurred_at=row.occurred_at, noticed_at=row.noticed_at, received_at=row.received_at,
                # Registered in the previous register when received, as far as anyone knows; imported_at says
                # when it came here.
                registered_at=row.received_at, received_on=received_on,
                description=row.description, immediate_actions=row.immediate_actions,
                subject_reference=row.subject_reference, no_specific_subject=row.no_specific_subject,
                reporter_subject=f"import:{row.source}", reporter_name=row.source, reporter_title=None,
                submitted_by=self.principal.subject, external_reference=None, payload_sha256=fingerprint,
                reported_late=is_late_report(row.noticed_at, row.received_at, self.late_after),
                search_text="\n".join((row.description, row.immediate_actions, row.previous_case_number)).casefold(),
                first_assessed_at=assessment.assessed_at if assessment else None,
                judged_serious_at=rules.judged_serious_at(row), closed_at=row.closed_at,
                import_source=row.source, previous_case_number=row.previous_case_number,
                imported_at=self.now, imported_by=self.principal.subject))
            codes = sorted(unit.code for unit in units)
            pairs += [{"report_id": report_id, "unit_id": unit.id, "received_on": received_on} for unit in units]
            if assessment is not None:
                findings = [{key: value for key, value in (
                    ("type", f.type.value), ("lex_sarah_severity", f.lex_sarah_severity),
                    ("incident_risk", f.incident_risk), ("complaint_kind", f.complaint_kind),
                    ("complaint_submitter", f.complaint_submitter)) if value is not None}
                    for f in assessment.findings]
                types += [{"report_id": report_id, "received_on": received_on, "lex_sarah_severity": None,
                           "incident_risk": None, "complaint_kind": None, "complaint_submitter": None,
                           **{key: str(value) for key, value in finding.items()}} for finding in findings]
                assessments.append({
                    "report_id": report_id, "assessed_at": assessment.assessed_at,
                    "assessor_subject": self.principal.subject, "assessor_name": f"import:{row.source}",
                    "justification": f"Imported from {row.source}.",
                    "findings": json.dumps([{k: str(v) for k, v in finding.items()} for finding in findings]),
                    "incident_aware_at": rules.awareness(row), "is_current": True})
            for notification in row.notifications:
                notifications.append({
                    "report_id": report_id, "authority": notification.authority.value,
                    "created_at": notification.sent_at, "sender_reference": None, "content": "{}",
                    "investigation_attached": notification.investigation_attached,
                    "aware_at": rules.awareness(row) if notification.authority.value == "imy" else None,
                    "delay_reason": None, "decision_maker_name": None, "delegation_reference": None,
                    "sent_at": notification.sent_at, "channel": None, "sent_by_name": None,
                    "authority_reference": notification.authority_reference,
                    "authority_decision": notification.authority_decision,
                    "authority_decision_at": notification.authority_decision_on})
            events.append({
                "report_id": report_id, "at": self.now, "actor_subject": self.principal.subject,
                "actor_name": self.principal.display_name, "kind": "imported",
                "detail": json.dumps({"changes": {"status": [None, status.value], "units": [None, codes],
                                                  "import_source": [None, row.source],
                                                  "previous_case_number": [None, row.previous_case_number]}},
                                     ensure_ascii=False)})
            deadlines += [{"report_id": report_id, "kind": deadline.kind.value, "action_id": deadline.action_id,
                           "due_at": deadline.due_at}
                          for deadline in open_deadlines(rules.facts(row), self.policy)]
        connection = self.session.connection()
        for table, values in zip(_TABLES, rows, strict=True):
            if values:
                bulk_insert(connection, table, values)


def bulk_insert(connection: Connection, table: Table, rows: list[dict]) -> None:
    """INSERT every row (dicts with the same keys) in one executemany on the driver's cursor.

    The same as `connection.execute(insert(table), rows)`, which builds and processes its parameters row by
    row in Python: for an import that was a quarter of the time. Here each column's bind processor (the
    column type's own conversion for this database: UUIDs, UTC times, days) runs in one tight loop, and the
    statement is plain SQL in the driver's parameter style.
    """
    dialect = connection.dialect
    columns = list(rows[0])
    converting = [(name, process) for name in columns
                  if (process := table.c[name].type.bind_processor(dialect)) is not None]
    for row in rows:  # the dicts are this module's own, built for this statement
        for name, process in converting:
            value = row[name]
            if value is not None:
                row[name] = process(value)
    names = ", ".join(columns)
    if dialect.name == "sqlite":
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join('?' for _ in columns)})"
        values = itemgetter(*columns)
        connection.exec_driver_sql(sql, [values(row) if len(columns) > 1 else (values(row),) for row in rows])
    else:
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(f'%({name})s' for name in columns)})"
        connection.exec_driver_sql(sql, rows)


def _reserve_numbers(dialect_insert):  # type: ignore[no-untyped-def]
    """Take `count` numbers at once from a förvaltning's sequence for a year; returns the last one taken."""
    statement = dialect_insert(_SEQUENCE).values(administration_id=bindparam("administration_id"),
                                                 year=bindparam("year"), last_number=bindparam("count"))
    return statement.on_conflict_do_update(
        index_elements=["administration_id", "year"],
        set_={"last_number": _SEQUENCE.c.last_number + statement.excluded.last_number},
    ).returning(_SEQUENCE.c.last_number)


_RESERVE = {"postgresql": _reserve_numbers(postgresql.insert), "sqlite": _reserve_numbers(sqlite.insert)}
