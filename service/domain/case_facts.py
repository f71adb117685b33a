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
    judged_serious_at: datetime | None = None  # first assessment that made it a serious lex Sarah case
    incident_aware_at: datetime | None = None  # GDPR art. 33: when the controller became aware
    investigation_started_at: datetime | None = None
    investigation_decided_at: datetime | None = None
    open_action_due_dates: dict[int, date | None] = field(default_factory=dict)  # action id -> due date
    followed_up: bool = False
    ivo: SentNotification | None = None
    imy: SentNotification | None = None
    data_subjects_handled: bool = False  # informed, or the art. 34(3) exemption recorded
