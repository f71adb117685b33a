"""The annual table and its shares, counted as docs/domain.md says: distinct reports within each row's scope."""

from __future__ import annotations

import csv
import io

import pytest

from service.domain.access import Role
from tests.bodies import EXAMPLE_ORG, report_body as report

pytestmark = pytest.mark.exact_figures  # small counts read exactly: suppression off (conftest.py)

URL = "/api/v1/statistics/annual-table"
COLUMNS = ["not_a_deviation", "lex_sarah", "personal_data_incident", "complaint", "other_deviation", "total"]

LEX_SARAH = {"type": "lex_sarah", "lex_sarah_severity": "impropriety"}
INCIDENT = {"type": "personal_data_incident", "incident_risk": "no_risk"}
OTHER = {"type": "other_deviation"}
NOT_A_DEVIATION = {"type": "not_a_deviation"}



@pytest.fixture
def example(client, admin, users):
    """The made-up example of docs/domain.md, loaded through the public API."""
    assert client.post("/api/v1/org-units/import", json={"units": EXAMPLE_ORG}, headers=admin).status_code == 200
    reporter = users.headers(Role.reporter, "F", subject="rita")
    investigator = users.headers(Role.investigator, "F", subject="ivan")
    for units, types in [(["A1"], [LEX_SARAH]), (["A1", "A2"], [OTHER]), (["A2"], [LEX_SARAH, INCIDENT]),
                         (["A2", "B1"], [OTHER]), (["B1"], [NOT_A_DEVIATION])]:
        created = client.post("/api/v1/reports", json=report(units=units), headers=reporter).json()
        assessed = client.post(f"/api/v1/reports/{created['id']}/assessments", headers=investigator,
                               json={"types": types, "justification": "Exempel"})
        assert assessed.status_code == 201, assessed.text
    return users.headers(Role.statistics, "F", subject="stina")


def _table(rows):
    return {row["code"] or "Totalt": [row["counts"][key] for key in COLUMNS] for row in rows}


def test_the_example_of_domain_md_comes_out_exactly_as_printed(client, example):
    response = client.get(URL, params={"year": 2026}, headers=example)
    assert response.status_code == 200, response.text
    table = response.json()
    assert [row["code"] or "Totalt" for row in table["rows"]] == ["A", "A1", "A2", "B", "B1", "Totalt"]
    assert _table(table["rows"]) == {
        "A": [0, 2, 1, 0, 2, 4],
        "A1": [0, 1, 0, 0, 1, 2],
        "A2": [0, 1, 1, 0, 2, 3],
        "B": [1, 0, 0, 0, 1, 2],
        "B1": [1, 0, 0, 0, 1, 2],
        "Totalt": [1, 2, 1, 0, 2, 5],
    }
    shares = {share["key"]: share for share in table["shares"]}
    assert (shares["lex_sarah_of_deviations"]["numerator"], shares["lex_sarah_of_deviations"]["denominator"]) == (2, 4)
    assert shares["lex_sarah_of_deviations"]["percent"] == 50.0
    assert shares["ivo_notified_of_lex_sarah"]["numerator"] == 0
    assert [c["label_sv"] for c in table["columns"]][-1] == "Totalt"


def test_other_years_and_unassessed_reports(client, example, users):
    assert _table(client.get(URL, params={"year": 2025}, headers=example).json()["rows"])["Totalt"] == [0] * 6
    reporter = users.headers(Role.reporter, "F", subject="rita")
    client.post("/api/v1/reports", json=report(units=["B1"]), headers=reporter)
    rows = client.get(URL, params={"year": 2026}, headers=example).json()["rows"]
    total = next(row for row in rows if row["level"] == "total")
    assert total["counts"]["total"] == 6 and total["counts"]["unassessed"] == 1


def test_a_reorganisation_does_not_move_last_years_figures(client, example, admin, clock):
    ids = {u["code"]: u["id"] for u in client.get("/api/v1/org-units", headers=admin).json()}
    moved = client.post(f"/api/v1/org-units/{ids['A2']}/move", headers=admin,
                        json={"parent_id": ids["B"], "effective_date": "2027-01-01"})
    assert moved.status_code == 200, moved.text
    rows = client.get(URL, params={"year": 2026}, headers=example).json()["rows"]
    assert [row["code"] or "Totalt" for row in rows] == ["A", "A1", "A2", "B", "B1", "Totalt"]
    assert _table(rows)["A"] == [0, 2, 1, 0, 2, 4]
    assert client.get(URL, params={"year": 2027}, headers=example).json()["rows"][-1]["counts"]["total"] == 0


def test_csv_for_swedish_excel_and_xlsx(client, example):
    response = client.get(URL, params={"year": 2026, "format": "csv"}, headers=example)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["Nivå", "Kod", "Avdelning / enhet"] and rows[0][-1] == "Totalt"
    assert rows[-1] == ["Totalt", "", "Totalt", "1", "2", "1", "0", "2", "0", "5"]
    assert rows[1][:3] == ["Avdelning", "A", "Avdelning A"] and rows[2][:3] == ["Enhet", "A1", "Enhet A1"]
    english = client.get(URL, params={"year": 2026, "format": "csv", "delimiter": "comma", "lang": "en"},
                         headers=example).content.decode("utf-8-sig")
    assert english.splitlines()[0].startswith("Level,Code,Department / unit,Not a deviation")
    xlsx = client.get(URL, params={"year": 2026, "format": "xlsx"}, headers=example)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_unit_names_that_look_like_formulas_are_defused(client, admin, example):
    ids = {u["code"]: u["id"] for u in client.get("/api/v1/org-units", headers=admin).json()}
    client.patch(f"/api/v1/org-units/{ids['B1']}", json={"name": "=HYPERLINK(\"http://x\")"}, headers=admin)
    text = client.get(URL, params={"year": 2026, "format": "csv"}, headers=example).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text


def test_small_counts_can_be_suppressed(client, example):
    rows = client.get(URL, params={"year": 2026, "suppress_below": 3}, headers=example).json()["rows"]
    # 2, 1 and 2 are small; A's Totalt (4) is hidden with them: B's Totalt (2) is, and Totalt 5 minus A would
    # otherwise give it away (tests/api/test_suppression.py has the rules).
    assert _table(rows)["A"] == [0, None, None, 0, None, None]
    text = client.get(URL, params={"year": 2026, "suppress_below": 3, "format": "csv"},
                      headers=example).content.decode("utf-8-sig")
    assert "Avdelning;A;Avdelning A;0;..;..;0;..;0;.." in text


def test_statistics_need_the_statistics_grant_for_that_subtree(client, example, users, admin):
    ids = {u["code"]: u["id"] for u in client.get("/api/v1/org-units", headers=admin).json()}
    only_b = users.headers(Role.statistics, "B", subject="berit")
    assert client.get(URL, params={"year": 2026, "unit_id": ids["A"]}, headers=only_b).status_code == 403
    rows = client.get(URL, params={"year": 2026}, headers=only_b).json()["rows"]
    assert _table(rows) == {"B": [1, 0, 0, 0, 1, 2], "B1": [1, 0, 0, 0, 1, 2], "Totalt": [1, 0, 0, 0, 1, 2]}
    reporter = users.headers(Role.reporter, "F", subject="rita")
    assert client.get(URL, params={"year": 2026, "unit_id": ids["F"]}, headers=reporter).status_code == 403


def test_no_free_text_or_names_leave_the_statistics(client, example):
    body = client.get(URL, params={"year": 2026}, headers=example).text
    assert "Brukaren" not in body and "rita" not in body and "ivan" not in body


@pytest.mark.parametrize("params", [{"year": 2026, "from": "2026-01-01", "to": "2026-06-30"},
                                    {"from": "2026-06-30", "to": "2026-01-01"}, {"from": "2026-01-01"},
                                    {"format": "pdf"}, {"suppress_below": 1}])
def test_bad_parameters(client, example, params):
    response = client.get(URL, params=params, headers=example)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
