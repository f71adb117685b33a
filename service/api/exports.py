"""CSV and XLSX for people who open figures in Excel: UTF-8 with BOM, ';' for Swedish Excel, no formulas."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from fastapi.responses import Response

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The 200 response of an endpoint that answers JSON, or CSV/XLSX with format=csv|xlsx. FastAPI fills in the
# JSON schema from the response model; the files are documented as text and as bytes.
FILE_RESPONSE: dict[str, Any] = {
    "description": "JSON, or CSV/XLSX with format=csv|xlsx",
    "content": {
        "application/json": {},
        "text/csv": {"schema": {"type": "string", "description": "UTF-8 with BOM, ';' or ',' between fields."}},
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


def csv_response(header: Sequence[str], rows: Sequence[Sequence[Cell]], *, delimiter: Delimiter,
                 filename: str) -> Response:
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel on Windows needs the BOM to read UTF-8 (å, ä, ö)
    writer = csv.writer(buffer, delimiter=";" if delimiter is Delimiter.semicolon else ",", lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow(["" if cell is None else safe_cell(cell) for cell in row])
    return Response(buffer.getvalue().encode("utf-8"), media_type=CSV_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def xlsx_response(title: str, subtitle: str, header: Sequence[str], rows: Sequence[Sequence[Cell]], *,
                  bold_rows: set[int], indented_rows: set[int], filename: str, note: str | None = None) -> Response:
    """A sheet laid out like the table in a kvalitetsberättelse: title, period, header, rows, total in bold."""
    import xlsxwriter  # imported here: only XLSX requests need it

    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                            "strings_to_urls": False})
    sheet = workbook.add_worksheet(title[:31].translate(str.maketrans("[]:*?/\\", "       ")))
    title_format = workbook.add_format({"bold": True, "font_size": 14})
    header_format = workbook.add_format({"bold": True, "bottom": 1, "text_wrap": True, "valign": "bottom"})
    bold = workbook.add_format({"bold": True})
    indented = workbook.add_format({"indent": 1})
    sheet.write_string(0, 0, title, title_format)
    sheet.write_string(1, 0, subtitle)
    for column, text in enumerate(header):
        sheet.write_string(3, column, text, header_format)
    for index, row in enumerate(rows):
        row_format = bold if index in bold_rows else None
        for column, value in enumerate(row):
            cell_format = indented if column == 0 and index in indented_rows else row_format
            if isinstance(value, (int, float)):
                sheet.write_number(4 + index, column, value, cell_format)
            elif value is None:
                sheet.write_blank(4 + index, column, None, cell_format)
            else:
                sheet.write_string(4 + index, column, str(safe_cell(value)), cell_format)
    if note:
        sheet.write_string(5 + len(rows), 0, note)
    sheet.set_column(0, 0, 38)
    sheet.set_column(1, len(header) - 1, 14)
    sheet.freeze_panes(4, 1)
    workbook.close()
    return Response(buffer.getvalue(), media_type=XLSX_MEDIA_TYPE,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'})
