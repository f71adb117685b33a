"""The case around a report: loading it for a step, its facts for the rules, the timeline, the deadlines,
and the reads of a case (its view, its assessments, its timeline).

Every use case that changes a case goes through `take_step`, which asks the lifecycle table, writes
the timeline record in the same transaction, and `refresh_deadlines` afterwards.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, func, select

from service import audit
from service.config import Settings
from service.domain.access import Permission, Principal
from service.domain.assessment import (
    ComplaintKind,
    ComplaintSubmitter,
    IncidentRisk,
    LexSarahSeverity,
    ReportType as Type,
    TypeFinding,
    awareness_time,
)
from service.domain.case_facts import CaseFacts, SentNotification
from service.domain.deadlines import Policy, open_deadlines
from service.domain.errors import Forbidden, NotFound
from service.domain.lifecycle import CaseStatus, Step, apply
from service.domain.notifications import Authority, SupplementKind
from service.models import (
    Assessment,
    CaseAction,
    CaseDeadline,
    CaseEvent,
    CaseLink,
    DataSubjectCommunication,
    FollowUp,
    Investigation,
    Notification,
    NotificationSupplement,
    Report,
    ReportType,
)
from service.reports import units_of
from service.scope import readable_cases


def load_case(session: Session, principal: Principal, report_id: uuid.UUID, permission: Permission, *,
              action: str | None = None) -> Report:
    """The case if the caller handles it (else 404, as if it did not exist), checked for `permission` (403).

    Every outcome goes to the access log as `action` (default: read_case, or step:<permission>);
    refusals too, with the id asked for, so that probing shows even though the caller learns nothing.

    For a step (any permission but read_case) the case's row stays locked until the request's transaction
    ends, and is read afresh once the lock is had: two steps on one case at the same time run one after
    the other, and the second is checked against what the first did. (PostgreSQL; on SQLite every
    writing transaction holds the database's one write lock from its start.)
    """
    action = action or (permission.value if permission is Permission.read_case else f"step:{permission.value}")
    query = select(Report).where(Report.id == report_id, readable_cases(principal))
    if permission is not Permission.read_case:
        # FOR NO KEY UPDATE: foreign-key checks from rows that point at this case (a link from another
        # case being assessed at the same time) do not wait for it, so two such steps cannot deadlock.
        query = query.with_for_update(of=Report, key_share=True).execution_options(populate_existing=True)
    report = session.exec(query).first()
    if report is None:
        audit.record(session, principal, action, report_id=report_id, outcome=audit.DENIED)
        raise NotFound("No such case.")
    units = units_of(session, [report.id])[report.id]
    roles = audit.roles_on(principal, [unit.path for unit in units])
    if permission is not Permission.read_case and not any(principal.may(permission, unit.path) for unit in units):
        audit.record(session, principal, action, report_id=report_id, outcome=audit.DENIED, roles=roles)
        raise Forbidden(f"Your roles on this case's enheter do not allow {permission.value}.")
    audit.record(session, principal, action, report_id=report_id, roles=roles)
    return report


def record_event(session: Session, report: Report, principal: Principal, now: datetime, kind: str,
                 changes: dict[str, Any] | None = None, note: str | None = None) -> None:
    detail: dict[str, Any] = {"changes": changes or {}}
    if note:
        detail["note"] = note
    session.add(CaseEvent(report_id=report.id, at=now, actor_subject=principal.subject,
                          actor_name=principal.display_name, kind=kind,
                          detail=json.dumps(detail, ensure_ascii=False, default=_json_value)))


def _json_value(value: object) -> object:
    """Timeline values as the API writes them: ISO 8601 for dates and times, strings for the rest."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def take_step(session: Session, principal: Principal, report: Report, step: Step, now: datetime, *,
              changes: dict[str, Any] | None = None, note: str | None = None, kind: str | None = None) -> None:
    """Apply `step` to the case (InvalidTransition if the table says no) and record it on the timeline."""
    new_status = apply(CaseStatus(report.status), step)
    changes = dict(changes or {})
    if new_status.value != report.status:
        changes["status"] = [report.status, new_status.value]
        report.status = new_status.value
        session.add(report)
    record_event(session, report, principal, now, kind or step.value, changes, note)


def check_step(report: Report, step: Step) -> None:
    """Refuse a step early, before its input is examined: the status decides first."""
    apply(CaseStatus(report.status), step)


def current_findings(session: Session, report_id: uuid.UUID) -> list[TypeFinding]:
    rows = session.exec(select(ReportType).where(ReportType.report_id == report_id)).all()
    return [
        TypeFinding(
            type=Type(row.type),
            lex_sarah_severity=LexSarahSeverity(row.lex_sarah_severity) if row.lex_sarah_severity else None,
            incident_risk=IncidentRisk(row.incident_risk) if row.incident_risk else None,
            complaint_kind=ComplaintKind(row.complaint_kind) if row.complaint_kind else None,
            complaint_submitter=ComplaintSubmitter(row.complaint_submitter) if row.complaint_submitter else None,
        )
        for row in rows
    ]


def case_facts(session: Session, report: Report) -> CaseFacts:
    session.flush()
    investigation = session.exec(select(Investigation).where(Investigation.report_id == report.id)).first()
    open_actions = session.exec(
        select(CaseAction.id, CaseAction.due_date)
        .where(CaseAction.report_id == report.id, col(CaseAction.done_date).is_(None))
    ).all()
    return CaseFacts(
        status=CaseStatus(report.status),
        findings=current_findings(session, report.id),
        received_at=report.received_at,
        first_assessed_at=report.first_assessed_at,
        judged_serious_at=report.judged_serious_at,
        incident_aware_at=case_awareness(session, report.id),
        investigation_started_at=investigation.started_at if investigation else None,
        investigation_decided_at=investigation.decided_at if investigation else None,
        open_action_due_dates={action_id: due for action_id, due in open_actions if action_id is not None},
        followed_up=_followed_up_since_reopened(session, report.id),
        ivo=_sent(session, report.id, Authority.ivo),
        imy=_sent(session, report.id, Authority.imy),
        data_subjects_handled=session.get(DataSubjectCommunication, report.id) is not None,
    )


def case_awareness(session: Session, report_id: uuid.UUID) -> datetime | None:
    """The case's one awareness time of a personal-data incident: the earliest any assessment recorded."""
    return awareness_time(session.exec(
        select(Assessment.incident_aware_at)
        .where(Assessment.report_id == report_id, col(Assessment.incident_aware_at).is_not(None))).all())


def _followed_up_since_reopened(session: Session, report_id: uuid.UUID) -> bool:
    """A follow-up counts for closing only if it was made after the case was last reopened."""
    reopened_at = session.exec(select(func.max(CaseEvent.at)).where(CaseEvent.report_id == report_id,
                                                                  CaseEvent.kind == Step.reopen.value)).one()
    query = select(FollowUp.id).where(FollowUp.report_id == report_id)
    if reopened_at is not None:
        query = query.where(col(FollowUp.followed_up_at) >= reopened_at)
    return session.exec(query).first() is not None


def _sent(session: Session, report_id: uuid.UUID, authority: Authority) -> SentNotification | None:
    notification = session.exec(
        select(Notification).where(Notification.report_id == report_id, Notification.authority == authority.value,
                                   col(Notification.sent_at).is_not(None))
    ).first()
    if notification is None or notification.sent_at is None:
        return None
    supplement_at = session.exec(
        select(NotificationSupplement.sent_at)
        .where(NotificationSupplement.notification_id == notification.id,
               NotificationSupplement.kind == SupplementKind.investigation.value)
        .order_by(col(NotificationSupplement.sent_at))
    ).first()
    return SentNotification(sent_at=notification.sent_at, investigation_attached=notification.investigation_attached,
                            investigation_supplement_at=supplement_at)


def policy(settings: Settings) -> Policy:
    return Policy(first_assessment_hours=settings.first_assessment_hours, ivo_warn_days=settings.ivo_warn_days,
                  ivo_escalate_days=settings.ivo_escalate_days, investigation_days=settings.investigation_days,
                  time_zone=settings.time_zone)


def refresh_deadlines(session: Session, report: Report, settings: Settings) -> None:
    """Replace the case's stored deadlines with those its facts now imply."""
    deadlines = open_deadlines(case_facts(session, report), policy(settings))
    session.exec(delete(CaseDeadline).where(col(CaseDeadline.report_id) == report.id))
    session.add_all(CaseDeadline(report_id=report.id, kind=deadline.kind.value, action_id=deadline.action_id,
                                 due_at=deadline.due_at) for deadline in deadlines)
    session.flush()


# ---- reads -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseView:
    report: Report
    facts: CaseFacts
    deadlines: list[CaseDeadline]  # open deadlines, soonest first
    linked_cases: list[tuple[uuid.UUID, str]]  # (id, case number) of linked cases the reader may read too


def case_view(session: Session, principal: Principal, report: Report) -> CaseView:
    """The case as its reader sees it; linked cases only where the reader may read them too."""
    facts = case_facts(session, report)
    deadlines = session.exec(select(CaseDeadline).where(CaseDeadline.report_id == report.id)
                             .order_by(col(CaseDeadline.due_at))).all()
    links = session.exec(select(Report.id, Report.case_number)
                         .join(CaseLink, col(CaseLink.related_report_id) == col(Report.id))
                         .where(CaseLink.report_id == report.id, readable_cases(principal))
                         .order_by(col(Report.case_number))).all()
    return CaseView(report=report, facts=facts, deadlines=list(deadlines),
                    linked_cases=[(linked_id, number) for linked_id, number in links])


def assessments_of(session: Session, principal: Principal, report_id: uuid.UUID) -> list[Assessment]:
    """Every assessment of the case, oldest first."""
    report = load_case(session, principal, report_id, Permission.read_case)
    return list(session.exec(select(Assessment).where(Assessment.report_id == report.id)
                             .order_by(col(Assessment.assessed_at), col(Assessment.id))).all())


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    actor_name: str
    kind: str
    changes: dict[str, Any]  # field: [from, to]
    note: str | None


def timeline(session: Session, principal: Principal, report_id: uuid.UUID) -> list[TimelineItem]:
    """Everything that happened to the case, in order."""
    report = load_case(session, principal, report_id, Permission.read_case, action="read_timeline")
    events = session.exec(select(CaseEvent).where(CaseEvent.report_id == report.id).order_by(col(CaseEvent.id))).all()
    items = []
    for event in events:
        detail = json.loads(event.detail)
        changes = detail.get("changes", {k: v for k, v in detail.items() if k != "note"})
        items.append(TimelineItem(at=event.at, actor_name=event.actor_name, kind=event.kind,
                                  changes=changes, note=detail.get("note")))
    return items
