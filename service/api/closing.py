"""/api/v1/reports/{id}/follow-ups, /close and /reopen: the last steps of a case, each answered with the case."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from service import closing as core_closing
from service.api.cases import STEP_ERRORS, CaseRead, case_read
from service.api.deps import ClockDep, CommittingRoute, PrincipalDep, SessionDep, SettingsDep
from service.api.types import Input, NonBlankText10k, Text10k

router = APIRouter(route_class=CommittingRoute, prefix="/reports/{report_id}", tags=["cases"])


class FollowUpCreate(Input):
    summary: NonBlankText10k


class CloseCreate(Input):
    note: Text10k | None = None


class ReopenCreate(Input):
    reason: NonBlankText10k


@router.post("/follow-ups", status_code=201, summary="Record the follow-up (uppföljning)", responses=STEP_ERRORS)
def follow_up(report_id: uuid.UUID, body: FollowUpCreate, session: SessionDep, principal: PrincipalDep,
              clock: ClockDep, settings: SettingsDep) -> CaseRead:
    now = clock()
    done = core_closing.follow_up(session, principal, report_id, body.summary, now, settings)
    return case_read(session, principal, done.report, now, done.facts)


@router.post("/close", summary="Close the case (refused with what is missing)", responses=STEP_ERRORS)
def close(report_id: uuid.UUID, body: CloseCreate, session: SessionDep, principal: PrincipalDep, clock: ClockDep,
          settings: SettingsDep) -> CaseRead:
    now = clock()
    done = core_closing.close(session, principal, report_id, body.note, now, settings)
    return case_read(session, principal, done.report, now, done.facts)


@router.post("/reopen", summary="Reopen a closed case, with a reason", responses=STEP_ERRORS)
def reopen(report_id: uuid.UUID, body: ReopenCreate, session: SessionDep, principal: PrincipalDep, clock: ClockDep,
           settings: SettingsDep) -> CaseRead:
    now = clock()
    done = core_closing.reopen(session, principal, report_id, body.reason, now, settings)
    return case_read(session, principal, done.report, now, done.facts)
