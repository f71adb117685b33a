"""Statistics in SQL: distinct reports per row's scope, grouped in the database, never loaded as rows.

Each report is placed by its enheter, and each enhet under the avdelning it stood under on the day
the report was received (org_unit_placement), so a reorganisation does not move earlier figures; an
avdelning belongs to a förvaltning's figures by its own placement on that day too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    ColumnElement,
    FromClause,
    FunctionElement,
    Integer,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    distinct,
    extract,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlmodel import Session, col

from service import audit, categories, scope
from service.config import Settings
from service.domain.access import Principal
from service.domain.assessment import SERIOUS, ReportType as Type
from service.domain.categories import NOT_STATED, NOT_STATED_LABELS
from service.domain.errors import Forbidden, InvalidInput
from service.domain.org import OrgKind
from service.domain.statistics import (
    DEADLINE_LABELS,
    LEAD_TIMES,
    MEDIAN,
    OPEN_COLUMNS,
    ORG_DIMENSIONS,
    P90,
    PERIOD_DIMENSIONS,
    SHARE_ONLY_MEASURES,
    SHARE_ROW,
    TABLE_COLUMNS,
    TYPE_COLUMNS,
    Dimension,
    Member,
    Period,
    Share,
    ShareCounts,
    check_dimensions,
    coded_members,
    hours,
    is_small,
    period_members,
    share_cell,
    share_groups,
    shares,
    suppressed_cells,
    table_groups,
    unknown_member,
)
from service.models import (
    CaseDeadline,
    Investigation,
    InvestigationRootCause,
    Notification,
    OrgUnit,
    OrgUnitPlacement,
    Report,
    ReportType,
    ReportUnit,
    table_of,
)


def statistics_root(session: Session, principal: Principal, unit_id: int | None) -> OrgUnit:
    """The subtree asked for, which the caller must be allowed to read aggregates for."""
    root = session.get(OrgUnit, scope.statistics_unit_id(principal, unit_id))
    if root is None:
        raise InvalidInput("No org unit has this id.", field="unit_id")
    if not scope.may_read_statistics(principal, root):
        audit.record(session, principal, "read_statistics", outcome=audit.DENIED, detail=f"unit {root.code}")
        raise Forbidden("You may not read statistics for this part of the organisation.")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_STATISTICS_SETTINGS)
    return root


# For the statistics transaction only (set_config(..., true) is SET LOCAL), in one round trip:
# - jit off: these queries look expensive to the planner, so PostgreSQL would JIT-compile them; at a
#   million reports compiling cost seconds, more than running them;
# - custom plans always: psycopg prepares a statement run five times on a connection, and PostgreSQL then
#   soon plans it once for any period and subtree; that generic plan took 2 s instead of 0.45 s for the
#   annual table at a million reports (bench/stats.md).
_STATISTICS_SETTINGS = text("SELECT set_config('jit', 'off', true), "
                            "set_config('plan_cache_mode', 'force_custom_plan', true)")


def placed_reports(session: Session, root: OrgUnit, period: Period) -> Select:
    """(report_id, unit_id, department_id, received_on) for each report received in the period and each of
    its enheter.

    Read from report_unit alone (it carries the report's day), through an index that covers the query.
    """
    placement = table_of(OrgUnitPlacement).alias("placement")
    pair = table_of(ReportUnit)
    query = (
        select(pair.c.report_id, pair.c.unit_id, placement.c.parent_id.label("department_id"), pair.c.received_on)
        .join(placement, and_(placement.c.unit_id == pair.c.unit_id,
                              placement.c.valid_from <= pair.c.received_on,
                              or_(placement.c.valid_to.is_(None), placement.c.valid_to >= pair.c.received_on)))
        .where(pair.c.received_on >= period.start, pair.c.received_on <= period.end)
    )
    if root.kind == OrgKind.unit:
        return query.where(pair.c.unit_id == root.id)
    if root.kind == OrgKind.department:
        return query.where(placement.c.parent_id == root.id)
    return query.where(_in_administration_then(session, root, period, placement.c.parent_id, pair.c.received_on))


def _in_administration_then(session: Session, root: OrgUnit, period: Period, department_id,  # type: ignore[no-untyped-def]
                            received_on) -> ColumnElement[bool]:
    """The avdelning stood under the förvaltning `root` on the day the report was received, by the
    avdelning's own placements, not by where it stands today: one moved to another förvaltning in 2019
    leaves its 2018 reports behind.

    Its placements (a handful of rows) are read first and written into the query as constants: a plain
    list of avdelningar, and a range of days for one that came or left during the period. Joined as a
    subquery instead, they made PostgreSQL walk report_unit enhet by enhet (bench/stats.py at 100 k
    reports: the annual table 912 ms instead of 343 ms).
    """
    spans = session.execute(
        select(col(OrgUnitPlacement.unit_id), col(OrgUnitPlacement.valid_from), col(OrgUnitPlacement.valid_to))
        .where(col(OrgUnitPlacement.parent_id) == root.id, col(OrgUnitPlacement.valid_from) <= period.end,
               or_(col(OrgUnitPlacement.valid_to).is_(None), col(OrgUnitPlacement.valid_to) >= period.start))
        .order_by(col(OrgUnitPlacement.unit_id), col(OrgUnitPlacement.valid_from))
    ).all()
    whole_period = [unit_id for unit_id, valid_from, valid_to in spans
                    if valid_from <= period.start and (valid_to is None or valid_to >= period.end)]
    conditions: list[ColumnElement[bool]] = [department_id.in_(whole_period)] if whole_period else []
    for unit_id, valid_from, valid_to in spans:
        if unit_id not in whole_period:
            last = period.end if valid_to is None else min(valid_to, period.end)
            conditions.append(and_(department_id == unit_id, received_on >= max(valid_from, period.start),
                                   received_on <= last))
    return or_(*conditions) if conditions else false()


@dataclass(frozen=True)
class CountRow:
    level: str  # unit, department or total
    unit_id: int | None
    department_id: int | None
    counts: dict[str, int]


# Beside the table's columns, the annual query also counts what the shares need (docs/statistics.md).
SHARE_MEASURES = ("deviations", "lex_sarah_serious", "lex_sarah_notified_ivo", "incident_notified_imy")


def annual_counts(session: Session, root: OrgUnit, period: Period) -> list[CountRow]:
    """One query: counts per enhet (under its avdelning), per avdelning, and in total.

    Each report's types and notifications are first folded into one integer of flag bits, so that a
    level's distinct reports are its distinct (report, bits) pairs and each count is a filtered
    COUNT(*) over them: no COUNT(DISTINCT ...) per column, and one join of the reports to their flags
    for all three levels. The flags are those of every report received in the period, read from
    report_type's covering index alone; the join keeps the ones in scope. (Restricting them to the
    scope first with a semi-join doubled the time of a whole förvaltning's table at 1 M reports.)
    """
    types = table_of(ReportType).alias("types")
    sent = table_of(Notification).alias("sent")
    is_ = {key: types.c.type == key for key in _TYPE_KEYS}
    conditions = {
        **is_,
        "deviations": types.c.type != Type.not_a_deviation.value,
        "lex_sarah_serious": and_(is_["lex_sarah"], types.c.lex_sarah_severity.in_([s.value for s in SERIOUS])),
        "lex_sarah_notified_ivo": and_(is_["lex_sarah"], sent.c.authority == "ivo"),
        "incident_notified_imy": and_(is_["personal_data_incident"], sent.c.authority == "imy"),
    }
    bits = literal(_BITS["assessed"]) + sum(  # every report in `flags` has a type: it has been assessed
        (func.max(case((condition, _BITS[key]), else_=0)) for key, condition in conditions.items()), literal(0))
    flags = (
        select(types.c.report_id, bits.label("bits"))
        .select_from(types.outerjoin(sent, and_(sent.c.report_id == types.c.report_id, sent.c.sent_at.is_not(None))))
        .where(types.c.received_on >= period.start, types.c.received_on <= period.end)
        .group_by(types.c.report_id)
        .subquery("flags")
    )
    pairs = placed_reports(session, root, period).subquery("pairs")
    facts = (  # (report, enhet, avdelning, bits): read three times, so PostgreSQL materialises it once
        select(pairs.c.report_id, pairs.c.unit_id, pairs.c.department_id,
               func.coalesce(flags.c.bits, 0).label("bits"))
        .select_from(pairs.outerjoin(flags, flags.c.report_id == pairs.c.report_id))
        .cte("facts")
    )

    def counted(bits_of: ColumnElement[Any]) -> list[ColumnElement[int]]:
        return [*(func.count().filter(bits_of.bitwise_and(_BITS[key]) != 0).label(key) for key in _COUNTED),
                func.count().filter(bits_of.bitwise_and(_BITS["assessed"]) == 0).label("unassessed"),
                func.count().label("total")]

    no_id = cast(null(), Integer)
    # (report, enhet, avdelning) is unique in facts: report_unit's key, and one placement per day.
    per_unit = (select(literal("unit", String).label("level"), facts.c.unit_id, facts.c.department_id,
                       *counted(facts.c.bits))
                .group_by(facts.c.unit_id, facts.c.department_id))
    department_reports = select(facts.c.report_id, facts.c.department_id, facts.c.bits).distinct().subquery()
    per_department = (select(literal("department", String), no_id, department_reports.c.department_id,
                             *counted(department_reports.c.bits))
                      .group_by(department_reports.c.department_id))
    reports = select(facts.c.report_id, facts.c.bits).distinct().subquery()
    total = select(literal("total", String), no_id, no_id, *counted(reports.c.bits))
    keys = [*_COUNTED, "unassessed", "total"]
    return [
        CountRow(level=row.level, unit_id=row.unit_id, department_id=row.department_id,
                 counts={key: int(getattr(row, key) or 0) for key in keys})
        for row in session.execute(union_all(per_unit, per_department, total)).all()
    ]


_TYPE_KEYS = [column.key for column in TYPE_COLUMNS]
_COUNTED = [*_TYPE_KEYS, *SHARE_MEASURES]
# The flag bits of annual_counts: one per type column, share measure, and "has been assessed".
_BITS = {key: 1 << index for index, key in enumerate([*_COUNTED, "assessed"])}


def share_counts_of(total: dict[str, int]) -> ShareCounts:
    """The shares' numerators and denominators, from the total row of annual_counts."""
    return ShareCounts(
        deviations=total["deviations"], lex_sarah=total["lex_sarah"],
        personal_data_incident=total["personal_data_incident"], complaint=total["complaint"],
        other_deviation=total["other_deviation"], lex_sarah_serious=total["lex_sarah_serious"],
        lex_sarah_notified_ivo=total["lex_sarah_notified_ivo"], incident_notified_imy=total["incident_notified_imy"],
    )


def _by_level(session: Session, pairs: FromClause, joined: FromClause, measures: Sequence[ColumnElement[Any]],
              keys: list[str]) -> list[CountRow]:
    """The measures per enhet (under its avdelning), per avdelning and in total, in one UNION ALL query."""
    per_unit = (select(literal("unit", String).label("level"), pairs.c.unit_id, pairs.c.department_id, *measures)
                .select_from(joined).group_by(pairs.c.unit_id, pairs.c.department_id))
    per_department = (select(literal("department", String).label("level"), cast(null(), Integer).label("unit_id"),
                             pairs.c.department_id, *measures)
                      .select_from(joined).group_by(pairs.c.department_id))
    total = (select(literal("total", String).label("level"), cast(null(), Integer).label("unit_id"),
                    cast(null(), Integer).label("department_id"), *measures).select_from(joined))
    return [
        CountRow(level=row.level, unit_id=row.unit_id, department_id=row.department_id,
                 counts={key: int(getattr(row, key)) for key in keys})
        for row in session.execute(union_all(per_unit, per_department, total)).all()
    ]


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
        select(col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.kind), col(OrgUnitPlacement.name),
               col(OrgUnitPlacement.parent_id), col(OrgUnitPlacement.valid_from))
        .join(OrgUnitPlacement, col(OrgUnitPlacement.unit_id) == col(OrgUnit.id))
        .where(overlapping, col(OrgUnit.kind).in_([OrgKind.department.value, OrgKind.unit.value]))
        .order_by(col(OrgUnitPlacement.valid_from))
    ).all()
    latest: dict[tuple[int, int | None], PlacedUnit] = {}

    def department_under_root(row) -> bool:  # type: ignore[no-untyped-def]
        """By the avdelning's placement in the period, not by where it stands today (see placed_reports)."""
        if row.kind != OrgKind.department:
            return False
        return row.parent_id == root.id if root.kind == OrgKind.administration else row.id == root.id

    departments = {row.id for row in rows if department_under_root(row)}
    for row in rows:
        if department_under_root(row):
            latest[(row.id, None)] = PlacedUnit(row.id, row.code, row.name, row.kind, None)
        elif row.kind == OrgKind.unit and (row.parent_id in departments or row.id == root.id):
            latest[(row.id, row.parent_id)] = PlacedUnit(row.id, row.code, row.name, row.kind, row.parent_id)
    if root.kind == OrgKind.unit:
        return [unit for unit in latest.values() if unit.id == root.id]
    return list(latest.values())


# ---- cross-tabulations --------------------------------------------------------------------------------


def scoped_reports(session: Session, root: OrgUnit, period: Period, types: Sequence[str] = ()) -> Select:
    """placed_reports, kept to reports that have at least one of `types` (all reports when none are given)."""
    query = placed_reports(session, root, period)
    if types:
        wanted = table_of(ReportType).alias("wanted_type")
        pair = table_of(ReportUnit)
        query = query.where(select(wanted.c.report_id)
                            .where(wanted.c.report_id == pair.c.report_id, wanted.c.type.in_(list(types))).exists())
    return query


def _dimension_sql(dimension: Dimension, base: FromClause, report: Table, period: Period,
                   prefix: str) -> tuple[list[ColumnElement[Any]], list[tuple[FromClause, ColumnElement[bool]]]]:
    """The SQL values a dimension groups by, and the outer joins they need. Never multiplies a report's rows
    except for dimensions where a report really has several values (type, root cause, enhet).

    `report` is the report table, joined by the caller only for the dimensions that read it (_REPORT_DIMENSIONS).
    """
    report_id = base.c.report_id
    month = cast(extract("month", base.c.received_on), Integer)
    year = cast(extract("year", base.c.received_on), Integer)
    D = Dimension  # noqa: N806 - short, so the branches below read as a table
    if dimension is D.period_year:
        return [year], []
    if dimension is D.period_quarter:
        return [year, (month + 2) // 3], []
    if dimension is D.period_tertial:
        return [year, (month + 3) // 4], []
    if dimension is D.period_month:
        return [year, month], []
    if dimension is D.department:
        return [base.c.department_id], []
    if dimension is D.unit:
        return [base.c.unit_id], []
    if dimension is D.category:
        return [report.c.category], []
    if dimension is D.status:
        return [report.c.status], []
    if dimension is D.root_cause:
        investigation = table_of(Investigation).alias(f"{prefix}_investigation")
        cause = table_of(InvestigationRootCause).alias(f"{prefix}_cause")
        return [cause.c.cause], [(investigation, investigation.c.report_id == report_id),
                                 (cause, cause.c.investigation_id == investigation.c.id)]
    if dimension in (D.notified_ivo, D.notified_imy):
        notification = table_of(Notification).alias(f"{prefix}_notification")
        authority = "ivo" if dimension is D.notified_ivo else "imy"
        on = and_(notification.c.report_id == report_id, notification.c.authority == authority,
                  notification.c.sent_at.is_not(None))
        return [case((notification.c.id.is_not(None), literal("yes", String)), else_=literal("no", String))], [
            (notification, on)]
    types = table_of(ReportType).alias(f"{prefix}_type")
    # The period condition is implied by the report's; stated, it lets the planner read the period's types
    # from report_type's covering index in one range instead of probing the key once per report.
    of_report = and_(types.c.report_id == report_id,
                     types.c.received_on >= period.start, types.c.received_on <= period.end)
    if dimension is D.type:
        return [types.c.type], [(types, of_report)]
    detail = {D.lex_sarah_severity: ("lex_sarah", types.c.lex_sarah_severity),
              D.complaint_kind: ("complaint", types.c.complaint_kind),
              D.complaint_submitter: ("complaint", types.c.complaint_submitter)}
    owner, column = detail[dimension]  # (report_id, type) is the key: at most one row joins
    return [column], [(types, and_(of_report, types.c.type == owner))]


_REPORT_DIMENSIONS = frozenset({Dimension.category, Dimension.status})


def _facts(session: Session, root: OrgUnit, period: Period, types: Sequence[str],
           dimensions: Sequence[Dimension]) -> tuple[CTE, list[list[str]]]:
    """A CTE of (report_id, the dimensions' values...) for the reports in scope; grouped by the caller."""
    pairs = scoped_reports(session, root, period, types).subquery("pairs")
    if any(dimension in ORG_DIMENSIONS for dimension in dimensions):
        base = pairs
    else:  # one row per report: the enheter only matter for the scope
        base = select(pairs.c.report_id, pairs.c.received_on).distinct().subquery("scope")
    report = table_of(Report)
    joined: FromClause = base
    if _REPORT_DIMENSIONS.intersection(dimensions):
        joined = joined.join(report, report.c.id == base.c.report_id)
    columns = [base.c.report_id.label("report_id")]
    names: list[list[str]] = []
    for prefix, dimension in zip(("r", "c"), dimensions, strict=False):
        expressions, joins = _dimension_sql(dimension, base, report, period, prefix)
        for table, on in joins:
            joined = joined.outerjoin(table, on)
        names.append([f"{prefix}{index}" for index in range(len(expressions))])
        columns += [expression.label(name) for expression, name in zip(expressions, names[-1], strict=True)]
    # A CTE: the four groupings read it once (PostgreSQL materialises a CTE that is referenced more than once).
    return select(*columns).select_from(joined).cte("facts"), names


@dataclass(frozen=True)
class CrossCount:
    level: str  # cell, row, column or total
    row: tuple | None  # the row dimension's values (None for column and total)
    column: tuple | None
    count: int


def crosstab_counts(session: Session, root: OrgUnit, period: Period, types: Sequence[str],
                    rows: Dimension, columns: Dimension | None) -> list[CrossCount]:
    """One query: distinct reports per cell, per row, per column and in total, each counted on its own."""
    dimensions = [rows] if columns is None else [rows, columns]
    facts, names = _facts(session, root, period, types, dimensions)
    row_columns = [facts.c[name] for name in names[0]]
    column_columns = [facts.c[name] for name in names[1]] if columns is not None else []
    count = func.count(distinct(facts.c.report_id)).label("n")

    def level(name: str) -> ColumnElement[str]:
        return literal(name, String).label("level")

    def nulls(grouped: Sequence[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
        return [cast(null(), column.type).label(column.name) for column in grouped]

    parts = [select(level("row"), *row_columns, *nulls(column_columns), count).group_by(*row_columns),
             select(level("total"), *nulls(row_columns), *nulls(column_columns), count)]
    if columns is not None:
        parts += [select(level("cell"), *row_columns, *column_columns, count).group_by(*row_columns, *column_columns),
                  select(level("column"), *nulls(row_columns), *column_columns, count).group_by(*column_columns)]
    width = len(row_columns)
    result = []
    for line in session.execute(union_all(*parts)).all():
        values = tuple(line)[1:-1]
        result.append(CrossCount(
            level=line.level,
            row=tuple(values[:width]) if line.level in ("cell", "row") else None,
            column=tuple(values[width:]) if line.level in ("cell", "column") else None,
            count=int(line.n)))
    return result


def org_members(session: Session, root: OrgUnit, period: Period, dimension: Dimension,
                seen_ids: set[int]) -> list[tuple[tuple[int, ...], Member]]:
    """The avdelningar or enheter of the subtree in the period (names then), and any other the counts name."""
    kind = OrgKind.department if dimension is Dimension.department else OrgKind.unit
    placed = {unit.id: unit for unit in units_in_period(session, root, period) if unit.kind == kind}
    missing = seen_ids - set(placed)
    extra = session.execute(select(col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.name))
                            .where(col(OrgUnit.id).in_(sorted(missing)))).all() if missing else []
    members = [(unit.code, unit.id, unit.name) for unit in placed.values()] + [
        (row.code, row.id, row.name) for row in extra]
    return [((unit_id,), Member(code, name, name, unit_id)) for code, unit_id, name in sorted(members)]


def category_members(session: Session, root: OrgUnit, period: Period,
                     seen: set[str]) -> list[tuple[tuple[str], Member]]:
    """The categories of the subtree's förvaltning for the period, labelled from its list (a retired one too, when
    a report of the period has it), then "Ej angivet" (not_stated) as a value of its own, never "other"."""
    administration_id = int(root.path.strip("/").split("/")[0])
    listed = categories.for_statistics(session, administration_id, period.start, period.end, seen)
    return [((category.code,), Member(category.code, category.label_sv, category.label_en)) for category in listed] + [
        ((NOT_STATED,), Member(NOT_STATED, *NOT_STATED_LABELS))]


# ---- a cross-tabulation, assembled ---------------------------------------------------------------------


@dataclass(frozen=True)
class CrossTabLine:
    member: Member  # the row's value of the rows dimension
    counts: dict[str, int | None]  # column key → distinct reports; None when suppressed
    suppressed: list[str]  # the column keys suppressed in counts
    total: int | None  # distinct reports in the row (not the sum of its cells)
    total_suppressed: bool


@dataclass(frozen=True)
class CrossTable:
    root: OrgUnit
    types: list[str]
    rows_dimension: Dimension
    columns_dimension: Dimension | None
    columns: list[Member]
    rows: list[CrossTabLine]
    column_totals: dict[str, int | None]
    column_totals_suppressed: list[str]
    total: int | None
    total_suppressed: bool


# The total row and column of a cross-tabulation among its cells: no dimension's values are this tuple.
_TOTAL = ("\x00total",)


def dimension_members(session: Session, root: OrgUnit, period: Period, dimension: Dimension, settings: Settings,
                      seen: set[tuple]) -> dict[tuple, Member]:
    """Every value of the dimension in table order (zeros included), then any other value the counts hold."""
    known: Sequence[tuple[tuple[Any, ...], Member]]
    if dimension in PERIOD_DIMENSIONS:
        known = period_members(dimension, period)
    elif dimension in ORG_DIMENSIONS:
        ids = {values[0] for values in seen if values[0] is not None}
        known = org_members(session, root, period, dimension, ids)
    elif dimension is Dimension.category:  # the förvaltning's list (service/categories.py), not a setting
        known = category_members(session, root, period, {values[0] for values in seen})
    else:
        known = [((member.key,), member)
                 for member in coded_members(dimension, settings.root_causes)]
    members = dict(known)
    for values in sorted(seen - set(members), key=lambda v: (v[0] is None, str(v))):
        members[values] = unknown_member(dimension, values[0])
    return members


def crosstab(session: Session, principal: Principal, settings: Settings, unit_id: int | None, period: Period,
             types: list[str], rows: Dimension, columns: Dimension | None, threshold: int | None) -> CrossTable:
    """Distinct reports by one or two dimensions, every known value listed, suppressed as one table."""
    check_dimensions(rows, columns)
    root = statistics_root(session, principal, unit_id)
    counts = crosstab_counts(session, root, period, types, rows, columns)
    row_members = dimension_members(session, root, period, rows, settings,
                                    {c.row for c in counts if c.row is not None})
    column_members = (dimension_members(session, root, period, columns, settings,
                                        {c.column for c in counts if c.column is not None}) if columns else {})

    cells = {(c.row, c.column): c.count for c in counts if c.level == "cell"}
    cells |= {(c.row, _TOTAL): c.count for c in counts if c.level == "row"}
    cells |= {(_TOTAL, c.column): c.count for c in counts if c.level == "column"}
    cells[(_TOTAL, _TOTAL)] = next((c.count for c in counts if c.level == "total"), 0)
    row_ids = [*row_members, _TOTAL]
    column_ids = [*column_members, _TOTAL]
    values = {(row, column): cells.get((row, column), 0) for row in row_ids for column in column_ids}
    hidden = suppressed_cells(values, table_groups(row_ids, column_ids, {_TOTAL: list(row_members)}), threshold)

    def shown(row, column) -> int | None:  # type: ignore[no-untyped-def]
        return None if (row, column) in hidden else values[(row, column)]

    lines = [
        CrossTabLine(member=member,
                     counts={column.key: shown(row_values, column_values)
                             for column_values, column in column_members.items()},
                     suppressed=[column.key for column_values, column in column_members.items()
                                 if (row_values, column_values) in hidden],
                     total=shown(row_values, _TOTAL), total_suppressed=(row_values, _TOTAL) in hidden)
        for row_values, member in row_members.items()
    ]
    return CrossTable(
        root=root, types=types, rows_dimension=rows, columns_dimension=columns,
        columns=list(column_members.values()), rows=lines,
        column_totals={member.key: shown(_TOTAL, column_values) for column_values, member in column_members.items()},
        column_totals_suppressed=[member.key for column_values, member in column_members.items()
                                  if (_TOTAL, column_values) in hidden],
        total=shown(_TOTAL, _TOTAL), total_suppressed=(_TOTAL, _TOTAL) in hidden,
    )


# ---- lead times ---------------------------------------------------------------------------------------


class EpochSeconds(FunctionElement[int]):
    """Whole seconds since 1970 (UTC) of a stored timestamp: the one place where the two databases differ.

    Fractions of a second are dropped on both, so durations are exact integers and agree between them.
    """

    type = BigInteger()
    inherit_cache = True


@compiles(EpochSeconds, "postgresql")
def _epoch_seconds_postgresql(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(EpochSeconds, "sqlite")
def _epoch_seconds_sqlite(element: EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps UTC timestamps as text; strftime('%s') reads them as UTC and drops the fraction.
    return f"CAST(STRFTIME('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def duration_seconds(start: ColumnElement[Any], end: ColumnElement[Any]) -> ColumnElement[int]:
    return EpochSeconds(end) - EpochSeconds(start)


def _scaled_percentile(ranked: FromClause, fraction: tuple[int, int]) -> ColumnElement[int]:
    """b·percentile in integers: the value at the lower rank weighted b - r, the next weighted r (see
    service.domain.statistics.percentile_positions, which this mirrors)."""
    a, b = fraction
    position = (ranked.c.n - 1) * a
    lower = position // b + 1
    remainder = position % b
    return func.sum(case((ranked.c.rn == lower, ranked.c.seconds * (b - remainder)),
                         (ranked.c.rn == lower + 1, ranked.c.seconds * remainder), else_=0))


def percentiles(durations: FromClause) -> Select:
    """(measure, n, median × 2, p90 × 10) per measure of a (measure, seconds) subquery, in integers.

    Portable: ROW_NUMBER() and COUNT() OVER the measure's durations, then the rows at the percentile's ranks.
    """
    ranked = select(
        durations.c.measure, durations.c.seconds,
        func.row_number().over(partition_by=durations.c.measure, order_by=durations.c.seconds).label("rn"),
        func.count().over(partition_by=durations.c.measure).label("n"),
    ).subquery("ranked")
    return (select(ranked.c.measure, func.max(ranked.c.n).label("n"),
                   _scaled_percentile(ranked, MEDIAN).label("median"), _scaled_percentile(ranked, P90).label("p90"))
            .group_by(ranked.c.measure))


@dataclass(frozen=True)
class LeadTimeCounts:
    key: str
    n: int
    median_scaled: int | None  # seconds × MEDIAN[1]
    p90_scaled: int | None  # seconds × P90[1]


def lead_times(session: Session, root: OrgUnit, period: Period, types: Sequence[str]) -> dict[str, LeadTimeCounts]:
    """Median and 90th percentile of each lead time, in the database: durations ranked by ROW_NUMBER()."""
    pairs = scoped_reports(session, root, period, types).cte("pairs")  # placed once, read by each of the five measures
    report = table_of(Report)
    in_scope = report.c.id.in_(select(pairs.c.report_id))

    def measure(key: str, start: ColumnElement[Any], end: ColumnElement[Any], source: FromClause = report) -> Select:
        return (select(literal(key, String).label("measure"), duration_seconds(start, end).label("seconds"))
                .select_from(source).where(in_scope, start.is_not(None), end.is_not(None)))

    parts = [measure("noticed_to_reported", report.c.noticed_at, report.c.received_at),
             measure("reported_to_assessed", report.c.received_at, report.c.first_assessed_at)]
    for authority in ("ivo", "imy"):
        sent = table_of(Notification).alias(f"sent_{authority}")
        source = report.join(sent, and_(sent.c.report_id == report.c.id, sent.c.authority == authority))
        parts.append(measure(f"assessed_to_notified_{authority}", report.c.first_assessed_at, sent.c.sent_at, source))
    parts.append(measure("reported_to_closed", report.c.received_at, report.c.closed_at))
    found = {row.measure: LeadTimeCounts(row.measure, int(row.n), int(row.median), int(row.p90))
             for row in session.execute(percentiles(union_all(*parts).subquery("durations"))).all()}
    return {lead.key: found.get(lead.key, LeadTimeCounts(lead.key, 0, None, None)) for lead in LEAD_TIMES}


@dataclass(frozen=True)
class LeadTimeFigure:
    key: str
    label_sv: str
    label_en: str
    n: int | None  # None when suppressed
    median_hours: float | None  # None when n is 0 or suppressed
    p90_hours: float | None
    suppressed: bool = False


@dataclass(frozen=True)
class LeadTimeTable:
    root: OrgUnit
    lead_times: list[LeadTimeFigure]


def lead_time_table(session: Session, principal: Principal, unit_id: int | None, period: Period,
                    types: Sequence[str], threshold: int | None) -> LeadTimeTable:
    """Each lead time's n, median and 90th percentile, a small n suppressing all three."""
    root = statistics_root(session, principal, unit_id)
    found = lead_times(session, root, period, types)
    figures = []
    for lead in LEAD_TIMES:
        counts = found[lead.key]
        # Each measure stands alone (no totals relate them), so only its own small n hides it.
        if is_small(counts.n, threshold):
            figures.append(LeadTimeFigure(lead.key, lead.label_sv, lead.label_en, None, None, None, True))
            continue
        figures.append(LeadTimeFigure(lead.key, lead.label_sv, lead.label_en, counts.n,
                                      hours(counts.median_scaled, MEDIAN[1]), hours(counts.p90_scaled, P90[1])))
    return LeadTimeTable(root=root, lead_times=figures)


# ---- open and overdue ---------------------------------------------------------------------------------

_EARLIEST = date(1901, 1, 1)


def open_and_overdue_counts(session: Session, root: OrgUnit, at: datetime, at_day: date) -> list[CountRow]:
    """Cases open at `at` (received by then, not closed then) and those among them with an overdue deadline.

    case_deadline holds the currently open deadlines only, so a past `at` is judged by today's deadlines.
    """
    pairs = (placed_reports(session, root, Period(_EARLIEST, at_day))
             .join(Report, col(Report.id) == col(ReportUnit.report_id))
             .where(col(Report.received_at) <= at, or_(col(Report.closed_at).is_(None), col(Report.closed_at) > at))
             .cte("pairs"))
    deadline = table_of(CaseDeadline).alias("overdue")
    joined = pairs.outerjoin(deadline, and_(deadline.c.report_id == pairs.c.report_id, deadline.c.due_at < at))
    report_id = pairs.c.report_id
    measures = [
        func.count(distinct(report_id)).label("open"),
        func.count(distinct(case((deadline.c.id.is_not(None), report_id), else_=None))).label("overdue"),
        *(func.count(distinct(case((deadline.c.kind == kind, report_id), else_=None))).label(f"overdue_{kind}")
          for kind in DEADLINE_LABELS),
    ]
    return _by_level(session, pairs, joined, measures, [column.key for column in OPEN_COLUMNS])


def units_for_rows(session: Session, root: OrgUnit, day: date, counts: list[CountRow]) -> list[PlacedUnit]:
    """The org as it stood on `day`, plus any unit placed elsewhere earlier that the counts still name."""
    units = units_in_period(session, root, Period(day, day))
    known = {(unit.id, unit.department_id) for unit in units if unit.kind == OrgKind.unit} | {
        (unit.id, None) for unit in units if unit.kind == OrgKind.department}
    wanted = {(row.unit_id, row.department_id) for row in counts if row.level == "unit"} | {
        (row.department_id, None) for row in counts if row.level == "department"}
    if wanted <= known:
        return units
    earlier = units_in_period(session, root, Period(_EARLIEST, day))
    return units + [unit for unit in earlier if (unit.id, unit.department_id) in wanted - known]


# ---- tables per avdelning and enhet, assembled (the annual table, open and overdue) -----------------


@dataclass(frozen=True)
class TableRow:
    level: str  # department, unit or total
    unit_id: int | None
    code: str | None
    name: str
    department_id: int | None  # for an enhet: the avdelning it stood under
    counts: dict[str, int | None]  # column key → distinct reports; None when suppressed
    suppressed: list[str]  # the column keys whose count is suppressed in this row


@dataclass(frozen=True)
class ShareFigure:
    key: str
    label_sv: str
    label_en: str
    numerator: int | None  # None when the share is suppressed
    denominator: int | None
    percent: float | None  # None when the denominator is 0 or the share is suppressed
    suppressed: bool = False


@dataclass(frozen=True)
class OrgTable:
    root: OrgUnit
    rows: list[TableRow]
    shares: list[ShareFigure]


def annual_table(session: Session, principal: Principal, unit_id: int | None, period: Period,
                 threshold: int | None) -> OrgTable:
    """The annual table: reports per avdelning and enhet and type, suppressed, with the shares the text cites."""
    return _annual_table_of(session, statistics_root(session, principal, unit_id), period, threshold)


def _annual_table_of(session: Session, root: OrgUnit, period: Period, threshold: int | None) -> OrgTable:
    counts = annual_counts(session, root, period)
    units = units_in_period(session, root, period)
    keys = [column.key for column in TABLE_COLUMNS]
    layout, children = _org_layout(root, units, counts, keys)
    total_row = len(layout) - 1
    total = next((row.counts for row in counts if row.level == "total"), None)
    if total is None:
        total = dict.fromkeys((*keys, *SHARE_MEASURES), 0)
    share_values = {(SHARE_ROW, measure): total[measure] for measure in SHARE_ONLY_MEASURES}
    hidden = _hidden_in_org_table(layout, children, keys, threshold, share_values, share_groups(total_row))

    def share_figure(share: Share) -> ShareFigure:
        if {share_cell(share.numerator_of, total_row), share_cell(share.denominator_of, total_row)} & hidden:
            return ShareFigure(key=share.key, label_sv=share.label_sv, label_en=share.label_en, numerator=None,
                               denominator=None, percent=None, suppressed=True)
        return ShareFigure(key=share.key, label_sv=share.label_sv, label_en=share.label_en,
                           numerator=share.numerator, denominator=share.denominator, percent=share.percent)

    return OrgTable(root=root, rows=_table_rows(layout, keys, hidden),
                    shares=[share_figure(share) for share in shares(share_counts_of(total))])


@dataclass(frozen=True)
class YearCells:
    counts: dict[str, int | None]  # column key → distinct reports; None when suppressed
    suppressed: list[str]


@dataclass(frozen=True)
class TrendRow:
    level: str  # department, unit or total
    unit_id: int | None
    code: str | None
    name: str  # as in the latest year the row stood
    department_id: int | None
    years: dict[int, YearCells | None]  # None: the row did not stand in the organisation that year


@dataclass(frozen=True)
class TrendTable:
    root: OrgUnit
    years: list[int]
    rows: list[TrendRow]
    shares: dict[int, list[ShareFigure]]


def annual_trend(session: Session, principal: Principal, unit_id: int | None, years: Sequence[int],
                 threshold: int | None) -> TrendTable:
    """The annual table of each year side by side: each year exactly its own annual table (organisation of that
    year, suppressed on its own), one SQL query per year, rows matched by (level, unit, avdelning)."""
    root = statistics_root(session, principal, unit_id)
    tables = {year: _annual_table_of(session, root, Period(date(year, 1, 1), date(year, 12, 31)), threshold)
              for year in years}
    return TrendTable(root=root, years=list(years), rows=trend_rows(tables),
                      shares={year: table.shares for year, table in tables.items()})


def trend_rows(tables: dict[int, OrgTable]) -> list[TrendRow]:
    """One row per avdelning, enhet-under-avdelning and the total found in any year's table, in the annual
    table's order (avdelningar by code, each with its enheter by code, the total last); a year whose table
    lacks the row gives None. An enhet that moved between avdelningar has a row under each."""
    found: dict[tuple, TableRow] = {}
    cells: dict[tuple, dict[int, YearCells]] = {}
    for year in sorted(tables):
        for row in tables[year].rows:
            key = (row.level, row.unit_id, row.department_id)
            found[key] = row  # the latest year's name wins
            cells.setdefault(key, {})[year] = YearCells(counts=row.counts, suppressed=row.suppressed)
    departments = sorted((key for key, row in found.items() if row.level == "department"),
                         key=lambda key: found[key].code or "")
    units = [key for key, row in found.items() if row.level == "unit"]
    ordered: list[tuple] = []
    for department in departments:
        ordered.append(department)
        ordered += sorted((key for key in units if key[2] == department[1]), key=lambda key: found[key].code or "")
    ordered += [key for key in units if key not in ordered]  # an enhet asked for alone: no avdelning rows
    ordered += [key for key, row in found.items() if row.level == "total"]
    return [TrendRow(level=found[key].level, unit_id=found[key].unit_id, code=found[key].code, name=found[key].name,
                     department_id=found[key].department_id,
                     years={year: cells[key].get(year) for year in sorted(tables)})
            for key in ordered]


def open_and_overdue_table(session: Session, principal: Principal, unit_id: int | None, at: datetime,
                           at_day: date, threshold: int | None) -> OrgTable:
    """Open cases, and those with an overdue deadline by kind, per avdelning and enhet at a moment, suppressed."""
    root = statistics_root(session, principal, unit_id)
    counts = open_and_overdue_counts(session, root, at, at_day)
    units = units_for_rows(session, root, at_day, counts)
    keys = [column.key for column in OPEN_COLUMNS]
    layout, children = _org_layout(root, units, counts, keys)
    return OrgTable(root=root, rows=_table_rows(layout, keys, _hidden_in_org_table(layout, children, keys, threshold)),
                    shares=[])


@dataclass(frozen=True)
class _OrgRow:
    level: str
    unit_id: int | None
    code: str | None
    name: str
    department_id: int | None
    counts: dict[str, int]


def _org_layout(root: OrgUnit, units: list[PlacedUnit], counts: list[CountRow],
                keys: list[str]) -> tuple[list[_OrgRow], dict[int, list[int]]]:
    """One row per avdelning with its enheter under it, and a total row last, as a kvalitetsberättelse prints
    them; and which rows stand under which (by index: an avdelning's enheter, the total's avdelningar)."""
    zero = dict.fromkeys(keys, 0)
    by_unit = {(row.unit_id, row.department_id): row.counts for row in counts if row.level == "unit"}
    by_department = {row.department_id: row.counts for row in counts if row.level == "department"}
    total = next((row.counts for row in counts if row.level == "total"), zero)

    def values(found: dict[str, int]) -> dict[str, int]:
        return {key: found[key] for key in keys}

    rows: list[_OrgRow] = []
    children: dict[int, list[int]] = {}
    departments = sorted((u for u in units if u.kind == OrgKind.department), key=lambda u: u.code)
    enheter = sorted((u for u in units if u.kind == OrgKind.unit), key=lambda u: u.code)
    top: list[int] = []  # the rows directly under the total
    if root.kind == OrgKind.unit:
        departments = []
        for u in enheter:
            top.append(len(rows))
            rows.append(_OrgRow("unit", u.id, u.code, u.name, u.department_id,
                                values(by_unit.get((u.id, u.department_id), zero))))
    for department in departments:
        index = len(rows)
        top.append(index)
        rows.append(_OrgRow("department", department.id, department.code, department.name, None,
                            values(by_department.get(department.id, zero))))
        for u in enheter:
            if u.department_id == department.id:
                children.setdefault(index, []).append(len(rows))
                rows.append(_OrgRow("unit", u.id, u.code, u.name, department.id,
                                    values(by_unit.get((u.id, department.id), zero))))
    children[len(rows)] = top
    rows.append(_OrgRow("total", None, None, "Totalt", None, values(total)))
    return rows, children


def _hidden_in_org_table(rows: list[_OrgRow], children: dict[int, list[int]], keys: list[str],
                         threshold: int | None, extra_values: dict | None = None,
                         extra_groups: list | None = None) -> set:
    """The (row index, column key) cells to suppress (service.domain.statistics.suppressed_cells)."""
    values = {(index, key): row.counts[key] for index, row in enumerate(rows) for key in keys}
    groups = table_groups(range(len(rows)), keys, children) + (extra_groups or [])
    return suppressed_cells({**values, **(extra_values or {})}, groups, threshold)


def _table_rows(rows: list[_OrgRow], keys: list[str], hidden: set) -> list[TableRow]:
    return [TableRow(level=row.level, unit_id=row.unit_id, code=row.code, name=row.name,
                     department_id=row.department_id,
                     counts={key: None if (index, key) in hidden else row.counts[key] for key in keys},
                     suppressed=[key for key in keys if (index, key) in hidden])
            for index, row in enumerate(rows)]
