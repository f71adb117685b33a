"""What is due: the open deadlines of the cases the caller handles (GET /deadlines)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from service.domain.access import Principal
from service.models import CaseDeadline, Report
from service.reports import audit_listing
from service.scope import readable_cases


@dataclass(frozen=True)
class Due:
    deadline: CaseDeadline
    case_number: str


def due_deadlines(session: Session, principal: Principal, now: datetime, *, overdue: bool,
                  due_before: datetime | None, limit: int) -> list[Due]:
    """Open deadlines in the caller's cases, soonest first; the listing is logged per case."""
    query = (select(CaseDeadline, Report.case_number).join(Report, col(Report.id) == col(CaseDeadline.report_id))
             .where(readable_cases(principal)))
    if overdue:
        query = query.where(col(CaseDeadline.due_at) < now)
    if due_before is not None:
        query = query.where(col(CaseDeadline.due_at) < due_before)
    rows = session.exec(query.order_by(col(CaseDeadline.due_at), col(CaseDeadline.id)).limit(limit)).all()
    # A deadline's kind tells the assessment (an IMY deadline: a personal-data incident): an access to log.
    audit_listing(session, principal, "list_deadlines", (deadline.report_id for deadline, _ in rows))
    return [Due(deadline, number) for deadline, number in rows]
