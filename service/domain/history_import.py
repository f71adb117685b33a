"""Rules for one report of an imported history (docs/history-import.md): what a row must say to be stored.

A history import brings closed and open cases from a previous register. Each row is checked on its own here
(times in order, the assessment's types and details, the notifications, open or closed); what needs the
database (enheter on the day received, the category, a stored case with the same previous number) is
checked by service/history_import.py. Every rule broken is returned, not only the first, as a JSON pointer
relative to the row, so that a dry run can list all that is wrong with a file at once.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from service.domain.assessment import (
    ReportType as Type,
    TypeFinding,
    check_findings,
    has_type,
    incident_awareness,
    is_serious_lex_sarah,
)
from service.domain.case_facts import CaseFacts, SentNotification
from service.domain.errors import InvalidInput
from service.domain.lifecycle import CaseStatus
from service.domain.notifications import Authority
from service.domain.reports import CLOCK_SKEW, check_subject

# A file with more bad rows than this is not worth listing further: the first ones show what is wrong.
MAX_ERRORS = 200
# The name of a previous system as the file gives it: lower case, e.g. treserva, procapita, lifecare.
SOURCE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
KNOWN_SOURCES = ("treserva", "procapita", "lifecare", "stratsys", "excel")


class ImportedStatus(StrEnum):
    open = "open"
    closed = "closed"


@dataclass(frozen=True)
class ImportedNotification:
    authority: Authority
    sent_at: datetime
    investigation_attached: bool = False
    authority_reference: str | None = None
    authority_decision: str | None = None
    authority_decision_on: date | None = None


@dataclass(frozen=True)
class ImportedAssessment:
    assessed_at: datetime
    findings: list[TypeFinding]
    incident_aware_at: datetime | None = None


@dataclass(frozen=True)
class ImportedReport:
    source: str
    previous_case_number: str
    received_at: datetime
    occurred_at: datetime
    noticed_at: datetime
    unit_codes: list[str]
    category: str
    status: ImportedStatus
    closed_at: datetime | None = None
    assessment: ImportedAssessment | None = None
    notifications: list[ImportedNotification] = field(default_factory=list)
    description: str = ""
    immediate_actions: str = ""
    subject_reference: str | None = None
    no_specific_subject: bool = False


@dataclass(frozen=True)
class RowError:
    pointer: str  # relative to the row: "/units/0"
    detail: str
    code: str


def check_row(row: ImportedReport, now: datetime, time_zone: str) -> list[RowError]:
    """Every rule of a single row that `row` breaks (empty when it may be stored), given the time of the import."""
    errors: list[RowError] = []

    def fail(pointer: str, detail: str, code: str) -> None:
        errors.append(RowError(pointer, detail, code))

    if not SOURCE_PATTERN.match(row.source):
        fail("/source", "Name the previous system in lower case letters, digits, '_' or '-' (e.g. treserva).",
             "bad_source")
    latest = now + CLOCK_SKEW
    for name in ("occurred_at", "noticed_at", "received_at"):
        if getattr(row, name) > latest:
            fail(f"/{name}", f"{name} is in the future.", "in_future")
    if row.noticed_at < row.occurred_at:
        fail("/noticed_at", "noticed_at is before occurred_at.", "before_occurred")
    if row.received_at + CLOCK_SKEW < row.noticed_at:
        fail("/received_at", "received_at is before noticed_at.", "before_noticed")
    if len(set(row.unit_codes)) != len(row.unit_codes):
        fail("/units", "The same enhet is listed twice.", "duplicate_unit")
    try:
        check_subject(row.subject_reference, row.no_specific_subject)
    except InvalidInput as refused:
        fail(f"/{refused.field}", refused.detail, refused.reason or "invalid")

    assessment = row.assessment
    if assessment is not None:
        try:
            check_findings(assessment.findings)
        except InvalidInput as refused:
            where = refused.field or "types"
            fail("/assessment" + (where if where.startswith("/") else f"/{where}"), refused.detail, "bad_types")
        if assessment.assessed_at > latest:
            fail("/assessment/assessed_at", "assessed_at is in the future.", "in_future")
        if assessment.assessed_at + CLOCK_SKEW < row.received_at:
            fail("/assessment/assessed_at", "assessed_at is before received_at.", "before_received")
        if assessment.incident_aware_at is not None:
            if not has_type(assessment.findings, Type.personal_data_incident):
                fail("/assessment/incident_aware_at", "incident_aware_at belongs to a personal-data incident.",
                     "not_an_incident")
            else:
                try:
                    incident_awareness(given=assessment.incident_aware_at, current=None,
                                       noticed_at=row.noticed_at, occurred_at=row.occurred_at, now=now)
                except InvalidInput as refused:
                    fail("/assessment/incident_aware_at", refused.detail, "bad_awareness")

    zone = ZoneInfo(time_zone)
    seen: set[Authority] = set()
    for index, notification in enumerate(row.notifications):
        here = f"/notifications/{index}"
        if notification.authority in seen:
            fail(f"{here}/authority", "One notification per authority.", "duplicate_authority")
        seen.add(notification.authority)
        if notification.sent_at > latest:
            fail(f"{here}/sent_at", "sent_at is in the future.", "in_future")
        if notification.sent_at < row.occurred_at:
            fail(f"{here}/sent_at", "sent_at is before occurred_at.", "before_occurred")
        decided_on = notification.authority_decision_on
        if decided_on is not None:
            if notification.authority_decision is None:
                fail(f"{here}/authority_decision_on", "authority_decision_on belongs to an authority_decision.",
                     "missing_decision")
            if decided_on < notification.sent_at.astimezone(zone).date():
                fail(f"{here}/authority_decision_on", "authority_decision_on is before the notification was sent.",
                     "before_sent")
            if decided_on > now.astimezone(zone).date():
                fail(f"{here}/authority_decision_on", "authority_decision_on is in the future.", "in_future")

    if row.status is ImportedStatus.closed:
        if row.closed_at is None:
            fail("/closed_at", "A closed case needs its closed_at.", "missing")
        else:
            if row.closed_at > latest:
                fail("/closed_at", "closed_at is in the future.", "in_future")
            if row.closed_at + CLOCK_SKEW < row.received_at:
                fail("/closed_at", "closed_at is before received_at.", "before_received")
            if assessment is not None and row.closed_at + CLOCK_SKEW < assessment.assessed_at:
                fail("/closed_at", "closed_at is before the assessment.", "before_assessed")
        if assessment is None:
            fail("/assessment", "A closed case was assessed: give its assessment.", "missing")
    elif row.closed_at is not None:
        fail("/closed_at", "An open case has no closed_at.", "open_case")
    return errors


def case_status(row: ImportedReport) -> CaseStatus:
    """Where the case stands here: closed stays closed; an open one continues from its assessment, if any."""
    if row.status is ImportedStatus.closed:
        return CaseStatus.closed
    return CaseStatus.assessed if row.assessment is not None else CaseStatus.reported


def awareness(row: ImportedReport) -> datetime | None:
    """The personal-data incident's awareness time, as an assessment would record it."""
    if row.assessment is None or not has_type(row.assessment.findings, Type.personal_data_incident):
        return None
    return row.assessment.incident_aware_at or row.noticed_at


def judged_serious_at(row: ImportedReport) -> datetime | None:
    if row.assessment is None or not is_serious_lex_sarah(row.assessment.findings):
        return None
    return row.assessment.assessed_at


def facts(row: ImportedReport) -> CaseFacts:
    """The case's facts for its deadlines: a closed case has none; an open one has those its history implies."""
    sent = {n.authority: SentNotification(sent_at=n.sent_at, investigation_attached=n.investigation_attached)
            for n in row.notifications}
    return CaseFacts(
        status=case_status(row), findings=row.assessment.findings if row.assessment else [],
        received_at=row.received_at, first_assessed_at=row.assessment.assessed_at if row.assessment else None,
        judged_serious_at=judged_serious_at(row), incident_aware_at=awareness(row),
        ivo=sent.get(Authority.ivo), imy=sent.get(Authority.imy),
    )


def _utc(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).isoformat()


def fingerprint(row: ImportedReport) -> str:
    """SHA-256 of what the row says, independent of how it was written (JSON or CSV, time zone offsets,
    order of enheter, types and notifications): equal for a row loaded again, different for one that says
    something else. The canonical form is the repr of a tuple of plain strings, which no text can make
    ambiguous."""
    assessment = row.assessment
    canonical = (
        row.source, row.previous_case_number, _utc(row.received_at), _utc(row.occurred_at), _utc(row.noticed_at),
        tuple(sorted(row.unit_codes)), row.category, row.status.value, _utc(row.closed_at),
        None if assessment is None else (
            _utc(assessment.assessed_at), _utc(assessment.incident_aware_at),
            tuple(sorted((str(f.type), str(f.lex_sarah_severity), str(f.incident_risk), str(f.complaint_kind),
                          str(f.complaint_submitter)) for f in assessment.findings))),
        tuple(sorted((n.authority.value, _utc(n.sent_at), n.investigation_attached, n.authority_reference,
                      n.authority_decision, str(n.authority_decision_on)) for n in row.notifications)),
        row.description, row.immediate_actions, row.subject_reference, row.no_specific_subject,
    )
    return hashlib.sha256(repr(canonical).encode()).hexdigest()
