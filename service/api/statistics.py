"""/api/v1/statistics: counts and shares for the kvalitetsberättelse, as JSON, CSV or XLSX. No free text, no names."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlmodel import Session

from service import statistics as core_statistics
from service.api.deps import ClockDep, CommittingRoute, PrincipalDep, ReadingSessionDep, SettingsDep
from service.api.exports import (
    FILE_RESPONSE,
    Cell,
    Delimiter,
    HeaderGroup,
    Sheet,
    Workbook,
    csv_response,
    xlsx_response,
)
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
    LEVEL_LABELS,
    MAX_TREND_YEARS,
    OPEN_COLUMNS,
    OPEN_NOTE_EN,
    OPEN_NOTE_SV,
    SUPPRESSED_MARK,
    TABLE_COLUMNS,
    TYPE_LABELS,
    Dimension,
    Period,
    suppression_note,
    suppression_threshold,
    trend_years,
)
from service.domain.time_range import FIRST_YEAR, LAST_YEAR

router = APIRouter(route_class=CommittingRoute, prefix="/statistics", tags=["statistics"])
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
    session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
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
    return _annual_file(table, format, delimiter, lang, clock())


def _annual_file(table: AnnualTable, format: OutputFormat, delimiter: Delimiter, lang: Language,  # noqa: A002
                 created: datetime) -> Response:
    sv = lang is Language.sv
    header = [*_org_label_header(sv), *(column.label_sv if sv else column.label_en for column in table.columns)]
    body: list[list[Cell]] = [[*_org_labels(row, sv), *(_shown(value) for value in row.counts.values())]
                              for row in table.rows]
    period = f"{table.period_from.isoformat()} – {table.period_to.isoformat()}"
    title = (f"Avvikelser per avdelning och enhet, {table.unit_name}" if sv
             else f"Deviations per department and unit, {table.unit_name}")
    return _file(format, delimiter, header, body,
                 book=Workbook(sheet="Årstabell" if sv else "Annual table", title=title, subject=period,
                               keywords=_keywords(sv, "årstabell" if sv else "annual table"), created=created),
                 subtitle=period,
                 filename=f"avvikelser-{table.unit_code}-{table.period_from.isoformat()}-{table.period_to.isoformat()}",
                 note=_with_suppression(table.note_sv if sv else table.note_en, table.suppressed_below, sv),
                 bold_rows={i for i, row in enumerate(table.rows) if row.level in ("department", "total")},
                 indented_rows={i for i, row in enumerate(table.rows) if row.level == "unit"},
                 label_columns=len(_org_label_header(sv)), more_sheets=[_shares_sheet(table.shares, sv)])


def _shares_sheet(shares: list[ShareOut], sv: bool) -> Sheet:
    """The shares the kvalitetsberättelse's text cites, on a sheet of their own (XLSX only: a CSV is one table)."""
    def figures(share: ShareOut) -> list[Cell]:
        if share.suppressed:
            return [SUPPRESSED_MARK] * 3
        return [share.numerator, share.denominator, share.percent]  # no percent of nothing: an empty cell

    return Sheet(name="Andelar" if sv else "Shares", title="Andelar" if sv else "Shares",
                 header=(["Andel", "Täljare", "Nämnare", "Procent"] if sv
                         else ["Share", "Numerator", "Denominator", "Percent"]),
                 rows=[[share.label_sv if sv else share.label_en, *figures(share)] for share in shares],
                 note=("Procent med en decimal, av totalraden i årstabellen. Tom: nämnaren är 0." if sv
                       else "Percent to one decimal, of the annual table's total row. Empty: the denominator is 0."))


def _org_label_header(sv: bool) -> list[str]:
    return ["Nivå", "Kod", "Avdelning / enhet"] if sv else ["Level", "Code", "Department / unit"]


def _org_labels(row: TableRow | TrendRowOut, sv: bool) -> list[Cell]:
    """Level, code and name of an org table's row: avdelning and enhet rows otherwise look alike in a CSV."""
    level = LEVEL_LABELS[row.level][0 if sv else 1]
    return [level, row.code or "", level if row.level == "total" else row.name]


def _keywords(sv: bool, what: str) -> list[str]:
    return (["avvikelser", "kvalitetsberättelse", "statistik", what] if sv
            else ["deviations", "quality report", "statistics", what])


def _file(format: OutputFormat, delimiter: Delimiter, header: list[str], body: list[list[Cell]], *,  # noqa: A002
          book: Workbook, subtitle: str, filename: str, note: str, bold_rows: set[int] | None = None,
          indented_rows: set[int] | None = None, label_columns: int = 1,
          header_groups: list[HeaderGroup] | None = None, more_sheets: list[Sheet] | None = None) -> Response:
    if format is OutputFormat.csv:
        return csv_response(header, body, delimiter=delimiter, filename=filename)
    return xlsx_response(book, subtitle, header, body, filename=filename, bold_rows=bold_rows or set(),
                         indented_rows=indented_rows or set(), note=note, label_columns=label_columns,
                         header_groups=header_groups or [], more_sheets=more_sheets or [])


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



# ---- the annual table over several years ---------------------------------------------------------------


class YearCellsOut(BaseModel):
    counts: dict[str, int | None] = Field(description="Column key → distinct reports; null when suppressed.")
    suppressed: list[str] = Field(default_factory=list,
                                  description="The column keys whose count is suppressed (null) in this row.")


class TrendRowOut(BaseModel):
    level: str = Field(description="department, unit or total")
    unit_id: int | None
    code: str | None
    name: str = Field(description="The name in the latest year the row stood.")
    department_id: int | None = Field(description="For an enhet: the avdelning it stood under.")
    years: dict[str, YearCellsOut | None] = Field(
        description="Year → the row's cells in that year's annual table; null when the row was not in that "
                    "year's table (the avdelning or enhet did not stand there that year).")


class AnnualTrend(BaseModel):
    from_year: int
    to_year: int
    years: list[int]
    unit_id: int
    unit_code: str
    unit_name: str
    columns: list[ColumnOut]
    rows: list[TrendRowOut]
    shares: dict[str, list[ShareOut]] = Field(description="Year → that year's shares, as in its annual table.")
    suppressed_below: int | None = Field(description=SUPPRESSED_BELOW_DOC)
    note_sv: str
    note_en: str


TREND_NOTE_SV = ("Varje år är årets egen årstabell: enheterna står under den avdelning de tillhörde det året, och "
                 "små tal döljs inom varje år för sig. Tom cell: avdelningen eller enheten fanns inte där det året.")
TREND_NOTE_EN = ("Each year is that year's own annual table: units stand under the department they belonged to that "
                 "year, and small counts are suppressed within each year on its own. Empty cell: the department or "
                 "unit did not stand there that year.")


@router.get(
    "/annual-table/trend",
    summary="The annual table for several years side by side (at most ten), each year as its own annual table",
    responses=FILE_RESPONSES,
    response_model=AnnualTrend,
)
def annual_table_trend(
    session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    unit_id: Annotated[RowId | None,
                       Query(description="The förvaltning or avdelning (default: your only one).")] = None,
    from_year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR, description=(
        f"First calendar year (default: four years before to_year); at most {MAX_TREND_YEARS} years."))] = None,
    to_year: Annotated[int | None, Query(ge=FIRST_YEAR, le=LAST_YEAR,
                                         description="Last calendar year (default: this year).")] = None,
    suppress_below: SuppressQuery = None, format: FormatQuery = OutputFormat.json,  # noqa: A002
    delimiter: DelimiterQuery = Delimiter.semicolon, lang: LanguageQuery = Language.sv,
) -> AnnualTrend | Response:
    threshold = suppression_threshold(suppress_below, settings.statistics_min_suppress_below)
    years = trend_years(from_year, to_year, local_date(clock(), settings.time_zone).year)
    found = core_statistics.annual_trend(session, principal, unit_id, years, threshold)
    root = found.root
    table = AnnualTrend(
        from_year=years[0], to_year=years[-1], years=years, unit_id=root.id or 0, unit_code=root.code,
        unit_name=root.name, columns=[ColumnOut(**vars(c)) for c in TABLE_COLUMNS],
        rows=[TrendRowOut(level=row.level, unit_id=row.unit_id, code=row.code, name=row.name,
                          department_id=row.department_id,
                          years={str(year): None if cells is None else YearCellsOut(**vars(cells))
                                 for year, cells in row.years.items()})
              for row in found.rows],
        shares={str(year): [ShareOut(**vars(share)) for share in figures] for year, figures in found.shares.items()},
        suppressed_below=threshold, note_sv=f"{TREND_NOTE_SV} {NOTE_SV}", note_en=f"{TREND_NOTE_EN} {NOTE_EN}")
    if format is OutputFormat.json:
        return table
    return _trend_file(table, format, delimiter, lang, clock())


def _trend_file(table: AnnualTrend, format: OutputFormat, delimiter: Delimiter, lang: Language,  # noqa: A002
                created: datetime) -> Response:
    """Years side by side: for each year the annual table's columns, headed by the year (CSV: "2024 Lex Sarah")."""
    sv = lang is Language.sv
    labels = _org_label_header(sv)
    columns = [column.label_sv if sv else column.label_en for column in table.columns]
    header = [*labels, *(f"{year} {label}" if format is OutputFormat.csv else label
                         for year in table.years for label in columns)]
    groups = [HeaderGroup(str(year), len(labels) + index * len(columns), len(labels) + (index + 1) * len(columns) - 1)
              for index, year in enumerate(table.years)]

    def year_cells(cells: YearCellsOut | None) -> list[Cell]:
        if cells is None:  # not in that year's table: empty, which is neither zero nor suppressed
            return [None] * len(table.columns)
        return [_shown(cells.counts[column.key]) for column in table.columns]

    body: list[list[Cell]] = [
        [*_org_labels(row, sv), *(value for year in table.years for value in year_cells(row.years[str(year)]))]
        for row in table.rows]
    span = f"{table.from_year}–{table.to_year}"
    title = (f"Avvikelser per avdelning och enhet {span}, {table.unit_name}" if sv
             else f"Deviations per department and unit {span}, {table.unit_name}")
    return _file(format, delimiter, header, body,
                 book=Workbook(sheet=f"Årstabeller {span}" if sv else f"Annual tables {span}", title=title,
                               subject=span, keywords=_keywords(sv, "trend"), created=created),
                 subtitle=span, filename=f"avvikelser-{table.unit_code}-{table.from_year}-{table.to_year}",
                 note=_with_suppression(table.note_sv if sv else table.note_en, table.suppressed_below, sv),
                 bold_rows={i for i, row in enumerate(table.rows) if row.level in ("department", "total")},
                 indented_rows={i for i, row in enumerate(table.rows) if row.level == "unit"},
                 label_columns=len(labels), header_groups=groups)

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


def build_crosstab(session: Session, principal: Principal, settings: Settings, unit_id: int | None, period: Period,
                   types: list[str], rows: Dimension, columns: Dimension | None,
                   threshold: int | None) -> CrossTab:
    table = core_statistics.crosstab(session, principal, settings, unit_id, period, types, rows, columns, threshold)
    root = table.root
    return CrossTab(
        period_from=period.start, period_to=period.end, unit_id=root.id or 0, unit_code=root.code,
        unit_name=root.name, types=types, rows_dimension=_dimension_out(rows),
        columns_dimension=_dimension_out(columns) if columns else None,
        columns=[MemberOut(**vars(member)) for member in table.columns],
        rows=[CrossTabRow(**vars(line.member), counts=line.counts, suppressed=line.suppressed, total=line.total,
                          total_suppressed=line.total_suppressed) for line in table.rows],
        column_totals=table.column_totals, column_totals_suppressed=table.column_totals_suppressed,
        total=table.total, total_suppressed=table.total_suppressed,
        suppressed_below=threshold, note_sv=CROSSTAB_NOTE_SV, note_en=CROSSTAB_NOTE_EN,
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
    session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
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
    title = (f"Rapporter per {by.lower()}, {table.unit_name}" if sv
             else f"Reports by {by.lower()}, {table.unit_name}")
    return _file(format, delimiter, header, body,
                 book=Workbook(sheet="Korstabell" if sv else "Cross-tabulation", title=title, subject=subtitle,
                               keywords=_keywords(sv, "korstabell" if sv else "cross-tabulation"), created=clock()),
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
    session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    unit_id: UnitQuery = None, year: YearQuery = None, from_: FromQuery = None, to: ToQuery = None,
    type: TypeQuery = None,  # noqa: A002
    suppress_below: SuppressQuery = None, format: FormatQuery = OutputFormat.json,  # noqa: A002
    delimiter: DelimiterQuery = Delimiter.semicolon, lang: LanguageQuery = Language.sv,
) -> LeadTimes | Response:
    threshold = suppression_threshold(suppress_below, settings.statistics_min_suppress_below)
    period = Period.of(year, from_, to, local_date(clock(), settings.time_zone))
    types = sorted({value.value for value in type or []}, key=_TYPE_ORDER.index)
    found = core_statistics.lead_time_table(session, principal, unit_id, period, types, threshold)
    root = found.root
    items = [LeadTimeOut(**vars(figure)) for figure in found.lead_times]
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
    subtitle = f"{period.start.isoformat()} – {period.end.isoformat()}"
    return _file(format, delimiter, header, body,
                 book=Workbook(sheet="Ledtider" if sv else "Lead times",
                               title=f"Ledtider, {root.name}" if sv else f"Lead times, {root.name}",
                               subject=subtitle, keywords=_keywords(sv, "ledtider" if sv else "lead times"),
                               created=clock()),
                 subtitle=subtitle,
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
    session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
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
    header = [*_org_label_header(sv), *(column.label_sv if sv else column.label_en for column in OPEN_COLUMNS)]
    body: list[list[Cell]] = [[*_org_labels(row, sv), *(_shown(value) for value in row.counts.values())]
                              for row in rows]
    title = (f"Öppna ärenden och passerade tidsfrister, {root.name}" if sv
             else f"Open cases and overdue deadlines, {root.name}")
    return _file(format, delimiter, header, body,
                 book=Workbook(sheet="Öppna ärenden" if sv else "Open cases", title=title, subject=moment.isoformat(),
                               keywords=_keywords(sv, "öppna ärenden" if sv else "open cases"), created=clock()),
                 subtitle=moment.isoformat(), label_columns=len(_org_label_header(sv)),
                 note=_with_suppression(OPEN_NOTE_SV if sv else OPEN_NOTE_EN, threshold, sv),
                 filename=f"oppna-arenden-{root.code}-{day}",
                 bold_rows={i for i, row in enumerate(rows) if row.level in ("department", "total")},
                 indented_rows={i for i, row in enumerate(rows) if row.level == "unit"})
