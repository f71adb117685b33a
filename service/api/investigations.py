"""/api/v1/reports/{id}/investigation: the utredning with its entries and decision. Åtgärder: actions.py."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from service import investigations as core_investigations
from service.api.deps import ClockDep, CommittingRoute, PrincipalDep, ReadingSessionDep, SessionDep, SettingsDep
from service.api.problems import problem_responses
from service.api.types import Day, Input, LongName, Name, NonBlankText20k, RowId
from service.config import Settings
from service.domain.investigation import InvestigationKind, Nature, Topic
from service.models import InvestigationEntry

router = APIRouter(route_class=CommittingRoute, prefix="/reports/{report_id}", tags=["investigation and actions"])

READ_ERRORS = problem_responses(403, 404)
STEP_ERRORS = problem_responses(403, 404, 409)


# ---- the investigation -------------------------------------------------------------------------------


class InvestigationStart(Input):
    kind: InvestigationKind | None = Field(
        default=None, description="full (SOSFS 2011:5) or light (within the unit). Default: full for lex Sarah "
                                  "and personal-data incidents, else light. light is refused for those types.")


class EntryCreate(Input):
    topic: Topic = Field(description="The item of SOSFS 2011:5 5 kap. the entry documents.")
    documented_on: Day = Field(description="The day it was documented; not in the future.")
    source: LongName = Field(
        description="Where the information comes from, e.g. an interview.")
    nature: Nature = Field(description="Fact or assessment.")
    author_name: Name
    author_title: Name = Field(description="Befattning/titel.")
    text: NonBlankText20k
    corrects_entry_id: RowId | None = Field(
        default=None,
        description="The entry this one corrects: an entry of this investigation, on the same topic.")


class DecisionCreate(Input):
    decision: NonBlankText20k = Field(
        description="The beslut or ställningstagande that closes the investigation.")
    decided_by_name: Name
    decided_by_title: Name
    root_causes: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=20,
        description="Codes from the configured list of root causes (setting AVV_ROOT_CAUSES).")


class EntryOut(BaseModel):
    id: int
    topic: Topic
    documented_on: date
    source: str
    nature: Nature
    author_name: str
    author_title: str
    text: str
    corrects_entry_id: int | None
    corrected_by: list[int] = Field(description="Ids of later entries that correct this one.")
    recorded_at: datetime


class RootCauseOut(BaseModel):
    code: str
    name: str


class InvestigationOut(BaseModel):
    kind: InvestigationKind
    started_at: datetime
    started_by_name: str
    decision: str | None
    decided_at: datetime | None
    decided_by_name: str | None
    decided_by_title: str | None
    root_causes: list[RootCauseOut]
    missing_topics: list[Topic] = Field(description="Topics without an entry that the decision needs.")
    entries: list[EntryOut] = Field(description="Every entry, in the order recorded; corrections included.")


def _entry_out(entry: InvestigationEntry, corrected_by: list[int]) -> EntryOut:
    return EntryOut(id=entry.id or 0, topic=Topic(entry.topic), documented_on=entry.documented_on, source=entry.source,
                    nature=Nature(entry.nature), author_name=entry.author_name, author_title=entry.author_title,
                    text=entry.text, corrects_entry_id=entry.corrects_entry_id, corrected_by=corrected_by,
                    recorded_at=entry.recorded_at)


def _investigation_out(view: core_investigations.InvestigationView, settings: Settings) -> InvestigationOut:
    investigation = view.investigation
    return InvestigationOut(
        kind=InvestigationKind(investigation.kind), started_at=investigation.started_at,
        started_by_name=investigation.started_by_name, decision=investigation.decision,
        decided_at=investigation.decided_at, decided_by_name=investigation.decided_by_name,
        decided_by_title=investigation.decided_by_title,
        root_causes=[RootCauseOut(code=code, name=settings.root_causes.get(code, code)) for code in view.root_causes],
        missing_topics=view.missing_topics,
        entries=[_entry_out(e.entry, e.corrected_by) for e in view.entries],
    )


@router.post("/investigation", status_code=201, responses=STEP_ERRORS,
             summary="Start the investigation (utredning); on a reopened case, open the decided one again")
def start_investigation(report_id: uuid.UUID, body: InvestigationStart, session: SessionDep,
                        principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> InvestigationOut:
    view = core_investigations.start(session, principal, report_id, body.kind, clock(), settings)
    return _investigation_out(view, settings)


@router.get("/investigation", responses=READ_ERRORS,
            summary="The investigation with its entries, what the decision still needs, and the decision")
def get_investigation(report_id: uuid.UUID, session: ReadingSessionDep, principal: PrincipalDep,
                      settings: SettingsDep) -> InvestigationOut:
    return _investigation_out(core_investigations.get_investigation(session, principal, report_id), settings)


@router.post("/investigation/entries", status_code=201, responses=STEP_ERRORS,
             summary="Add an entry to the open investigation (append-only; a correction is a new entry)")
def add_investigation_entry(report_id: uuid.UUID, body: EntryCreate, session: SessionDep, principal: PrincipalDep,
                            clock: ClockDep, settings: SettingsDep) -> EntryOut:
    entry = core_investigations.add_entry(session, principal, report_id, core_investigations.NewEntry(
        topic=body.topic, documented_on=body.documented_on, source=body.source, nature=body.nature,
        author_name=body.author_name, author_title=body.author_title, text=body.text,
        corrects_entry_id=body.corrects_entry_id), clock(), settings)
    return _entry_out(entry, [])


@router.post("/investigation/decision", responses=STEP_ERRORS,
             summary="Close the investigation by a decision, with its root causes (refused naming missing topics)")
def decide_investigation(report_id: uuid.UUID, body: DecisionCreate, session: SessionDep, principal: PrincipalDep,
                         clock: ClockDep, settings: SettingsDep) -> InvestigationOut:
    view = core_investigations.decide(session, principal, report_id, core_investigations.Decision(
        decision=body.decision, decided_by_name=body.decided_by_name, decided_by_title=body.decided_by_title,
        root_causes=list(body.root_causes)), clock(), settings)
    result = _investigation_out(view, settings)
    return result
