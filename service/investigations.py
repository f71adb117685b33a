"""Use cases for the utredning: start (or reopen), add entries and corrections, decide, read.

Entries are append-only; the decision needs the topics the kind requires (docs/requirements.md X4). A case that
was reopened after its investigation was decided starts it again: the entries stay, the decision is
cleared, and the earlier decision is kept on the timeline.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service.cases import case_step, current_findings, load_case
from service.config import Settings
from service.domain.access import Permission, Principal
from service.domain.errors import Conflict, NotFound
from service.domain.investigation import (
    EntryRef,
    InvestigationKind,
    Nature,
    Topic,
    check_correction,
    check_decision,
    check_documented_on,
    choose_kind,
    corrected_by,
    decision_kind,
    missing_topics,
)
from service.domain.lifecycle import CaseChange
from service.domain.reports import local_date
from service.models import Investigation, InvestigationEntry, InvestigationRootCause, Report


@dataclass(frozen=True)
class NewEntry:
    topic: Topic
    documented_on: date
    source: str
    nature: Nature
    author_name: str
    author_title: str
    text: str
    corrects_entry_id: int | None = None


@dataclass(frozen=True)
class Decision:
    decision: str
    decided_by_name: str
    decided_by_title: str
    root_causes: list[str]


@dataclass(frozen=True)
class EntryView:
    entry: InvestigationEntry
    corrected_by: list[int]


@dataclass(frozen=True)
class InvestigationView:
    investigation: Investigation
    root_causes: list[str]
    entries: list[EntryView]
    missing_topics: list[Topic]  # what the decision still needs; empty once decided


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _investigation(session: Session, report: Report) -> Investigation | None:
    return session.exec(select(Investigation).where(Investigation.report_id == report.id)).first()


def _open_investigation(session: Session, report: Report) -> Investigation:
    investigation = _investigation(session, report)
    if investigation is None:  # the status says investigating; the table should agree
        raise Conflict("The case has no investigation.")
    return investigation


def _root_causes(session: Session, investigation: Investigation) -> list[str]:
    return list(session.exec(select(InvestigationRootCause.cause)
                             .where(InvestigationRootCause.investigation_id == investigation.id)
                             .order_by(col(InvestigationRootCause.cause))).all())


def _entries(session: Session, investigation: Investigation) -> list[InvestigationEntry]:
    return list(session.exec(select(InvestigationEntry)
                             .where(InvestigationEntry.investigation_id == investigation.id)
                             .order_by(col(InvestigationEntry.id))).all())


def _topics(entries: list[InvestigationEntry]) -> set[Topic]:
    return {Topic(entry.topic) for entry in entries}


def _view(session: Session, report: Report, investigation: Investigation) -> InvestigationView:
    entries = _entries(session, investigation)
    corrections = corrected_by((entry.id or 0, entry.corrects_entry_id) for entry in entries)
    missing: list[Topic] = []
    if investigation.decided_at is None:
        kind = decision_kind(InvestigationKind(investigation.kind), current_findings(session, report.id))
        missing = missing_topics(kind, _topics(entries))
    return InvestigationView(investigation=investigation, root_causes=_root_causes(session, investigation),
                             entries=[EntryView(entry, corrections.get(entry.id or 0, [])) for entry in entries],
                             missing_topics=missing)


def get_investigation(session: Session, principal: Principal, report_id: uuid.UUID) -> InvestigationView:
    report = load_case(session, principal, report_id, Permission.read_case)
    investigation = _investigation(session, report)
    if investigation is None:
        raise NotFound("The case has no investigation.")
    return _view(session, report, investigation)


def start(session: Session, principal: Principal, report_id: uuid.UUID, kind: InvestigationKind | None,
          now: datetime, settings: Settings) -> InvestigationView:
    """Open the investigation; on a reopened case, open the earlier one again with its entries."""
    with case_step(session, principal, report_id, CaseChange.start_investigation, now, settings) as step:
        report = step.report
        chosen = choose_kind(kind, current_findings(session, report.id))
        investigation = _investigation(session, report)
        if investigation is None:
            investigation = Investigation(report_id=report.id, kind=chosen.value, started_at=now,
                                          started_by_name=principal.display_name)
            session.add(investigation)
            try:
                session.flush()
            except IntegrityError:  # a concurrent request started it first (the request's transaction rolls back)
                raise Conflict("The case already has an investigation.") from None
            step.record(changes={"investigation": [None, chosen.value]}, kind="investigation_started")
        else:
            step.record(changes=_reopen(session, investigation, chosen, principal, now),
                        kind="investigation_reopened")
    return _view(session, report, investigation)


def _reopen(session: Session, investigation: Investigation, kind: InvestigationKind, principal: Principal,
            now: datetime) -> dict[str, list[Any]]:
    """Clear the decision and restart the clock; the changes keep what the earlier decision said."""
    before = {
        "kind": investigation.kind,
        "started_at": _iso(investigation.started_at),
        "started_by_name": investigation.started_by_name,
        "decision": investigation.decision,
        "decided_at": _iso(investigation.decided_at),
        "decided_by_name": investigation.decided_by_name,
        "decided_by_title": investigation.decided_by_title,
        "root_causes": _root_causes(session, investigation),
    }
    investigation.kind = kind.value
    investigation.started_at = now  # the "investigate genast" clock runs again from now
    investigation.started_by_name = principal.display_name
    investigation.decision = None
    investigation.decided_at = None
    investigation.decided_by_name = None
    investigation.decided_by_title = None
    session.add(investigation)
    session.exec(delete(InvestigationRootCause)
                 .where(col(InvestigationRootCause.investigation_id) == investigation.id))
    after = {"kind": kind.value, "started_at": _iso(now), "started_by_name": principal.display_name,
             "decision": None, "decided_at": None, "decided_by_name": None, "decided_by_title": None,
             "root_causes": []}
    return {name: [before[name], after[name]] for name in before if before[name] != after[name]}


def add_entry(session: Session, principal: Principal, report_id: uuid.UUID, new: NewEntry, now: datetime,
              settings: Settings) -> InvestigationEntry:
    with case_step(session, principal, report_id, CaseChange.add_investigation_entry, now, settings) as step:
        investigation = _open_investigation(session, step.report)
        check_documented_on(new.documented_on, local_date(now, settings.time_zone))
        if new.corrects_entry_id is not None:
            corrected = session.get(InvestigationEntry, new.corrects_entry_id)
            check_correction(EntryRef(corrected.id or 0, corrected.investigation_id, Topic(corrected.topic))
                             if corrected is not None else None, investigation.id or 0, new.topic)
        entry = InvestigationEntry(investigation_id=investigation.id or 0, topic=new.topic.value,
                                   documented_on=new.documented_on, source=new.source, nature=new.nature.value,
                                   author_name=new.author_name, author_title=new.author_title, text=new.text,
                                   corrects_entry_id=new.corrects_entry_id, recorded_at=now,
                                   recorded_by=principal.subject)
        session.add(entry)
        session.flush()
        summary: dict[str, Any] = {"topic": entry.topic, "nature": entry.nature,
                                   "documented_on": _iso(entry.documented_on), "author_name": entry.author_name}
        if entry.corrects_entry_id is not None:
            summary["corrects_entry_id"] = entry.corrects_entry_id
        step.record(changes={f"entries/{entry.id}": [None, summary]}, kind="investigation_entry")
    return entry


def decide(session: Session, principal: Principal, report_id: uuid.UUID, decision: Decision, now: datetime,
           settings: Settings) -> InvestigationView:
    """Close the investigation by a decision (beslut eller ställningstagande), with its root causes."""
    with case_step(session, principal, report_id, CaseChange.decide_investigation, now, settings) as step:
        report = step.report
        investigation = _open_investigation(session, report)
        stored_kind = InvestigationKind(investigation.kind)
        kind = decision_kind(stored_kind, current_findings(session, report.id))
        check_decision(kind, _topics(_entries(session, investigation)), decision.root_causes, settings.root_causes)

        changes: dict[str, list[Any]] = {}
        if kind is not stored_kind:
            changes["kind"] = [stored_kind.value, kind.value]
            investigation.kind = kind.value
        investigation.decision = decision.decision
        investigation.decided_at = now
        investigation.decided_by_name = decision.decided_by_name
        investigation.decided_by_title = decision.decided_by_title
        session.add(investigation)
        session.add_all(InvestigationRootCause(investigation_id=investigation.id or 0, cause=code)
                        for code in decision.root_causes)
        changes.update(decision=[None, decision.decision], decided_by_name=[None, decision.decided_by_name],
                       decided_by_title=[None, decision.decided_by_title],
                       root_causes=[[], sorted(decision.root_causes)])
        step.record(changes=changes, kind="investigation_decided")
    return _view(session, report, investigation)
