"""What the rules need to know about a case, as plain values (loaded by service/cases.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from service.domain.assessment import TypeFinding
from service.domain.lifecycle import CaseStatus


@dataclass(frozen=True)
class SentNotification:
    sent_at: datetime
    investigation_attached: bool = False
    investigation_supplement_at: datetime | None = None  # when the investigation followed as a supplement


@dataclass(frozen=True)
class CaseFacts:
    status: CaseStatus
    findings: list[TypeFinding] = field(default_factory=list)
    received_at: datetime | None = None  # when the report reached the organisation
    first_assessed_at: datetime | None = None
    judged_serious_at: datetime | None = None  # first assessment that made it a serious lex Sarah case
    incident_aware_at: datetime | None = None  # GDPR art. 33: the case's one awareness time (the earliest recorded)
    investigation_started_at: datetime | None = None
    investigation_decided_at: datetime | None = None
    open_action_due_dates: dict[int, date | None] = field(default_factory=dict)  # action id -> due date
    followed_up: bool = False
    ivo: SentNotification | None = None  # the sent IVO notification, whatever the current assessment says
    imy: SentNotification | None = None
    data_subjects_handled: bool = False  # informed, or the art. 34(3) exemption recorded


def ivo_investigation_pending(facts: CaseFacts) -> bool:
    """An IVO notification was sent without the investigation, and the investigation has not followed.

    A duty of the sent notification itself: a later re-assessment (say, as not serious) does not lift it.
    """
    return (facts.ivo is not None and not facts.ivo.investigation_attached
            and facts.ivo.investigation_supplement_at is None)
