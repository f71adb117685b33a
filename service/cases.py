"""The case around a report: one construct for every step, its facts for the rules, the timeline, the deadlines,
and the reads of a case (its view, its assessments, its timeline).

Every use case that changes a case runs inside `case_step`: it loads and locks the case once, logs the
access, takes the permission from the step table (domain/lifecycle.py STEPS), checks the transition, and on
exit writes the timeline record and the deadlines from one load of the case's facts, which it hands on to
the view. A CaseEvent or a change of a report's status made anywhere else fails at flush (`install_step_guard`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, event, inspect
from sqlalchemy.orm import Session as OrmSession
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
from service.domain.lifecycle import STEPS, CaseChange, CaseStatus, Step, apply
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


_ACTIVE = "case_steps"  # session.info: what the case steps now running may write (see install_step_guard)


@dataclass
class StepDone:
    """A step taken: the case and its facts afterwards (those the deadlines were computed from), for the view."""

    report: Report
    facts: CaseFacts


@dataclass
class CaseStep:
    """One step on one locked case, inside `case_step`. The use case checks its rules, writes its rows and says
    what the timeline records (`record`); the construct does the rest when the block ends."""

    session: Session
    principal: Principal
    report: Report
    change: CaseChange
    now: datetime
    settings: Settings
    kind: str | None = None  # the timeline record's kind; default the step's name
    changes: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    done: StepDone | None = None
    _facts: CaseFacts | None = None
    _facts_after: dict[str, Any] | None = None

    @property
    def result(self) -> StepDone:
        """What the step did, once the `with` block has ended."""
        if self.done is None:
            raise RuntimeError("the step's result is there only after its with block")
        return self.done

    @property
    def step(self) -> Step:
        return STEPS[self.change][0]

    def check(self) -> None:
        """The lifecycle table's say (InvalidTransition); `case_step` asks it first unless told to wait."""
        apply(CaseStatus(self.report.status), self.step)

    def facts(self) -> CaseFacts:
        """The case's facts as they were when the step began (loaded once)."""
        if self._facts is None:
            self._facts = case_facts(self.session, self.report)
        return self._facts

    def facts_after(self, **changed: Any) -> None:
        """The step changes no fact but these (and the status): the facts loaded before serve after it too."""
        self._facts_after = changed

    def record(self, *, kind: str | None = None, changes: dict[str, Any] | None = None,
               note: str | None = None) -> None:
        self.kind, self.changes, self.note = kind, dict(changes or {}), note

    def _finish(self) -> StepDone:
        report, session = self.report, self.session
        new_status = apply(CaseStatus(report.status), self.step)
        changes = dict(self.changes)
        if new_status.value != report.status:
            changes["status"] = [report.status, new_status.value]
            report.status = new_status.value
            session.add(report)
        detail: dict[str, Any] = {"changes": changes}
        if self.note:
            detail["note"] = self.note
        entry = CaseEvent(report_id=report.id, at=self.now, actor_subject=self.principal.subject,
                          actor_name=self.principal.display_name, kind=self.kind or self.step.value,
                          detail=json.dumps(detail, ensure_ascii=False, default=_json_value))
        session.info[_ACTIVE][report.id].append(entry)
        session.add(entry)
        if self._facts_after is not None and self._facts is not None:
            facts = replace(self._facts, status=new_status, **self._facts_after)
        else:
            facts = case_facts(session, report)
        _store_deadlines(session, report, facts, self.settings)
        return StepDone(report, facts)


@contextmanager
def case_step(session: Session, principal: Principal, report_id: uuid.UUID, change: CaseChange, now: datetime,
              settings: Settings, *, check_first: bool = True) -> Iterator[CaseStep]:
    """Take one step on a case: the only way a case's status changes or its timeline grows.

    Loads and locks the case (404 if the caller cannot read it), logs the access, checks the permission the
    step table gives the change (403) and, unless `check_first` is False (the use case then calls
    `check()` when its own order of refusals says so; the end of the block checks again anyway), the
    transition (409). When the block ends without an error: the timeline record, the new status, the
    deadlines from the case's facts, all in the request's transaction; `step.done` holds what the view needs.
    """
    report = load_case(session, principal, report_id, STEPS[change][1])
    step = CaseStep(session, principal, report, change, now, settings)
    if check_first:
        step.check()
    active: dict[uuid.UUID, list[CaseEvent]] = session.info.setdefault(_ACTIVE, {})
    active[report.id] = []
    try:
        yield step
        step.done = step._finish()
        session.flush()
    finally:
        del active[report.id]


def install_step_guard() -> None:
    """Refuse, at flush, a timeline record or a change of a report's status not made by `case_step`.

    Intake writes the first timeline record and status with Core statements, not ORM objects; those are
    not case steps. Installed with the access log's listeners (service/db.py install_session_listeners).
    """
    if not event.contains(OrmSession, "before_flush", _guard_steps):
        event.listen(OrmSession, "before_flush", _guard_steps)


def _guard_steps(session: OrmSession, _context: Any, _instances: Any) -> None:
    active = session.info.get(_ACTIVE, {})
    for entry in session.new:
        if isinstance(entry, CaseEvent) and not any(entry is mine for mine in active.get(entry.report_id, ())):
            raise RuntimeError(f"a timeline record ({entry.kind}) written outside case_step")
    for row in session.dirty:
        if (isinstance(row, Report) and row.id not in active
                and inspect(row).attrs.status.history.has_changes()):
            raise RuntimeError("a case's status changed outside case_step")


def _json_value(value: object) -> object:
    """Timeline values as the API writes them: ISO 8601 for dates and times, strings for the rest."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


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
        select(col(CaseAction.id), col(CaseAction.due_date))
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


def _store_deadlines(session: Session, report: Report, facts: CaseFacts, settings: Settings) -> None:
    """Replace the case's stored deadlines with those its facts now imply."""
    deadlines = open_deadlines(facts, policy(settings))
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


def case_view(session: Session, principal: Principal, report: Report, facts: CaseFacts | None = None) -> CaseView:
    """The case as its reader sees it; linked cases only where the reader may read them too. `facts`: those a
    step just computed its deadlines from (else they are loaded)."""
    facts = facts or case_facts(session, report)
    deadlines = session.exec(select(CaseDeadline).where(CaseDeadline.report_id == report.id)
                             .order_by(col(CaseDeadline.due_at))).all()
    links = session.exec(select(Report.id, Report.case_number)
                         .join(CaseLink, col(CaseLink.related_report_id) == col(Report.id))
                         .where(CaseLink.report_id == report.id, readable_cases(principal))
                         .order_by(col(Report.case_number))).all()
    return CaseView(report=report, facts=facts, deadlines=list(deadlines),
                    linked_cases=[(linked_id, number) for linked_id, number in links])


@dataclass(frozen=True)
class AssessmentItem:
    assessed_at: datetime
    assessor_name: str
    findings: list[dict[str, Any]]  # one per type: the type and its details, as the assessor gave them
    justification: str
    incident_aware_at: datetime | None
    current: bool


def assessments_of(session: Session, principal: Principal, report_id: uuid.UUID) -> list[AssessmentItem]:
    """Every assessment of the case, oldest first."""
    report = load_case(session, principal, report_id, Permission.read_case)
    rows = session.exec(select(Assessment).where(col(Assessment.report_id) == report.id)
                        .order_by(col(Assessment.assessed_at), col(Assessment.id))).all()
    return [AssessmentItem(assessed_at=row.assessed_at, assessor_name=row.assessor_name,
                           findings=json.loads(row.findings), justification=row.justification,
                           incident_aware_at=row.incident_aware_at, current=row.is_current) for row in rows]


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
    for case_event in events:
        detail = json.loads(case_event.detail)
        changes = detail.get("changes", {k: v for k, v in detail.items() if k != "note"})
        items.append(TimelineItem(at=case_event.at, actor_name=case_event.actor_name, kind=case_event.kind,
                                  changes=changes, note=detail.get("note")))
    return items
