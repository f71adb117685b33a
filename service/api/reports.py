"""/api/v1/reports: intake (staff and integrations) and scoped reads."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, field_validator

from service import reports as core_reports
from service.api.deps import (
    CategoriesDep,
    ClockDep,
    CommittingRoute,
    OrgDep,
    PrincipalDep,
    ReadingSessionDep,
    SessionDep,
    SettingsDep,
)
from service.api.pagination import decode_cursor, encode_cursor
from service.api.problems import problem_responses
from service.api.types import (
    Day,
    Input,
    Name,
    NonBlankText20k,
    NonBlankText100,
    NonBlankText200,
    RowId,
    Text10k,
    Timestamp,
)
from service.domain.lifecycle import CaseStatus
from service.domain.reports import Channel, possible_identity_numbers
from service.models import Report

router = APIRouter(route_class=CommittingRoute, prefix="/reports", tags=["reports"])

class IntakeChannel(StrEnum):
    """The channels a report may come in by: every Channel but `imported`, the history import's own
    (POST /imports/reports). tests/unit/test_history_import_rules.py keeps the two lists in step."""

    web_form = Channel.web_form.value
    integration = Channel.integration.value
    phone = Channel.phone.value
    paper = Channel.paper.value
    in_person = Channel.in_person.value


class ReporterIn(Input):
    """Who made the report, when an integration client submits on a person's behalf."""

    subject: str = Field(min_length=1, max_length=255, description="The person's id in your identity system.")
    name: Name
    title: Name | None = None


class ReportCreate(Input):
    units: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=20, description="Codes of the enheter the report concerns."
    )
    occurred_at: Timestamp = Field(description="When it happened (with UTC offset).")
    noticed_at: Timestamp = Field(description="When it was noticed (with UTC offset).")
    description: NonBlankText20k
    immediate_actions: Text10k = ""
    subject_reference: NonBlankText100 | None = Field(
        default=None, description="Pseudonymous reference to the person concerned; a personnummer or "
                                  "samordningsnummer, however written, is refused (422).")
    no_specific_subject: bool = Field(default=False, description="True when no specific person is concerned.")
    category: str | None = Field(default=None, max_length=64, description=(
        "One of GET /api/v1/report-categories for the enheter's förvaltning, valid on the day the report is "
        "received. Left out: `not_stated` (a synpunkt need not have one)."))
    channel: IntakeChannel | None = Field(
        default=None, description="Default: web_form, or integration for clients.")
    external_reference: NonBlankText200 | None = Field(
        default=None,
        description="Your own id for the report; sending it again returns the first receipt, never a copy.")
    reporter: ReporterIn | None = Field(
        default=None, description="Integration clients; and handlers registering someone's report later. "
                                  "People reporting for themselves leave it out.")
    received_at: Timestamp | None = Field(
        default=None,
        description="Only for a report that reached you earlier on paper, by phone or in person and is registered "
                    "now, by someone who handles cases on its enheter (integration clients only where the service "
                    "allows it): when it was really received. Not in the future, not before noticed_at, at most "
                    "AVV_LATE_REGISTRATION_DAYS back. The case number's year, the statistics, reported_late and "
                    "every deadline count from it. Leave out for a report received now.")
    received_by: Name | None = Field(
        default=None, description="With received_at: who received the report (name, and title if useful).")

    @field_validator("units")
    @classmethod
    def _distinct_units(cls, units: list[str]) -> list[str]:
        if len(set(units)) != len(units):
            raise ValueError("lists the same enhet twice")
        return units


class UnitRef(BaseModel):
    id: int
    code: str
    name: str


class ReportReceipt(BaseModel):
    id: uuid.UUID
    case_number: str = Field(examples=["SOC-2026-00001"])
    status: CaseStatus
    received_at: datetime
    units: list[UnitRef]
    external_reference: str | None


class ReportRead(ReportReceipt):
    """The receipt for everyone who may see the report; content only for those who handle the case."""

    access: str = Field(description="'case': full content; 'receipt': your own report's receipt and status.")
    possible_personal_identity_numbers: list[str] = Field(
        default_factory=list, examples=[["/description"]],
        description="JSON pointers to the free-text fields (description, immediate_actions, external_reference) "
                    "that seem to hold a personnummer or samordningsnummer: a flag to check and edit out, "
                    "never the number itself. Computed from the text on every read.")
    category: str | None = None
    channel: Channel | None = None
    occurred_at: datetime | None = None
    noticed_at: datetime | None = None
    reported_late: bool | None = Field(default=None, description="Reached us > policy hours after it was noticed.")
    description: str | None = None
    immediate_actions: str | None = None
    subject_reference: str | None = None
    no_specific_subject: bool | None = None
    reporter_name: str | None = Field(default=None, description="Shown only to roles that handle the case.")
    reporter_title: str | None = None
    registered_at: datetime | None = Field(
        default=None, description="When the report was registered here: received_at, unless it was registered "
                                  "later than it was received.")
    registered_by: str | None = Field(default=None, description="Who registered it later; null otherwise.")
    received_by: str | None = Field(default=None, description="Who received it, for a report registered later.")
    import_source: str | None = Field(default=None, description="Imported cases: the previous system.")
    previous_case_number: str | None = Field(default=None, description="Imported cases: the number there.")


class ReportSummary(ReportReceipt):
    access: str
    category: str | None = None
    occurred_at: datetime | None = None


class ReportPage(BaseModel):
    items: list[ReportSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def new_report(body: ReportCreate) -> core_reports.NewReport:
    """The intake use case's input from a validated request body (the API's and the web form's)."""
    reporter = (core_reports.Reporter(subject=body.reporter.subject, name=body.reporter.name, title=body.reporter.title)
                if body.reporter else None)
    return core_reports.NewReport(
        unit_codes=body.units, occurred_at=body.occurred_at, noticed_at=body.noticed_at,
        description=body.description, immediate_actions=body.immediate_actions,
        subject_reference=body.subject_reference, no_specific_subject=body.no_specific_subject,
        category=body.category,
        channel=Channel(body.channel.value) if body.channel else None, external_reference=body.external_reference,
        reporter=reporter, fingerprint=core_reports.fingerprint(body.model_dump(mode="json")),
        received_at=body.received_at, received_by=body.received_by,
    )


# Plain dicts, validated once by the model they end up in (a page validates all its items in one call).
def _units(view: core_reports.ReportView) -> list[dict[str, Any]]:
    return [{"id": unit.id or 0, "code": unit.code, "name": unit.name} for unit in view.units]


def _receipt_fields(view: core_reports.ReportView) -> dict:
    report = view.report
    return dict(id=report.id, case_number=report.case_number, status=report.status,
                received_at=report.received_at, units=_units(view), external_reference=report.external_reference)


def _flags(report: Report) -> list[str]:
    """Free text that seems to hold a personnummer: shown on the receipt and to the case's handlers."""
    return possible_identity_numbers({"/description": report.description,
                                      "/immediate_actions": report.immediate_actions,
                                      "/external_reference": report.external_reference})


def _read(view: core_reports.ReportView) -> ReportRead:
    report = view.report
    assert isinstance(report, Report), "a listing's views (ListedReport) are summarised, never read whole"
    flags = _flags(report)
    if not view.case_access:
        return ReportRead(**_receipt_fields(view), access="receipt", possible_personal_identity_numbers=flags)
    return ReportRead(
        **_receipt_fields(view), access="case", possible_personal_identity_numbers=flags,
        category=report.category, channel=Channel(report.channel),
        occurred_at=report.occurred_at, noticed_at=report.noticed_at, reported_late=report.reported_late,
        description=report.description, immediate_actions=report.immediate_actions,
        subject_reference=report.subject_reference, no_specific_subject=report.no_specific_subject,
        reporter_name=report.reporter_name if view.reporter_visible else None,
        reporter_title=report.reporter_title if view.reporter_visible else None,
        registered_at=report.registered_at, registered_by=report.registered_by, received_by=report.received_by,
        import_source=report.import_source, previous_case_number=report.previous_case_number,
    )


def _summary(view: core_reports.ReportView) -> dict[str, Any]:
    if not view.case_access:
        return {**_receipt_fields(view), "access": "receipt"}
    return {**_receipt_fields(view), "access": "case", "category": view.report.category,
            "occurred_at": view.report.occurred_at}


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ReportRead,
    summary="Submit a report; answers with the receipt",
    responses={200: {"description": "This client already sent this external_reference with the same "
                                    "contents: the first receipt again.", "model": ReportRead},
               **problem_responses(403, 409, 422)},
)
def submit_report(body: ReportCreate, request: Request, session: SessionDep, principal: PrincipalDep,
                  clock: ClockDep, settings: SettingsDep, org: OrgDep, categories: CategoriesDep) -> Response:
    stored = core_reports.submit_report(session, principal, new_report(body), clock(), settings, org, categories)
    receipt = _read(core_reports.view_of_new(principal, stored))
    # Serialised once, here: returned as a model, the receipt would be validated again first. Intake is
    # the hottest path; the model above still documents the response.
    return Response(receipt.model_dump_json(), media_type="application/json",
                    status_code=status.HTTP_201_CREATED if stored.created else status.HTTP_200_OK,
                    headers={"Location": f"{request.url.path.rstrip('/')}/{stored.report.id}"})


def _json(model: BaseModel) -> Response:
    """The answer serialised once, here: a model returned from a sync endpoint is validated again against
    the response model, on another hop to the thread pool. The route's response_model still documents it."""
    return Response(model.model_dump_json(), media_type="application/json")


@router.get("/{report_id}", summary="One report, as far as the caller may see it", response_model=ReportRead,
            responses=problem_responses(404))
def get_report(report_id: uuid.UUID, session: ReadingSessionDep, principal: PrincipalDep) -> Response:
    return _json(_read(core_reports.get_report(session, principal, report_id)))


@router.get("", summary="Reports the caller may see, newest first, a page at a time", response_model=ReportPage)
def list_reports(
    session: ReadingSessionDep, principal: PrincipalDep, settings: SettingsDep,
    unit_id: Annotated[RowId | None, Query(description="Only reports concerning this unit or its subtree.")] = None,
    received_from: Annotated[Day | None, Query(description="Received on or after this day (local time).")] = None,
    received_to: Annotated[Day | None, Query(description="Received on or before this day (local time).")] = None,
    status_: Annotated[list[CaseStatus] | None, Query(alias="status", description="Repeat for several.")] = None,
    category: Annotated[list[str] | None, Query(description="Repeat for several.")] = None,
    q: Annotated[str | None, Query(min_length=2, max_length=200, description=(
        "Words in the text (or an imported case's previous case number)."))] = None,
    previous_case_number: Annotated[str | None, Query(min_length=1, max_length=64, description=(
        "Imported cases with exactly this case number in the previous system (any source)."))] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size; capped by the server's maximum.")] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    secret = settings.cursor_secret.get_secret_value()
    page_size = min(limit or settings.default_page_size, settings.max_page_size)
    page = core_reports.list_reports(
        session, principal,
        core_reports.ReportFilter(unit_id=unit_id, received_from=received_from, received_to=received_to,
                                  statuses=[s.value for s in status_ or []], categories=category or [], text=q,
                                  previous_case_number=previous_case_number),
        limit=page_size, after=decode_cursor(secret, cursor) if cursor else None, time_zone=settings.time_zone,
    )
    next_cursor = encode_cursor(secret, *page.last_key) if page.last_key else None
    return _json(ReportPage.model_validate({"items": [_summary(view) for view in page.items],
                                            "next_cursor": next_cursor}))
