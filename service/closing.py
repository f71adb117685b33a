"""The last steps of a case: the follow-up (uppföljning), closing it, and reopening a closed case.

Each is a case step (cases.case_step: lock, access log, permission, transition, timeline, deadlines); what
must hold first is service/domain/closing.py's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session

from service.cases import StepDone, case_step
from service.config import Settings
from service.domain.access import Principal
from service.domain.closing import check_can_close, check_can_follow_up
from service.domain.lifecycle import CaseChange
from service.models import FollowUp


def follow_up(session: Session, principal: Principal, report_id: uuid.UUID, summary: str, now: datetime,
              settings: Settings) -> StepDone:
    with case_step(session, principal, report_id, CaseChange.follow_up, now, settings) as step:
        check_can_follow_up(step.facts())
        session.add(FollowUp(report_id=step.report.id, followed_up_at=now, by_name=principal.display_name,
                             summary=summary))
        step.facts_after(followed_up=True)
        step.record(note=summary)
    return step.result


def close(session: Session, principal: Principal, report_id: uuid.UUID, note: str | None, now: datetime,
          settings: Settings) -> StepDone:
    with case_step(session, principal, report_id, CaseChange.close, now, settings) as step:
        check_can_close(step.facts())
        step.report.closed_at = now
        step.facts_after()
        step.record(note=note)
    return step.result


def reopen(session: Session, principal: Principal, report_id: uuid.UUID, reason: str, now: datetime,
           settings: Settings) -> StepDone:
    with case_step(session, principal, report_id, CaseChange.reopen, now, settings) as step:
        step.report.closed_at = None
        step.record(note=reason)
    return step.result
