"""The annual table over several years, and the files a nämnd secretary opens in Swedish Excel and prints.

The years are made with the test clock: reports received in 2024, 2025 and 2026, with a reorganisation and a new
enhet in between, so that each year has its own organisation.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, datetime

import pytest

from service.api.exports import AUTHOR
from service.domain.access import Role
from tests.bodies import EXAMPLE_ORG, report_body as report

pytestmark = pytest.mark.exact_figures  # small counts read exactly: suppression off (conftest.py)

ANNUAL = "/api/v1/statistics/annual-table"
TREND = "/api/v1/statistics/annual-table/trend"
LEAD_TIMES = "/api/v1/statistics/lead-times"
OPEN = "/api/v1/statistics/open-and-overdue"
CROSSTAB = "/api/v1/statistics/crosstab"
YEARS = [2024, 2025, 2026]

LEX_SARAH = {"type": "lex_sarah", "lex_sarah_severity": "impropriety"}
OTHER = {"type": "other_deviation"}
NOT_A_DEVIATION = {"type": "not_a_deviation"}



@pytest.fixture
def years(client, admin, users, clock):
    """2024: A1 2 lex Sarah, A2 (under A) 1 other, B1 1 not a deviation.
    A2 moves to B from 2025-01-01; A3 is created under A on 2025-03-10.
    2025: A1 4 lex Sarah, A2 (under B) 3 other, A3 1 other.
    2026: B1 1 other."""
    clock.now = datetime(2024, 3, 10, 9, 0, tzinfo=UTC)
    assert client.post("/api/v1/org-units/import", json={"units": EXAMPLE_ORG}, headers=admin).status_code == 200
    reporter = users.headers(Role.reporter, "F", subject="rita")
    investigator = users.headers(Role.investigator, "F", subject="ivan")

    def receive(unit: str, types: list[dict], times: int) -> None:
        day = clock.now.date().isoformat()
        for _ in range(times):
            created = client.post("/api/v1/reports", headers=reporter, json=report(
                units=[unit], occurred_at=f"{day}T07:00:00Z", noticed_at=f"{day}T07:40:00Z"))
            assert created.status_code == 201, created.text
            assessed = client.post(f"/api/v1/reports/{created.json()['id']}/assessments", headers=investigator,
                                   json={"types": types, "justification": "Exempel"})
            assert assessed.status_code == 201, assessed.text

    receive("A1", [LEX_SARAH], 2)
    receive("A2", [OTHER], 1)
    receive("B1", [NOT_A_DEVIATION], 1)
    ids = {u["code"]: u["id"] for u in client.get("/api/v1/org-units", headers=admin).json()}
    moved = client.post(f"/api/v1/org-units/{ids['A2']}/move", headers=admin,
                        json={"parent_id": ids["B"], "effective_date": "2025-01-01"})
    assert moved.status_code == 200, moved.text
    clock.now = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
    created = client.post("/api/v1/org-units", headers=admin,
                          json={"code": "A3", "name": "Enhet A3", "kind": "unit", "parent_id": ids["A"]})
    assert created.status_code == 201, created.text
    receive("A1", [LEX_SARAH], 4)
    receive("A2", [OTHER], 3)
    receive("A3", [OTHER], 1)
    clock.now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    receive("B1", [OTHER], 1)
    return users.headers(Role.statistics, "F", subject="stina")


def _get(client, headers, url, **params):
    response = client.get(url, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


def _key(row: dict) -> tuple:
    return row["level"], row["unit_id"], row["department_id"]


# ---- the trend ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suppress_below", [None, 3])
def test_each_year_of_the_trend_is_that_years_annual_table(client, years, suppress_below):
    params = {"suppress_below": suppress_below} if suppress_below else {}
    trend = _get(client, years, TREND, from_year=2024, to_year=2026, **params).json()
    assert trend["years"] == YEARS and trend["suppressed_below"] == suppress_below
    for year in YEARS:
        single = _get(client, years, ANNUAL, year=year, **params).json()
        in_year = [row for row in trend["rows"] if row["years"][str(year)] is not None]
        assert [_key(row) for row in in_year] == [_key(row) for row in single["rows"]], year
        for row, expected in zip(in_year, single["rows"], strict=True):
            assert row["years"][str(year)] == {"counts": expected["counts"], "suppressed": expected["suppressed"]}
        assert trend["shares"][str(year)] == single["shares"]


def test_rows_follow_each_years_organisation(client, years):
    trend = _get(client, years, TREND, from_year=2024, to_year=2026).json()
    rows = [(row["code"] or "Totalt", row["department_id"]) for row in trend["rows"]]
    ids = {row["code"]: row["unit_id"] for row in trend["rows"] if row["level"] == "department"}
    # A2 stood under A in 2024 and under B from 2025: a row under each, as the single-year tables have them.
    assert rows == [("A", None), ("A1", ids["A"]), ("A2", ids["A"]), ("A3", ids["A"]),
                    ("B", None), ("A2", ids["B"]), ("B1", ids["B"]), ("Totalt", None)]

    def totals(code: str, department: str | None) -> list:
        row = next(r for r in trend["rows"] if (r["code"] or "Totalt") == code
                   and r["department_id"] == (ids[department] if department else None))
        return [None if row["years"][str(y)] is None else row["years"][str(y)]["counts"]["total"] for y in YEARS]

    assert totals("A2", "A") == [1, None, None]  # not under A after 2024: absent, not zero
    assert totals("A2", "B") == [None, 3, 0]
    assert totals("A3", "A") == [None, 1, 0]  # created in 2025
    assert totals("A", None) == [3, 5, 0]
    assert totals("B", None) == [1, 3, 1]
    assert totals("Totalt", None) == [4, 8, 1]


def test_small_counts_are_suppressed_within_each_year(client, years):
    trend = _get(client, years, TREND, from_year=2024, to_year=2025, suppress_below=3).json()
    a1 = next(row for row in trend["rows"] if row["code"] == "A1")
    assert a1["years"]["2024"]["counts"]["lex_sarah"] is None and "lex_sarah" in a1["years"]["2024"]["suppressed"]
    assert a1["years"]["2025"]["counts"]["lex_sarah"] == 4  # the same cell in another year is its own


def test_the_years_asked_for_are_bounded(client, years):
    assert _get(client, years, TREND).json()["years"] == [2022, 2023, 2024, 2025, 2026]  # five up to this year
    assert _get(client, years, TREND, from_year=2025, to_year=2025).json()["years"] == [2025]
    for params, name in [({"from_year": 2015, "to_year": 2026}, "from_year"),
                         ({"from_year": 2026, "to_year": 2025}, "to_year"),
                         ({"to_year": 1800}, "to_year")]:
        response = client.get(TREND, params=params, headers=years)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        assert name in [error["name"] for error in response.json()["errors"]]


def test_the_trend_needs_the_statistics_grant_for_that_subtree(client, years, users, admin):
    ids = {u["code"]: u["id"] for u in client.get("/api/v1/org-units", headers=admin).json()}
    only_b = users.headers(Role.statistics, "B", subject="berit")
    assert client.get(TREND, params={"unit_id": ids["A"]}, headers=only_b).status_code == 403
    codes = [row["code"] for row in _get(client, only_b, TREND, from_year=2024, to_year=2026).json()["rows"]]
    assert codes == ["B", "A2", "B1", None]


def test_the_trend_as_csv_for_swedish_excel(client, years):
    text = _get(client, years, TREND, from_year=2024, to_year=2026, format="csv").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = lines[0]
    assert header[:3] == ["Nivå", "Kod", "Avdelning / enhet"]
    assert header[3] == "2024 Ej avvikelse i nämndens verksamhet" and header[-1] == "2026 Totalt"
    width = (len(header) - 3) // 3
    by_year = {(line[1], line[0]): line for line in lines[1:]}
    a2_under_b = [line for line in lines[1:] if line[1] == "A2"][1]
    assert a2_under_b[0] == "Enhet"
    assert a2_under_b[3:3 + width] == [""] * width  # 2024: A2 was not under B: empty, not 0
    assert a2_under_b[3 + 2 * width - 1] == "3"  # 2025 Totalt
    assert by_year[("A", "Avdelning")][2] == "Avdelning A"
    assert lines[-1][:3] == ["Totalt", "", "Totalt"]
    xlsx = _get(client, years, TREND, from_year=2024, to_year=2026, format="xlsx").content
    book = _xlsx(xlsx)
    assert book.sheet_names == ["Årstabeller 2024–2026"]
    assert book.print_titles == "$4:$5"  # the years' row and the columns' row repeat on every page
    # Each year heads its seven columns (D..J, K..Q, R..X) in one merged cell.
    assert {"D4:J4", "K4:Q4", "R4:X4"} <= set(book.merged)


# ---- what a CSV reader in Sweden sees --------------------------------------------------------------------


def _swedish_number(cell: str) -> float:
    """What Swedish Excel makes of a cell: a decimal comma, or (for "1.33") a date or text, not the number."""
    assert re.fullmatch(r"-?\d+(,\d+)?", cell), f"{cell!r} is not a number to Swedish Excel"
    return float(cell.replace(",", "."))


def test_decimals_beside_semicolons_have_a_comma_and_beside_commas_a_point(client, years):
    figures = {item["key"]: item for item in _get(client, years, LEAD_TIMES, year=2025).json()["lead_times"]}
    assert figures["noticed_to_reported"]["median_hours"] == 1.33  # 1 h 20 min
    semicolon = _get(client, years, LEAD_TIMES, year=2025, format="csv").content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(semicolon), delimiter=";"))
    noticed = lines[1]
    assert noticed[1:] == ["8", "1,33", "1,33"]
    assert [_swedish_number(cell) for cell in noticed[1:]] == [8, 1.33, 1.33]
    comma = _get(client, years, LEAD_TIMES, year=2025, format="csv", delimiter="comma").content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(comma)))[1][1:] == ["8", "1.33", "1.33"]


def test_org_tables_carry_level_and_code(client, years):
    in_2025 = [("Avdelning", "A"), ("Enhet", "A1"), ("Enhet", "A3"), ("Avdelning", "B"), ("Enhet", "A2"),
               ("Enhet", "B1"), ("Totalt", "")]
    # Open now: today's organisation, and A2 under A too, where its still-open 2024 case was placed.
    open_now = [*in_2025[:2], ("Enhet", "A2"), *in_2025[2:]]
    for url, params, expected in [(ANNUAL, {"year": 2025}, in_2025), (OPEN, {}, open_now)]:
        text = _get(client, years, url, format="csv", **params).content.decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text), delimiter=";"))
        assert lines[0][:3] == ["Nivå", "Kod", "Avdelning / enhet"]
        assert [(line[0], line[1]) for line in lines[1:]] == expected
        english = _get(client, years, url, format="csv", delimiter="comma", lang="en", **params)
        first = list(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
        assert first[0][:3] == ["Level", "Code", "Department / unit"] and first[1][:2] == ["Department", "A"]


# ---- XLSX: sheet names, the note, printing, properties ---------------------------------------------------


class _Book:
    def __init__(self, content: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            self.workbook = archive.read("xl/workbook.xml").decode()
            self.sheet = archive.read("xl/worksheets/sheet1.xml").decode()
            self.sheets = [archive.read(name).decode() for name in sorted(archive.namelist())
                           if name.startswith("xl/worksheets/sheet")]
            self.core = archive.read("docProps/core.xml").decode()
            self.strings = archive.read("xl/sharedStrings.xml").decode()
        self.sheet_names = re.findall(r'<sheet name="([^"]*)"', self.workbook)
        titles = re.search(r'<definedName name="_xlnm.Print_Titles"[^>]*>([^<]*)<', self.workbook)
        self.print_titles = titles.group(1).split("!")[-1] if titles else None
        self.merged = re.findall(r'<mergeCell ref="([^"]*)"', self.sheet)

    def core_property(self, tag: str) -> str:
        found = re.search(rf"<{tag}[^>]*>([^<]*)</{tag}>", self.core)
        return found.group(1) if found else ""


def _xlsx(content: bytes) -> _Book:
    assert content[:2] == b"PK"
    return _Book(content)


def test_xlsx_prints_one_page_wide_with_header_rows_and_says_what_it_is(client, years):
    book = _xlsx(_get(client, years, ANNUAL, year=2025, format="xlsx").content)
    assert book.sheet_names == ["Årstabell", "Andelar"]
    assert 'orientation="landscape"' in book.sheet and 'fitToHeight="0"' in book.sheet
    assert '<pageSetUpPr fitToPage="1"/>' in book.sheet and 'paperSize="9"' in book.sheet
    assert book.print_titles == "$4:$4"
    # The note under the table: one merged cell over all ten columns (level, code, name, seven counts), wrapped.
    rows = 7  # A, A1, A3, B, A2, B1, Totalt
    note_row = 4 + rows + 2
    assert f"A{note_row}:J{note_row}" in book.merged
    assert "Varje rad räknar unika rapporter" in book.strings
    assert book.core_property("dc:title") == "Avvikelser per avdelning och enhet, Förvaltningen"
    assert book.core_property("dc:subject") == "2025-01-01 – 2025-12-31"
    assert book.core_property("dc:creator") == AUTHOR
    assert "kvalitetsberättelse" in book.core_property("cp:keywords")
    assert book.core_property("dcterms:created") == "2026-03-10T09:00:00Z"  # the service's clock
    # The shares on their own sheet, printed alike: 4 lex Sarah of 8 deviations in 2025.
    shares = book.sheets[1]
    assert "Andel lex Sarah av avvikelserna" in book.strings
    assert re.search(r'<c r="B5"[^>]*><v>4</v></c><c r="C5"[^>]*><v>8</v></c><c r="D5"[^>]*><v>50</v></c>', shares)
    assert 'orientation="landscape"' in shares
    english = _xlsx(_get(client, years, ANNUAL, year=2025, format="xlsx", lang="en").content)
    assert english.sheet_names == ["Annual table", "Shares"]


@pytest.mark.parametrize(("url", "params", "sv", "en"), [
    (CROSSTAB, {"year": 2025, "rows": "complaint_submitter", "columns": "lex_sarah_severity"}, "Korstabell",
     "Cross-tabulation"),
    (LEAD_TIMES, {"year": 2025}, "Ledtider", "Lead times"),
    (OPEN, {}, "Öppna ärenden", "Open cases"),
])
def test_every_sheet_has_a_whole_name(client, years, url, params, sv, en):
    # The cross-tab's title ("Rapporter per vem som lämnat synpunkten × lex sarah: bedömning, ...") is far
    # longer than Excel's 31 characters; the sheet name is not cut from it.
    for lang, name in (("sv", sv), ("en", en)):
        book = _xlsx(_get(client, years, url, format="xlsx", lang=lang, **params).content)
        assert book.sheet_names == [name]
        assert 'orientation="landscape"' in book.sheet and book.print_titles == "$4:$4"


def test_the_trend_of_one_enhet_has_a_row_per_avdelning_it_stood_under(client, years, admin):
    ids = {u["code"]: u["id"] for u in client.get("/api/v1/org-units", headers=admin).json()}
    trend = _get(client, years, TREND, unit_id=ids["A2"], from_year=2024, to_year=2026).json()
    for year in YEARS:
        single = _get(client, years, ANNUAL, unit_id=ids["A2"], year=year).json()
        in_year = [row for row in trend["rows"] if row["years"][str(year)] is not None]
        assert [_key(row) for row in in_year] == [_key(row) for row in single["rows"]], year
    assert [(row["code"], row["department_id"]) for row in trend["rows"]] == [
        ("A2", ids["A"]), ("A2", ids["B"]), (None, None)]
    english = _xlsx(_get(client, years, TREND, from_year=2024, to_year=2026, format="xlsx", lang="en").content)
    assert english.sheet_names == ["Annual tables 2024–2026"]
