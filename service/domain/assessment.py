"""What a report is (DOMAIN.md §3): one or more types with their details, or exclusively not a deviation."""

from __future__ import annotations

from dataclasses import dataclass
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


class ComplaintSubmitter(StrEnum):
    client = "client"
    relative = "relative"
    staff = "staff"
    other = "other"


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
