"""/api/v1/audit: the access log for auditors (docs/requirements.md L3), per user, per case and per period,
and loggkontroll.

What an auditor sees is decided in service/scope.py, and the reads are the use cases in service/audit.py;
this router maps HTTP to them. Reading the log is itself logged.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from service import audit as core_audit
from service.api.deps import ClockDep, CommittingRoute, PrincipalDep, ReadingSessionDep, SessionDep, SettingsDep
from service.api.pagination import decode_id_cursor, encode_id_cursor
from service.api.problems import problem_responses
from service.api.types import Input, NonBlankText10k, Timestamp

router = APIRouter(route_class=CommittingRoute, prefix="/audit", tags=["audit"])


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
    result: NonBlankText10k


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


@router.get("/records", summary="The access log, oldest first, a page at a time", responses=problem_responses(403))
def list_records(
    session: ReadingSessionDep, principal: PrincipalDep, settings: SettingsDep,
    subject: Annotated[str | None, Query(max_length=255, description="Only this actor's records.")] = None,
    report_id: Annotated[uuid.UUID | None, Query(description="Only records about this case.")] = None,
    from_: Annotated[Timestamp | None, Query(alias="from", description="At or after this moment.")] = None,
    to: Annotated[Timestamp | None, Query(description="Before this moment.")] = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. read_case, step:assess")] = None,
    outcome: Annotated[Literal["allowed", "denied"] | None, Query()] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size; capped by the server's maximum.")] = None,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
) -> AuditRecordPage:
    secret = settings.cursor_secret.get_secret_value()
    page = core_audit.list_records(
        session, principal, core_audit.RecordFilter(subject=subject, report_id=report_id, from_=from_, to=to,
                                                    action=action, outcome=outcome),
        after_id=(lambda: decode_id_cursor(secret, cursor)) if cursor else None,
        page_size=min(limit or settings.default_page_size, settings.max_page_size))
    items = [AuditRecordRead(**row.model_dump(exclude={"acting_roles", "prev_hash", "hash"}),
                             acting_roles=row.acting_roles.split(",") if row.acting_roles else [])
             for row in page.items]
    return AuditRecordPage(items=items, next_cursor=encode_id_cursor(secret, items[-1].id) if page.more else None)


@router.post("/reviews", status_code=status.HTTP_201_CREATED, summary="Record a log review (loggkontroll)",
             responses=problem_responses(403))
def record_review(body: LogReviewCreate, session: SessionDep, principal: PrincipalDep,
                  clock: ClockDep) -> LogReviewRead:
    review = core_audit.record_review(session, principal, core_audit.NewReview(
        period_from=body.period_from, period_to=body.period_to, subject_filter=body.subject_filter,
        report_filter=body.report_filter, result=body.result), clock())
    return LogReviewRead.model_validate(review, from_attributes=True)


@router.get("/reviews", summary="Recorded log reviews, oldest first, a page at a time",
            responses=problem_responses(403))
def list_reviews(
    session: ReadingSessionDep, principal: PrincipalDep, settings: SettingsDep,
    limit: Annotated[int | None, Query(ge=1, description="Page size; capped by the server's maximum.")] = None,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
) -> LogReviewPage:
    secret = settings.cursor_secret.get_secret_value()
    page = core_audit.list_reviews(session, principal,
                                   after_id=(lambda: decode_id_cursor(secret, cursor)) if cursor else None,
                                   page_size=min(limit or settings.default_page_size, settings.max_page_size))
    items = [LogReviewRead.model_validate(row, from_attributes=True) for row in page.items]
    return LogReviewPage(items=items, next_cursor=encode_id_cursor(secret, items[-1].id) if page.more else None)
