"""Use cases for the bedömning, and for following up, closing and reopening a case."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import Table, delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from service import audit
from service.cases import StepDone, case_awareness, case_step, current_findings
from service.config import Settings
from service.domain.access import Permission, Principal
from service.domain.assessment import (
    ReportType as Type,
    TypeFinding,
    check_findings,
    has_type,
    incident_awareness,
    is_serious_lex_sarah,
)
from service.domain.errors import Forbidden, InvalidInput
from service.domain.lifecycle import CaseChange
from service.domain.notifications import Authority
from service.domain.org import OrgKind
from service.models import (
    Assessment,
    CaseLink,
    Notification,
    OrgUnit,
    Report,
    ReportType,
    ReportUnit,
    table_of,
)
from service.org_units import UnitInfo
from service.reports import units_of
from service.scope import reports_within


@dataclass(frozen=True)
class NewAssessment:
    findings: list[TypeFinding]
    justification: str
    incident_aware_at: datetime | None = None
    add_unit_codes: tuple[str, ...] = ()
    remove_unit_codes: tuple[str, ...] = ()
    link_report_ids: tuple[uuid.UUID, ...] = ()


def _findings_json(findings: list[TypeFinding]) -> list[dict]:
    return [{key: value for key, value in asdict(f).items() if value is not None} for f in findings]


def _utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def assess(session: Session, principal: Principal, report_id: uuid.UUID, new: NewAssessment, now: datetime,
           settings: Settings) -> StepDone:
    with case_step(session, principal, report_id, CaseChange.assess, now, settings) as step:
        step.record(changes=_assess(session, principal, step.report, new, now), note=new.justification)
    return step.result


def _assess(session: Session, principal: Principal, report: Report, new: NewAssessment, now: datetime) -> dict:
    check_findings(new.findings)
    is_incident = has_type(new.findings, Type.personal_data_incident)
    if new.incident_aware_at is not None and not is_incident:
        raise InvalidInput("incident_aware_at belongs to a personal-data incident.", field="incident_aware_at")
    known_aware_at = case_awareness(session, report.id)
    aware_at = incident_awareness(given=new.incident_aware_at, current=known_aware_at, noticed_at=report.noticed_at,
                                  occurred_at=report.occurred_at, now=now) if is_incident else None

    before = current_findings(session, report.id)
    changes: dict = {"types": [_findings_json(before) or None, _findings_json(new.findings)]}
    if aware_at is not None and aware_at != known_aware_at:
        # The case's awareness time moves (earlier, or is set the first time): on the timeline, and an
        # IMY draft shows the new one (a sent notification keeps what it said).
        changes["incident_aware_at"] = [_utc(known_aware_at), _utc(aware_at)]
        for draft in session.exec(select(Notification).where(Notification.report_id == report.id,
                                                             Notification.authority == Authority.imy.value,
                                                             col(Notification.sent_at).is_(None))).all():
            draft.aware_at = aware_at
            session.add(draft)
    unit_change = _change_units(session, principal, report, new)
    if unit_change:
        changes["units"] = unit_change
    linked = _link(session, principal, report, new.link_report_ids)
    if linked:
        changes["linked_cases"] = [None, linked]

    session.exec(delete(ReportType).where(col(ReportType.report_id) == report.id))
    session.add_all(ReportType(report_id=report.id, type=f.type.value, received_on=report.received_on,
                               lex_sarah_severity=f.lex_sarah_severity.value if f.lex_sarah_severity else None,
                               incident_risk=f.incident_risk.value if f.incident_risk else None,
                               complaint_kind=f.complaint_kind.value if f.complaint_kind else None,
                               complaint_submitter=f.complaint_submitter.value if f.complaint_submitter else None)
                    for f in new.findings)
    for earlier in session.exec(select(Assessment).where(Assessment.report_id == report.id,
                                                         Assessment.is_current == True)).all():  # noqa: E712
        earlier.is_current = False
        session.add(earlier)
    session.add(Assessment(report_id=report.id, assessed_at=now, assessor_subject=principal.subject,
                           assessor_name=principal.display_name, justification=new.justification,
                           findings=json.dumps(_findings_json(new.findings)), incident_aware_at=aware_at,
                           is_current=True))
    report.first_assessed_at = report.first_assessed_at or now
    if is_serious_lex_sarah(new.findings) and report.judged_serious_at is None:
        report.judged_serious_at = now  # the IVO "snarast" clock starts when seriousness is first judged
    return changes


def _change_units(session: Session, principal: Principal, report: Report, new: NewAssessment) -> list | None:
    if not new.add_unit_codes and not new.remove_unit_codes:
        return None
    current = units_of(session, [report.id])[report.id]
    current_codes = [unit.code for unit in current]
    wanted: dict[str, UnitInfo | OrgUnit] = {unit.code: unit for unit in current}
    for index, code in enumerate(new.remove_unit_codes):
        if code not in wanted:
            raise InvalidInput("The report does not concern this enhet.", field=f"/remove_units/{index}")
        # Taking an enhet off a case takes the case away from that enhet's handlers: the same right is
        # needed on it as on an enhet added.
        if not principal.may(Permission.assess, wanted[code].path):
            audit.record(session, principal, f"step:{Permission.assess.value}", report_id=report.id,
                         outcome=audit.DENIED, roles=audit.roles_on(principal, [u.path for u in current]),
                         detail=f"remove_units: no assess right on {code}")
            raise Forbidden("You may not assess cases of this enhet, so you may not remove it from the case.",
                            field=f"/remove_units/{index}")
        del wanted[code]
    found = {u.code: u for u in session.exec(select(OrgUnit).where(col(OrgUnit.code).in_(new.add_unit_codes))).all()}
    administration = f"/{report.administration_id}/"
    for index, code in enumerate(new.add_unit_codes):
        unit = found.get(code)
        pointer = f"/add_units/{index}"
        if unit is None or unit.kind != OrgKind.unit:
            raise InvalidInput("No enhet has this code.", field=pointer)
        if not unit.path.startswith(administration):
            raise InvalidInput("This enhet belongs to another förvaltning than the case.", field=pointer)
        if not principal.may(Permission.assess, unit.path):
            raise InvalidInput("You may not assess cases of this enhet.", field=pointer)
        wanted[code] = unit
    if not wanted:
        raise InvalidInput("A report must concern at least one enhet.", field="remove_units")
    session.exec(delete(ReportUnit).where(col(ReportUnit.report_id) == report.id))
    session.add_all(ReportUnit(report_id=report.id, unit_id=unit.id or 0, received_on=report.received_on)
                    for unit in wanted.values())
    return [current_codes, sorted(wanted)]


def _link(session: Session, principal: Principal, report: Report, ids: tuple[uuid.UUID, ...]) -> list[str]:
    linked: list[str] = []
    for index, other_id in enumerate(ids):
        # Linking writes on the other case too, so the caller must be able to assess it as well.
        other = session.exec(select(Report).where(Report.id == other_id,
                                                  reports_within(principal.scope(Permission.assess)))).first()
        if other is None or other.id == report.id:
            raise InvalidInput("No such case to link.", field=f"/link_cases/{index}")
        _store_link(session, report.id, other.id)
        linked.append(other.case_number)
    return linked


_INSERT: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _store_link(session: Session, one: uuid.UUID, other: uuid.UUID) -> None:
    """Both directions of the link; a link there already (or stored meanwhile by another request) is kept.

    Two requests linking the same pair from either end at once insert the rows in one order (the lower
    id first), so the second waits for the first on the first row instead of each waiting on the other;
    then it finds the rows there and does nothing.
    """
    first, second = sorted((one, other))
    insert = _INSERT[session.get_bind().dialect.name]
    session.execute(insert(table_of(CaseLink)).values([
        {"report_id": first, "related_report_id": second},
        {"report_id": second, "related_report_id": first},
    ]).on_conflict_do_nothing())
