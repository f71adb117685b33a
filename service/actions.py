"""Use cases for åtgärder: create, list, mark done, evaluate the effect.

Open actions with a due date are deadlines of the case (service/domain/deadlines.py); an action that
is not done blocks closing (service/domain/closing.py). Every change is on the case's timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from service.cases import case_step, load_case
from service.config import Settings
from service.domain.access import Permission, Principal
from service.domain.actions import ActionKind, check_done, check_evaluation, check_new_action
from service.domain.errors import NotFound
from service.domain.lifecycle import CaseChange
from service.domain.reports import local_date
from service.models import CaseAction, Report


@dataclass(frozen=True)
class NewAction:
    kind: ActionKind
    description: str
    owner_name: str
    due_date: date | None = None
    done_date: date | None = None  # an immediate action already taken


def _action(session: Session, report: Report, action_id: int) -> CaseAction:
    action = session.exec(select(CaseAction).where(CaseAction.id == action_id,
                                                   CaseAction.report_id == report.id)).first()
    if action is None:
        raise NotFound("No such action on this case.")
    return action


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def list_actions(session: Session, principal: Principal, report_id: uuid.UUID) -> list[CaseAction]:
    report = load_case(session, principal, report_id, Permission.read_case)
    return list(session.exec(select(CaseAction).where(CaseAction.report_id == report.id)
                             .order_by(col(CaseAction.id))).all())


def create(session: Session, principal: Principal, report_id: uuid.UUID, new: NewAction, now: datetime,
           settings: Settings) -> CaseAction:
    with case_step(session, principal, report_id, CaseChange.create_action, now, settings) as step:
        today = local_date(now, settings.time_zone)
        check_new_action(new.kind, new.due_date, new.done_date, today,
                         local_date(step.report.occurred_at, settings.time_zone))
        action = CaseAction(report_id=step.report.id, kind=new.kind.value, description=new.description,
                            owner_name=new.owner_name, due_date=new.due_date, done_date=new.done_date,
                            created_at=now)
        session.add(action)
        session.flush()
        summary: dict[str, Any] = {"kind": action.kind, "description": action.description,
                                   "owner_name": action.owner_name, "due_date": _day(action.due_date),
                                   "done_date": _day(action.done_date)}
        step.record(changes={f"actions/{action.id}": [None, summary]}, kind="action_created")
    return action


def mark_done(session: Session, principal: Principal, report_id: uuid.UUID, action_id: int,
              done_date: date | None, now: datetime, settings: Settings) -> CaseAction:
    with case_step(session, principal, report_id, CaseChange.mark_action_done, now, settings) as step:
        action = _action(session, step.report, action_id)
        today = local_date(now, settings.time_zone)
        done_on = done_date or today
        check_done(action.done_date, done_on, local_date(action.created_at, settings.time_zone), today)
        action.done_date = done_on
        session.add(action)
        step.record(changes={f"actions/{action.id}/done_date": [None, _day(done_on)]}, kind="action_done")
    return action


def evaluate(session: Session, principal: Principal, report_id: uuid.UUID, action_id: int, effect_evaluation: str,
             now: datetime, settings: Settings) -> CaseAction:
    """Record whether the action had effect; a later evaluation replaces it, the timeline keeps both."""
    with case_step(session, principal, report_id, CaseChange.evaluate_action, now, settings) as step:
        action = _action(session, step.report, action_id)
        check_evaluation(action.done_date)
        before = action.effect_evaluation
        action.effect_evaluation = effect_evaluation
        action.evaluated_at = now
        session.add(action)
        step.record(changes={f"actions/{action.id}/effect_evaluation": [before, effect_evaluation]},
                    kind="action_evaluated")
    return action
