"""When a case may close (DOMAIN.md §4). Each rule names what is missing, so the user can fix it."""

from __future__ import annotations

from service.domain.assessment import IncidentRisk, ReportType, has_type, is_serious_lex_sarah, notifiable_incident_risk
from service.domain.case_facts import CaseFacts
from service.domain.errors import Conflict


def closing_blockers(facts: CaseFacts) -> list[str]:
    if facts.findings and all(f.type is ReportType.not_a_deviation for f in facts.findings):
        return []  # not the nämnd's deviation: nothing to investigate, act on or follow up
    blockers: list[str] = []
    if has_type(facts.findings, ReportType.lex_sarah) and facts.investigation_decided_at is None:
        blockers.append("a lex Sarah case needs an investigation closed by a decision")
    if is_serious_lex_sarah(facts.findings):
        if facts.ivo is None:
            blockers.append("a serious lex Sarah case needs a sent IVO notification")
        elif not facts.ivo.investigation_attached and facts.ivo.investigation_supplement_at is None:
            blockers.append("the investigation must be sent to IVO as a supplement")
    risk = notifiable_incident_risk(facts.findings)
    if risk is not None and facts.imy is None:
        blockers.append(f"a personal-data incident with {risk} needs a sent IMY notification")
    if risk is IncidentRisk.high_risk and not facts.data_subjects_handled:
        blockers.append("the data subjects must be informed, or the art. 34(3) exemption recorded")
    if facts.open_action_due_dates:
        blockers.append(f"{len(facts.open_action_due_dates)} action(s) are not done")
    if not facts.followed_up:
        blockers.append("the case needs a follow-up")
    return blockers


class CannotClose(Conflict):
    def __init__(self, blockers: list[str]) -> None:
        self.blockers = blockers
        super().__init__("The case cannot close yet: " + "; ".join(blockers) + ".")

    def extensions(self) -> dict[str, object]:
        return {"blockers": self.blockers}


def check_can_close(facts: CaseFacts) -> None:
    blockers = closing_blockers(facts)
    if blockers:
        raise CannotClose(blockers)
