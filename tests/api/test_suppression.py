"""Small-count suppression as an outsider would attack it: with the service's default settings (minimum 5)."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from service.domain.access import Role
from tests.bodies import EXAMPLE_ORG, report_body as report

ANNUAL = "/api/v1/statistics/annual-table"
CROSSTAB = "/api/v1/statistics/crosstab"
LEAD_TIMES = "/api/v1/statistics/lead-times"
OPEN = "/api/v1/statistics/open-and-overdue"
KEYS = ["not_a_deviation", "lex_sarah", "personal_data_incident", "complaint", "other_deviation", "unassessed",
        "total"]

ORG = EXAMPLE_ORG
LEX_SARAH = {"type": "lex_sarah", "lex_sarah_severity": "impropriety"}
OTHER = {"type": "other_deviation"}
COMPLAINT = {"type": "complaint", "complaint_kind": "complaint", "complaint_submitter": "relative"}


@pytest.fixture
def reports(client, admin, users):
    """A1: 5 lex Sarah. A2: 2 lex Sarah and 6 other. B1 (B's only enhet): 7 other and 2 complaints.

    Without complementary suppression A2's 2 would be A's 7 minus A1's 5, or A2's Totalt 8 minus its 6 others,
    and B1's 2 complaints B's. Each report concerns one enhet and has one type: every total is a plain sum."""
    assert client.post("/api/v1/org-units/import", json={"units": ORG}, headers=admin).status_code == 200
    reporter = users.headers(Role.reporter, "F", subject="rita")
    investigator = users.headers(Role.investigator, "F", subject="ivan")
    for unit, types, times in [("A1", [LEX_SARAH], 5), ("A2", [LEX_SARAH], 2), ("A2", [OTHER], 6),
                               ("B1", [OTHER], 7), ("B1", [COMPLAINT], 2)]:
        for _ in range(times):
            created = client.post("/api/v1/reports", json=report(units=[unit]), headers=reporter).json()
            assessed = client.post(f"/api/v1/reports/{created['id']}/assessments", headers=investigator,
                                   json={"types": types, "justification": "Exempel"})
            assert assessed.status_code == 201, assessed.text
    return users.headers(Role.statistics, "F", subject="stina")


def _get(client, headers, url, **params):
    response = client.get(url, params={"year": 2026, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response


def _org_groups(rows: list[dict], keys: list[str]) -> list[list]:
    """The related figures of an org table as its JSON shows them: each row, and in each column each avdelning
    with its enheter and the total with the avdelningar."""
    groups = [[row["counts"][key] for key in keys] for row in rows]
    departments = [row for row in rows if row["level"] == "department"]
    total = next(row for row in rows if row["level"] == "total")
    for key in keys:
        groups.append([total["counts"][key]] + [row["counts"][key] for row in departments])
        for department in departments:
            groups.append([department["counts"][key]] + [row["counts"][key] for row in rows if row["level"] == "unit"
                                                           and row["department_id"] == department["unit_id"]])
    return groups


def test_the_annual_table_is_suppressed_by_default_and_no_hidden_cell_can_be_worked_out(client, reports):
    table = _get(client, reports, ANNUAL).json()
    assert table["suppressed_below"] == 5
    rows = {row["code"] or "Totalt": row for row in table["rows"]}
    assert rows["A2"]["counts"]["lex_sarah"] is None and "lex_sarah" in rows["A2"]["suppressed"]
    assert rows["B1"]["counts"]["complaint"] is None and rows["B"]["counts"]["complaint"] is None
    for group in _org_groups(table["rows"], KEYS):
        assert group.count(None) != 1, group  # otherwise the total minus the others gives it away
    for row in table["rows"]:  # null and the flag say the same
        assert sorted(row["suppressed"]) == sorted(key for key, value in row["counts"].items() if value is None)
    # parent minus the other children: A's lex Sarah minus A1's would be A2's 2
    a, a1 = rows["A"]["counts"]["lex_sarah"], rows["A1"]["counts"]["lex_sarah"]
    assert a is None or a1 is None
    # a row's Totalt minus its other cells
    a2 = rows["A2"]["counts"]
    assert a2["total"] is None or a2["other_deviation"] is None


def test_shares_are_suppressed_with_their_numerator_or_denominator(client, reports):
    table = _get(client, reports, ANNUAL).json()
    total = next(row for row in table["rows"] if row["level"] == "total")["counts"]
    shares = {share["key"]: share for share in table["shares"]}
    for share in shares.values():
        if share["suppressed"]:
            assert (share["numerator"], share["denominator"], share["percent"]) == (None, None, None)
        else:
            assert share["numerator"] not in range(1, 5) and share["denominator"] not in range(1, 5)
    # the complaints' 2: small, so their share of the deviations is hidden whole
    assert shares["complaint_of_deviations"]["suppressed"] is True
    # a share never shows a figure the table hides
    for key in ("lex_sarah", "complaint", "other_deviation"):
        if total[key] is None:
            assert shares[f"{key}_of_deviations"]["suppressed"] is True
    assert shares["serious_of_lex_sarah"]["numerator"] in (0, None)


@pytest.mark.parametrize("url, extra", [(ANNUAL, {}), (CROSSTAB, {"rows": "unit"}), (LEAD_TIMES, {}),
                                        (OPEN, {"year": None})])
def test_callers_cannot_lower_the_minimum(client, reports, url, extra):
    params = {"year": 2026, "suppress_below": 3, **extra}
    response = client.get(url, params={k: v for k, v in params.items() if v is not None}, headers=reports)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["location"], error["name"], error["pointer"]) == ("query", "suppress_below", None)
    assert "3" not in error["detail"]
    raised = client.get(url, params={k: v for k, v in {**params, "suppress_below": 8}.items() if v is not None},
                        headers=reports)
    assert raised.status_code == 200 and raised.json()["suppressed_below"] == 8


def test_files_are_always_suppressed_and_mark_every_hidden_cell_alike(client, reports):
    text = _get(client, reports, ANNUAL, format="csv").content.decode("utf-8-sig")
    lines = {line[2]: line[3:] for line in csv.reader(io.StringIO(text), delimiter=";")}
    assert lines["Enhet A2"][1] == ".."  # lex Sarah: 2
    assert all(cell in ("..", "0") or int(cell) >= 5 for line in list(lines.values())[1:] for cell in line)
    xlsx = _get(client, reports, ANNUAL, format="xlsx").content
    with zipfile.ZipFile(io.BytesIO(xlsx)) as sheet:
        strings = sheet.read("xl/sharedStrings.xml").decode()
    assert "<t>..</t>" in strings and "dolt" in strings


def test_the_crosstab_hides_the_second_cell_of_a_row_and_column(client, reports):
    body = _get(client, reports, CROSSTAB, rows="unit", columns="type").json()
    assert body["suppressed_below"] == 5
    keys = [column["key"] for column in body["columns"]]
    rows = body["rows"]
    for row in rows:
        assert ([row["counts"][key] for key in keys] + [row["total"]]).count(None) != 1, row
        assert sorted(row["suppressed"]) == sorted(key for key in keys if row["counts"][key] is None)
        assert row["total_suppressed"] is (row["total"] is None)
    for key in keys:
        assert ([row["counts"][key] for row in rows] + [body["column_totals"][key]]).count(None) != 1, key
    assert ([row["total"] for row in rows] + [body["total"]]).count(None) != 1
    assert ([body["column_totals"][key] for key in keys] + [body["total"]]).count(None) != 1
    only_rows = _get(client, reports, CROSSTAB, rows="type").json()  # one dimension: the rows and their total
    assert ([row["total"] for row in only_rows["rows"]] + [only_rows["total"]]).count(None) != 1
    text = _get(client, reports, CROSSTAB, rows="unit", columns="type", format="csv").content.decode("utf-8-sig")
    assert ".." in text and "<" not in text


def test_lead_times_and_open_cases_are_suppressed_by_default(client, reports):
    lead = {item["key"]: item for item in _get(client, reports, LEAD_TIMES).json()["lead_times"]}
    assert lead["noticed_to_reported"]["n"] == 22 and lead["noticed_to_reported"]["suppressed"] is False
    assert lead["assessed_to_notified_ivo"]["n"] == 0  # zero is shown
    opened = client.get(OPEN, headers=reports).json()
    assert opened["suppressed_below"] == 5
    for group in _org_groups(opened["rows"], [column["key"] for column in opened["columns"]]):
        assert group.count(None) != 1, group
