"""/api/v1/statistics: counts and shares for the kvalitetsberättelse, as JSON, CSV or XLSX. No free text, no names."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from service import statistics
from service.api.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep
from service.api.exports import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, Delimiter, csv_response, xlsx_response
from service.api.problems import problem_responses
from service.domain.org import OrgKind
from service.domain.reports import local_date
from service.domain.statistics import LEVEL_LABELS, TABLE_COLUMNS, Period, shares, suppress

router = APIRouter(prefix="/statistics", tags=["statistics"])


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


def build_annual_table(session, principal, unit_id: int | None, period: Period,  # type: ignore[no-untyped-def]
                       suppress_below: int | None) -> AnnualTable:
    root = statistics.statistics_root(session, principal, unit_id)
    counts = statistics.annual_counts(session, root, period)
    units = statistics.units_in_period(session, root, period)
    keys = [column.key for column in TABLE_COLUMNS]
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
    share_list = [ShareOut(key=s.key, label_sv=s.label_sv, label_en=s.label_en, numerator=s.numerator,
                           denominator=s.denominator, percent=s.percent)
                  for s in shares(statistics.share_counts(session, root, period))]
    return AnnualTable(
        period_from=period.start, period_to=period.end, unit_id=root.id or 0, unit_code=root.code,
        unit_name=root.name, columns=[ColumnOut(**vars(c)) for c in TABLE_COLUMNS], rows=rows,
        shares=share_list, suppressed_below=suppress_below, note_sv=NOTE_SV, note_en=NOTE_EN,
    )


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
    unit_id: Annotated[int | None, Query(description="The förvaltning or avdelning (default: your only one).")] = None,
    year: Annotated[int | None, Query(description="Calendar year (default: this year).")] = None,
    from_: Annotated[date | None, Query(alias="from", description="Instead of year: first day.")] = None,
    to: Annotated[date | None, Query(description="Instead of year: last day (inclusive).")] = None,
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
