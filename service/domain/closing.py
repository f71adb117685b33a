"""When a case may close, and when it may be followed up. Each rule names what is missing, so the user can fix it."""

from __future__ import annotations

from service.domain.assessment import IncidentRisk, ReportType, has_type, is_serious_lex_sarah, notifiable_incident_risk
from service.domain.case_facts import CaseFacts, ivo_investigation_pending
from service.domain.errors import Conflict


def closing_blockers(facts: CaseFacts) -> list[str]:
    """What must happen before the case can close, in a fixed order.

    The duties of a sent notification stay until they are met, whatever later assessments say: an IVO
    notification sent without the investigation needs the investigation as a supplement even if the case
    has since been re-assessed as not serious, or as not a deviation at all.
    """
    not_a_deviation = bool(facts.findings) and all(f.type is ReportType.not_a_deviation for f in facts.findings)
    blockers: list[str] = []
    if has_type(facts.findings, ReportType.lex_sarah) and facts.investigation_decided_at is None:
        blockers.append("a lex Sarah case needs an investigation closed by a decision")
    if facts.ivo is None:
        if is_serious_lex_sarah(facts.findings):
            blockers.append("a serious lex Sarah case needs a sent IVO notification")
    elif ivo_investigation_pending(facts):
        blockers.append("the investigation must be sent to IVO as a supplement")
    if not_a_deviation:
        return blockers  # not the nämnd's deviation: nothing else to investigate, act on or follow up
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


class ActionsStillOpen(Conflict):
    def __init__(self, action_ids: list[int]) -> None:
        self.action_ids = action_ids
        super().__init__("A follow-up checks that the actions had effect; these actions are not done yet: "
                         + ", ".join(str(action_id) for action_id in action_ids) + ".")

    def extensions(self) -> dict[str, object]:
        return {"open_actions": self.action_ids}


def check_can_follow_up(facts: CaseFacts) -> None:
    """Uppföljning is the check that the actions had effect, so every action must be done first."""
    if facts.open_action_due_dates:
        raise ActionsStillOpen(sorted(facts.open_action_due_dates))
