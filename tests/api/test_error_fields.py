"""Errors name the field where the client gave it: a JSON pointer into the body, or a query/path parameter by
name with its location. And the unit code rule says what it checks: the message, the rule, the OpenAPI
pattern and the README agree (ASCII letters; å, ä and ö are refused, as the code is unique regardless of case
and neither database folds them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from service.api.org_units import ImportUnit
from service.domain.access import Role
from service.domain.org import CODE_PATTERN
from tests.bodies import OPERATOR, report_body as report, send_order

REPORTS = "/api/v1/reports"
ROOT = Path(__file__).resolve().parents[2]


def _fields(response) -> list[tuple[str, str | None, str | None]]:
    return [(error["location"], error["name"], error["pointer"]) for error in response.json()["errors"]]


def test_a_missing_part_of_a_notification_is_a_json_pointer(client, staff, investigator, decision_maker):
    case = client.post(REPORTS, json=report(), headers=staff).json()["id"]
    assessed = client.post(f"{REPORTS}/{case}/assessments", headers=investigator, json={
        "types": [{"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"}], "justification": "Allvarligt."})
    assert assessed.status_code == 201, assessed.text
    drafted = client.post(f"{REPORTS}/{case}/notifications", headers=investigator,
                          json={"authority": "ivo", "operator": OPERATOR, "unit": {"address": "Storgatan 1"}})
    assert drafted.status_code == 201, drafted.text
    refused = client.post(f"{REPORTS}/{case}/notifications/{drafted.json()['id']}/send", json=send_order(),
                          headers=decision_maker)
    assert refused.status_code == 409, refused.text
    assert _fields(refused) == [("body", "unit.name", "/unit/name")]


def test_a_domain_error_about_a_query_parameter_says_query(client, users, org, admin):
    statistician = users.headers(Role.statistics, "SOC-ALD", subject="stina")
    users.grant("stina", Role.statistics, "SOC-IFO")  # two subtrees: which one must be named
    missing = client.get("/api/v1/statistics/annual-table", headers=statistician)
    assert missing.status_code == 422, missing.text
    assert _fields(missing) == [("query", "unit_id", None)]

    half_a_period = client.get(f"/api/v1/statistics/annual-table?unit_id={org['SOC-ALD']}&from=2026-01-01",
                               headers=statistician)
    assert half_a_period.status_code == 422, half_a_period.text
    assert _fields(half_a_period) == [("query", "to", None)]

    unknown = client.get("/api/v1/grants?unit_id=2000000000", headers=admin)
    assert unknown.status_code == 422, unknown.text
    assert _fields(unknown) == [("query", "unit_id", None)]

    unknown = client.get("/api/v1/reports?unit_id=2000000000", headers=admin)
    assert _fields(unknown) == [("query", "unit_id", None)]


def test_validation_errors_say_where_the_parameter_was_given(client, admin):
    missing = client.get("/api/v1/statistics/crosstab", headers=admin)
    assert ("query", "rows", None) in _fields(missing)
    bad_path = client.get("/api/v1/org-units/x", headers=admin)
    assert _fields(bad_path) == [("path", "unit_id", None)]
    assert bad_path.json()["instance"] == "/api/v1/org-units/{unit_id}"  # the template, not the path as sent
    bad_body = client.post("/api/v1/org-units", json={"code": "X", "name": "X", "kind": "unit", "parent_id": 0},
                           headers=admin)
    assert ("body", "parent_id", "/parent_id") in _fields(bad_body)


def test_a_pointer_escapes_slash_and_tilde(client, admin):
    response = client.post("/api/v1/org-units", json={"code": "X", "name": "X", "kind": "administration",
                                                      "a/b~c": 1}, headers=admin)
    assert response.status_code == 422
    assert "/a~1b~0c" in [pointer for _, _, pointer in _fields(response)]


CODES = ["SOC-ÄLD", "Åby", "Hemtjänst-Ö", "SOC-ALD-9", "a_b.c-1", "-x", "x" * 32, "x" * 33, "ab cd"]


def test_the_unit_code_rule_the_message_and_the_contract_agree(client, admin):
    contract = json.loads((ROOT / "openapi" / "openapi.json").read_text())
    schemas = contract["components"]["schemas"]
    for schema in (schemas["OrgUnitCreate"], ImportUnit.model_json_schema()):  # the import's, wherever it is put
        assert schema["properties"]["code"]["pattern"] == CODE_PATTERN.pattern
    pattern = re.compile(CODE_PATTERN.pattern)
    for code in CODES:
        response = client.post("/api/v1/org-units", json={"code": code, "name": "Ny", "kind": "administration"},
                               headers=admin)
        allowed = bool(pattern.search(code)) and len(code) <= 32
        assert (response.status_code == 201) == allowed, (code, response.text)
        if not allowed:
            assert response.status_code == 422
            if len(code) <= 32:  # longer codes are refused by the length before the rule is looked at
                problem = response.json()
                assert "ASCII letters A-Z" in problem["detail"] and "not å, ä or ö" in problem["detail"]
                assert _fields(response) == [("body", "code", "/code")]
    readme = (ROOT / "README.md").read_text()
    assert "ASCII letters A–Z in either case, so not å, ä or ö" in readme
