"""Loading the organisation's history: units that moved, were renamed or closed count where they stood then."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.domain.access import Role
from tests.bodies import report_body

pytestmark = pytest.mark.exact_figures  # small counts read exactly: suppression off (conftest.py)

IMPORT = "/api/v1/org-units/import"
TABLE = "/api/v1/statistics/annual-table"

# Förvaltning F with avdelningar A and B since 2015. Enhet MOVED stood under A until the end of 2018 and
# under B since 2019 (renamed on the move); enhet CLOSED stood under A and closed at the end of 2020.
HISTORY: list[dict[str, Any]] = [
    {"code": "F", "name": "Förvaltningen", "kind": "administration", "valid_from": "2015-01-01"},
    {"code": "A", "name": "Avdelning A", "kind": "department", "parent_code": "F", "valid_from": "2015-01-01"},
    {"code": "B", "name": "Avdelning B", "kind": "department", "parent_code": "F", "valid_from": "2015-01-01"},
    {"code": "MOVED", "kind": "unit", "placements": [
        {"parent_code": "A", "name": "Hemtjänst Väst", "valid_from": "2015-01-01", "valid_to": "2018-12-31"},
        {"parent_code": "B", "name": "Hemtjänst Centrum", "valid_from": "2019-01-01"}]},
    {"code": "CLOSED", "kind": "unit", "valid_from": "2015-01-01", "valid_to": "2020-12-31", "placements": [
        {"parent_code": "A", "name": "Korttidsboendet", "valid_from": "2015-01-01", "valid_to": "2020-12-31"}]},
]



def _file_report_on(client, clock, users, unit_code: str, day: str) -> None:
    """A report received on `day`: the clock is set to that day, as when it was received."""
    today = clock.now
    clock.now = datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=UTC)
    reporter = users.headers(Role.reporter, "F", subject="rita")
    created = client.post("/api/v1/reports", headers=reporter, json=report_body(
        units=[unit_code], occurred_at=f"{day}T08:00:00+01:00", noticed_at=f"{day}T08:30:00+01:00"))
    assert created.status_code == 201, created.text
    clock.now = today


def _totals(client, headers, year: int, **params) -> dict[str, int]:
    response = client.get(TABLE, params={"year": year, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return {row["code"] or "Totalt": row["counts"]["total"] for row in response.json()["rows"]}


def _names(client, headers, year: int) -> dict[str, str]:
    rows = client.get(TABLE, params={"year": year}, headers=headers).json()["rows"]
    return {row["code"]: row["name"] for row in rows if row["code"]}


@pytest.fixture
def history(client, admin):
    response = client.post(IMPORT, json={"units": HISTORY}, headers=admin)
    assert response.status_code == 200, response.text
    assert [unit["code"] for unit in response.json()["created"]] == ["F", "A", "B", "MOVED", "CLOSED"]
    return {unit["code"]: unit for unit in response.json()["created"]}


def test_a_unit_counts_under_the_avdelning_it_stood_under_that_year(client, clock, users, history):
    assert history["MOVED"]["parent_id"] == history["B"]["id"]  # today it stands under B, by its new name
    assert history["MOVED"]["name"] == "Hemtjänst Centrum" and history["MOVED"]["valid_from"] == "2015-01-01"
    _file_report_on(client, clock, users, "MOVED", "2018-06-01")
    _file_report_on(client, clock, users, "MOVED", "2020-06-01")
    statistician = users.headers(Role.statistics, "F", subject="stina")

    assert _totals(client, statistician, 2018) == {"A": 1, "CLOSED": 0, "MOVED": 1, "B": 0, "Totalt": 1}
    assert _names(client, statistician, 2018)["MOVED"] == "Hemtjänst Väst"
    assert _totals(client, statistician, 2020) == {"A": 0, "CLOSED": 0, "B": 1, "MOVED": 1, "Totalt": 1}
    assert _names(client, statistician, 2020)["MOVED"] == "Hemtjänst Centrum"
    rows = client.get(TABLE, params={"year": 2018}, headers=statistician).json()["rows"]
    assert [row["code"] or "Totalt" for row in rows] == ["A", "CLOSED", "MOVED", "B", "Totalt"]


def test_a_closed_unit_keeps_its_years_and_takes_no_new_reports(client, clock, users, admin, history):
    _file_report_on(client, clock, users, "CLOSED", "2018-03-01")
    statistician = users.headers(Role.statistics, "F", subject="stina")
    assert _totals(client, statistician, 2018)["CLOSED"] == 1
    assert _totals(client, statistician, 2018)["A"] == 1
    assert "CLOSED" not in _totals(client, statistician, 2021)
    closed = client.get(f"/api/v1/org-units/{history['CLOSED']['id']}", headers=admin).json()
    assert (closed["active"], closed["valid_to"], closed["parent_id"]) == (False, "2020-12-31", history["A"]["id"])
    # Access follows where the closed unit ended: under A.
    for department, seen in (("A", 1), ("B", 0)):
        investigator = users.headers(Role.investigator, department, subject=f"ivan-{department}")
        assert len(client.get("/api/v1/reports", headers=investigator).json()["items"]) == seen, department
    reporter = users.headers(Role.reporter, "F", subject="rita")
    refused = client.post("/api/v1/reports", headers=reporter, json=report_body(units=["CLOSED"]))
    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "/units/0"


def test_loading_the_same_history_again_changes_nothing(client, clock, users, admin, history):
    _file_report_on(client, clock, users, "MOVED", "2018-06-01")
    before = client.get("/api/v1/org-units", headers=admin).json()
    again = client.post(IMPORT, json={"units": list(reversed(HISTORY))}, headers=admin)
    assert again.status_code == 200, again.text
    assert again.json()["created"] == [] and again.json()["extended"] == []
    assert sorted(again.json()["unchanged"]) == ["A", "B", "CLOSED", "F", "MOVED"]
    assert client.get("/api/v1/org-units", headers=admin).json() == before
    statistician = users.headers(Role.statistics, "F", subject="stina")
    assert _totals(client, statistician, 2018)["A"] == 1


def _with(code: str, placements: list[dict], **unit) -> list[dict]:
    rows = [dict(row) for row in HISTORY if row["code"] in ("F", "A", "B")]
    return [*rows, {"code": code, "kind": "unit", "placements": placements, **unit}]


@pytest.mark.parametrize("rows, pointer", [
    (_with("X", [{"parent_code": "A", "name": "X", "valid_from": "2016-01-01", "valid_to": "2019-06-30"},
                 {"parent_code": "B", "name": "X", "valid_from": "2019-01-01"}]),
     "/units/3/placements/1/valid_from"),  # overlapping: the first half of 2019 under both
    (_with("X", [{"parent_code": "B", "name": "X", "valid_from": "2019-01-01"},
                 {"parent_code": "A", "name": "X", "valid_from": "2016-01-01"}]),
     "/units/3/placements/0/valid_from"),  # listed out of order, and the earlier one never ends
    (_with("X", [{"parent_code": "A", "name": "X", "valid_from": "2016-01-01", "valid_to": "2018-06-30"},
                 {"parent_code": "B", "name": "X", "valid_from": "2019-01-01"}]),
     "/units/3/placements/1/valid_from"),  # a gap: the second half of 2018 under none
    (_with("X", [{"parent_code": "A", "name": "X", "valid_from": "2016-01-01", "valid_to": "2018-12-31"}],
           valid_from="2016-01-01"),
     "/units/3/placements/0/valid_to"),  # ends before the unit does (the unit is still open)
    (_with("X", [{"parent_code": "A", "name": "X", "valid_from": "2016-01-01"}], valid_from="2015-01-01"),
     "/units/3/placements/0/valid_from"),  # starts after the unit does
    (_with("X", [{"parent_code": "A", "name": "X", "valid_from": "2010-01-01"}]),
     "/units/3/placements/0/parent_code"),  # A is valid from 2015 only
    (_with("X", [{"parent_code": "F", "name": "X", "valid_from": "2016-01-01"}]),
     "/units/3/placements/0/parent_code"),  # an enhet under a förvaltning
    (_with("X", [{"parent_code": "NOPE", "name": "X", "valid_from": "2016-01-01"}]),
     "/units/3/placements/0/parent_code"),
    (_with("X", [{"parent_code": "A", "name": "X", "valid_from": "2016-01-01"}], name="X"), "/units/3/name"),
    (_with("X", [{"parent_code": "A", "name": "X", "valid_from": "2016-01-01", "valid_to": "2015-01-01"}]),
     "/units/3/placements/0/valid_to"),
], ids=["overlap", "out-of-order-overlap", "gap", "ends-early", "starts-late", "parent-not-valid-yet",
        "wrong-kind", "unknown-parent", "name-beside-placements", "ends-before-it-starts"])
def test_a_broken_history_is_refused_whole_with_a_pointer(client, admin, rows, pointer):
    response = client.post(IMPORT, json={"units": rows}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["pointer"] for error in response.json()["errors"]] == [pointer]
    assert not any(value in response.text for value in ("2016-01-01", "2019-01-01", "2018-06-30", "NOPE"))
    assert client.get("/api/v1/org-units", headers=admin).json() == []  # nothing written, not even F


def test_a_parent_closed_during_a_placement_is_refused(client, admin):
    rows = [{"code": "F", "name": "F", "kind": "administration", "valid_from": "2015-01-01"},
            {"code": "OLD", "name": "Gamla avdelningen", "kind": "department", "parent_code": "F",
             "valid_from": "2015-01-01", "valid_to": "2018-12-31"},
            {"code": "X", "kind": "unit", "placements": [
                {"parent_code": "OLD", "name": "X", "valid_from": "2016-01-01", "valid_to": "2019-06-30"}],
             "valid_to": "2019-06-30"}]
    response = client.post(IMPORT, json={"units": rows}, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/units/2/placements/0/parent_code"


def test_a_history_that_contradicts_the_stored_one_is_refused(client, admin, history):
    changed = [dict(row) for row in HISTORY]
    changed[3] = {**changed[3], "placements": [
        {"parent_code": "A", "name": "Hemtjänst Väst", "valid_from": "2015-01-01", "valid_to": "2019-12-31"},
        {"parent_code": "B", "name": "Hemtjänst Centrum", "valid_from": "2020-01-01"}]}
    response = client.post(IMPORT, json={"units": changed}, headers=admin)
    assert response.status_code == 409, response.text
    assert response.json()["errors"][0]["pointer"] == "/units/3/code"
    simple = client.post(IMPORT, headers=admin, json={"units": [
        {"code": "MOVED", "name": "Hemtjänst Väst", "kind": "unit", "parent_code": "A", "valid_from": "2015-01-01"}]})
    assert simple.status_code == 409  # a simple row is compared with the unit as it stands today


def test_a_history_may_reach_back_before_a_unit_was_first_loaded(client, clock, users, admin, org):
    """The org was loaded as it stood in 2020; a later file adds the years before, and agrees on the rest."""
    earlier = [
        {"code": "SOC", "kind": "administration", "valid_from": "2016-01-01", "placements": [
            {"name": "Socialförvaltningen", "valid_from": "2016-01-01"}]},
        {"code": "SOC-ALD", "kind": "department", "placements": [
            {"parent_code": "SOC", "name": "Äldreomsorg", "valid_from": "2016-01-01"}]},
        {"code": "SOC-FUN", "kind": "department", "placements": [
            {"parent_code": "SOC", "name": "Funktionsstöd", "valid_from": "2016-01-01"}]},
        {"code": "SOC-ALD-1", "kind": "unit", "placements": [
            {"parent_code": "SOC-FUN", "name": "Hemtjänst Gamla", "valid_from": "2016-01-01",
             "valid_to": "2019-12-31"},
            {"parent_code": "SOC-ALD", "name": "Hemtjänst Centrum", "valid_from": "2020-01-01"}]},
    ]
    names = {unit["code"]: unit["name"] for unit in client.get("/api/v1/org-units", headers=admin).json()}
    assert (names["SOC"], names["SOC-ALD"], names["SOC-FUN"]) == ("Socialförvaltningen", "Äldreomsorg",
                                                                   "Funktionsstöd")
    response = client.post(IMPORT, json={"units": earlier}, headers=admin)
    assert response.status_code == 200, response.text
    assert sorted(unit["code"] for unit in response.json()["extended"]) == ["SOC", "SOC-ALD", "SOC-ALD-1",
                                                                            "SOC-FUN"]
    unit = client.get(f"/api/v1/org-units/{org['SOC-ALD-1']}", headers=admin).json()
    assert (unit["valid_from"], unit["parent_id"], unit["name"]) == ("2016-01-01", org["SOC-ALD"],
                                                                     "Hemtjänst Centrum")
    again = client.post(IMPORT, json={"units": earlier}, headers=admin)
    assert again.json()["extended"] == [] and len(again.json()["unchanged"]) == 4

    reporter = users.headers(Role.reporter, "SOC", subject="rut")
    today = clock.now
    clock.now = datetime(2018, 5, 2, 10, tzinfo=UTC)
    assert client.post("/api/v1/reports", headers=reporter, json=report_body(
        occurred_at="2018-05-02T08:00:00+02:00", noticed_at="2018-05-02T08:30:00+02:00")).status_code == 201
    clock.now = today
    statistician = users.headers(Role.statistics, "SOC", subject="stina")
    totals = _totals(client, statistician, 2018)
    assert totals["SOC-FUN"] == 1 and totals["SOC-ALD"] == 0 and totals["Totalt"] == 1


def test_an_avdelning_moved_to_another_forvaltning_leaves_its_earlier_years_behind(client, clock, users, admin):
    rows = [
        {"code": "F1", "name": "Socialförvaltningen", "kind": "administration", "valid_from": "2015-01-01"},
        {"code": "F2", "name": "Vård- och omsorgsförvaltningen", "kind": "administration",
         "valid_from": "2015-01-01"},
        {"code": "D", "kind": "department", "placements": [
            {"parent_code": "F1", "name": "Äldreomsorg", "valid_from": "2015-01-01", "valid_to": "2018-12-31"},
            {"parent_code": "F2", "name": "Äldreomsorg", "valid_from": "2019-01-01"}]},
        {"code": "U", "name": "Hemtjänst", "kind": "unit", "parent_code": "D", "valid_from": "2015-01-01"},
    ]
    created = client.post(IMPORT, json={"units": rows}, headers=admin)
    assert created.status_code == 200, created.text
    ids = {unit["code"]: unit["id"] for unit in created.json()["created"]}
    reporter = users.headers(Role.reporter, "*", subject="rita")
    today = clock.now
    for day in ("2018-06-01", "2020-06-01"):
        clock.now = datetime.fromisoformat(f"{day}T10:00:00").replace(tzinfo=UTC)
        assert client.post("/api/v1/reports", headers=reporter, json=report_body(
            units=["U"], occurred_at=f"{day}T08:00:00+02:00", noticed_at=f"{day}T08:30:00+02:00")).status_code == 201
    clock.now = today
    statistician = users.headers(Role.statistics, "*", subject="stina")

    def totals(code: str, year: int) -> dict[str, int]:
        return _totals(client, statistician, year, unit_id=ids[code])

    assert totals("F1", 2018) == {"D": 1, "U": 1, "Totalt": 1}
    assert totals("F2", 2018) == {"Totalt": 0}
    assert totals("F1", 2020) == {"Totalt": 0}
    assert totals("F2", 2020) == {"D": 1, "U": 1, "Totalt": 1}
    assert totals("D", 2018) == {"D": 1, "U": 1, "Totalt": 1}  # the avdelning's own table keeps its years


def test_a_history_in_csv_one_line_per_placement(client, clock, users, admin):
    csv_text = (
        "code;name;kind;parent_code;valid_from;valid_to;placement_from;placement_to\n"
        "F;Förvaltningen;administration;;2015-01-01;;;\n"
        "A;Avdelning A;department;F;2015-01-01;;;\n"
        "B;Avdelning B;department;F;2015-01-01;;;\n"
        "MOVED;Hemtjänst Väst;unit;A;2015-01-01;;2015-01-01;2018-12-31\n"
        "MOVED;Hemtjänst Centrum;unit;B;2015-01-01;;2019-01-01;\n"
    )
    headers = {**admin, "Content-Type": "text/csv"}
    response = client.post(IMPORT, content=csv_text.encode(), headers=headers)
    assert response.status_code == 200, response.text
    assert [unit["code"] for unit in response.json()["created"]] == ["F", "A", "B", "MOVED"]
    again = client.post(IMPORT, content=csv_text.encode(), headers=headers)
    assert sorted(again.json()["unchanged"]) == ["A", "B", "F", "MOVED"]
    _file_report_on(client, clock, users, "MOVED", "2018-06-01")
    statistician = users.headers(Role.statistics, "F", subject="stina")
    assert _totals(client, statistician, 2018) == {"A": 1, "MOVED": 1, "B": 0, "Totalt": 1}


@pytest.mark.parametrize("lines, pointer", [
    ("X;X;unit;A;2016-01-01;;2016-01-01;2019-06-30\nX;X;unit;B;2016-01-01;;2019-01-01;\n", "/units/4/placement_from"),
    ("X;X;unit;A;2016-01-01;;2016-01-01;2018-12-31\nX;X;unit;B;2017-01-01;;2019-01-01;\n", "/units/4/valid_from"),
    ("X;X;unit;A;2016-01-01;;2016-01-01;2018-12-31\nX;X;unit;B;2016-01-01;;2019-01-01;tomorrow\n",
     "/units/4/placement_to"),
], ids=["overlap", "unit-dates-differ", "bad-day"])
def test_csv_history_errors_name_the_line_and_column(client, admin, lines, pointer):
    csv_text = ("code;name;kind;parent_code;valid_from;valid_to;placement_from;placement_to\n"
                "F;F;administration;;2015-01-01;;;\nA;A;department;F;2015-01-01;;;\nB;B;department;F;2015-01-01;;;\n"
                + lines)
    response = client.post(IMPORT, content=csv_text.encode(), headers={**admin, "Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    assert [error["pointer"] for error in response.json()["errors"]] == [pointer]
    assert client.get("/api/v1/org-units", headers=admin).json() == []


def test_a_placement_dated_after_today_takes_effect_on_its_day(client, clock, admin, history):
    rows = [{"code": "PLANNED", "kind": "unit", "placements": [
        {"parent_code": "A", "name": "Dagverksamhet", "valid_from": "2015-01-01", "valid_to": "2026-03-31"},
        {"parent_code": "B", "name": "Dagverksamhet Syd", "valid_from": "2026-04-01"}]}]
    created = client.post(IMPORT, json={"units": rows}, headers=admin)
    assert created.status_code == 200, created.text
    unit_url = f"/api/v1/org-units/{created.json()['created'][0]['id']}"
    seen = client.get(unit_url, headers=admin).json()
    assert (seen["parent_id"], seen["name"]) == (history["A"]["id"], "Dagverksamhet")  # 2026-03-10
    clock.now = datetime(2026, 4, 1, 9, tzinfo=UTC)
    seen = client.get(unit_url, headers=admin).json()
    assert (seen["parent_id"], seen["name"]) == (history["B"]["id"], "Dagverksamhet Syd")


def test_naming_a_parent_in_any_placement_needs_the_admin_right_there(client, users, history):
    admin_of_a = users.headers(Role.admin, "A", subject="adam")
    rows = [{"code": "A-NEW", "kind": "unit", "placements": [
        {"parent_code": "B", "name": "Ny", "valid_from": "2016-01-01", "valid_to": "2017-12-31"},
        {"parent_code": "A", "name": "Ny", "valid_from": "2018-01-01"}]}]
    assert client.post(IMPORT, json={"units": rows}, headers=admin_of_a).status_code == 403
    rows[0]["placements"][0]["parent_code"] = "A"
    assert client.post(IMPORT, json={"units": rows}, headers=admin_of_a).status_code == 200
