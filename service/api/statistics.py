"""/api/v1/statistics: counts and shares for the kvalitetsberättelse, as JSON, CSV or XLSX. No free text, no names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from service import statistics
from service.api.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from service.api.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Cell, Delimiter, csv_response, xlsx_response
from service.api.problems import problem_responses
from service.api.types import Day, RowId, Timestamp
from service.config import Settings
from service.domain.assessment import ReportType as ReportTypeValue
from service.domain.time_range import FIRST_YEAR, LAST_YEAR
from service.domain.org import OrgKind
from service.domain.reports import local_date
from service.domain.statistics import (
    CROSSTAB_NOTE_EN,
    CROSSTAB_NOTE_SV,
    DIMENSION_LABELS,
    LEAD_TIMES,
    LEVEL_LABELS,
    MEDIAN,
    OPEN_COLUMNS,
    OPEN_NOTE_EN,
    OPEN_NOTE_SV,
    ORG_DIMENSIONS,
    P90,
    PERIOD_DIMENSIONS,
    TABLE_COLUMNS,
    TYPE_LABELS,
    Dimension,
    Member,
    Period,
    check_dimensions,
    coded_members,
    hours,
    period_members,
    shares,
    suppress,
    unknown_member,
)

router = APIRouter(prefix="/statistics", tags=["statistics"])
_TYPE_ORDER = [value.value for value in ReportTypeValue]


class OutputFormat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


class Language(StrEnum):
    sv = "sv"
    en = "en"


class ColumnOut(BaseModel):
    key: str
    label_sv: str
    label_en: str


class TableRow(BaseModel):
    level: str = Field(description="department, unit or total")
    unit_id: int | None
    code: str | None
    name: str
    department_id: int | None = Field(description="For an enhet: the avdelning it stood under.")
    counts: dict[str, int | None] = Field(description="Column key → distinct reports; null when suppressed.")


class ShareOut(BaseModel):
    key: str
    label_sv: str
    label_en: str
    numerator: int
    denominator: int
    percent: float | None


class AnnualTable(BaseModel):
    period_from: date
    period_to: date
    unit_id: int
    unit_code: str
    unit_name: str
    columns: list[ColumnOut]
    rows: list[TableRow]
    shares: list[ShareOut]
    suppressed_below: int | None = Field(description="Counts from 1 to this minus one are shown as null.")
    note_sv: str
    note_en: str


NOTE_SV = ("Varje rad räknar unika rapporter inom sitt område: en rapport som gäller flera enheter räknas under "
           "varje enhet men en gång på avdelningen, och en rapport med flera typer räknas i varje typkolumn men en "
           "gång i Totalt. Raderna är därför inte summor av raderna under dem.")
NOTE_EN = ("Each row counts distinct reports within its own scope: a report concerning several units counts under "
           "each unit but once for the department, and a report with several types counts in each type column but "
           "once in Total. Rows are therefore not sums of the rows below them.")


def _total_counts(counts: list[statistics.CountRow]) -> dict[str, int]:
    return next(row.counts for row in counts if row.level == "total")


def build_annual_table(session, principal, unit_id: int | None, period: Period,  # type: ignore[no-untyped-def]
                       suppress_below: int | None) -> AnnualTable:
    root = statistics.statistics_root(session, principal, unit_id)
    counts = statistics.annual_counts(session, root, period)
    units = statistics.units_in_period(session, root, period)
    keys = [column.key for column in TABLE_COLUMNS]
    rows = _org_rows(root, units, counts, keys, suppress_below)
    share_list = [ShareOut(key=s.key, label_sv=s.label_sv, label_en=s.label_en, numerator=s.numerator,
                           denominator=s.denominator, percent=s.percent)
                  for s in shares(statistics.share_counts_of(_total_counts(counts)))]
    return AnnualTable(
        period_from=period.start, period_to=period.end, unit_id=root.id or 0, unit_code=root.code,
        unit_name=root.name, columns=[ColumnOut(**vars(c)) for c in TABLE_COLUMNS], rows=rows,
        shares=share_list, suppressed_below=suppress_below, note_sv=NOTE_SV, note_en=NOTE_EN,
    )


def _org_rows(root, units: list[statistics.PlacedUnit], counts: list[statistics.CountRow],  # type: ignore[no-untyped-def]
              keys: list[str], suppress_below: int | None) -> list[TableRow]:
    """One row per avdelning with its enheter under it, and a total row, as a kvalitetsberättelse prints them."""
    zero = {key: 0 for key in keys}
    by_unit = {(row.unit_id, row.department_id): row.counts for row in counts if row.level == "unit"}
    by_department = {row.department_id: row.counts for row in counts if row.level == "department"}
    total = next((row.counts for row in counts if row.level == "total"), zero)

    def shown(values: dict[str, int]) -> dict[str, int | None]:
        return {key: suppress(values[key], suppress_below) for key in keys}

    rows: list[TableRow] = []
    departments = sorted((u for u in units if u.kind == OrgKind.department), key=lambda u: u.code)
    enheter = sorted((u for u in units if u.kind == OrgKind.unit), key=lambda u: u.code)
    if root.kind == OrgKind.unit:
        departments = []
        rows += [TableRow(level="unit", unit_id=u.id, code=u.code, name=u.name, department_id=u.department_id,
                          counts=shown(by_unit.get((u.id, u.department_id), zero))) for u in enheter]
    for department in departments:
        rows.append(TableRow(level="department", unit_id=department.id, code=department.code, name=department.name,
                             department_id=None, counts=shown(by_department.get(department.id, zero))))
        rows += [TableRow(level="unit", unit_id=u.id, code=u.code, name=u.name, department_id=department.id,
                          counts=shown(by_unit.get((u.id, department.id), zero)))
                 for u in enheter if u.department_id == department.id]
    rows.append(TableRow(level="total", unit_id=None, code=None, name="Totalt", department_id=None,
                         counts=shown(total)))
    return rows


@router.get(
    "/annual-table",
    summary="The annual table: reports per avdelning and enhet and type, with the shares the text cites",
    responses={200: {"content": {"application/json": {}, CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}},
                     "description": "JSON, or CSV/XLSX with format=csv|xlsx"},
               **problem_responses(403)},
    response_model=AnnualTable,
)
def annual_table(
    session: SessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    unit_id: Annotated[RowId | None, Query(description="The förvaltning or avdelning (default: your only one).")] = None,
    year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR, description="Calendar year (default: this year).")] = None,
    from_: Annotated[Day | None, Query(alias="from", description="Instead of year: first day.")] = None,
    to: Annotated[Day | None, Query(description="Instead of year: last day (inclusive).")] = None,
    suppress_below: Annotated[int | None, Query(ge=2, le=100, description="Hide counts 1..N-1 (figures "
                                                                          "that leave the nämnd).")] = None,
    format: Annotated[OutputFormat, Query(description="json, csv or xlsx")] = OutputFormat.json,  # noqa: A002
    delimiter: Annotated[Delimiter, Query(description="CSV: semicolon for Swedish Excel")] = Delimiter.semicolon,
    lang: Annotated[Language, Query(description="CSV/XLSX labels")] = Language.sv,
) -> AnnualTable | Response:
    period = Period.of(year, from_, to, local_date(clock(), settings.time_zone))
    table = build_annual_table(session, principal, unit_id, period, suppress_below)
    if format is OutputFormat.json:
        return table
    return _annual_file(table, format, delimiter, lang)


def _annual_file(table: AnnualTable, format: OutputFormat, delimiter: Delimiter, lang: Language) -> Response:  # noqa: A002
    sv = lang is Language.sv
    marker = f"<{table.suppressed_below}" if table.suppressed_below else ""
    header = [("Avdelning / enhet" if sv else "Department / unit")] + [
        column.label_sv if sv else column.label_en for column in table.columns]
    body = [[row.name if row.level != "total" else LEVEL_LABELS["total"][0 if sv else 1]]
            + [marker if value is None else value for value in row.counts.values()] for row in table.rows]
    period = f"{table.period_from.isoformat()} – {table.period_to.isoformat()}"
    filename = f"avvikelser-{table.unit_code}-{table.period_from.isoformat()}-{table.period_to.isoformat()}"
    if format is OutputFormat.csv:
        return csv_response(header, body, delimiter=delimiter, filename=filename)
    title = (f"Avvikelser per avdelning och enhet, {table.unit_name}" if sv
             else f"Deviations per department and unit, {table.unit_name}")
    return xlsx_response(
        title, period, header, body, filename=filename,
        bold_rows={i for i, row in enumerate(table.rows) if row.level in ("department", "total")},
        indented_rows={i for i, row in enumerate(table.rows) if row.level == "unit"},
        note=table.note_sv if sv else table.note_en,
    )


def _file(format: OutputFormat, delimiter: Delimiter, header: list[str], body: list[list[Cell]], *,  # noqa: A002
          title: str, subtitle: str, filename: str, note: str, bold_rows: set[int] | None = None,
          indented_rows: set[int] | None = None) -> Response:
    if format is OutputFormat.csv:
        return csv_response(header, body, delimiter=delimiter, filename=filename)
    return xlsx_response(title, subtitle, header, body, filename=filename, bold_rows=bold_rows or set(),
                         indented_rows=indented_rows or set(), note=note)


def _shown(value: int | None, suppressed_below: int | None) -> Cell:
    return f"<{suppressed_below}" if value is None and suppressed_below else value


UnitQuery = Annotated[RowId | None, Query(description="The förvaltning, avdelning or enhet (default: your only one).")]
YearQuery = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR, description="Calendar year of received_on (default: this year).")]
FromQuery = Annotated[Day | None, Query(alias="from", description="Instead of year: first day received.")]
ToQuery = Annotated[Day | None, Query(description="Instead of year: last day received (inclusive).")]
TypeQuery = Annotated[list[ReportTypeValue] | None, Query(
    description="Only reports with at least one of these types (repeatable).")]
SuppressQuery = Annotated[int | None, Query(ge=2, le=100, description="Hide counts 1..N-1 (figures that leave "
                                                                      "the nämnd).")]
FormatQuery = Annotated[OutputFormat, Query(description="json, csv or xlsx")]
DelimiterQuery = Annotated[Delimiter, Query(description="CSV: semicolon for Swedish Excel")]
LanguageQuery = Annotated[Language, Query(description="CSV/XLSX labels")]
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, CSV_MEDIA_TYPE: {}, XLSX_MEDIA_TYPE: {}},
          "description": "JSON, or CSV/XLSX with format=csv|xlsx"},
    **problem_responses(403),
}


# ---- cross-tabulations --------------------------------------------------------------------------------


class DimensionOut(BaseModel):
    key: str
    label_sv: str
    label_en: str


class MemberOut(BaseModel):
    key: str = Field(description="Stable key of the value, e.g. 2026-Q1, lex_sarah, the unit's code.")
    label_sv: str
    label_en: str
    unit_id: int | None = Field(default=None, description="For department and unit: the org unit.")


class CrossTabRow(MemberOut):
    counts: dict[str, int | None] = Field(description="Column key → distinct reports; null when suppressed. "
                                                      "Empty when the table has no columns dimension.")
    total: int | None = Field(description="Distinct reports in the row (not the sum of its cells).")


class CrossTab(BaseModel):
    period_from: date
    period_to: date
    unit_id: int
    unit_code: str
    unit_name: str
    types: list[str] = Field(description="The type filter: reports with at least one of these (empty: all).")
    rows_dimension: DimensionOut
    columns_dimension: DimensionOut | None
    columns: list[MemberOut]
    rows: list[CrossTabRow]
    column_totals: dict[str, int | None] = Field(description="Column key → distinct reports in the column.")
    total: int | None = Field(description="Distinct reports in the table.")
    suppressed_below: int | None
    note_sv: str
    note_en: str


def _dimension_out(dimension: Dimension) -> DimensionOut:
    sv, en = DIMENSION_LABELS[dimension]
    return DimensionOut(key=dimension.value, label_sv=sv, label_en=en)


def _members(session, root, period: Period, dimension: Dimension, settings: Settings,  # type: ignore[no-untyped-def]
             seen: set[tuple]) -> dict[tuple, Member]:
    """Every value of the dimension in table order (zeros included), then any other value the counts hold."""
    if dimension in PERIOD_DIMENSIONS:
        known = period_members(dimension, period)
    elif dimension in ORG_DIMENSIONS:
        ids = {values[0] for values in seen if values[0] is not None}
        known = statistics.org_members(session, root, period, dimension, ids)
    else:
        known = [((member.key,), member)
                 for member in coded_members(dimension, settings.report_categories, settings.root_causes)]
    members = dict(known)
    for values in sorted(seen - set(members), key=lambda v: (v[0] is None, str(v))):
        members[values] = unknown_member(dimension, values[0])
    return members


def build_crosstab(session, principal, settings: Settings, unit_id: int | None, period: Period,  # type: ignore[no-untyped-def]
                   types: list[str], rows: Dimension, columns: Dimension | None,
                   suppress_below: int | None) -> CrossTab:
    check_dimensions(rows, columns)
    root = statistics.statistics_root(session, principal, unit_id)
    counts = statistics.crosstab_counts(session, root, period, types, rows, columns)
    row_members = _members(session, root, period, rows, settings, {c.row for c in counts if c.row is not None})
    column_members = (_members(session, root, period, columns, settings,
                               {c.column for c in counts if c.column is not None}) if columns else {})

    def shown(count: int) -> int | None:
        return suppress(count, suppress_below)

    cells = {(c.row, c.column): c.count for c in counts if c.level == "cell"}
    row_totals = {c.row: c.count for c in counts if c.level == "row"}
    column_totals = {c.column: c.count for c in counts if c.level == "column"}
    total = next((c.count for c in counts if c.level == "total"), 0)
    table_rows = [
        CrossTabRow(**vars(member),
                    counts={column.key: shown(cells.get((values, column_values), 0))
                            for column_values, column in column_members.items()},
                    total=shown(row_totals.get(values, 0)))
        for values, member in row_members.items()
    ]
    return CrossTab(
        period_from=period.start, period_to=period.end, unit_id=root.id or 0, unit_code=root.code,
        unit_name=root.name, types=types, rows_dimension=_dimension_out(rows),
        columns_dimension=_dimension_out(columns) if columns else None,
        columns=[MemberOut(**vars(member)) for member in column_members.values()], rows=table_rows,
        column_totals={member.key: shown(column_totals.get(values, 0)) for values, member in column_members.items()},
        total=shown(total), suppressed_below=suppress_below, note_sv=CROSSTAB_NOTE_SV, note_en=CROSSTAB_NOTE_EN,
    )


@router.get(
    "/crosstab",
    summary="Distinct reports by one or two dimensions (period, org, type, severity, category, ...)",
    description="Counts distinct reports per cell, per row, per column and in total, each counted in SQL on its "
                "own: a report with two types counts in both type cells, so cells may add up to more than the "
                "totals. Only counts leave this endpoint.",
    responses=FILE_RESPONSES,
    response_model=CrossTab,
)
def crosstab(
    session: SessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    rows: Annotated[Dimension, Query(description="The dimension of the rows.")],
    columns: Annotated[Dimension | None, Query(description="The dimension of the columns (optional).")] = None,
    unit_id: UnitQuery = None, year: YearQuery = None, from_: FromQuery = None, to: ToQuery = None,
    type: TypeQuery = None,  # noqa: A002
    suppress_below: SuppressQuery = None, format: FormatQuery = OutputFormat.json,  # noqa: A002
    delimiter: DelimiterQuery = Delimiter.semicolon, lang: LanguageQuery = Language.sv,
) -> CrossTab | Response:
    period = Period.of(year, from_, to, local_date(clock(), settings.time_zone))
    types = sorted({value.value for value in type or []}, key=_TYPE_ORDER.index)
    table = build_crosstab(session, principal, settings, unit_id, period, types, rows, columns, suppress_below)
    if format is OutputFormat.json:
        return table
    sv = lang is Language.sv
    total_label = LEVEL_LABELS["total"][0 if sv else 1]

    def label(item: MemberOut | DimensionOut) -> str:
        return item.label_sv if sv else item.label_en

    header = [label(table.rows_dimension)] + [label(column) for column in table.columns] + [total_label]
    mark = lambda value: _shown(value, table.suppressed_below)  # noqa: E731
    body: list[list[Cell]] = [
        [label(row)] + [mark(row.counts[column.key]) for column in table.columns] + [mark(row.total)]
        for row in table.rows]
    body.append([total_label] + [mark(table.column_totals[column.key]) for column in table.columns]
                + [mark(table.total)])
    by = label(table.rows_dimension) + (f" × {label(table.columns_dimension)}" if table.columns_dimension else "")
    subtitle = f"{table.period_from.isoformat()} – {table.period_to.isoformat()}"
    if table.types:
        subtitle += " · " + ", ".join(TYPE_LABELS[t][0 if sv else 1] for t in table.types)
    return _file(format, delimiter, header, body,
                 title=(f"Rapporter per {by.lower()}, {table.unit_name}" if sv
                        else f"Reports by {by.lower()}, {table.unit_name}"),
                 subtitle=subtitle, note=table.note_sv if sv else table.note_en, bold_rows={len(body) - 1},
                 filename=f"korstabell-{table.unit_code}-{rows.value}"
                          f"{'-' + columns.value if columns else ''}-{table.period_from}-{table.period_to}")


# ---- lead times ---------------------------------------------------------------------------------------


class LeadTimeOut(BaseModel):
    key: str
    label_sv: str
    label_en: str
    n: int | None = Field(description="Reports with both moments recorded; null when suppressed.")
    median_hours: float | None = Field(description="Median, hours (two decimals); null when n is 0 or suppressed.")
    p90_hours: float | None = Field(description="90th percentile, hours (two decimals).")


class LeadTimes(BaseModel):
    period_from: date
    period_to: date
    unit_id: int
    unit_code: str
    unit_name: str
    types: list[str]
    lead_times: list[LeadTimeOut]
    suppressed_below: int | None
    note_sv: str
    note_en: str


LEAD_TIME_NOTE_SV = (
    "Ledtider i timmar för rapporter inkomna under perioden. Percentiler med linjär interpolation mellan närmaste "
    "rang (som PERCENTILE.INC i Excel): för n sorterade värden ligger p-percentilen på rang 1 + (n − 1)·p. "
    "Medianen av ett jämnt antal är medelvärdet av de två mittersta. Tider räknas i hela sekunder.")
LEAD_TIME_NOTE_EN = (
    "Lead times in hours for reports received in the period. Percentiles by linear interpolation between closest "
    "ranks (as Excel's PERCENTILE.INC): for n sorted values the p-th percentile lies at rank 1 + (n − 1)·p. "
    "The median of an even number is the mean of the two middle values. Times are counted in whole seconds.")


@router.get(
    "/lead-times",
    summary="Median and 90th percentile of the lead times noticed → reported → assessed → notified → closed",
    responses=FILE_RESPONSES,
    response_model=LeadTimes,
)
def lead_times(
    session: SessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    unit_id: UnitQuery = None, year: YearQuery = None, from_: FromQuery = None, to: ToQuery = None,
    type: TypeQuery = None,  # noqa: A002
    suppress_below: SuppressQuery = None, format: FormatQuery = OutputFormat.json,  # noqa: A002
    delimiter: DelimiterQuery = Delimiter.semicolon, lang: LanguageQuery = Language.sv,
) -> LeadTimes | Response:
    period = Period.of(year, from_, to, local_date(clock(), settings.time_zone))
    types = sorted({value.value for value in type or []}, key=_TYPE_ORDER.index)
    root = statistics.statistics_root(session, principal, unit_id)
    found = statistics.lead_times(session, root, period, types)
    items = []
    for lead in LEAD_TIMES:
        counts = found[lead.key]
        n = suppress(counts.n, suppress_below)
        hidden = n is None
        items.append(LeadTimeOut(key=lead.key, label_sv=lead.label_sv, label_en=lead.label_en, n=n,
                                 median_hours=None if hidden else hours(counts.median_scaled, MEDIAN[1]),
                                 p90_hours=None if hidden else hours(counts.p90_scaled, P90[1])))
    table = LeadTimes(period_from=period.start, period_to=period.end, unit_id=root.id or 0, unit_code=root.code,
                      unit_name=root.name, types=types, lead_times=items, suppressed_below=suppress_below,
                      note_sv=LEAD_TIME_NOTE_SV, note_en=LEAD_TIME_NOTE_EN)
    if format is OutputFormat.json:
        return table
    sv = lang is Language.sv
    header = (["Ledtid", "Antal", "Median (timmar)", "90:e percentilen (timmar)"] if sv
              else ["Lead time", "Count", "Median (hours)", "90th percentile (hours)"])
    body: list[list[Cell]] = [[item.label_sv if sv else item.label_en, _shown(item.n, suppress_below),
                               item.median_hours, item.p90_hours] for item in items]
    return _file(format, delimiter, header, body,
                 title=f"Ledtider, {root.name}" if sv else f"Lead times, {root.name}",
                 subtitle=f"{period.start.isoformat()} – {period.end.isoformat()}",
                 note=LEAD_TIME_NOTE_SV if sv else LEAD_TIME_NOTE_EN,
                 filename=f"ledtider-{root.code}-{period.start}-{period.end}")


# ---- open and overdue ---------------------------------------------------------------------------------


class OpenAndOverdue(BaseModel):
    at: datetime
    unit_id: int
    unit_code: str
    unit_name: str
    columns: list[ColumnOut]
    rows: list[TableRow]
    suppressed_below: int | None
    note_sv: str
    note_en: str


@router.get(
    "/open-and-overdue",
    summary="Open cases, and those with an overdue deadline by kind, per avdelning and enhet at a moment",
    responses=FILE_RESPONSES,
    response_model=OpenAndOverdue,
)
def open_and_overdue(
    session: SessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    unit_id: UnitQuery = None,
    at: Annotated[Timestamp | None, Query(description="The moment (default: now); with a time zone.")] = None,
    suppress_below: SuppressQuery = None, format: FormatQuery = OutputFormat.json,  # noqa: A002
    delimiter: DelimiterQuery = Delimiter.semicolon, lang: LanguageQuery = Language.sv,
) -> OpenAndOverdue | Response:
    moment = (at or clock()).astimezone(UTC)
    day = local_date(moment, settings.time_zone)
    root = statistics.statistics_root(session, principal, unit_id)
    counts = statistics.open_and_overdue_counts(session, root, moment, day)
    units = statistics.units_for_rows(session, root, day, counts)
    rows = _org_rows(root, units, counts, [column.key for column in OPEN_COLUMNS], suppress_below)
    table = OpenAndOverdue(at=moment, unit_id=root.id or 0, unit_code=root.code, unit_name=root.name,
                           columns=[ColumnOut(**vars(c)) for c in OPEN_COLUMNS], rows=rows,
                           suppressed_below=suppress_below, note_sv=OPEN_NOTE_SV, note_en=OPEN_NOTE_EN)
    if format is OutputFormat.json:
        return table
    sv = lang is Language.sv
    header = [("Avdelning / enhet" if sv else "Department / unit")] + [
        column.label_sv if sv else column.label_en for column in OPEN_COLUMNS]
    body: list[list[Cell]] = [
        [row.name if row.level != "total" else LEVEL_LABELS["total"][0 if sv else 1]]
        + [_shown(value, suppress_below) for value in row.counts.values()] for row in rows]
    return _file(format, delimiter, header, body,
                 title=(f"Öppna ärenden och passerade tidsfrister, {root.name}" if sv
                        else f"Open cases and overdue deadlines, {root.name}"),
                 subtitle=moment.isoformat(), note=OPEN_NOTE_SV if sv else OPEN_NOTE_EN,
                 filename=f"oppna-arenden-{root.code}-{day}",
                 bold_rows={i for i, row in enumerate(rows) if row.level in ("department", "total")},
                 indented_rows={i for i, row in enumerate(rows) if row.level == "unit"})
