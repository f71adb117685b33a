"""/api/v1/statistics: counts and shares for the kvalitetsberättelse, as JSON, CSV or XLSX. No free text, no names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from service import statistics as core_statistics
from service.api.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from service.api.exports import FILE_RESPONSE, Cell, Delimiter, csv_response, xlsx_response
from service.api.problems import problem_responses
from service.api.types import Day, RowId, Timestamp
from service.config import Settings
from service.domain.access import Principal
from service.domain.assessment import ReportType as ReportTypeValue
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
    SUPPRESSED_MARK,
    TABLE_COLUMNS,
    TYPE_LABELS,
    Dimension,
    Member,
    Period,
    check_dimensions,
    coded_members,
    hours,
    is_small,
    period_members,
    suppressed_cells,
    suppression_note,
    suppression_threshold,
    table_groups,
    unknown_member,
)
from service.domain.time_range import FIRST_YEAR, LAST_YEAR
from service.models import OrgUnit

router = APIRouter(prefix="/statistics", tags=["statistics"])
_TYPE_ORDER = [value.value for value in ReportTypeValue]
SUPPRESSED_BELOW_DOC = ("The N in force: counts from 1 to N−1 are suppressed (null), and so are the cells hidden "
                        "with them so that none can be worked out from the others. Null when nothing is "
                        "suppressed (only when the service's minimum is 1 and none was asked for).")
SUPPRESS_DOC = ("Suppress counts 1..N−1, and the cells needed to keep them hidden. Default and lowest "
                "allowed: the service's minimum (AVV_STATISTICS_MIN_SUPPRESS_BELOW, 5 unless configured); "
                "lower is 422.")


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
    suppressed: list[str] = Field(default_factory=list,
                                  description="The column keys whose count is suppressed (null) in this row.")


class ShareOut(BaseModel):
    key: str
    label_sv: str
    label_en: str
    numerator: int | None = Field(description="Null when the share is suppressed.")
    denominator: int | None = Field(description="Null when the share is suppressed.")
    percent: float | None = Field(description="Null when the denominator is 0 or the share is suppressed.")
    suppressed: bool = Field(default=False, description="True when the numerator or the denominator is "
                                                        "suppressed: then all three are null.")


class AnnualTable(BaseModel):
    period_from: date
    period_to: date
    unit_id: int
    unit_code: str
    unit_name: str
    columns: list[ColumnOut]
    rows: list[TableRow]
    shares: list[ShareOut]
    suppressed_below: int | None = Field(description=SUPPRESSED_BELOW_DOC)
    note_sv: str
    note_en: str


NOTE_SV = ("Varje rad räknar unika rapporter inom sitt område: en rapport som gäller flera enheter räknas under "
           "varje enhet men en gång på avdelningen, och en rapport med flera typer räknas i varje typkolumn men en "
           "gång i Totalt. Raderna är därför inte summor av raderna under dem.")
NOTE_EN = ("Each row counts distinct reports within its own scope: a report concerning several units counts under "
           "each unit but once for the department, and a report with several types counts in each type column but "
           "once in Total. Rows are therefore not sums of the rows below them.")


def build_annual_table(session: Session, principal: Principal, unit_id: int | None, period: Period,
                       threshold: int | None) -> AnnualTable:
    table = core_statistics.annual_table(session, principal, unit_id, period, threshold)
    root = table.root
    return AnnualTable(
        period_from=period.start, period_to=period.end, unit_id=root.id or 0, unit_code=root.code,
        unit_name=root.name, columns=[ColumnOut(**vars(c)) for c in TABLE_COLUMNS],
        rows=[TableRow(**vars(row)) for row in table.rows],
        shares=[ShareOut(**vars(share)) for share in table.shares],
        suppressed_below=threshold, note_sv=NOTE_SV, note_en=NOTE_EN,
    )


@router.get(
    "/annual-table",
    summary="The annual table: reports per avdelning and enhet and type, with the shares the text cites",
    responses={200: FILE_RESPONSE, **problem_responses(403)},
    response_model=AnnualTable,
)
def annual_table(
    session: SessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    unit_id: Annotated[RowId | None,
                       Query(description="The förvaltning or avdelning (default: your only one).")] = None,
    year: Annotated[int | None,
                    Query(ge=FIRST_YEAR, le=LAST_YEAR, description="Calendar year (default: this year).")] = None,
    from_: Annotated[Day | None, Query(alias="from", description="Instead of year: first day.")] = None,
    to: Annotated[Day | None, Query(description="Instead of year: last day (inclusive).")] = None,
    suppress_below: Annotated[int | None, Query(ge=2, le=100, description=SUPPRESS_DOC)] = None,
    format: Annotated[OutputFormat, Query(description="json, csv or xlsx")] = OutputFormat.json,  # noqa: A002
    delimiter: Annotated[Delimiter, Query(description="CSV: semicolon for Swedish Excel")] = Delimiter.semicolon,
    lang: Annotated[Language, Query(description="CSV/XLSX labels")] = Language.sv,
) -> AnnualTable | Response:
    threshold = suppression_threshold(suppress_below, settings.statistics_min_suppress_below)
    period = Period.of(year, from_, to, local_date(clock(), settings.time_zone))
    table = build_annual_table(session, principal, unit_id, period, threshold)
    if format is OutputFormat.json:
        return table
    return _annual_file(table, format, delimiter, lang)


def _annual_file(table: AnnualTable, format: OutputFormat, delimiter: Delimiter, lang: Language) -> Response:  # noqa: A002
    sv = lang is Language.sv
    header = [("Avdelning / enhet" if sv else "Department / unit"),
              *(column.label_sv if sv else column.label_en for column in table.columns)]
    body: list[list[Cell]] = [[row.name if row.level != "total" else LEVEL_LABELS["total"][0 if sv else 1],
                               *(_shown(value) for value in row.counts.values())] for row in table.rows]
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
        note=_with_suppression(table.note_sv if sv else table.note_en, table.suppressed_below, sv),
    )


def _file(format: OutputFormat, delimiter: Delimiter, header: list[str], body: list[list[Cell]], *,  # noqa: A002
          title: str, subtitle: str, filename: str, note: str, bold_rows: set[int] | None = None,
          indented_rows: set[int] | None = None) -> Response:
    if format is OutputFormat.csv:
        return csv_response(header, body, delimiter=delimiter, filename=filename)
    return xlsx_response(title, subtitle, header, body, filename=filename, bold_rows=bold_rows or set(),
                         indented_rows=indented_rows or set(), note=note)


def _shown(value: Cell) -> Cell:
    """A suppressed count in CSV/XLSX: the same mark for every hidden cell, small or hidden with one."""
    return SUPPRESSED_MARK if value is None else value


def _with_suppression(note: str, threshold: int | None, sv: bool) -> str:
    return f"{note} {suppression_note(threshold, sv)}" if threshold else note


UnitQuery = Annotated[RowId | None, Query(description="The förvaltning, avdelning or enhet (default: your only one).")]
YearQuery = Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR,
                                        description="Calendar year of received_on (default: this year).")]
FromQuery = Annotated[Day | None, Query(alias="from", description="Instead of year: first day received.")]
ToQuery = Annotated[Day | None, Query(description="Instead of year: last day received (inclusive).")]
TypeQuery = Annotated[list[ReportTypeValue] | None, Query(
    description="Only reports with at least one of these types (repeatable).")]
SuppressQuery = Annotated[int | None, Query(ge=2, le=100, description=SUPPRESS_DOC)]
FormatQuery = Annotated[OutputFormat, Query(description="json, csv or xlsx")]
DelimiterQuery = Annotated[Delimiter, Query(description="CSV: semicolon for Swedish Excel")]
LanguageQuery = Annotated[Language, Query(description="CSV/XLSX labels")]
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: FILE_RESPONSE,
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
    suppressed: list[str] = Field(default_factory=list, description="The column keys suppressed (null) in counts.")
    total_suppressed: bool = Field(default=False, description="True when total is suppressed (null).")


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
    column_totals_suppressed: list[str] = Field(default_factory=list,
                                                description="The column keys suppressed (null) in column_totals.")
    total: int | None = Field(description="Distinct reports in the table.")
    total_suppressed: bool = Field(default=False, description="True when total is suppressed (null).")
    suppressed_below: int | None = Field(description=SUPPRESSED_BELOW_DOC)
    note_sv: str
    note_en: str


def _dimension_out(dimension: Dimension) -> DimensionOut:
    sv, en = DIMENSION_LABELS[dimension]
    return DimensionOut(key=dimension.value, label_sv=sv, label_en=en)


def _members(session: Session, root: OrgUnit, period: Period, dimension: Dimension, settings: Settings,
             seen: set[tuple]) -> dict[tuple, Member]:
    """Every value of the dimension in table order (zeros included), then any other value the counts hold."""
    known: Sequence[tuple[tuple[Any, ...], Member]]
    if dimension in PERIOD_DIMENSIONS:
        known = period_members(dimension, period)
    elif dimension in ORG_DIMENSIONS:
        ids = {values[0] for values in seen if values[0] is not None}
        known = core_statistics.org_members(session, root, period, dimension, ids)
    else:
        known = [((member.key,), member)
                 for member in coded_members(dimension, settings.report_categories, settings.root_causes)]
    members = dict(known)
    for values in sorted(seen - set(members), key=lambda v: (v[0] is None, str(v))):
        members[values] = unknown_member(dimension, values[0])
    return members


def build_crosstab(session: Session, principal: Principal, settings: Settings, unit_id: int | None, period: Period,
                   types: list[str], rows: Dimension, columns: Dimension | None,
                   threshold: int | None) -> CrossTab:
    check_dimensions(rows, columns)
    root = core_statistics.statistics_root(session, principal, unit_id)
    counts = core_statistics.crosstab_counts(session, root, period, types, rows, columns)
    row_members = _members(session, root, period, rows, settings, {c.row for c in counts if c.row is not None})
    column_members = (_members(session, root, period, columns, settings,
                               {c.column for c in counts if c.column is not None}) if columns else {})

    cells = {(c.row, c.column): c.count for c in counts if c.level == "cell"}
    cells |= {(c.row, _TOTAL): c.count for c in counts if c.level == "row"}
    cells |= {(_TOTAL, c.column): c.count for c in counts if c.level == "column"}
    cells[(_TOTAL, _TOTAL)] = next((c.count for c in counts if c.level == "total"), 0)
    row_ids = [*row_members, _TOTAL]
    column_ids = [*column_members, _TOTAL]
    values = {(row, column): cells.get((row, column), 0) for row in row_ids for column in column_ids}
    hidden = suppressed_cells(values, table_groups(row_ids, column_ids, {_TOTAL: list(row_members)}), threshold)

    def shown(row: tuple[Any, ...], column: tuple[Any, ...]) -> int | None:
        return None if (row, column) in hidden else values[(row, column)]

    table_rows = [
        CrossTabRow(**vars(member),
                    counts={column.key: shown(row_values, column_values)
                            for column_values, column in column_members.items()},
                    suppressed=[column.key for column_values, column in column_members.items()
                                if (row_values, column_values) in hidden],
                    total=shown(row_values, _TOTAL), total_suppressed=(row_values, _TOTAL) in hidden)
        for row_values, member in row_members.items()
    ]
    return CrossTab(
        period_from=period.start, period_to=period.end, unit_id=root.id or 0, unit_code=root.code,
        unit_name=root.name, types=types, rows_dimension=_dimension_out(rows),
        columns_dimension=_dimension_out(columns) if columns else None,
        columns=[MemberOut(**vars(member)) for member in column_members.values()], rows=table_rows,
        column_totals={member.key: shown(_TOTAL, column_values) for column_values, member in column_members.items()},
        column_totals_suppressed=[member.key for column_values, member in column_members.items()
                                  if (_TOTAL, column_values) in hidden],
        total=shown(_TOTAL, _TOTAL), total_suppressed=(_TOTAL, _TOTAL) in hidden,
        suppressed_below=threshold, note_sv=CROSSTAB_NOTE_SV, note_en=CROSSTAB_NOTE_EN,
    )


# The total row and column of a cross-tabulation among its cells: no dimension's values are this tuple.
_TOTAL = ("\x00total",)


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
    threshold = suppression_threshold(suppress_below, settings.statistics_min_suppress_below)
    period = Period.of(year, from_, to, local_date(clock(), settings.time_zone))
    types = sorted({value.value for value in type or []}, key=_TYPE_ORDER.index)
    table = build_crosstab(session, principal, settings, unit_id, period, types, rows, columns, threshold)
    if format is OutputFormat.json:
        return table
    sv = lang is Language.sv
    total_label = LEVEL_LABELS["total"][0 if sv else 1]

    def label(item: MemberOut | DimensionOut) -> str:
        return item.label_sv if sv else item.label_en

    header = [label(table.rows_dimension)] + [label(column) for column in table.columns] + [total_label]
    mark = _shown
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
                 subtitle=subtitle, note=_with_suppression(table.note_sv if sv else table.note_en,
                                                           table.suppressed_below, sv),
                 bold_rows={len(body) - 1},
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
    suppressed: bool = Field(default=False, description="True when n is suppressed: then all three are null.")


class LeadTimes(BaseModel):
    period_from: date
    period_to: date
    unit_id: int
    unit_code: str
    unit_name: str
    types: list[str]
    lead_times: list[LeadTimeOut]
    suppressed_below: int | None = Field(description=SUPPRESSED_BELOW_DOC)
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
    threshold = suppression_threshold(suppress_below, settings.statistics_min_suppress_below)
    period = Period.of(year, from_, to, local_date(clock(), settings.time_zone))
    types = sorted({value.value for value in type or []}, key=_TYPE_ORDER.index)
    root = core_statistics.statistics_root(session, principal, unit_id)
    found = core_statistics.lead_times(session, root, period, types)
    items = []
    for lead in LEAD_TIMES:
        counts = found[lead.key]
        # Each measure stands alone (no totals relate them), so only its own small n hides it.
        if is_small(counts.n, threshold):
            items.append(LeadTimeOut(key=lead.key, label_sv=lead.label_sv, label_en=lead.label_en, n=None,
                                     median_hours=None, p90_hours=None, suppressed=True))
            continue
        items.append(LeadTimeOut(key=lead.key, label_sv=lead.label_sv, label_en=lead.label_en, n=counts.n,
                                 median_hours=hours(counts.median_scaled, MEDIAN[1]),
                                 p90_hours=hours(counts.p90_scaled, P90[1])))
    table = LeadTimes(period_from=period.start, period_to=period.end, unit_id=root.id or 0, unit_code=root.code,
                      unit_name=root.name, types=types, lead_times=items, suppressed_below=threshold,
                      note_sv=LEAD_TIME_NOTE_SV, note_en=LEAD_TIME_NOTE_EN)
    if format is OutputFormat.json:
        return table
    sv = lang is Language.sv
    header = (["Ledtid", "Antal", "Median (timmar)", "90:e percentilen (timmar)"] if sv
              else ["Lead time", "Count", "Median (hours)", "90th percentile (hours)"])
    body: list[list[Cell]] = [
        [item.label_sv if sv else item.label_en, _shown(item.n)]
        + ([SUPPRESSED_MARK, SUPPRESSED_MARK] if item.suppressed else [item.median_hours, item.p90_hours])
        for item in items]
    return _file(format, delimiter, header, body,
                 title=f"Ledtider, {root.name}" if sv else f"Lead times, {root.name}",
                 subtitle=f"{period.start.isoformat()} – {period.end.isoformat()}",
                 note=_with_suppression(LEAD_TIME_NOTE_SV if sv else LEAD_TIME_NOTE_EN, threshold, sv),
                 filename=f"ledtider-{root.code}-{period.start}-{period.end}")


# ---- open and overdue ---------------------------------------------------------------------------------


class OpenAndOverdue(BaseModel):
    at: datetime
    unit_id: int
    unit_code: str
    unit_name: str
    columns: list[ColumnOut]
    rows: list[TableRow]
    suppressed_below: int | None = Field(description=SUPPRESSED_BELOW_DOC)
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
    threshold = suppression_threshold(suppress_below, settings.statistics_min_suppress_below)
    moment = (at or clock()).astimezone(UTC)
    day = local_date(moment, settings.time_zone)
    table_rows = core_statistics.open_and_overdue_table(session, principal, unit_id, moment, day, threshold)
    root = table_rows.root
    rows = [TableRow(**vars(row)) for row in table_rows.rows]
    table = OpenAndOverdue(at=moment, unit_id=root.id or 0, unit_code=root.code, unit_name=root.name,
                           columns=[ColumnOut(**vars(c)) for c in OPEN_COLUMNS], rows=rows,
                           suppressed_below=threshold, note_sv=OPEN_NOTE_SV, note_en=OPEN_NOTE_EN)
    if format is OutputFormat.json:
        return table
    sv = lang is Language.sv
    header = [("Avdelning / enhet" if sv else "Department / unit"),
              *(column.label_sv if sv else column.label_en for column in OPEN_COLUMNS)]
    body: list[list[Cell]] = [
        [row.name if row.level != "total" else LEVEL_LABELS["total"][0 if sv else 1],
         *(_shown(value) for value in row.counts.values())] for row in rows]
    return _file(format, delimiter, header, body,
                 title=(f"Öppna ärenden och passerade tidsfrister, {root.name}" if sv
                        else f"Open cases and overdue deadlines, {root.name}"),
                 subtitle=moment.isoformat(),
                 note=_with_suppression(OPEN_NOTE_SV if sv else OPEN_NOTE_EN, threshold, sv),
                 filename=f"oppna-arenden-{root.code}-{day}",
                 bold_rows={i for i, row in enumerate(rows) if row.level in ("department", "total")},
                 indented_rows={i for i, row in enumerate(rows) if row.level == "unit"})
