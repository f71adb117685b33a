"""Every error is RFC 9457 problem+json, refuses before parsing where it can, and leaks nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from service.domain.access import Role

PROBLEM = "application/problem+json"


@pytest.fixture
def investigator(users, org):
    return users.headers(Role.investigator, "SOC")


def _is_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


def test_unknown_route_is_404(client, investigator):
    _is_problem(client.get("/api/v1/nothing-here", headers=investigator), 404)


def test_wrong_method_is_405_with_allow(client, investigator):
    response = client.delete("/api/v1/reports", headers=investigator)
    _is_problem(response, 405)
    assert "GET" in response.headers["allow"]


def test_unknown_report_id_and_malformed_id(client, investigator):
    _is_problem(client.get("/api/v1/reports/00000000-0000-0000-0000-000000000000", headers=investigator), 404)
    body = _is_problem(client.get("/api/v1/reports/not-a-uuid", headers=investigator), 422)
    assert body["errors"][0]["location"] == "path"


def test_non_json_body_is_415_before_parsing(client, investigator):
    response = client.post("/api/v1/reports", content=b"units=SOC-ALD-1",
                           headers={**investigator, "Content-Type": "application/x-www-form-urlencoded"})
    _is_problem(response, 415)
    assert response.headers["accept-post"] == "application/json"
    _is_problem(client.post("/api/v1/reports", content=b"{}", headers=investigator), 415)  # no Content-Type


def test_malformed_json_is_400(client, investigator):
    response = client.post("/api/v1/reports", content=b'{"units": ["SOC-ALD-1"',
                           headers={**investigator, "Content-Type": "application/json"})
    assert _is_problem(response, 400)["type"].endswith("malformed-json")


def test_json_that_is_not_an_object_is_422(client, investigator):
    response = client.post("/api/v1/reports", json=["a", "list"], headers=investigator)
    _is_problem(response, 422)


def test_oversized_body_is_413_whether_declared_or_streamed(client, investigator, settings):
    huge = json.dumps({"description": "x" * (settings.max_body_bytes + 1)}).encode()
    declared = client.post("/api/v1/reports", content=huge,
                           headers={**investigator, "Content-Type": "application/json"})
    _is_problem(declared, 413)

    def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    streamed = client.post("/api/v1/reports", content=chunks(),
                           headers={**investigator, "Content-Type": "application/json"})
    _is_problem(streamed, 413)


def test_validation_errors_name_every_bad_field(client, investigator):
    response = client.post("/api/v1/reports", json={"units": "SOC-ALD-1", "occurred_at": 5, "extra": 1},
                           headers=investigator)
    body = _is_problem(response, 422)
    pointers = {error["pointer"] for error in body["errors"]}
    assert {"/units", "/occurred_at", "/extra", "/description", "/noticed_at"} <= pointers  # category may be left out
    assert "units" in body["detail"]


def test_unexpected_errors_are_a_plain_500_without_internals(client, investigator):
    def broken() -> None:
        raise RuntimeError("SELECT secret FROM report -- stack trace material")

    client.app.add_api_route("/api/v1/broken", broken)
    body = _is_problem(client.get("/api/v1/broken", headers=investigator), 500)
    assert "SELECT" not in json.dumps(body) and "Traceback" not in json.dumps(body)


def test_a_failing_request_writes_nothing(client, investigator, db, org, monkeypatch):
    """The access record is the intake's last write (on PostgreSQL, the last part of its one statement);
    when the database refuses it, the report, its enheter, its timeline and the case number must not stay."""
    import service.reports as reports_module

    body = {"units": ["SOC-ALD-1"], "occurred_at": "2026-03-09T10:00:00Z", "noticed_at": "2026-03-09T10:00:00Z",
            "description": "x", "no_specific_subject": True, "category": "other"}
    real_entry = reports_module.audit.entry

    def refused_by_database(*args, **kwargs):
        return {**real_entry(*args, **kwargs), "action": None}  # NOT NULL in the schema

    with monkeypatch.context() as patch:
        patch.setattr(reports_module.audit, "entry", refused_by_database)
        _is_problem(client.post("/api/v1/reports", json=body, headers=investigator), 500)
    with db.connect() as connection:
        for table in ("report", "report_unit", "case_event", "case_number_sequence", "audit_record"):
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
    assert client.post("/api/v1/reports", json=body, headers=investigator).json()["case_number"] == "SOC-2026-00001"


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-12345678"}).headers["x-request-id"] == "abc-12345678"
    made = client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["x-request-id"]
    assert made != "<script>" and len(made) == 32


HUGE = 2**31  # names no row; PostgreSQL's integer ids cannot take it as a parameter (it was a 500)


@pytest.mark.parametrize(("method", "url", "body", "location", "name"), [
    ("GET", f"/api/v1/org-units/{HUGE}", None, "path", "unit_id"),
    ("POST", f"/api/v1/org-units/{HUGE}/close", {"valid_to": "2026-01-01"}, "path", "unit_id"),
    ("GET", f"/api/v1/org-units?under={HUGE}", None, "query", "under"),
    ("GET", f"/api/v1/reports?unit_id={HUGE}", None, "query", "unit_id"),
    ("GET", f"/api/v1/statistics/annual-table?unit_id={HUGE}", None, "query", "unit_id"),
    ("GET", f"/api/v1/grants?unit_id=-{HUGE}", None, "query", "unit_id"),
    ("POST", f"/api/v1/grants/{HUGE}/revoke", None, "path", "grant_id"),
    ("POST", "/api/v1/org-units", {"code": "X", "name": "X", "kind": "department", "parent_id": HUGE},
     "body", "parent_id"),
])
def test_an_id_out_of_range_is_422_naming_it_and_never_a_500(client, admin, method, url, body, location, name):
    response = client.request(method, url, json=body, headers=admin)
    _is_problem(response, 422)
    assert (location, name) in [(error["location"], error["name"]) for error in response.json()["errors"]]


# PostgreSQL can neither store nor compare text holding NUL characters (it was a 500 there); every way in
# refuses it naming the field.
@pytest.mark.parametrize(("method", "url", "body", "location", "name"), [
    ("GET", "/api/v1/reports?category=other&category=a%00b", None, "query", "category"),
    ("GET", "/api/v1/reports?q=ab%00", None, "query", "q"),
    ("POST", "/api/v1/grants", {"subject": "nina", "role": "reporter", "unit_code": "\u0000SOC"}, "body", "unit_code"),
    ("POST", "/api/v1/org-units", {"code": "X\u0000", "name": "X", "kind": "administration"}, "body", "code"),
])
def test_text_with_a_nul_character_is_422_naming_the_field(client, admin, method, url, body, location, name):
    response = client.request(method, url, json=body, headers=admin)
    _is_problem(response, 422)
    assert (location, name) in [(error["location"], error["name"]) for error in response.json()["errors"]]


def test_a_nul_character_in_a_report_s_enheter_is_refused_naming_the_item(client, users, org):
    reporter = users.headers(Role.reporter, "SOC")
    body = {"units": ["SOC-ALD-1\u0000"], "occurred_at": "2026-03-09T10:00:00Z", "noticed_at": "2026-03-09T10:00:00Z",
            "description": "x", "no_specific_subject": True, "category": "other"}
    response = client.post("/api/v1/reports", json=body, headers=reporter)
    _is_problem(response, 422)
    assert "/units" in [error["pointer"] for error in response.json()["errors"]]


def test_a_csv_import_that_cannot_be_read_is_400_not_500(client, admin):
    too_long_a_field = "code,name,kind\r\n\"" + "x" * 140_000 + "\",y,unit\r\n"  # the csv module's limit: 128 KiB
    response = client.post("/api/v1/org-units/import", content=too_long_a_field.encode(),
                           headers={**admin, "Content-Type": "text/csv"})
    problem = _is_problem(response, 400)
    assert problem["type"].endswith("bad-csv")
