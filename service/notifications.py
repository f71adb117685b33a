"""Use cases for the IVO and IMY notifications: drafting, sending, supplements, the authority's response,
the data-subject communication of a high-risk incident, and the printable document.

A notification is a draft until it is sent; then it is frozen and later additions are supplements
(docs/requirements.md X7). The form's fields live in Notification.content as JSON, except those
with a column of their own (sender_reference, investigation_attached, aware_at).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service import notification_document
from service.cases import case_awareness, case_step, current_findings, load_case
from service.config import Settings
from service.domain.access import Permission, Principal
from service.domain.assessment import notifiable_incident_risk
from service.domain.errors import Conflict, InvalidInput, NotFound
from service.domain.lifecycle import CaseChange
from service.domain.notifications import (
    FORM_FIELDS,
    Authority,
    DataSubjectExemption,
    SendChannel,
    SupplementKind,
    check_authority_response,
    check_complete,
    check_data_subject_communication,
    check_form_awareness,
    check_form_fields,
    check_form_times,
    check_investigation_ready,
    check_may_notify,
    check_not_sent,
    check_organisation_number,
    check_send,
    check_supplement,
    default_ivo_kind,
    missing_for_sending,
)
from service.models import (
    DataSubjectCommunication,
    Investigation,
    InvestigationEntry,
    Notification,
    NotificationSupplement,
    Report,
)
from service.reports import units_of

SEND = {Authority.ivo: CaseChange.send_ivo_notification, Authority.imy: CaseChange.send_imy_notification}
_COLUMNS = ("sender_reference", "investigation_attached", "aware_at")
_TIMES = ("occurred_at", "aware_at", "ended_at")
_SENT_FIELDS = ("decision_maker_name", "delegation_reference", "sent_at", "channel", "delay_reason", "sent_by_name")
_RESPONSE_FIELDS = ("authority_reference", "authority_decision", "authority_decision_at")
_DSC_FIELDS = ("informed_at", "method", "exemption", "justification")


@dataclass(frozen=True)
class NotificationView:
    notification: Notification
    form: dict[str, Any]  # every field of the authority's form; None where empty
    supplements: list[NotificationSupplement]
    # IMY: the case's one awareness time, which the 72 hours and lateness count from. The form's aware_at
    # is the same on a draft; a sent notification's form keeps what it said when it was sent.
    case_aware_at: datetime | None = None

    @property
    def authority(self) -> Authority:
        return Authority(self.notification.authority)

    @property
    def missing_for_sending(self) -> list[str]:
        return [] if self.notification.sent_at else missing_for_sending(self.authority, self.form)


@dataclass(frozen=True)
class SendOrder:
    decision_maker_name: str
    delegation_reference: str
    channel: SendChannel
    sent_at: datetime | None = None  # default: now
    delay_reason: str | None = None


@dataclass(frozen=True)
class NewSupplement:
    kind: SupplementKind
    content: str
    channel: SendChannel
    sent_at: datetime | None = None  # default: now


@dataclass(frozen=True)
class DataSubjectNotice:
    informed_at: datetime | None = None
    method: str | None = None
    exemption: DataSubjectExemption | None = None
    justification: str | None = None


# ---- the stored form ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready copy: times in ISO 8601 UTC, enums as their values."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def form_of(notification: Notification) -> dict[str, Any]:
    authority = Authority(notification.authority)
    stored = json.loads(notification.content or "{}")
    form: dict[str, Any] = {name: stored.get(name) for name in FORM_FIELDS[authority]}
    for name in _TIMES:
        if isinstance(form.get(name), str):
            form[name] = datetime.fromisoformat(form[name])
    form["sender_reference"] = notification.sender_reference
    if authority is Authority.ivo:
        form["investigation_attached"] = notification.investigation_attached
    else:
        form["aware_at"] = notification.aware_at
    return form


def _store(notification: Notification, form: dict[str, Any]) -> None:
    notification.content = json.dumps({k: _plain(v) for k, v in form.items() if k not in _COLUMNS},
                                      ensure_ascii=False, sort_keys=True)
    notification.sender_reference = form.get("sender_reference")
    notification.investigation_attached = bool(form.get("investigation_attached"))
    notification.aware_at = form.get("aware_at")


def _check_form(form: dict[str, Any], now: datetime) -> None:
    check_form_times(form, now)
    for name in ("operator", "controller"):
        value = form.get(name)
        if isinstance(value, dict):
            check_organisation_number(value.get("organisation_number"), f"/{name}/organisation_number")


def _defaults(session: Session, report: Report, authority: Authority) -> dict[str, Any]:
    """What the case already says, so that nobody types it twice."""
    units = ", ".join(unit.name for unit in units_of(session, [report.id])[report.id])
    form: dict[str, Any] = dict.fromkeys(FORM_FIELDS[authority])
    form.update(sender_reference=report.case_number, occurred_at=report.occurred_at)
    if authority is Authority.ivo:
        form.update(kind=default_ivo_kind(current_findings(session, report.id)), what_happened=report.description,
                    where=units, unit={"name": units, "address": None}, investigation_attached=False)
    else:
        form.update(nature=report.description, aware_at=case_awareness(session, report.id))
    return form


def _changes(before: dict[str, Any], after: dict[str, Any], names: Any) -> dict[str, list[Any]]:
    return {name: [_plain(before.get(name)), _plain(after.get(name))] for name in names
            if _plain(before.get(name)) != _plain(after.get(name))}


# ---- loading -----------------------------------------------------------------------------------------


def _notification(session: Session, report: Report, notification_id: int) -> Notification:
    notification = session.exec(select(Notification).where(Notification.id == notification_id,
                                                           Notification.report_id == report.id)).first()
    if notification is None:
        raise NotFound("No such notification on this case.")
    return notification


def _view(session: Session, notification: Notification) -> NotificationView:
    supplements = session.exec(select(NotificationSupplement)
                               .where(NotificationSupplement.notification_id == notification.id)
                               .order_by(col(NotificationSupplement.sent_at), col(NotificationSupplement.id))).all()
    aware_at = (case_awareness(session, notification.report_id)
                if notification.authority == Authority.imy.value else None)
    return NotificationView(notification, form_of(notification), list(supplements), aware_at)


def _investigation(session: Session, report: Report) -> Investigation | None:
    return session.exec(select(Investigation).where(Investigation.report_id == report.id)).first()


def list_notifications(session: Session, principal: Principal, report_id: uuid.UUID) -> list[NotificationView]:
    report = load_case(session, principal, report_id, Permission.read_case)
    rows = session.exec(select(Notification).where(Notification.report_id == report.id)
                        .order_by(col(Notification.id))).all()
    return [_view(session, row) for row in rows]


def get_notification(session: Session, principal: Principal, report_id: uuid.UUID,
                     notification_id: int) -> NotificationView:
    report = load_case(session, principal, report_id, Permission.read_case)
    return _view(session, _notification(session, report, notification_id))


# ---- drafting ----------------------------------------------------------------------------------------


def create_draft(session: Session, principal: Principal, report_id: uuid.UUID, authority: Authority,
                 fields: dict[str, Any], now: datetime, settings: Settings) -> NotificationView:
    """A draft for IVO or IMY, filled from the case; `fields` are what the caller gave (None clears)."""
    with case_step(session, principal, report_id, CaseChange.draft_notification, now, settings) as step:
        report = step.report
        check_form_fields(authority, set(fields))
        already = {Authority(a) for a in session.exec(select(Notification.authority)
                                                      .where(Notification.report_id == report.id)).all()}
        check_may_notify(authority, current_findings(session, report.id), already)
        defaults = _defaults(session, report, authority)
        if authority is Authority.imy:
            check_form_awareness(fields, defaults["aware_at"])
        form = defaults | fields
        _check_form(form, now)
        notification = Notification(report_id=report.id, authority=authority.value, created_at=now, content="{}")
        _store(notification, form)
        session.add(notification)
        try:
            session.flush()
        except IntegrityError:  # a concurrent request drafted the same authority's notification first
            raise Conflict(f"The case already has an {authority.upper()} notification.", field="authority") from None
        changes = {"notification": [None, f"{authority.value}:{notification.id}"],
                   **_changes({}, form, FORM_FIELDS[authority])}
        step.record(changes=changes, kind="notification_drafted")
    return _view(session, notification)


def edit_draft(session: Session, principal: Principal, report_id: uuid.UUID, notification_id: int,
               fields: dict[str, Any], now: datetime, settings: Settings) -> NotificationView:
    with case_step(session, principal, report_id, CaseChange.edit_notification, now, settings,
                   check_first=False) as step:
        notification = _notification(session, step.report, notification_id)
        step.check()
        check_not_sent(notification.sent_at)
        authority = Authority(notification.authority)
        check_form_fields(authority, set(fields))
        before = form_of(notification)
        if authority is Authority.imy:
            check_form_awareness(fields, case_awareness(session, step.report.id))
        after = before | fields
        _check_form(after, now)
        _store(notification, after)
        session.add(notification)
        changes = {"notification": [f"{authority.value}:{notification.id}"] * 2, **_changes(before, after, fields)}
        step.record(changes=changes, kind="notification_edited")
    return _view(session, notification)


# ---- sending -----------------------------------------------------------------------------------------


def send(session: Session, principal: Principal, report_id: uuid.UUID, notification_id: int, order: SendOrder,
         now: datetime, settings: Settings) -> NotificationView:
    """Record the decision and the sending; from here on the notification is frozen."""
    report = load_case(session, principal, report_id, Permission.read_case)
    notification = _notification(session, report, notification_id)
    authority = Authority(notification.authority)
    with case_step(session, principal, report_id, SEND[authority], now, settings) as step:
        report = step.report
        check_not_sent(notification.sent_at)
        check_may_notify(authority, current_findings(session, report.id), already=set())
        aware_at = case_awareness(session, report.id) if authority is Authority.imy else None
        form = form_of(notification)
        if authority is Authority.imy:
            form["aware_at"] = aware_at  # what the notification states is the case's one awareness time
        check_complete(authority, form)
        sent_at = order.sent_at or now
        if authority is Authority.ivo and order.delay_reason is not None:
            raise InvalidInput("delay_reason belongs to an IMY notification (GDPR art. 33(1)).", field="delay_reason")
        check_send(authority, sent_at=sent_at, now=now, aware_at=aware_at, delay_reason=order.delay_reason,
                   occurred_at=report.occurred_at, received_at=report.received_at, drafted_at=notification.created_at)
        if notification.investigation_attached:
            investigation = _investigation(session, report)
            check_investigation_ready(investigation.decided_at if investigation else None, "investigation_attached")
        before = {name: getattr(notification, name) for name in _SENT_FIELDS}
        notification.decision_maker_name = order.decision_maker_name
        notification.delegation_reference = order.delegation_reference
        notification.sent_at = sent_at
        notification.channel = order.channel.value
        notification.delay_reason = order.delay_reason
        notification.sent_by_name = principal.display_name
        if authority is Authority.imy:
            notification.aware_at = aware_at
        session.add(notification)
        after = {name: getattr(notification, name) for name in _SENT_FIELDS}
        changes = {"notification": [f"{authority.value}:{notification.id}"] * 2,
                   **_changes(before, after, _SENT_FIELDS)}
        step.record(changes=changes, kind="notification_sent")
    return _view(session, notification)


def add_supplement(session: Session, principal: Principal, report_id: uuid.UUID, notification_id: int,
                   new: NewSupplement, now: datetime, settings: Settings) -> NotificationView:
    """A komplettering to a sent notification; the investigation sent this way meets the two-month rule."""
    with case_step(session, principal, report_id, CaseChange.add_supplement, now, settings,
                   check_first=False) as step:
        report = step.report
        notification = _notification(session, report, notification_id)
        step.check()
        authority = Authority(notification.authority)
        sent_at = new.sent_at or now
        investigation = _investigation(session, report)
        check_supplement(authority, new.kind, notification_sent_at=notification.sent_at, sent_at=sent_at, now=now,
                         investigation_decided_at=investigation.decided_at if investigation else None)
        supplement = NotificationSupplement(notification_id=notification.id or 0, kind=new.kind.value,
                                            content=new.content, sent_at=sent_at, channel=new.channel.value,
                                            recorded_at=now, recorded_by_name=principal.display_name)
        session.add(supplement)
        changes = {"supplement": [None, {"notification": f"{authority.value}:{notification.id}", "kind": new.kind.value,
                                         "sent_at": _plain(sent_at), "channel": new.channel.value}]}
        step.record(changes=changes, kind="notification_supplement")
    return _view(session, notification)


def record_authority_response(session: Session, principal: Principal, report_id: uuid.UUID, notification_id: int,
                              fields: dict[str, Any], now: datetime, settings: Settings) -> NotificationView:
    """IVO's or IMY's reference number and/or decision, whenever it arrives (also on a closed case).

    Only the fields given change; recording again overwrites, and the timeline keeps [from, to].
    """
    with case_step(session, principal, report_id, CaseChange.record_authority_response, now, settings,
                   check_first=False) as step:
        notification = _notification(session, step.report, notification_id)
        step.check()
        check_authority_response(notification_sent_at=notification.sent_at,
                                 reference=fields.get("authority_reference"),
                                 decision=fields.get("authority_decision"),
                                 decision_at=fields.get("authority_decision_at"),
                                 has_decision=notification.authority_decision is not None,
                                 now=now, time_zone=settings.time_zone)
        before = {name: getattr(notification, name) for name in _RESPONSE_FIELDS}
        for name in _RESPONSE_FIELDS:
            if name in fields:
                setattr(notification, name, fields[name])
        session.add(notification)
        after = {name: getattr(notification, name) for name in _RESPONSE_FIELDS}
        changes = {"notification": [f"{notification.authority}:{notification.id}"] * 2,
                   **_changes(before, after, _RESPONSE_FIELDS)}
        step.record(changes=changes, kind="authority_response")
    return _view(session, notification)


# ---- the data subjects (GDPR art. 34) ----------------------------------------------------------------


def get_data_subject_communication(session: Session, principal: Principal,
                                   report_id: uuid.UUID) -> DataSubjectCommunication | None:
    report = load_case(session, principal, report_id, Permission.read_case)
    return session.get(DataSubjectCommunication, report.id)


def record_data_subject_communication(session: Session, principal: Principal, report_id: uuid.UUID,
                                      notice: DataSubjectNotice, now: datetime,
                                      settings: Settings) -> DataSubjectCommunication:
    """The data subjects informed (when, how), or the art. 34(3) exemption and why; recording again replaces."""
    with case_step(session, principal, report_id, CaseChange.record_data_subject_communication, now,
                   settings) as step:
        report = step.report
        check_data_subject_communication(current_findings(session, report.id), informed_at=notice.informed_at,
                                         method=notice.method, exemption=notice.exemption,
                                         justification=notice.justification, now=now)
        row = session.get(DataSubjectCommunication, report.id)
        before = {name: getattr(row, name) for name in _DSC_FIELDS} if row else {}
        if row is None:
            row = DataSubjectCommunication(report_id=report.id, justification="", recorded_at=now,
                                           recorded_by_name=principal.display_name)
        row.informed_at = notice.informed_at
        row.method = notice.method if notice.informed_at is not None else None
        row.exemption = notice.exemption.value if notice.exemption is not None else None
        row.justification = notice.justification or ""
        row.recorded_at = now
        row.recorded_by_name = principal.display_name
        session.add(row)
        after = {name: getattr(row, name) for name in _DSC_FIELDS}
        step.record(changes=_changes(before, after, _DSC_FIELDS), kind="data_subject_communication")
    return row


# ---- the printable document --------------------------------------------------------------------------


def document(session: Session, principal: Principal, report_id: uuid.UUID, notification_id: int,
             now: datetime, settings: Settings) -> str:
    """The notification as a printable HTML page to copy into the authority's e-service (or post)."""
    report = load_case(session, principal, report_id, Permission.read_case)
    view = _view(session, _notification(session, report, notification_id))
    units = [(unit.code, unit.name) for unit in units_of(session, [report.id])[report.id]]
    findings = current_findings(session, report.id)
    investigation, entries = None, []
    if view.authority is Authority.ivo and view.notification.investigation_attached:
        investigation = _investigation(session, report)
        if investigation is not None:
            entries = list(session.exec(select(InvestigationEntry)
                                        .where(InvestigationEntry.investigation_id == investigation.id)
                                        .order_by(col(InvestigationEntry.id))).all())
    communication = session.get(DataSubjectCommunication, report.id) if view.authority is Authority.imy else None
    risk = notifiable_incident_risk(findings)
    return notification_document.render(notification_document.DocumentData(
        case_number=report.case_number, authority=view.authority, notification=view.notification, form=view.form,
        supplements=view.supplements, missing=view.missing_for_sending, units=units,
        incident_risk=risk.value if risk else None, investigation=investigation, entries=entries,
        data_subjects=communication, generated_at=now, time_zone=settings.time_zone, aware_at=view.case_aware_at,
    ))

