"""Statistics in SQL: distinct reports per row's scope, grouped in the database, never loaded as rows.

Each report is placed by its enheter, and each enhet under the avdelning it stood under on the day
the report was received (org_unit_placement), so a reorganisation does not move earlier figures.
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

from service import audit, scope
from service.domain.access import Principal
from service.domain.assessment import SERIOUS, ReportType as Type
from service.domain.errors import Forbidden, InvalidInput
from service.domain.org import OrgKind
from service.domain.statistics import (
    DEADLINE_LABELS,
    LEAD_TIMES,
    MEDIAN,
    OPEN_COLUMNS,
    ORG_DIMENSIONS,
    P90,
    SHARE_ONLY_MEASURES,
    SHARE_ROW,
    TABLE_COLUMNS,
    TYPE_COLUMNS,
    Dimension,
    Member,
    Period,
    Share,
    ShareCounts,
    share_cell,
    share_groups,
    shares,
    suppressed_cells,
    table_groups,
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


def placed_reports(root: OrgUnit, period: Period) -> Select:
    """(report_id, unit_id, department_id, received_on) for each report received in the period and each of
    its enheter.

    Read from report_unit alone (it carries the report's day), through an index that covers the query.
    """
    placement = table_of(OrgUnitPlacement).alias("placement")
    department = table_of(OrgUnit).alias("department")
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
    return query.join(department, department.c.id == placement.c.parent_id).where(
        department.c.path.startswith(root.path, autoescape=True))


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
    pairs = placed_reports(root, period).subquery("pairs")
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
        select(col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.kind), col(OrgUnit.path), col(OrgUnitPlacement.name),
               col(OrgUnitPlacement.parent_id), col(OrgUnitPlacement.valid_from))
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


# ---- cross-tabulations --------------------------------------------------------------------------------


def scoped_reports(root: OrgUnit, period: Period, types: Sequence[str] = ()) -> Select:
    """placed_reports, kept to reports that have at least one of `types` (all reports when none are given)."""
    query = placed_reports(root, period)
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


def _facts(root: OrgUnit, period: Period, types: Sequence[str],
           dimensions: Sequence[Dimension]) -> tuple[CTE, list[list[str]]]:
    """A CTE of (report_id, the dimensions' values...) for the reports in scope; grouped by the caller."""
    pairs = scoped_reports(root, period, types).subquery("pairs")
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
    facts, names = _facts(root, period, types, dimensions)
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
    pairs = scoped_reports(root, period, types).cte("pairs")  # placed once, read by each of the five measures
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


# ---- open and overdue ---------------------------------------------------------------------------------

_EARLIEST = date(1901, 1, 1)


def open_and_overdue_counts(session: Session, root: OrgUnit, at: datetime, at_day: date) -> list[CountRow]:
    """Cases open at `at` (received by then, not closed then) and those among them with an overdue deadline.

    case_deadline holds the currently open deadlines only, so a past `at` is judged by today's deadlines.
    """
    pairs = (placed_reports(root, Period(_EARLIEST, at_day))
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
    root = statistics_root(session, principal, unit_id)
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
