"""/api/v1/reports/{id}/...: the case around a report: the case view, assessments, timeline (the last steps,
follow-up, closing and reopening, are service/api/closing.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import Session

from service import assessments as core_assessments, cases as core_cases
from service.api.deps import ClockDep, CommittingRoute, PrincipalDep, ReadingSessionDep, SessionDep, SettingsDep
from service.api.problems import problem_responses
from service.api.types import Input, NonBlankText10k, Timestamp
from service.domain.access import Permission, Principal
from service.domain.assessment import (
    ComplaintKind,
    ComplaintSubmitter,
    IncidentRisk,
    LexSarahSeverity,
    ReportType,
    TypeFinding,
)
from service.domain.case_facts import CaseFacts
from service.domain.closing import closing_blockers
from service.domain.lifecycle import CaseStatus, Step, allowed_steps
from service.models import Report

router = APIRouter(route_class=CommittingRoute, prefix="/reports/{report_id}", tags=["cases"])

CASE_ERRORS = problem_responses(403, 404)
STEP_ERRORS = problem_responses(403, 404, 409)


class TypeIn(Input):
    type: ReportType
    lex_sarah_severity: LexSarahSeverity | None = None
    incident_risk: IncidentRisk | None = None
    complaint_kind: ComplaintKind | None = None
    complaint_submitter: ComplaintSubmitter | None = None


class AssessmentCreate(Input):
    types: list[TypeIn] = Field(min_length=1, max_length=5)
    justification: NonBlankText10k
    incident_aware_at: Timestamp | None = Field(
        default=None, description="Personal-data incidents: when the organisation became aware (GDPR art. 33). "
                                  "Default: the case's awareness time so far, or the first time when the report "
                                  "says it was noticed. May move the case's awareness time earlier, never later.")
    add_units: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=20)
    remove_units: list[Annotated[str, Field(max_length=32)]] = Field(default_factory=list, max_length=20)
    link_cases: list[uuid.UUID] = Field(default_factory=list, max_length=20,
                                        description="Ids of related reports (e.g. the same event).")


class TypeOut(BaseModel):
    type: ReportType
    lex_sarah_severity: LexSarahSeverity | None = None
    incident_risk: IncidentRisk | None = None
    complaint_kind: ComplaintKind | None = None
    complaint_submitter: ComplaintSubmitter | None = None


class DeadlineOut(BaseModel):
    kind: str
    due_at: datetime
    overdue: bool
    action_id: int | None = None


class LinkedCase(BaseModel):
    id: uuid.UUID
    case_number: str


class ImportedFrom(BaseModel):
    source: str = Field(examples=["treserva"])
    previous_case_number: str
    imported_at: datetime
    imported_by: str


class CaseRead(BaseModel):
    id: uuid.UUID
    case_number: str
    status: CaseStatus
    types: list[TypeOut]
    allowed_steps: list[Step] = Field(description="Steps the lifecycle allows now (your roles may allow fewer).")
    closing_blockers: list[str] = Field(description="What must happen before the case can close.")
    deadlines: list[DeadlineOut] = Field(description="Open deadlines, soonest first.")
    linked_cases: list[LinkedCase]
    received_at: datetime = Field(description="When the report reached the organisation; deadlines count from it.")
    registered_at: datetime = Field(description="When it was registered here (later than received_at only for a "
                                                "report registered later).")
    registered_by: str | None = Field(description="Who registered it later; null for a report registered "
                                                  "when received.")
    received_by: str | None = Field(description="Who received it, for a report registered later.")
    first_assessed_at: datetime | None
    judged_serious_at: datetime | None
    incident_aware_at: datetime | None = Field(
        description="Personal-data incident: the case's one awareness time, the earliest any assessment recorded; "
                    "the IMY 72 hours count from it.")
    closed_at: datetime | None
    imported: ImportedFrom | None = Field(default=None, description=(
        "Set for a case brought from a previous register by POST /api/v1/imports/reports."))


class AssessmentOut(BaseModel):
    assessed_at: datetime
    assessor_name: str
    types: list[TypeOut]
    justification: str
    incident_aware_at: datetime | None
    current: bool


class TimelineEntry(BaseModel):
    at: datetime
    actor_name: str
    kind: str
    changes: dict[str, Any] = Field(description="field: [from, to]")
    note: str | None = None


def case_read(session: Session, principal: Principal, report: Report, now: datetime,
              facts: CaseFacts | None = None) -> CaseRead:
    """The case view; linked cases only where the reader may read them too. `facts`: those a step just
    computed its deadlines from (else they are loaded)."""
    view = core_cases.case_view(session, principal, report, facts)
    facts = view.facts
    return CaseRead(
        id=report.id, case_number=report.case_number, status=CaseStatus(report.status),
        types=[TypeOut(**vars(f)) for f in facts.findings],
        allowed_steps=allowed_steps(CaseStatus(report.status)),
        closing_blockers=closing_blockers(facts) if facts.status is not CaseStatus.closed else [],
        deadlines=[DeadlineOut(kind=d.kind, due_at=d.due_at, overdue=d.due_at < now, action_id=d.action_id)
                   for d in view.deadlines],
        linked_cases=[LinkedCase(id=i, case_number=n) for i, n in view.linked_cases],
        received_at=report.received_at, registered_at=report.registered_at, registered_by=report.registered_by,
        received_by=report.received_by,
        first_assessed_at=report.first_assessed_at, judged_serious_at=report.judged_serious_at,
        incident_aware_at=facts.incident_aware_at, closed_at=report.closed_at,
        imported=ImportedFrom(source=report.import_source, previous_case_number=report.previous_case_number or "",
                              imported_at=report.imported_at, imported_by=report.imported_by or "")
        if report.import_source and report.imported_at else None,
    )


@router.get("/case", summary="The case: status, types, possible steps, deadlines, what blocks closing",
            responses=CASE_ERRORS)
def get_case(report_id: uuid.UUID, session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep) -> CaseRead:
    report = core_cases.load_case(session, principal, report_id, Permission.read_case)
    return case_read(session, principal, report, clock())


@router.post("/assessments", status_code=201, summary="Assess (or re-assess) the report: its types",
             responses=STEP_ERRORS)
def assess(report_id: uuid.UUID, body: AssessmentCreate, session: SessionDep, principal: PrincipalDep,
           clock: ClockDep, settings: SettingsDep) -> CaseRead:
    now = clock()
    done = core_assessments.assess(session, principal, report_id, core_assessments.NewAssessment(
        findings=[TypeFinding(**t.model_dump()) for t in body.types], justification=body.justification,
        incident_aware_at=body.incident_aware_at, add_unit_codes=tuple(body.add_units),
        remove_unit_codes=tuple(body.remove_units), link_report_ids=tuple(body.link_cases)), now, settings)
    return case_read(session, principal, done.report, now, done.facts)


@router.get("/assessments", summary="Every assessment of the report, oldest first", responses=CASE_ERRORS)
def list_assessments(report_id: uuid.UUID, session: ReadingSessionDep, principal: PrincipalDep) -> list[AssessmentOut]:
    rows = core_cases.assessments_of(session, principal, report_id)
    return [AssessmentOut(assessed_at=a.assessed_at, assessor_name=a.assessor_name,
                          types=[TypeOut(**t) for t in a.findings], justification=a.justification,
                          incident_aware_at=a.incident_aware_at, current=a.current) for a in rows]


@router.get("/timeline", summary="Everything that happened to the case, in order", responses=CASE_ERRORS)
def timeline(report_id: uuid.UUID, session: ReadingSessionDep, principal: PrincipalDep) -> list[TimelineEntry]:
    return [TimelineEntry(at=item.at, actor_name=item.actor_name, kind=item.kind, changes=item.changes,
                          note=item.note) for item in core_cases.timeline(session, principal, report_id)]
