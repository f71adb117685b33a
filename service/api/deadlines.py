"""/api/v1/deadlines: what is due or overdue in the caller's cases (service/deadlines.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from service import deadlines as core_deadlines
from service.api.deps import ClockDep, CommittingRoute, PrincipalDep, ReadingSessionDep
from service.api.types import Timestamp

router = APIRouter(route_class=CommittingRoute, tags=["cases"])


class DueItem(BaseModel):
    report_id: uuid.UUID
    case_number: str
    kind: str
    due_at: datetime
    overdue: bool
    action_id: int | None = None


@router.get("/deadlines", summary="What is due or overdue in the caller's units, soonest first")
def list_deadlines(
    session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep,
    overdue: Annotated[bool, Query(description="Only deadlines already passed.")] = False,
    due_before: Annotated[Timestamp | None, Query(description="Only deadlines before this moment.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DueItem]:
    now = clock()
    due = core_deadlines.due_deadlines(session, principal, now, overdue=overdue, due_before=due_before, limit=limit)
    return [DueItem(report_id=d.deadline.report_id, case_number=d.case_number, kind=d.deadline.kind,
                    due_at=d.deadline.due_at, overdue=d.deadline.due_at < now, action_id=d.deadline.action_id)
            for d in due]
