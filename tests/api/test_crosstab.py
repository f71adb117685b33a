"""Cross-tabulations, lead times and open/overdue counts, with data made through the public API.

Every expectation is computed by hand from the reports made here; the same tests run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from service.domain.access import Role
from tests.api.test_investigation_and_actions import decide, entry, start
from tests.api.test_notifications import CONTACT  # with that module's DPO mailbox (dso@exempel.se)
from tests.bodies import OPERATOR, UNIT, report_body as report, send_order

pytestmark = pytest.mark.exact_figures  # small counts read exactly: suppression off (conftest.py)

CROSSTAB = "/api/v1/statistics/crosstab"
LEAD_TIMES = "/api/v1/statistics/lead-times"
OPEN = "/api/v1/statistics/open-and-overdue"
REPORTS = "/api/v1/reports"

LEX_SARAH = {"type": "lex_sarah", "lex_sarah_severity": "impropriety"}
SERIOUS = {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"}
INCIDENT = {"type": "personal_data_incident", "incident_risk": "risk"}
COMPLAINT = {"type": "complaint", "complaint_kind": "complaint", "complaint_submitter": "relative"}
OTHER = {"type": "other_deviation"}
NOT_A_DEVIATION = {"type": "not_a_deviation"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class Office:
    """The people who handle cases, acting through the API with the test clock."""

    def __init__(self, client, users, clock) -> None:
        self.client, self.clock = client, clock
        self.reporter = users.headers(Role.reporter, "SOC", subject="rita", name="Rita Rapport")
        self.investigator = users.headers(Role.investigator, "SOC", subject="ivan", name="Ivan Utredare")
        self.delegate = users.headers(Role.decision_maker, "SOC", subject="disa", name="Disa Delegat")
        self.dpo = users.headers(Role.dpo, "SOC", subject="dana", name="Dana Dataskydd")

    def submit(self, received: str, noticed: str | None = None, **fields) -> str:
        self.clock.now = at(received)
        noticed_at = (noticed or received) + "Z"
        response = self.client.post(REPORTS, json=report(occurred_at=noticed_at, noticed_at=noticed_at, **fields),
                                    headers=self.reporter)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def assess(self, case_id: str, *types, when: str | None = None, **extra) -> None:
        if when:
            self.clock.now = at(when)
        response = self.client.post(f"{REPORTS}/{case_id}/assessments", headers=self.investigator,
                                    json={"types": list(types), "justification": "Bedömd enligt rutin.", **extra})
        assert response.status_code == 201, response.text

    def investigate(self, case_id: str, *root_causes: str) -> None:
        assert start(self.client, self.investigator, case_id).status_code == 201
        today = self.clock.now.date().isoformat()
        for topic in ("what_happened", "causes"):
            assert entry(self.client, self.investigator, case_id, topic, documented_on=today).status_code == 201
        decided = decide(self.client, self.investigator, case_id, *root_causes)
        assert decided.status_code == 200, decided.text

    def notify(self, case_id: str, authority: str, when: str) -> None:
        headers = self.investigator if authority == "ivo" else self.dpo
        fields = {"operator": OPERATOR, "unit": UNIT} if authority == "ivo" else {"contact": CONTACT}
        drafted = self.client.post(f"{REPORTS}/{case_id}/notifications", json={"authority": authority, **fields},
                                   headers=headers)
        assert drafted.status_code == 201, drafted.text
        self.clock.now = at(when)
        sent = self.client.post(f"{REPORTS}/{case_id}/notifications/{drafted.json()['id']}/send", json=send_order(),
                                headers=self.delegate if authority == "ivo" else self.dpo)
        assert sent.status_code == 200, sent.text

    def close(self, case_id: str, when: str) -> None:
        self.clock.now = at(when)
        closed = self.client.post(f"{REPORTS}/{case_id}/close", json={}, headers=self.investigator)
        assert closed.status_code == 200, closed.text



@pytest.fixture
def office(client, users, clock, org):
    return Office(client, users, clock)


@pytest.fixture
def stats(users, org):
    return users.headers(Role.statistics, "SOC", subject="stina")


@pytest.fixture
def year_of_reports(office):
    """Eight reports; seven received in 2026 in Swedish time (one at 00:30 on New Year's Day, 23:30 UTC).

    r7 2025-06-01 ALD-1        medication       lex Sarah                       (not in 2026)
    r0 2026-01-01 IFO-2        documentation    other                            (23:30 UTC on 31 Dec)
    r1 2026-01-15 ALD-1        medication       lex Sarah (impropriety)
    r2 2026-05-20 ALD-1, ALD-2 care             other; root causes staffing, communication
    r3 2026-05-21 ALD-2        confidentiality  lex Sarah (serious) + PUI; sent to IVO and IMY
    r4 2026-09-02 ALD-2, FUN-1 treatment        complaint (complaint, relative); root cause staffing
    r5 2026-10-01 FUN-1        treatment        not a deviation, closed
    r6 2026-11-11 IFO-1        other            not assessed
    """
    r7 = office.submit("2025-06-01T10:00:00", category="medication")
    office.assess(r7, LEX_SARAH)
    r0 = office.submit("2025-12-31T23:30:00", units=["SOC-IFO-2"], category="documentation")
    office.assess(r0, OTHER)
    r1 = office.submit("2026-01-15T10:00:00", category="medication")
    office.assess(r1, LEX_SARAH)
    r2 = office.submit("2026-05-20T10:00:00", units=["SOC-ALD-1", "SOC-ALD-2"], category="care")
    office.assess(r2, OTHER)
    office.investigate(r2, "staffing", "communication")
    r3 = office.submit("2026-05-21T10:00:00", units=["SOC-ALD-2"], category="confidentiality")
    office.assess(r3, SERIOUS, INCIDENT, incident_aware_at="2026-05-21T10:00:00Z")
    office.notify(r3, "ivo", "2026-05-22T10:00:00")
    office.notify(r3, "imy", "2026-05-22T11:00:00")
    r4 = office.submit("2026-09-02T10:00:00", units=["SOC-ALD-2", "SOC-FUN-1"], category="treatment")
    office.assess(r4, COMPLAINT)
    office.investigate(r4, "staffing")
    r5 = office.submit("2026-10-01T10:00:00", units=["SOC-FUN-1"], category="treatment")
    office.assess(r5, NOT_A_DEVIATION)
    office.close(r5, "2026-10-02T10:00:00")
    office.submit("2026-11-11T10:00:00", units=["SOC-IFO-1"], category="other")
    office.clock.now = at("2026-12-01T09:00:00")


def table(client, headers, **params):
    query = {key: value for key, value in {"year": 2026, **params}.items() if value is not None}
    response = client.get(CROSSTAB, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def totals(body) -> dict[str, int]:
    """Row key → the row's total, for the rows with reports in them."""
    return {row["key"]: row["total"] for row in body["rows"] if row["total"]}


def cells(body) -> dict[str, list[int]]:
    return {row["key"]: [row["counts"][column["key"]] for column in body["columns"]] + [row["total"]]
            for row in body["rows"]}


# ---- one dimension at a time -------------------------------------------------------------------------

EACH_DIMENSION = {
    "period_year": {"2026": 7},
    "period_quarter": {"2026-Q1": 2, "2026-Q2": 2, "2026-Q3": 1, "2026-Q4": 2},
    "period_tertial": {"2026-T1": 2, "2026-T2": 2, "2026-T3": 3},
    "period_month": {"2026-01": 2, "2026-05": 2, "2026-09": 1, "2026-10": 1, "2026-11": 1},
    "department": {"SOC-ALD": 4, "SOC-FUN": 2, "SOC-IFO": 2},
    "unit": {"SOC-ALD-1": 2, "SOC-ALD-2": 3, "SOC-FUN-1": 2, "SOC-IFO-1": 1, "SOC-IFO-2": 1},
    "type": {"not_a_deviation": 1, "lex_sarah": 2, "personal_data_incident": 1, "complaint": 1,
             "other_deviation": 2, "unassessed": 1},
    "lex_sarah_severity": {"impropriety": 1, "serious_impropriety": 1, "none": 5},
    "category": {"documentation": 1, "medication": 1, "care": 1, "confidentiality": 1, "treatment": 2, "other": 1},
    "complaint_kind": {"complaint": 1, "none": 6},
    "complaint_submitter": {"relative": 1, "none": 6},
    "root_cause": {"staffing": 2, "communication": 1, "none": 5},
    "status": {"reported": 1, "assessed": 3, "investigated": 2, "closed": 1},
    "notified_ivo": {"yes": 1, "no": 6},
    "notified_imy": {"yes": 1, "no": 6},
}


def test_each_dimension_counts_distinct_reports(client, year_of_reports, stats):
    bodies = {dimension: table(client, stats, rows=dimension) for dimension in EACH_DIMENSION}
    assert {dimension: totals(body) for dimension, body in bodies.items()} == EACH_DIMENSION
    for dimension, body in bodies.items():
        assert body["total"] == 7, dimension  # distinct, even where the rows add up to more (department, type)
        assert body["columns"] == [] and body["columns_dimension"] is None
        assert all(row["counts"] == {} for row in body["rows"])
        assert body["rows_dimension"]["key"] == dimension
        assert body["rows_dimension"]["label_sv"] and body["rows_dimension"]["label_en"]
        assert all(row["label_sv"] and row["label_en"] for row in body["rows"]), dimension


def test_members_with_no_reports_are_listed_in_table_order(client, year_of_reports, stats):
    months = table(client, stats, rows="period_month")["rows"]
    assert [row["key"] for row in months] == [f"2026-{month:02d}" for month in range(1, 13)]
    assert (months[0]["label_sv"], months[0]["label_en"], months[1]["total"]) == ("januari 2026", "January 2026", 0)
    units = table(client, stats, rows="unit")["rows"]
    assert len(units) == 12 and [row["key"] for row in units][:2] == ["SOC-ALD-1", "SOC-ALD-2"]
    assert (units[0]["label_sv"], units[0]["unit_id"] is not None) == ("Hemtjänst Centrum", True)
    types = table(client, stats, rows="type")["rows"]
    assert [row["key"] for row in types] == ["not_a_deviation", "lex_sarah", "personal_data_incident", "complaint",
                                             "other_deviation", "unassessed"]
    assert (types[1]["label_sv"], types[5]["label_sv"]) == ("Lex Sarah", "Ej bedömd")


def test_labels_come_from_the_configured_lists_and_the_label_tables(client, year_of_reports, stats):
    def label(dimension, key):
        row = next(row for row in table(client, stats, rows=dimension)["rows"] if row["key"] == key)
        return row["label_sv"], row["label_en"]

    assert label("category", "medication") == ("Läkemedel", "Medication")
    assert label("root_cause", "staffing") == ("Bemanning/vakanser", "Staffing/vacancies")
    assert label("lex_sarah_severity", "serious_impropriety") == ("Allvarligt missförhållande", "Serious impropriety")
    assert label("complaint_submitter", "relative") == ("Närstående", "Relative")
    assert label("period_tertial", "2026-T2") == ("Tertial 2 2026 (maj–aug)", "Tertial 2 2026 (May–Aug)")
    assert label("period_quarter", "2026-Q3") == ("Kvartal 3 2026", "Q3 2026")
    assert label("notified_ivo", "yes") == ("Ja", "Yes")
    assert label("department", "SOC-ALD") == ("Äldreomsorg", "Äldreomsorg")


def test_periods_follow_swedish_time_and_span_years(client, year_of_reports, stats):
    body = table(client, stats, rows="period_year", year=None, **{"from": "2025-01-01", "to": "2026-12-31"})
    assert totals(body) == {"2025": 1, "2026": 7}
    december = table(client, stats, rows="period_month", year=2025)
    assert totals(december) == {"2025-06": 1}  # the report at 23:30 UTC on 31 December belongs to 2026
    assert table(client, stats, rows="type", year=2027)["total"] == 0


# ---- two dimensions ----------------------------------------------------------------------------------

def test_department_by_type_matches_the_hand_computed_table(client, year_of_reports, stats):
    body = table(client, stats, rows="department", columns="type")
    assert [column["key"] for column in body["columns"]] == [
        "not_a_deviation", "lex_sarah", "personal_data_incident", "complaint", "other_deviation", "unassessed"]
    assert cells(body) == {
        # r3 is lex Sarah and PUI: it counts in both cells, once in the row total.
        "SOC-ALD": [0, 2, 1, 1, 1, 0, 4],
        "SOC-FUN": [1, 0, 0, 1, 0, 0, 2],
        "SOC-IFO": [0, 0, 0, 0, 1, 1, 2],
    }
    assert body["column_totals"] == {"not_a_deviation": 1, "lex_sarah": 2, "personal_data_incident": 1,
                                     "complaint": 1, "other_deviation": 2, "unassessed": 1}
    assert body["total"] == 7  # not the sum of the rows (8: r4 is in two avdelningar)
    assert "unika rapporter" in body["note_sv"]
    assert "two types" in body["note_en"]


def test_unit_by_tertial_and_type_by_severity(client, year_of_reports, stats):
    body = table(client, stats, rows="unit", columns="period_tertial")
    assert {key: value for key, value in cells(body).items() if value[-1]} == {
        "SOC-ALD-1": [1, 1, 0, 2],
        "SOC-ALD-2": [0, 2, 1, 3],
        "SOC-FUN-1": [0, 0, 2, 2],
        "SOC-IFO-1": [0, 0, 1, 1],
        "SOC-IFO-2": [1, 0, 0, 1],
    }
    assert body["column_totals"] == {"2026-T1": 2, "2026-T2": 2, "2026-T3": 3} and body["total"] == 7
    severity = table(client, stats, rows="type", columns="lex_sarah_severity")
    rows = cells(severity)
    columns = [column["key"] for column in severity["columns"]]
    assert columns[-1] == "none"
    assert rows["lex_sarah"][columns.index("impropriety")] == 1
    assert rows["lex_sarah"][columns.index("serious_impropriety")] == 1
    assert rows["personal_data_incident"][columns.index("serious_impropriety")] == 1  # r3 again
    assert rows["personal_data_incident"][columns.index("none")] == 0
    assert severity["column_totals"]["none"] == 5


def test_root_cause_by_department_counts_a_report_under_each_cause(client, year_of_reports, stats):
    body = table(client, stats, rows="root_cause", columns="department")
    rows = cells(body)
    assert rows["staffing"] == [2, 1, 0, 2]  # r2 and r4 in ALD; r4 in FUN
    assert rows["communication"] == [1, 0, 0, 1]
    assert rows["none"] == [2, 1, 2, 5]
    assert body["column_totals"] == {"SOC-ALD": 4, "SOC-FUN": 2, "SOC-IFO": 2}


def test_the_type_filter_keeps_reports_with_any_of_the_types(client, year_of_reports, stats):
    body = table(client, stats, rows="department", type="lex_sarah")
    assert body["types"] == ["lex_sarah"] and totals(body) == {"SOC-ALD": 2} and body["total"] == 2
    by_type = table(client, stats, rows="type", type="lex_sarah")
    assert totals(by_type) == {"lex_sarah": 2, "personal_data_incident": 1}  # r3 is both
    both = client.get(CROSSTAB, params=[("year", 2026), ("rows", "status"), ("type", "complaint"),
                                        ("type", "not_a_deviation")], headers=stats).json()
    assert totals(both) == {"investigated": 1, "closed": 1} and both["types"] == ["not_a_deviation", "complaint"]


# ---- formats, suppression, access, validation ----------------------------------------------------

def test_csv_and_xlsx(client, year_of_reports, stats):
    response = client.get(CROSSTAB, params={"year": 2026, "rows": "department", "columns": "type", "format": "csv"},
                          headers=stats)
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Avdelning", "Ej avvikelse i nämndens verksamhet", "Lex Sarah", "Personuppgiftsincident",
                       "Synpunkter och klagomål", "Övrig avvikelse", "Ej bedömd", "Totalt"]
    assert rows[1] == ["Äldreomsorg", "0", "2", "1", "1", "1", "0", "4"]
    assert rows[-1] == ["Totalt", "1", "2", "1", "1", "2", "1", "7"]
    english = client.get(CROSSTAB, params={"year": 2026, "rows": "notified_ivo", "format": "csv", "lang": "en",
                                           "delimiter": "comma"}, headers=stats).content.decode("utf-8-sig")
    assert english.splitlines() == ["Notified to IVO,Total", "Yes,1", "No,6", "Total,7"]
    xlsx = client.get(CROSSTAB, params={"year": 2026, "rows": "period_month", "columns": "type", "format": "xlsx"},
                      headers=stats)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert xlsx.headers["content-disposition"].endswith('.xlsx"')


def test_small_counts_can_be_suppressed(client, year_of_reports, stats):
    body = table(client, stats, rows="department", columns="type", suppress_below=3)
    assert cells(body)["SOC-ALD"] == [0, None, None, None, None, 0, 4]
    assert body["column_totals"]["lex_sarah"] is None and body["total"] == 7
    text = client.get(CROSSTAB, params={"year": 2026, "rows": "department", "suppress_below": 3, "format": "csv"},
                      headers=stats).content.decode("utf-8-sig")
    assert "Funktionsstöd;..\r\nIndivid- och familjeomsorg;..\r\n" in text  # the second hidden with the first


def test_only_counts_leave_the_statistics(client, year_of_reports, stats):
    for dimension in ("category", "root_cause", "unit"):
        body = client.get(CROSSTAB, params={"year": 2026, "rows": dimension, "columns": "type"}, headers=stats).text
        for secret in ("Brukaren", "läkemedel vid", "rita", "Rita", "Ivan", "Disa", "Rutinen för", "Treserva"):
            assert secret not in body


def test_statistics_need_the_grant_for_the_subtree(client, year_of_reports, users, org):
    only_fun = users.headers(Role.statistics, "SOC-FUN", subject="frida")
    refused = client.get(CROSSTAB, params={"year": 2026, "rows": "type", "unit_id": org["SOC-ALD"]},
                         headers=only_fun)
    assert refused.status_code == 403
    assert client.get(LEAD_TIMES, params={"unit_id": org["SOC"]}, headers=only_fun).status_code == 403
    assert client.get(OPEN, params={"unit_id": org["SOC-IFO"]}, headers=only_fun).status_code == 403
    own = table(client, only_fun, rows="unit", columns="type")
    assert {key: value for key, value in cells(own).items() if value[-1]} == {"SOC-FUN-1": [1, 0, 0, 1, 0, 2]}
    assert [column["key"] for column in own["columns"]][-1] == "other_deviation"  # nobody unassessed here
    reporter = users.headers(Role.reporter, "SOC", subject="rita")
    assert client.get(CROSSTAB, params={"rows": "type", "unit_id": org["SOC"]}, headers=reporter).status_code == 403


def test_an_enhet_as_the_root(client, year_of_reports, users, org):
    one_unit = users.headers(Role.statistics, "SOC-ALD-2", subject="ulla")
    body = table(client, one_unit, rows="department", columns="notified_imy")
    assert cells(body) == {"SOC-ALD": [1, 2, 3]}


@pytest.mark.parametrize("params", [
    {"rows": "colour"}, {"rows": "type", "columns": "weekday"}, {"rows": "type", "columns": "type"},
    {}, {"rows": "type", "type": "lex_sarha"}, {"rows": "type", "format": "pdf"},
    {"rows": "type", "year": 2026, "from": "2026-01-01", "to": "2026-02-01"}, {"rows": "type", "suppress_below": 1},
])
def test_bad_parameters_are_422(client, stats, params):
    response = client.get(CROSSTAB, params=params, headers=stats)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


# ---- lead times --------------------------------------------------------------------------------------

@pytest.fixture
def timed_cases(office):
    """Five reports in 2026 with known times (hours):

    case  noticed→reported  reported→assessed  assessed→IVO  assessed→IMY  reported→closed
    A     1                 5                  48
    B     2                 1                                24
    C     4                 3                                              6
    D     10                (not assessed)
    E     0.5               7                                              9
    """
    a = office.submit("2026-04-01T10:00:00", noticed="2026-04-01T09:00:00")
    office.assess(a, SERIOUS, when="2026-04-01T15:00:00")
    office.notify(a, "ivo", "2026-04-03T15:00:00")
    b = office.submit("2026-04-10T10:00:00", noticed="2026-04-10T08:00:00", category="confidentiality")
    office.assess(b, INCIDENT, when="2026-04-10T11:00:00", incident_aware_at="2026-04-10T11:00:00Z")
    office.notify(b, "imy", "2026-04-11T11:00:00")
    c = office.submit("2026-04-20T10:00:00", noticed="2026-04-20T06:00:00")
    office.assess(c, NOT_A_DEVIATION, when="2026-04-20T13:00:00")
    office.close(c, "2026-04-20T16:00:00")
    office.submit("2026-05-01T10:00:00", noticed="2026-05-01T00:00:00")
    e = office.submit("2026-05-02T10:00:00", noticed="2026-05-02T09:30:00")
    office.assess(e, NOT_A_DEVIATION, when="2026-05-02T17:00:00")
    office.close(e, "2026-05-02T19:00:00")
    office.clock.now = at("2026-06-01T09:00:00")


def lead(client, headers, **params):
    query = {key: value for key, value in {"year": 2026, **params}.items() if value is not None}
    response = client.get(LEAD_TIMES, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return {item["key"]: (item["n"], item["median_hours"], item["p90_hours"]) for item in response.json()["lead_times"]}


def test_lead_times_match_the_hand_computed_medians_and_90th_percentiles(client, timed_cases, stats):
    assert lead(client, stats) == {
        # 0.5, 1, 2, 4, 10: median the 3rd; p90 at rank 1 + 4·0.9 = 4.6 → 4 + 0.6·(10 - 4)
        "noticed_to_reported": (5, 2.0, 7.6),
        # 1, 3, 5, 7: median (3 + 5)/2; p90 at rank 1 + 3·0.9 = 3.7 → 5 + 0.7·(7 - 5)
        "reported_to_assessed": (4, 4.0, 6.4),
        "assessed_to_notified_ivo": (1, 48.0, 48.0),
        "assessed_to_notified_imy": (1, 24.0, 24.0),
        # 6, 9: median 7.5; p90 at rank 1.9 → 6 + 0.9·3
        "reported_to_closed": (2, 7.5, 8.7),
    }


def test_lead_times_by_type_period_and_with_suppression(client, timed_cases, stats, org):
    assert lead(client, stats, type="not_a_deviation")["noticed_to_reported"] == (2, 2.25, 3.65)  # 0.5 and 4
    assert lead(client, stats, year=2025)["noticed_to_reported"] == (0, None, None)
    april = lead(client, stats, year=None, **{"from": "2026-04-01", "to": "2026-04-30"})
    assert april["noticed_to_reported"] == (3, 2.0, 3.6)  # 1, 2, 4
    suppressed = lead(client, stats, suppress_below=2)
    assert suppressed["assessed_to_notified_ivo"] == (None, None, None)
    assert suppressed["reported_to_closed"] == (2, 7.5, 8.7)
    assert lead(client, stats, unit_id=org["SOC-FUN"])["noticed_to_reported"] == (0, None, None)
    text = client.get(LEAD_TIMES, params={"year": 2026, "format": "csv"}, headers=stats).content.decode("utf-8-sig")
    assert text.splitlines()[:2] == ["Ledtid;Antal;Median (timmar);90:e percentilen (timmar)",
                                     "Upptäckt → rapporterad;5;2,0;7,6"]  # decimal comma beside ;
    body = client.get(LEAD_TIMES, params={"year": 2026}, headers=stats).json()
    assert "interpolation" in body["note_en"]


# ---- open and overdue --------------------------------------------------------------------------------

@pytest.fixture
def open_cases(office):
    """o1 serious lex Sarah, not notified (IVO deadlines 17 and 24 March); o2 an investigation started on
    10 March (due 9 April), in ALD-2 and FUN-1; o3 not a deviation, closed 12 March; o4 received 20 March."""
    o1 = office.submit("2026-03-10T09:00:00")
    office.assess(o1, SERIOUS)
    o2 = office.submit("2026-03-10T09:00:00", units=["SOC-ALD-2", "SOC-FUN-1"])
    office.assess(o2, OTHER)
    assert start(office.client, office.investigator, o2).status_code == 201
    o3 = office.submit("2026-03-10T09:00:00", units=["SOC-FUN-1"])
    office.assess(o3, NOT_A_DEVIATION)
    office.close(o3, "2026-03-12T09:00:00")
    office.submit("2026-03-20T09:00:00", units=["SOC-IFO-1"])


def open_table(client, headers, **params):
    response = client.get(OPEN, params=params, headers=headers)
    assert response.status_code == 200, response.text
    keys = ["open", "overdue", "overdue_ivo_notification", "overdue_ivo_notification_escalation",
            "overdue_investigation", "overdue_first_assessment"]
    return {row["code"] or "Totalt": [row["counts"][key] for key in keys] for row in response.json()["rows"]
            if row["code"] in (None, "SOC-ALD", "SOC-ALD-1", "SOC-ALD-2", "SOC-FUN", "SOC-FUN-1", "SOC-IFO")}


def test_open_and_overdue_at_past_moments_and_now(client, open_cases, stats, clock):
    assert open_table(client, stats, at="2026-03-11T00:00:00Z") == {
        "SOC-ALD": [2, 0, 0, 0, 0, 0], "SOC-ALD-1": [1, 0, 0, 0, 0, 0], "SOC-ALD-2": [1, 0, 0, 0, 0, 0],
        "SOC-FUN": [2, 0, 0, 0, 0, 0], "SOC-FUN-1": [2, 0, 0, 0, 0, 0], "SOC-IFO": [0, 0, 0, 0, 0, 0],
        "Totalt": [3, 0, 0, 0, 0, 0],
    }
    # o4, received 20 March and never assessed, is overdue for its first assessment from 21 March.
    assert open_table(client, stats, at="2026-03-25T00:00:00+01:00") == {
        "SOC-ALD": [2, 1, 1, 1, 0, 0], "SOC-ALD-1": [1, 1, 1, 1, 0, 0], "SOC-ALD-2": [1, 0, 0, 0, 0, 0],
        "SOC-FUN": [1, 0, 0, 0, 0, 0], "SOC-FUN-1": [1, 0, 0, 0, 0, 0], "SOC-IFO": [1, 1, 0, 0, 0, 1],
        "Totalt": [3, 2, 1, 1, 0, 1],
    }
    clock.now = at("2026-04-10T09:00:00")
    assert open_table(client, stats) == {
        "SOC-ALD": [2, 2, 1, 1, 1, 0], "SOC-ALD-1": [1, 1, 1, 1, 0, 0], "SOC-ALD-2": [1, 1, 0, 0, 1, 0],
        "SOC-FUN": [1, 1, 0, 0, 1, 0], "SOC-FUN-1": [1, 1, 0, 0, 1, 0], "SOC-IFO": [1, 1, 0, 0, 0, 1],
        "Totalt": [3, 3, 1, 1, 1, 1],
    }
    assert open_table(client, stats, at="2026-03-01T00:00:00Z")["Totalt"] == [0, 0, 0, 0, 0, 0]


def test_open_and_overdue_formats_suppression_and_validation(client, open_cases, stats):
    response = client.get(OPEN, params={"at": "2026-03-11T00:00:00Z", "suppress_below": 2}, headers=stats)
    body = response.json()
    assert body["at"] == "2026-03-11T00:00:00Z" and "sparade i dag" in body["note_sv"]
    assert {row["code"] or "Totalt": row["counts"]["open"] for row in body["rows"]}["SOC-ALD-1"] is None
    text = client.get(OPEN, params={"at": "2026-03-11T00:00:00Z", "format": "csv"},
                      headers=stats).content.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert lines[0][:5] == ["Nivå", "Kod", "Avdelning / enhet", "Öppna ärenden", "Med passerad tidsfrist"]
    assert lines[-1][:5] == ["Totalt", "", "Totalt", "3", "0"]
    xlsx = client.get(OPEN, params={"format": "xlsx"}, headers=stats)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    naive = client.get(OPEN, params={"at": "2026-03-11T00:00:00"}, headers=stats)
    assert naive.status_code == 422 and naive.headers["content-type"] == "application/problem+json"
