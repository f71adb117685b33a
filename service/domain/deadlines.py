"""Deadlines (docs/domain.md, docs/lifecycle.md §4), computed from a case's facts; stored so that "overdue" is
a plain query."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from service.domain.assessment import is_serious_lex_sarah, notifiable_incident_risk
from service.domain.case_facts import CaseFacts, ivo_investigation_pending
from service.domain.lifecycle import CaseStatus

IMY_HOURS = 72  # GDPR art. 33(1): clock hours, weekends included
IVO_INVESTIGATION_MONTHS = 2  # Socialstyrelsen: investigation at most two months after the notification


class DeadlineKind(StrEnum):
    first_assessment = "first_assessment"  # policy: a lex Sarah report is dealt with "genast"
    imy_notification = "imy_notification"
    ivo_notification = "ivo_notification"  # policy: warn
    ivo_notification_escalation = "ivo_notification_escalation"  # policy: escalate
    ivo_investigation = "ivo_investigation"
    investigation = "investigation"  # policy: investigate and remedy "genast"
    action = "action"


@dataclass(frozen=True)
class Policy:
    first_assessment_hours: int = 24
    ivo_warn_days: int = 7
    ivo_escalate_days: int = 14
    investigation_days: int = 30
    time_zone: str = "Europe/Stockholm"


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    due_at: datetime
    action_id: int | None = None


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months; the 31st becomes the last day of a shorter month."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def end_of_day(day: date, time_zone: str) -> datetime:
    """An action due on a day is overdue from the first moment of the next day, in local time."""
    return datetime.combine(day + timedelta(days=1), time(), ZoneInfo(time_zone))


def first_assessment_deadline(received_at: datetime, policy: Policy) -> Deadline:
    """The first assessment is due this long after the report was received (intake stores it at once)."""
    return Deadline(DeadlineKind.first_assessment, received_at + timedelta(hours=policy.first_assessment_hours))


def open_deadlines(facts: CaseFacts, policy: Policy) -> list[Deadline]:
    """Deadlines still to be met, soonest first. A closed case has none.

    The duties of a sent notification stay until they are met, whatever later assessments say: the
    two-month rule of an IVO notification sent without the investigation keys on the notification.
    """
    if facts.status is CaseStatus.closed:
        return []
    due: list[Deadline] = []
    if facts.first_assessed_at is None and facts.received_at is not None:
        due.append(first_assessment_deadline(facts.received_at, policy))
    if notifiable_incident_risk(facts.findings) and facts.imy is None and facts.incident_aware_at is not None:
        due.append(Deadline(DeadlineKind.imy_notification, facts.incident_aware_at + timedelta(hours=IMY_HOURS)))
    if facts.ivo is None and is_serious_lex_sarah(facts.findings) and facts.judged_serious_at is not None:
        due.append(Deadline(DeadlineKind.ivo_notification,
                            facts.judged_serious_at + timedelta(days=policy.ivo_warn_days)))
        due.append(Deadline(DeadlineKind.ivo_notification_escalation,
                            facts.judged_serious_at + timedelta(days=policy.ivo_escalate_days)))
    if facts.ivo is not None and ivo_investigation_pending(facts):
        # Calendar months count on the Swedish calendar, not on UTC's.
        sent_local = facts.ivo.sent_at.astimezone(ZoneInfo(policy.time_zone))
        due.append(Deadline(DeadlineKind.ivo_investigation,
                            add_months(sent_local, IVO_INVESTIGATION_MONTHS).astimezone(facts.ivo.sent_at.tzinfo)))
    if facts.investigation_started_at is not None and facts.investigation_decided_at is None:
        due.append(Deadline(DeadlineKind.investigation,
                            facts.investigation_started_at + timedelta(days=policy.investigation_days)))
    for action_id, due_date in facts.open_action_due_dates.items():
        if due_date is not None:
            due.append(Deadline(DeadlineKind.action, end_of_day(due_date, policy.time_zone), action_id))
    return sorted(due, key=lambda deadline: deadline.due_at)
