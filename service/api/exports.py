"""CSV and XLSX for people who open figures in Excel: UTF-8 with BOM, ';' for Swedish Excel, no formulas.

A nämnd secretary opens these in Swedish Excel and prints them for the kvalitetsberättelse, so:
- CSV with ';' (Swedish Excel's list separator) writes decimals with a comma (12,5), which Swedish Excel reads
  as a number; CSV with ',' keeps the point (12.5), for English locales and programs. Whole numbers are the same.
- XLSX has a sheet name chosen to fit (never cut mid-word), the note in one merged, wrapped cell, landscape
  pages one page wide with the header rows repeated on every page, and document properties.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fastapi.responses import Response

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
AUTHOR = "Avvikelser (avvikelsetjänsten)"
SHEET_NAME_LIMIT = 31  # Excel refuses longer sheet names
_SHEET_NAME_FORBIDDEN = str.maketrans("[]:*?/\\", "       ")

# The 200 response of an endpoint that answers JSON, or CSV/XLSX with format=csv|xlsx. FastAPI fills in the
# JSON schema from the response model; the files are documented as text and as bytes.
FILE_RESPONSE: dict[str, Any] = {
    "description": "JSON, or CSV/XLSX with format=csv|xlsx",
    "content": {
        "application/json": {},
        "text/csv": {"schema": {"type": "string", "description": "UTF-8 with BOM; ';' between fields with decimal "
                                                                 "comma, or ',' with decimal point."}},
        XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
    },
}

Cell = str | int | float | None


class Delimiter(StrEnum):
    comma = "comma"
    semicolon = "semicolon"


def safe_cell(value: Cell) -> Cell:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_number(value: float, decimal_comma: bool) -> str:
    """A number as the CSV's reader expects it: 12,5 beside ';' (Swedish Excel), 12.5 beside ','.

    Written out in full (never 1e-05), with the digits the value has (2.25 stays 2.25, 3.0 is 3.0).
    """
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text.replace(".", ",") if decimal_comma else text


def csv_response(header: Sequence[str], rows: Sequence[Sequence[Cell]], *, delimiter: Delimiter,
                 filename: str) -> Response:
    semicolon = delimiter is Delimiter.semicolon
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel on Windows needs the BOM to read UTF-8 (å, ä, ö)
    writer = csv.writer(buffer, delimiter=";" if semicolon else ",", lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow(["" if cell is None
                         else csv_number(cell, semicolon)
                         if isinstance(cell, (int, float)) and not isinstance(cell, bool)
                         else safe_cell(cell) for cell in row])
    return Response(buffer.getvalue().encode("utf-8"), media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def sheet_name(text: str) -> str:
    """A name Excel accepts: without []:*?/\\ and at most 31 characters, shortened at a word boundary."""
    words = text.translate(_SHEET_NAME_FORBIDDEN).split()
    name = ""
    for word in words:
        candidate = f"{name} {word}" if name else word
        if len(candidate) > SHEET_NAME_LIMIT:
            break
        name = candidate
    return (name or (words[0][:SHEET_NAME_LIMIT] if words else "Tabell")).strip("'")


@dataclass(frozen=True)
class Workbook:
    """What a workbook says about itself (File → Info in Excel) and what its sheet is called."""

    sheet: str  # the sheet's name, short: sheet_name() makes it fit
    title: str  # the heading in A1 and the document's title
    subject: str  # e.g. the period
    keywords: Sequence[str]
    created: datetime  # aware; Excel shows it as UTC


@dataclass(frozen=True)
class HeaderGroup:
    """A heading over several columns, in a header row above the column labels (e.g. a year)."""

    label: str
    first_column: int
    last_column: int


@dataclass(frozen=True)
class Sheet:
    """A further sheet of a workbook, beside the table (e.g. the annual table's shares)."""

    name: str
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    note: str | None = None


def xlsx_response(book: Workbook, subtitle: str, header: Sequence[str], rows: Sequence[Sequence[Cell]], *,
                  bold_rows: set[int], indented_rows: set[int], filename: str, note: str | None = None,
                  label_columns: int = 1, header_groups: Sequence[HeaderGroup] = (),
                  more_sheets: Sequence[Sheet] = ()) -> Response:
    """A sheet laid out like the table in a kvalitetsberättelse: title, period, header, rows, total in bold.

    The first `label_columns` columns are labels (level, code, name); the last of them is the name, indented
    for enheter, and stays in view when scrolling right. `more_sheets` follow it, laid out and printed alike.
    """
    import xlsxwriter  # imported here: only XLSX requests need it

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False})
    workbook.set_properties({"title": book.title, "subject": book.subject, "author": AUTHOR,
                             "keywords": ", ".join(book.keywords), "comments": note or "",
                             "created": book.created.astimezone(UTC).replace(tzinfo=None)})
    formats = {
        "title": workbook.add_format({"bold": True, "font_size": 14}),
        "header": workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "bottom"}),
        "group": workbook.add_format({"bold": True, "align": "center", "bottom": 1}),
        "note": workbook.add_format({"text_wrap": True, "valign": "top"}),
        "bold": workbook.add_format({"bold": True}),
        "indented": workbook.add_format({"indent": 1}),
    }
    _write_sheet(workbook.add_worksheet(sheet_name(book.sheet)), formats, book.title, subtitle, header, rows,
                 bold_rows=bold_rows, indented_rows=indented_rows, note=note, label_columns=label_columns,
                 header_groups=header_groups)
    for extra in more_sheets:
        _write_sheet(workbook.add_worksheet(sheet_name(extra.name)), formats, extra.title, subtitle, extra.header,
                     extra.rows, bold_rows=set(), indented_rows=set(), note=extra.note, label_columns=1,
                     header_groups=())
    workbook.close()
    return Response(buffer.getvalue(), media_type=XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})


def _write_sheet(sheet: Any, formats: dict[str, Any], title: str, subtitle: str, header: Sequence[str],
                 rows: Sequence[Sequence[Cell]], *, bold_rows: set[int], indented_rows: set[int], note: str | None,
                 label_columns: int, header_groups: Sequence[HeaderGroup]) -> None:
    name_column = label_columns - 1
    last_column = len(header) - 1
    sheet.write_string(0, 0, title, formats["title"])
    sheet.write_string(1, 0, subtitle)
    first_header_row = 3
    if header_groups:
        for group in header_groups:
            if group.first_column == group.last_column:
                sheet.write_string(first_header_row, group.first_column, group.label, formats["group"])
            else:
                sheet.merge_range(first_header_row, group.first_column, first_header_row, group.last_column,
                                  group.label, formats["group"])
        header_row = first_header_row + 1
    else:
        header_row = first_header_row
    for column, text in enumerate(header):
        sheet.write_string(header_row, column, text, formats["header"])
    first_body_row = header_row + 1
    for index, row in enumerate(rows):
        row_format = formats["bold"] if index in bold_rows else None
        for column, value in enumerate(row):
            cell_format = formats["indented"] if column == name_column and index in indented_rows else row_format
            if isinstance(value, (int, float)):
                sheet.write_number(first_body_row + index, column, value, cell_format)
            elif value is None:
                sheet.write_blank(first_body_row + index, column, None, cell_format)
            else:
                sheet.write_string(first_body_row + index, column, str(safe_cell(value)), cell_format)
    label_widths = [12] * name_column + [38]
    for column, width in enumerate(label_widths):
        sheet.set_column(column, column, width)
    data_width = 14
    if last_column >= label_columns:
        sheet.set_column(label_columns, last_column, data_width)
    if note:
        # A merged cell does not grow with its text in Excel: give the row the height the wrapped note needs.
        note_row = first_body_row + len(rows) + 1
        merged_width = sum(label_widths) + data_width * max(0, last_column - name_column)
        lines = sum(max(1, math.ceil(len(part) / max(1, merged_width - 2))) for part in note.split("\n"))
        sheet.set_row(note_row, 15 * lines + 3)
        if last_column > 0:
            sheet.merge_range(note_row, 0, note_row, last_column, note, formats["note"])
        else:
            sheet.write_string(note_row, 0, note, formats["note"])
    sheet.freeze_panes(first_body_row, label_columns)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)  # one page wide, as many pages tall as needed
    sheet.repeat_rows(first_header_row, header_row)
    sheet.set_footer("&L&F&R&P / &N")
