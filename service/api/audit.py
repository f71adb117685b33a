"""/api/v1/audit: the access log for auditors (R-F4), per user, per case and per period, and loggkontroll.

What an auditor sees: with the auditor role on '*', every record; on a unit, the records about
reports that concern an enhet in that subtree, and nothing about no report (grants, the log itself)
or about ids that match no report. Log reviews: '*' auditors see all, others their own.
Reading the log is itself logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, exists, or_, true
from sqlmodel import Session, col, select

from service import audit
from service.api.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from service.api.pagination import decode_id_cursor, encode_id_cursor
from service.api.problems import problem_responses
from service.api.types import BoundedText, Input, Timestamp
from service.domain.access import EVERYWHERE, Permission, Principal, Scope
from service.domain.errors import Forbidden, InvalidInput
from service.models import AuditRecord, LogReview, OrgUnit, ReportUnit

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditRecordRead(BaseModel):
    id: int
    at: datetime
    actor_subject: str
    actor_name: str
    actor_kind: Literal["person", "system"]
    acting_roles: list[str] = Field(description="The roles the actor holds on the case's enheter.")
    report_id: uuid.UUID | None
    action: str
    outcome: Literal["allowed", "denied"]
    request_id: str | None
    detail: str | None
    chain_seq: int | None = Field(description="Position in the hash chain; null until sealed (seconds).")


class AuditRecordPage(BaseModel):
    items: list[AuditRecordRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class LogReviewCreate(Input):
    period_from: Timestamp = Field(description="Start of the period of the log that was reviewed.")
    period_to: Timestamp
    subject_filter: str | None = Field(default=None, min_length=1, max_length=255,
                                       description="The user whose accesses were reviewed, if one.")
    report_filter: uuid.UUID | None = Field(default=None, description="The case reviewed, if one.")
    result: BoundedText(10_000, min_length=1)  # type: ignore[valid-type]


class LogReviewRead(BaseModel):
    id: int
    reviewer_subject: str
    reviewer_name: str
    reviewed_at: datetime
    period_from: datetime
    period_to: datetime
    subject_filter: str | None
    report_filter: uuid.UUID | None
    result: str


class LogReviewPage(BaseModel):
    items: list[LogReviewRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def _auditor_scope(session: Session, principal: Principal, action: str) -> Scope:
    scope = principal.scope(Permission.read_audit_log)
    if scope.is_empty:
        audit.record(session, principal, action, outcome=audit.DENIED, detail="no auditor role")
        raise Forbidden("Reading the access log needs the auditor role.")
    return scope


def _visible(scope: Scope) -> ColumnElement[bool]:
    if EVERYWHERE in scope.roots:
        return true()
    return exists().where(
        ReportUnit.report_id == AuditRecord.report_id,
        col(OrgUnit.id) == col(ReportUnit.unit_id),
        or_(*(col(OrgUnit.path).startswith(root, autoescape=True) for root in sorted(scope.roots))),
    )


@router.get("/records", summary="The access log, oldest first, a page at a time", responses=problem_responses(403))
def list_records(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep,
    subject: Annotated[str | None, Query(max_length=255, description="Only this actor's records.")] = None,
    report_id: Annotated[uuid.UUID | None, Query(description="Only records about this case.")] = None,
    from_: Annotated[Timestamp | None, Query(alias="from", description="At or after this moment.")] = None,
    to: Annotated[Timestamp | None, Query(description="Before this moment.")] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. read_case, step:assess")] = None,
    outcome: Annotated[Literal["allowed", "denied"] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size; capped by the server's maximum.")] = None,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
) -> AuditRecordPage:
    scope = _auditor_scope(session, principal, "read_audit_log")
    secret = settings.cursor_secret.get_secret_value()
    page_size = min(limit or settings.default_page_size, settings.max_page_size)
    query = select(AuditRecord).where(_visible(scope))  # the auditor's scope first; filters only narrow it
    if subject is not None:
        query = query.where(AuditRecord.actor_subject == subject)
    if report_id is not None:
        query = query.where(AuditRecord.report_id == report_id)
    if from_ is not None:
        query = query.where(col(AuditRecord.at) >= from_)
    if to is not None:
        query = query.where(col(AuditRecord.at) < to)
    if action is not None:
        query = query.where(AuditRecord.action == action)
    if outcome is not None:
        query = query.where(AuditRecord.outcome == outcome)
    if cursor:
        query = query.where(col(AuditRecord.id) > decode_id_cursor(secret, cursor))
    rows = session.exec(query.order_by(col(AuditRecord.id)).limit(page_size + 1)).all()
    more = len(rows) > page_size
    items = [AuditRecordRead(**row.model_dump(exclude={"acting_roles", "prev_hash", "hash"}),
                             acting_roles=row.acting_roles.split(",") if row.acting_roles else [])
             for row in rows[:page_size]]
    given = {"subject": subject, "report_id": report_id, "from": from_, "to": to, "action": action, "outcome": outcome}
    used = ", ".join(name for name, value in given.items() if value is not None) or "none"
    audit.record(session, principal, "read_audit_log", report_id=report_id,
                 detail=f"filters: {used}; {len(items)} records")  # which filters, not their values
    return AuditRecordPage(items=items, next_cursor=encode_id_cursor(secret, items[-1].id) if more else None)


@router.post("/reviews", status_code=status.HTTP_201_CREATED, summary="Record a log review (loggkontroll)",
             responses=problem_responses(403))
def record_review(body: LogReviewCreate, session: SessionDep, principal: PrincipalDep,
                  clock: ClockDep) -> LogReviewRead:
    _auditor_scope(session, principal, "record_log_review")
    if body.period_to <= body.period_from:
        raise InvalidInput("period_to must be after period_from.", field="period_to")
    review = LogReview(reviewer_subject=principal.subject, reviewer_name=principal.display_name,
                       reviewed_at=clock(), period_from=body.period_from, period_to=body.period_to,
                       subject_filter=body.subject_filter, report_filter=body.report_filter, result=body.result)
    session.add(review)
    session.flush()
    audit.record(session, principal, "record_log_review", report_id=body.report_filter,
                 detail=f"log review {review.id}")
    return LogReviewRead.model_validate(review, from_attributes=True)


@router.get("/reviews", summary="Recorded log reviews, oldest first, a page at a time",
            responses=problem_responses(403))
def list_reviews(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, description="Page size; capped by the server's maximum.")] = None,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
) -> LogReviewPage:
    scope = _auditor_scope(session, principal, "read_log_reviews")
    secret = settings.cursor_secret.get_secret_value()
    page_size = min(limit or settings.default_page_size, settings.max_page_size)
    query = select(LogReview)
    if EVERYWHERE not in scope.roots:
        query = query.where(LogReview.reviewer_subject == principal.subject)
    if cursor:
        query = query.where(col(LogReview.id) > decode_id_cursor(secret, cursor))
    rows = session.exec(query.order_by(col(LogReview.id)).limit(page_size + 1)).all()
    more = len(rows) > page_size
    items = [LogReviewRead.model_validate(row, from_attributes=True) for row in rows[:page_size]]
    audit.record(session, principal, "read_log_reviews", detail=f"{len(items)} reviews")
    return LogReviewPage(items=items, next_cursor=encode_id_cursor(secret, items[-1].id) if more else None)
