"""Every date and time a request gives, in a body or a query, is within one range (service/domain/time_range.py,
1900-01-01 through 2199-12-31) and, for a moment, carries a UTC offset; anything else is a 422 naming the
field, never a 500. A cursor is opaque, but a non-ASCII one is still just a forged cursor (400).

Outside testing found: years 1 and 9999 with offsets that push the moment past what Python can represent,
a naive due_before, and a cursor with an "é" in it, all answered 500.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from service.domain.access import Role
from service.domain.time_range import FIRST_DAY, LAST_DAY

PROBLEM = "application/problem+json"
CASE = f"/api/v1/reports/{uuid.uuid4()}"  # the body is checked before the case is looked up

# Moments that are nonsense or that overflow once moved to UTC or to Swedish time.
BAD_MOMENTS = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1899-12-31T23:59:59+00:00",
    "2200-01-01T00:00:00+01:00",
    "2026-03-01T10:00:00",  # no offset: ambiguous
    "1741600000",  # seconds since 1970, which lax parsing would take
]
BAD_DAYS = ["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01", "20260101"]

# (method, url, body-or-None, location, name): the field the value goes into.
BODY_MOMENTS = [
    ("POST", "/api/v1/reports", "occurred_at"),
    ("POST", "/api/v1/reports", "noticed_at"),
    ("POST", f"{CASE}/assessments", "incident_aware_at"),
    ("POST", f"{CASE}/notifications", "occurred_at"),
    ("POST", f"{CASE}/notifications", "aware_at"),
    ("PATCH", f"{CASE}/notifications/1", "ended_at"),
    ("POST", f"{CASE}/notifications/1/send", "sent_at"),
    ("POST", f"{CASE}/notifications/1/supplements", "sent_at"),
    ("POST", f"{CASE}/data-subject-communication", "informed_at"),
    ("POST", "/api/v1/audit/reviews", "period_from"),
    ("POST", "/api/v1/audit/reviews", "period_to"),
]
BODY_DAYS = [
    ("POST", f"{CASE}/investigation/entries", "documented_on"),
    ("POST", f"{CASE}/actions", "due_date"),
    ("POST", f"{CASE}/actions", "done_date"),
    ("POST", f"{CASE}/actions/1/done", "done_date"),
    ("POST", f"{CASE}/notifications/1/authority-response", "authority_decision_at"),
    ("POST", "/api/v1/org-units", "valid_from"),
    ("POST", "/api/v1/org-units", "valid_to"),
    ("PATCH", "/api/v1/org-units/1", "effective_date"),
    ("POST", "/api/v1/org-units/1/move", "effective_date"),
    ("POST", "/api/v1/org-units/1/close", "valid_to"),
]
QUERY_MOMENTS = [
    ("/api/v1/deadlines", "due_before"),
    ("/api/v1/audit/records", "from"),
    ("/api/v1/audit/records", "to"),
    ("/api/v1/statistics/open-and-overdue", "at"),
]
STATISTICS = ["/api/v1/statistics/annual-table", "/api/v1/statistics/crosstab?rows=category",
              "/api/v1/statistics/lead-times"]
QUERY_DAYS = [
    ("/api/v1/reports", "received_from"),
    ("/api/v1/reports", "received_to"),
    ("/api/v1/org-units", "active_on"),
    ("/api/v1/statistics/annual-table", "from"),
    ("/api/v1/statistics/annual-table", "to"),
    ("/api/v1/statistics/crosstab?rows=category", "from"),
    ("/api/v1/statistics/lead-times", "to"),
]


@pytest.fixture
def everyone(users, org) -> dict[str, str]:
    """Someone holding every role, so that no refusal for want of a role comes before the validation."""
    for role in Role:
        users.grant("all-roles", role, "*")
    return {"Authorization": f"Bearer {users.token('all-roles')}"}


def _refusal(response, location: str, name: str) -> str | None:
    """None when the response is a 422 naming the field where it was given; else what is wrong."""
    if response.status_code != 422 or response.headers["content-type"] != PROBLEM:
        return f"{response.status_code}: {response.text[:300]}"
    named = [(error["location"], error["name"], error["pointer"]) for error in response.json()["errors"]]
    pointer = "/" + name.replace(".", "/") if location == "body" else None
    return None if (location, name, pointer) in named else f"not named: {named}"


def _query(url: str, field: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{field}={quote(value)}"


# One test per kind of field, each trying every value on every field (one app and organisation for all).

def test_a_moment_in_a_body_out_of_range_or_without_offset_is_422(client, everyone):
    wrong = {(url, field, value): problem for method, url, field in BODY_MOMENTS for value in BAD_MOMENTS
             if (problem := _refusal(client.request(method, url, json={field: value}, headers=everyone),
                                     "body", field))}
    assert not wrong, wrong


def test_a_day_in_a_body_out_of_range_is_422(client, everyone):
    wrong = {(url, field, value): problem for method, url, field in BODY_DAYS for value in BAD_DAYS
             if (problem := _refusal(client.request(method, url, json={field: value}, headers=everyone),
                                     "body", field))}
    assert not wrong, wrong


def test_a_moment_in_a_query_out_of_range_or_without_offset_is_422(client, everyone):
    wrong = {(url, field, value): problem for url, field in QUERY_MOMENTS for value in BAD_MOMENTS
             if (problem := _refusal(client.get(_query(url, field, value), headers=everyone), "query", field))}
    assert not wrong, wrong


def test_a_day_or_year_in_a_query_out_of_range_is_422(client, everyone):
    wrong = {(url, field, value): problem for url, field in QUERY_DAYS for value in BAD_DAYS
             if (problem := _refusal(client.get(_query(url, field, value), headers=everyone), "query", field))}
    years = ["0", "1", "1899", "2200", "9999", "10000"]
    wrong |= {(url, "year", value): problem for url in STATISTICS for value in years
              if (problem := _refusal(client.get(_query(url, "year", value), headers=everyone), "query", "year"))}
    assert not wrong, wrong


@pytest.mark.parametrize("row", [{"valid_from": "0001-01-01"}, {"valid_to": "9999-12-31"}])
def test_an_org_import_with_a_day_out_of_range_is_422_naming_the_row(client, admin, row):
    unit = {"code": "GAMLA", "name": "Gamla förvaltningen", "kind": "administration", **row}
    field = next(iter(row))
    response = client.post("/api/v1/org-units/import", json={"units": [unit]}, headers=admin)
    assert _refusal(response, "body", f"units.0.{field}") is None, response.text
    csv = f"code;name;kind;parent_code;{field}\nGAMLA;Gamla förvaltningen;administration;;{row[field]}\n"
    response = client.post("/api/v1/org-units/import", content=csv.encode(),
                           headers={**admin, "Content-Type": "text/csv"})
    assert response.status_code == 422, response.text
    assert f"/units/0/{field}" in [error["pointer"] for error in response.json()["errors"]]


def test_the_edges_of_the_range_are_accepted(client, admin, everyone, org, users):
    first, last = FIRST_DAY.isoformat(), LAST_DAY.isoformat()
    # an organisation from an earlier system, decades back, and a report from then
    rows = [{"code": "GAMLA", "name": "Gamla förvaltningen", "kind": "administration", "valid_from": first},
            {"code": "GAMLA-A", "name": "Avdelningen", "kind": "department", "parent_code": "GAMLA",
             "valid_from": first},
            {"code": "GAMLA-A-1", "name": "Enheten", "kind": "unit", "parent_code": "GAMLA-A", "valid_from": first}]
    assert client.post("/api/v1/org-units/import", json={"units": rows}, headers=admin).status_code == 200
    old = {"units": ["GAMLA-A-1"], "occurred_at": f"{first}T12:00:00+01:00", "noticed_at": f"{first}T13:00:00+01:00",
           "description": "Från det gamla systemet.", "no_specific_subject": True, "category": "other"}
    response = client.post("/api/v1/reports", json=old, headers=users.headers(Role.reporter, "GAMLA"))
    assert response.status_code == 201, response.text
    earliest, latest = quote(f"{first}T00:00:00+14:00"), quote(f"{last}T23:59:59-14:00")
    for url in (f"/api/v1/org-units?active_on={last}",
                f"/api/v1/reports?received_from={first}&received_to={last}",
                f"/api/v1/deadlines?due_before={earliest}", f"/api/v1/deadlines?due_before={latest}",
                f"/api/v1/audit/records?from={earliest}&to={latest}",
                f"/api/v1/statistics/open-and-overdue?unit_id={org['SOC']}&at={earliest}",
                f"/api/v1/statistics/open-and-overdue?unit_id={org['SOC']}&at={latest}",
                f"/api/v1/statistics/annual-table?unit_id={org['SOC']}&year=1900",
                f"/api/v1/statistics/annual-table?unit_id={org['SOC']}&year=2199",
                f"/api/v1/statistics/lead-times?unit_id={org['SOC']}&from=2180-01-01&to={last}"):
        response = client.get(url, headers=everyone)
        assert response.status_code == 200, (url, response.text)


def test_a_cursor_with_non_ascii_characters_is_a_forged_cursor(client, everyone):
    for url in ("/api/v1/reports", "/api/v1/grants", "/api/v1/audit/records", "/api/v1/audit/reviews"):
        for cursor in ("abc.%C3%A9", "%C3%A9.abc", "%C2%B2.abc", "1.%C3%A9"):
            response = client.get(f"{url}?cursor={cursor}", headers=everyone)
            assert response.status_code == 400, (url, cursor, response.text)
            assert response.json()["type"].endswith("invalid-cursor")
