"""Statistics in SQL: distinct reports per row's scope, grouped in the database, never loaded as rows.

Each report is placed by its enheter, and each enhet under the avdelning it stood under on the day
the report was received (org_unit_placement), so a reorganisation does not move earlier figures.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlmodel import Session, col

from service.domain.access import Permission, Principal
from service.domain.assessment import SERIOUS, ReportType as Type
from service.domain.errors import Forbidden, InvalidInput
from service.domain.org import OrgKind
from service.domain.statistics import TYPE_COLUMNS, Period, ShareCounts
from service.models import Notification, OrgUnit, OrgUnitPlacement, Report, ReportType, ReportUnit


def statistics_root(session: Session, principal: Principal, unit_id: int | None) -> OrgUnit:
    """The subtree asked for, which the caller must be allowed to read aggregates for."""
    scope = principal.scope(Permission.read_statistics)
    if unit_id is None:
        roots = [root for root in scope.roots if root != "/"]
        if len(roots) != 1:
            raise InvalidInput("Name the org unit (unit_id) the statistics are for.", field="unit_id")
        unit_id = int(roots[0].strip("/").split("/")[-1])
    root = session.get(OrgUnit, unit_id)
    if root is None:
        raise InvalidInput(f"No org unit with id {unit_id}.", field="unit_id")
    if not scope.covers(root.path):
        raise Forbidden("You may not read statistics for this part of the organisation.")
    return root


def placed_reports(root: OrgUnit, period: Period) -> Select:
    """(report_id, unit_id, department_id) for each report received in the period and each of its enheter."""
    placement = OrgUnitPlacement.__table__.alias("placement")  # type: ignore[attr-defined]
    department = OrgUnit.__table__.alias("department")  # type: ignore[attr-defined]
    query = (
        select(col(Report.id).label("report_id"), col(ReportUnit.unit_id).label("unit_id"),
               placement.c.parent_id.label("department_id"))
        .join(ReportUnit, col(ReportUnit.report_id) == col(Report.id))
        .join(placement, and_(placement.c.unit_id == ReportUnit.unit_id,
                              placement.c.valid_from <= Report.received_on,
                              or_(placement.c.valid_to.is_(None), placement.c.valid_to >= Report.received_on)))
        .where(col(Report.received_on) >= period.start, col(Report.received_on) <= period.end)
    )
    if root.kind == OrgKind.unit:
        return query.where(col(ReportUnit.unit_id) == root.id)
    return query.join(department, department.c.id == placement.c.parent_id).where(
        department.c.path.startswith(root.path, autoescape=True))


def _type_count(type_column, report_id, wanted: str):  # type: ignore[no-untyped-def]
    return func.count(distinct(case((type_column == wanted, report_id), else_=None)))


@dataclass(frozen=True)
class CountRow:
    level: str  # unit, department or total
    unit_id: int | None
    department_id: int | None
    counts: dict[str, int]


def annual_counts(session: Session, root: OrgUnit, period: Period) -> list[CountRow]:
    """One query: counts per enhet (under its avdelning), per avdelning, and in total."""
    pairs = placed_reports(root, period).subquery("pairs")
    types = ReportType.__table__.alias("types")  # type: ignore[attr-defined]
    joined = pairs.outerjoin(types, types.c.report_id == pairs.c.report_id)
    measures = [
        *(_type_count(types.c.type, pairs.c.report_id, column.key).label(column.key) for column in TYPE_COLUMNS),
        func.count(distinct(case((types.c.type.is_(None), pairs.c.report_id), else_=None))).label("unassessed"),
        func.count(distinct(pairs.c.report_id)).label("total"),
    ]
    per_unit = (select(literal("unit", String).label("level"), pairs.c.unit_id, pairs.c.department_id, *measures)
                .select_from(joined).group_by(pairs.c.unit_id, pairs.c.department_id))
    per_department = (select(literal("department", String).label("level"), cast(null(), Integer).label("unit_id"),
                             pairs.c.department_id, *measures)
                      .select_from(joined).group_by(pairs.c.department_id))
    total = (select(literal("total", String).label("level"), cast(null(), Integer).label("unit_id"),
                    cast(null(), Integer).label("department_id"), *measures).select_from(joined))
    keys = [column.key for column in TYPE_COLUMNS] + ["unassessed", "total"]
    return [
        CountRow(level=row.level, unit_id=row.unit_id, department_id=row.department_id,
                 counts={key: int(getattr(row, key)) for key in keys})
        for row in session.execute(union_all(per_unit, per_department, total)).all()
    ]


def share_counts(session: Session, root: OrgUnit, period: Period) -> ShareCounts:
    pairs = placed_reports(root, period).subquery("pairs")
    types = ReportType.__table__.alias("types")  # type: ignore[attr-defined]
    sent = (select(Notification.report_id, Notification.authority)
            .where(col(Notification.sent_at).is_not(None)).subquery("sent"))
    report_id = pairs.c.report_id

    def distinct_where(condition):  # type: ignore[no-untyped-def]
        return func.count(distinct(case((condition, report_id), else_=None)))

    is_type = {key: types.c.type == key for key in (t.value for t in Type)}
    notified = lambda authority: sent.c.authority == authority  # noqa: E731
    query = (
        select(
            distinct_where(and_(types.c.type.is_not(None), types.c.type != Type.not_a_deviation.value)),
            distinct_where(is_type["lex_sarah"]),
            distinct_where(is_type["personal_data_incident"]),
            distinct_where(is_type["complaint"]),
            distinct_where(is_type["other_deviation"]),
            distinct_where(and_(is_type["lex_sarah"], types.c.lex_sarah_severity.in_([s.value for s in SERIOUS]))),
            distinct_where(and_(is_type["lex_sarah"], notified("ivo"))),
            distinct_where(and_(is_type["personal_data_incident"], notified("imy"))),
        )
        .select_from(pairs.outerjoin(types, types.c.report_id == report_id)
                     .outerjoin(sent, sent.c.report_id == report_id))
    )
    return ShareCounts(*(int(value) for value in session.execute(query).one()))


@dataclass(frozen=True)
class PlacedUnit:
    id: int
    code: str
    name: str
    kind: str
    department_id: int | None  # for an enhet: its avdelning during the period


def units_in_period(session: Session, root: OrgUnit, period: Period) -> list[PlacedUnit]:
    """The avdelningar and enheter that stood under `root` at some time in the period, with their names then.

    This reads the organisation (hundreds of rows), not the reports.
    """
    overlapping = and_(col(OrgUnitPlacement.valid_from) <= period.end,
                       or_(col(OrgUnitPlacement.valid_to).is_(None), col(OrgUnitPlacement.valid_to) >= period.start))
    rows = session.execute(
        select(OrgUnit.id, OrgUnit.code, OrgUnit.kind, OrgUnit.path, OrgUnitPlacement.name,
               OrgUnitPlacement.parent_id, OrgUnitPlacement.valid_from)
        .join(OrgUnitPlacement, col(OrgUnitPlacement.unit_id) == col(OrgUnit.id))
        .where(overlapping, col(OrgUnit.kind).in_([OrgKind.department.value, OrgKind.unit.value]))
        .order_by(col(OrgUnitPlacement.valid_from))
    ).all()
    latest: dict[tuple[int, int | None], PlacedUnit] = {}
    departments = {row.id for row in rows if row.kind == OrgKind.department and row.path.startswith(root.path)}
    for row in rows:
        if row.kind == OrgKind.department and row.id in departments:
            latest[(row.id, None)] = PlacedUnit(row.id, row.code, row.name, row.kind, None)
        elif row.kind == OrgKind.unit and (row.parent_id in departments or row.id == root.id):
            latest[(row.id, row.parent_id)] = PlacedUnit(row.id, row.code, row.name, row.kind, row.parent_id)
    if root.kind == OrgKind.unit:
        return [unit for unit in latest.values() if unit.id == root.id]
    return list(latest.values())
