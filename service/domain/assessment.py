"""What a report is (docs/domain.md): one or more types with their details, or exclusively not a deviation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from service.domain.errors import InvalidInput


class ReportType(StrEnum):
    not_a_deviation = "not_a_deviation"
    lex_sarah = "lex_sarah"
    personal_data_incident = "personal_data_incident"
    complaint = "complaint"
    other_deviation = "other_deviation"


class LexSarahSeverity(StrEnum):
    no_impropriety = "no_impropriety"
    impropriety = "impropriety"
    tangible_risk = "tangible_risk"
    serious_impropriety = "serious_impropriety"
    serious_tangible_risk = "serious_tangible_risk"


SERIOUS = frozenset({LexSarahSeverity.serious_impropriety, LexSarahSeverity.serious_tangible_risk})


class IncidentRisk(StrEnum):
    no_risk = "no_risk"
    risk = "risk"
    high_risk = "high_risk"


class ComplaintKind(StrEnum):
    praise = "praise"
    complaint = "complaint"
    suggestion = "suggestion"
    question = "question"
    other = "other"
    # Older registers did not record it; history imports carry it as its own value, never as "other".
    not_stated = "not_stated"


class ComplaintSubmitter(StrEnum):
    client = "client"
    relative = "relative"
    staff = "staff"
    other = "other"
    not_stated = "not_stated"


@dataclass(frozen=True)
class TypeFinding:
    type: ReportType
    lex_sarah_severity: LexSarahSeverity | None = None
    incident_risk: IncidentRisk | None = None
    complaint_kind: ComplaintKind | None = None
    complaint_submitter: ComplaintSubmitter | None = None


_DETAIL_FOR = {
    ReportType.lex_sarah: ("lex_sarah_severity",),
    ReportType.personal_data_incident: ("incident_risk",),
    ReportType.complaint: ("complaint_kind", "complaint_submitter"),
}
_ALL_DETAILS = ("lex_sarah_severity", "incident_risk", "complaint_kind", "complaint_submitter")


def check_findings(findings: list[TypeFinding]) -> None:
    """Each type once, details exactly where they belong, and not_a_deviation alone."""
    types = [finding.type for finding in findings]
    if not types:
        raise InvalidInput("Give at least one type.", field="types")
    if len(set(types)) != len(types):
        raise InvalidInput("A type can be given once only.", field="types")
    if ReportType.not_a_deviation in types and len(types) > 1:
        raise InvalidInput("not_a_deviation excludes every other type.", field="types")
    for index, finding in enumerate(findings):
        wanted = _DETAIL_FOR.get(finding.type, ())
        for detail in _ALL_DETAILS:
            given = getattr(finding, detail) is not None
            if detail in wanted and not given:
                raise InvalidInput(f"{finding.type} needs {detail}.", field=f"/types/{index}/{detail}")
            if detail not in wanted and given:
                raise InvalidInput(f"{detail} does not apply to {finding.type}.", field=f"/types/{index}/{detail}")


def is_serious_lex_sarah(findings: list[TypeFinding]) -> bool:
    return any(f.type is ReportType.lex_sarah and f.lex_sarah_severity in SERIOUS for f in findings)


def notifiable_incident_risk(findings: list[TypeFinding]) -> IncidentRisk | None:
    """The incident risk when it obliges an IMY notification (risk or high_risk), else None."""
    for finding in findings:
        if finding.type is ReportType.personal_data_incident and finding.incident_risk in (
            IncidentRisk.risk, IncidentRisk.high_risk
        ):
            return finding.incident_risk
    return None


def has_type(findings: list[TypeFinding], wanted: ReportType) -> bool:
    return any(finding.type is wanted for finding in findings)


# ---- when the controller became aware of a personal-data incident (GDPR art. 33) ---------------------


def awareness_time(recorded: Iterable[datetime | None]) -> datetime | None:
    """The case's one awareness time: the earliest any assessment ever recorded (None if none did).

    Once the record shows that the organisation knew at some moment, nothing later can make it have
    known later; the 72 hours count from here, and so does whether an IMY notification was late.
    """
    times = [moment for moment in recorded if moment is not None]
    return min(times) if times else None


def incident_awareness(*, given: datetime | None, current: datetime | None, noticed_at: datetime,
                       occurred_at: datetime, now: datetime) -> datetime:
    """The awareness time an incident assessment records.

    `given` is what the assessor said, `current` the case's awareness time so far (awareness_time of
    the earlier assessments). Without `given`: `current`, or for the first time the report's noticed_at.
    A given time may move the case's awareness earlier, never later; it is not in the future and not
    before the event happened.
    """
    if given is None:
        return current if current is not None else noticed_at
    if given > now:
        raise InvalidInput("incident_aware_at is in the future.", field="incident_aware_at")
    if given < occurred_at:
        raise InvalidInput("incident_aware_at is before the event happened.", field="incident_aware_at")
    if current is not None and given > current:
        raise InvalidInput("The case already records an earlier awareness time; an assessment may move it "
                           "earlier, never later.", field="incident_aware_at")
    return given
