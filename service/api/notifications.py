"""/api/v1/reports/{id}/notifications: IVO and IMY notifications, supplements, the authority's response,
the printable document; and /data-subject-communication for a high-risk personal-data incident."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from service import notifications as core_notifications
from service.api.deps import ClockDep, CommittingRoute, PrincipalDep, ReadingSessionDep, SessionDep, SettingsDep
from service.api.problems import problem_responses
from service.api.types import (
    Day,
    Input,
    Name,
    NonBlankText10k,
    NonBlankText20k,
    NonBlankText100,
    NonBlankText200,
    RowId,
    Text10k,
    Text20k,
    Text40,
    Text254,
    Text500,
    Timestamp,
)
from service.domain.errors import NotFound
from service.domain.notifications import (
    Authority,
    DataSubjectExemption,
    IvoKind,
    SendChannel,
    SupplementKind,
    imy_deadline,
    imy_is_late,
)
from service.models import DataSubjectCommunication

router = APIRouter(route_class=CommittingRoute, prefix="/reports/{report_id}", tags=["notifications"])

READ_ERRORS = problem_responses(403, 404)
STEP_ERRORS = problem_responses(403, 404, 409)

OrganisationNumber = Annotated[str, Field(pattern=r"^\d{6}-\d{4}$", examples=["212000-0142"],
                                          description="Organisationsnummer, NNNNNN-NNNN.")]
Count = Annotated[int, Field(ge=0, le=1_000_000_000)]


# ---- the forms' parts --------------------------------------------------------------------------------


class Operator(Input):
    """Who runs the verksamhet and makes the notification (for a kommun: the nämnd)."""

    name: Name | None = None
    organisation_number: OrganisationNumber | None = None
    contact: Text500 | None = Field(default=None, description="Postal address, phone, e-mail.")


class UnitAddress(Input):
    """The verksamhet where it happened; IVO picks its regional avdelning from the address."""

    name: Name | None = None
    address: Text500 | None = None


class Contact(Input):
    """The DPO or another contact point (GDPR art. 33(3)(b))."""

    name: Name | None = None
    email: Text254 | None = None
    phone: Text40 | None = None


class Controller(Input):
    """The personuppgiftsansvarig (usually the nämnd)."""

    name: Name | None = None
    organisation_number: OrganisationNumber | None = None
    address: Text500 | None = None


class FormFields(Input):
    """The form's fields (docs/lifecycle.md, notifications). IVO takes the first group, IMY the second;
    sender_reference and
    occurred_at belong to both. A field of the other authority's form is refused. Nested objects are
    replaced whole."""

    sender_reference: NonBlankText100 | None = Field(
        default=None, description="Avsändarens diarienummer. Default: the case number.")
    occurred_at: Timestamp | None = Field(default=None, description="When it happened. Default: from the report.")
    # IVO
    kind: IvoKind | None = Field(default=None, description="IVO. Default: the assessment's serious severity.")
    operator: Operator | None = Field(default=None, description="IVO.")
    unit: UnitAddress | None = Field(default=None, description="IVO. Default name: the report's enheter.")
    what_happened: Text20k | None = Field(
        default=None, description="IVO. Default: the report's description.")
    where: Text500 | None = Field(default=None, description="IVO. Default: the report's enheter.")
    investigation_attached: bool | None = Field(
        default=None, description="IVO: the completed investigation goes with the notification.")
    # IMY
    nature: Text20k | None = Field(default=None, description="IMY. Default: the report's description.")
    data_subject_categories: Text500 | None = Field(default=None, description="IMY.")
    data_subjects_approx: Count | None = Field(default=None, description="IMY: approximate number of persons.")
    record_categories: Text500 | None = Field(
        default=None, description="IMY: categories of personal data records.")
    records_approx: Count | None = Field(default=None, description="IMY: approximate number of records.")
    likely_consequences: Text20k | None = Field(default=None, description="IMY.")
    measures: Text20k | None = Field(default=None, description="IMY: measures taken or proposed.")
    aware_at: Timestamp | None = Field(
        default=None, description="IMY: when the organisation became aware: the case's awareness time, set by the "
                                  "assessment (incident_aware_at). Shown, not changed here: another value is 422.")
    ended_at: Timestamp | None = Field(default=None, description="IMY: when the incident ended.")
    contact: Contact | None = Field(default=None, description="IMY.")
    controller: Controller | None = Field(default=None, description="IMY.")


class NotificationCreate(FormFields):
    authority: Authority


class NotificationEdit(FormFields):
    pass


class SendIn(Input):
    decision_maker_name: Name
    delegation_reference: Name = Field(
        description="The point of the delegationsordning the decision was made under.")
    channel: SendChannel = Field(description="IVO and IMY take e_service or post, never e-mail or fax.")
    sent_at: Timestamp | None = Field(
        default=None, description="Default: now. Not in the future; not before the event, the report's receipt, "
                                  "the draft's creation or (IMY) the case's awareness time.")
    delay_reason: NonBlankText10k | None = Field(
        default=None, description="IMY: required when sent more than 72 hours after aware_at (GDPR art. 33(1)).")


class SupplementIn(Input):
    kind: SupplementKind = Field(description="investigation: the completed investigation (IVO, two-month rule).")
    content: NonBlankText20k
    channel: SendChannel
    sent_at: Timestamp | None = Field(default=None, description="Default: now.")


class AuthorityResponseIn(Input):
    authority_reference: NonBlankText100 | None = Field(
        default=None, description="The authority's diarienummer.")
    authority_decision: NonBlankText10k | None = Field(
        default=None, description="E.g. IVO closed the matter.")
    authority_decision_at: Day | None = None


class DataSubjectCommunicationIn(Input):
    """Either informed_at and method, or exemption and justification."""

    informed_at: Timestamp | None = None
    method: NonBlankText200 | None = Field(
        default=None, description="How they were informed, e.g. letter.")
    exemption: DataSubjectExemption | None = Field(default=None, description="GDPR art. 34(3).")
    justification: Text10k | None = None


# ---- answers -----------------------------------------------------------------------------------------


class SupplementOut(BaseModel):
    id: int
    kind: SupplementKind
    content: str
    sent_at: datetime
    channel: SendChannel
    recorded_at: datetime
    recorded_by_name: str


class NotificationOut(BaseModel):
    id: int
    report_id: uuid.UUID
    authority: Authority
    status: Literal["draft", "sent"]
    created_at: datetime
    missing_for_sending: list[str] = Field(description="Required fields still empty (dotted names).")
    sender_reference: str | None
    occurred_at: datetime | None
    kind: IvoKind | None = None
    operator: Operator | None = None
    unit: UnitAddress | None = None
    what_happened: str | None = None
    where: str | None = None
    investigation_attached: bool | None = None
    nature: str | None = None
    data_subject_categories: str | None = None
    data_subjects_approx: int | None = None
    record_categories: str | None = None
    records_approx: int | None = None
    likely_consequences: str | None = None
    measures: str | None = None
    aware_at: datetime | None = None
    ended_at: datetime | None = None
    contact: Contact | None = None
    controller: Controller | None = None
    imy_deadline: datetime | None = Field(default=None, description="IMY: the case's awareness time + 72 hours.")
    late: bool | None = Field(default=None,
                              description="IMY: sent more than 72 hours after the case's awareness time.")
    decision_maker_name: str | None
    delegation_reference: str | None
    sent_at: datetime | None
    channel: SendChannel | None
    sent_by_name: str | None
    delay_reason: str | None
    supplements: list[SupplementOut]
    authority_reference: str | None
    authority_decision: str | None
    authority_decision_at: date | None


class DataSubjectCommunicationOut(BaseModel):
    informed_at: datetime | None
    method: str | None
    exemption: DataSubjectExemption | None
    justification: str
    recorded_at: datetime
    recorded_by_name: str


def _out(view: core_notifications.NotificationView) -> NotificationOut:
    n = view.notification
    aware_at = view.case_aware_at if view.authority is Authority.imy else None  # the case's one awareness time
    return NotificationOut(
        id=n.id or 0, report_id=n.report_id, authority=view.authority,
        status="sent" if n.sent_at else "draft", created_at=n.created_at,
        missing_for_sending=view.missing_for_sending, **view.form,
        imy_deadline=imy_deadline(aware_at) if aware_at else None,
        late=imy_is_late(aware_at, n.sent_at) if aware_at and n.sent_at else None,
        decision_maker_name=n.decision_maker_name, delegation_reference=n.delegation_reference,
        sent_at=n.sent_at, channel=SendChannel(n.channel) if n.channel else None, sent_by_name=n.sent_by_name,
        delay_reason=n.delay_reason,
        supplements=[SupplementOut(id=s.id or 0, kind=SupplementKind(s.kind), content=s.content, sent_at=s.sent_at,
                                   channel=SendChannel(s.channel), recorded_at=s.recorded_at,
                                   recorded_by_name=s.recorded_by_name) for s in view.supplements],
        authority_reference=n.authority_reference, authority_decision=n.authority_decision,
        authority_decision_at=n.authority_decision_at,
    )


def _given(body: BaseModel, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Only the fields the caller sent (an explicit null clears), nested objects as plain dicts."""
    return {name: value for name, value in body.model_dump(exclude_unset=True).items() if name not in exclude}


def _dsc_out(row: DataSubjectCommunication) -> DataSubjectCommunicationOut:
    return DataSubjectCommunicationOut(
        informed_at=row.informed_at, method=row.method,
        exemption=DataSubjectExemption(row.exemption) if row.exemption else None,
        justification=row.justification, recorded_at=row.recorded_at, recorded_by_name=row.recorded_by_name)


# ---- routes ------------------------------------------------------------------------------------------


@router.get("/notifications", summary="The case's IVO and IMY notifications", responses=READ_ERRORS)
def list_notifications(report_id: uuid.UUID, session: ReadingSessionDep,
                       principal: PrincipalDep) -> list[NotificationOut]:
    return [_out(view) for view in core_notifications.list_notifications(session, principal, report_id)]


@router.post("/notifications", status_code=201, responses=STEP_ERRORS,
             summary="Draft the IVO or IMY notification, filled in from the case (one per authority)")
def create_notification(report_id: uuid.UUID, body: NotificationCreate, request: Request, response: Response,
                        session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                        settings: SettingsDep) -> NotificationOut:
    view = core_notifications.create_draft(session, principal, report_id, body.authority,
                                      _given(body, frozenset({"authority"})), clock(), settings)
    result = _out(view)
    response.headers["Location"] = str(request.url_for("get_notification", report_id=report_id,
                                                       notification_id=result.id))
    return result


@router.get("/notifications/{notification_id}", summary="One notification with its supplements",
            responses=READ_ERRORS)
def get_notification(report_id: uuid.UUID, notification_id: RowId, session: ReadingSessionDep,
                     principal: PrincipalDep) -> NotificationOut:
    return _out(core_notifications.get_notification(session, principal, report_id, notification_id))


@router.patch("/notifications/{notification_id}", summary="Edit a draft (a sent notification is frozen)",
              responses=STEP_ERRORS)
def edit_notification(report_id: uuid.UUID, notification_id: RowId, body: NotificationEdit, session: SessionDep,
                      principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> NotificationOut:
    view = core_notifications.edit_draft(session, principal, report_id, notification_id, _given(body), clock(),
                                         settings)
    return _out(view)


@router.post("/notifications/{notification_id}/send", responses=STEP_ERRORS,
             summary="Record the decision and the sending; the notification is frozen from then on")
def send_notification(report_id: uuid.UUID, notification_id: RowId, body: SendIn, session: SessionDep,
                      principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> NotificationOut:
    order = core_notifications.SendOrder(decision_maker_name=body.decision_maker_name,
                                    delegation_reference=body.delegation_reference, channel=body.channel,
                                    sent_at=body.sent_at, delay_reason=body.delay_reason)
    return _out(core_notifications.send(session, principal, report_id, notification_id, order, clock(), settings))


@router.post("/notifications/{notification_id}/supplements", status_code=201, responses=STEP_ERRORS,
             summary="Record a supplement (komplettering) sent after the notification")
def add_supplement(report_id: uuid.UUID, notification_id: RowId, body: SupplementIn, session: SessionDep,
                   principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> NotificationOut:
    new = core_notifications.NewSupplement(kind=body.kind, content=body.content, channel=body.channel,
                                      sent_at=body.sent_at)
    return _out(core_notifications.add_supplement(session, principal, report_id, notification_id, new, clock(),
                                               settings))


@router.post("/notifications/{notification_id}/authority-response", responses=STEP_ERRORS,
             summary="Record the authority's reference number and/or decision (also on a closed case)")
def record_authority_response(report_id: uuid.UUID, notification_id: RowId, body: AuthorityResponseIn,
                              session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                              settings: SettingsDep) -> NotificationOut:
    return _out(core_notifications.record_authority_response(session, principal, report_id, notification_id,
                                                          _given(body), clock(), settings))


@router.get(
    "/notifications/{notification_id}/document", response_class=HTMLResponse,
    summary="The notification as a printable HTML page, to copy into the authority's e-service",
    responses={200: {"description": "A printable HTML document (UTF-8, Swedish).",
                     "content": {"text/html": {"schema": {"type": "string"}}}},
               **READ_ERRORS},
)
def notification_document(report_id: uuid.UUID, notification_id: RowId, session: ReadingSessionDep,
                          principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> HTMLResponse:
    page = core_notifications.document(session, principal, report_id, notification_id, clock(), settings)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/data-subject-communication", responses=READ_ERRORS,
            summary="How the data subjects of a high-risk incident were informed, or why not (404 if not recorded)")
def get_data_subject_communication(report_id: uuid.UUID, session: ReadingSessionDep,
                                   principal: PrincipalDep) -> DataSubjectCommunicationOut:
    row = core_notifications.get_data_subject_communication(session, principal, report_id)
    if row is None:
        raise NotFound("Nothing is recorded about informing the data subjects.")
    return _dsc_out(row)


@router.post("/data-subject-communication", responses=STEP_ERRORS,
             summary="Record that the data subjects were informed (GDPR art. 34), or the art. 34(3) exemption")
def record_data_subject_communication(report_id: uuid.UUID, body: DataSubjectCommunicationIn, session: SessionDep,
                                      principal: PrincipalDep, clock: ClockDep,
                                      settings: SettingsDep) -> DataSubjectCommunicationOut:
    notice = core_notifications.DataSubjectNotice(informed_at=body.informed_at, method=body.method,
                                             exemption=body.exemption, justification=body.justification)
    return _dsc_out(core_notifications.record_data_subject_communication(session, principal, report_id, notice,
                                                                      clock(), settings))
