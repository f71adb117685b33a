"""/api/v1/reports/{id}/actions: the case's åtgärder (actions), immediate or planned, done, evaluated."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from service import actions as core_actions
from service.api.deps import ClockDep, CommittingRoute, PrincipalDep, ReadingSessionDep, SessionDep, SettingsDep
from service.api.problems import problem_responses
from service.api.types import Day, Input, Name, NonBlankText20k, RowId
from service.config import Settings
from service.domain.actions import ActionKind
from service.domain.deadlines import end_of_day
from service.models import CaseAction

router = APIRouter(route_class=CommittingRoute, prefix="/reports/{report_id}", tags=["investigation and actions"])

READ_ERRORS = problem_responses(403, 404)
STEP_ERRORS = problem_responses(403, 404, 409)


class ActionCreate(Input):
    kind: ActionKind
    description: NonBlankText20k
    owner_name: Name = Field(description="Who is responsible for the action.")
    due_date: Day | None = Field(default=None, description="Not in the past for an action still open.")
    done_date: Day | None = Field(
        default=None, description="Only for an immediate action already taken: between the event and today.")


class ActionDone(Input):
    done_date: Day | None = Field(default=None, description="Default: today. Not before the action was created, "
                                                             "not in the future.")


class ActionEvaluation(Input):
    effect_evaluation: NonBlankText20k = Field(
        description="Whether the action had the intended effect.")


class ActionOut(BaseModel):
    id: int
    kind: ActionKind
    description: str
    owner_name: str
    due_date: date | None
    done_date: date | None
    overdue: bool = Field(description="Not done, and its due date has passed.")
    effect_evaluation: str | None
    evaluated_at: datetime | None
    created_at: datetime


def _action_out(action: CaseAction, now: datetime, settings: Settings) -> ActionOut:
    overdue = (action.done_date is None and action.due_date is not None
               and end_of_day(action.due_date, settings.time_zone) < now)  # as the case's deadlines
    return ActionOut(id=action.id or 0, kind=ActionKind(action.kind), description=action.description,
                     owner_name=action.owner_name, due_date=action.due_date, done_date=action.done_date,
                     overdue=overdue, effect_evaluation=action.effect_evaluation, evaluated_at=action.evaluated_at,
                     created_at=action.created_at)


@router.get("/actions", responses=READ_ERRORS, summary="The case's actions (åtgärder), in the order created")
def list_actions(report_id: uuid.UUID, session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep,
                 settings: SettingsDep) -> list[ActionOut]:
    now = clock()
    return [_action_out(action, now, settings) for action in core_actions.list_actions(session, principal, report_id)]


@router.post("/actions", status_code=201, responses=STEP_ERRORS,
             summary="Record an action: immediate (possibly already done) or planned, with owner and due date")
def create_action(report_id: uuid.UUID, body: ActionCreate, session: SessionDep, principal: PrincipalDep,
                  clock: ClockDep, settings: SettingsDep) -> ActionOut:
    now = clock()
    action = core_actions.create(session, principal, report_id, core_actions.NewAction(
        kind=body.kind, description=body.description, owner_name=body.owner_name, due_date=body.due_date,
        done_date=body.done_date), now, settings)
    result = _action_out(action, now, settings)
    return result


@router.post("/actions/{action_id}/done", responses=STEP_ERRORS, summary="Mark an action done")
def mark_action_done(report_id: uuid.UUID, action_id: RowId, body: ActionDone, session: SessionDep,
                     principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> ActionOut:
    now = clock()
    action = core_actions.mark_done(session, principal, report_id, action_id, body.done_date, now, settings)
    result = _action_out(action, now, settings)
    return result


@router.post("/actions/{action_id}/evaluation", responses=STEP_ERRORS,
             summary="Evaluate the effect of a done action (a later evaluation replaces it; the timeline keeps both)")
def evaluate_action(report_id: uuid.UUID, action_id: RowId, body: ActionEvaluation, session: SessionDep,
                    principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> ActionOut:
    now = clock()
    action = core_actions.evaluate(session, principal, report_id, action_id, body.effect_evaluation, now, settings)
    result = _action_out(action, now, settings)
    return result
