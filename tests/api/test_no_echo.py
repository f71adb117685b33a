"""Error answers name the field, never the value: a submitted value may be a personnummer or case content.

A recognisable personnummer, a marker string and a marker id go into many fields of many endpoints (bodies,
queries, paths, CSV), each request built to reach the rule that refuses it (unknown, duplicate, wrong kind,
inactive, out of scope, not permitted...); no error answer may contain any of them.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from service.domain.access import Role
from tests.bodies import OPERATOR, UNIT, report_body as report

PNR = "19121212-1212"  # Tolvan Tolvansson, the test personnummer
MARK = "Zq7-EKO-MARKER"  # a valid unit code, so that it gets past the code rule to the rules behind it
MARK_ID = 1912121212  # an id in range, naming no row
SENTINELS = (PNR, PNR.replace("-", ""), MARK.lower(), str(MARK_ID))

REPORTS = "/api/v1/reports"


def _echoes(response) -> list[str]:
    text = response.text.lower()
    return [sentinel for sentinel in SENTINELS if sentinel.lower() in text]


@pytest.fixture
def sentinel_units(client, admin, org) -> dict[str, int]:
    """Units whose codes are the sentinels: PNR an enhet under SOC-FUN active only from today, MARK an
    avdelning, and a whole förvaltning of MARK codes."""
    rows = [
        {"code": PNR, "name": "Enhet", "kind": "unit", "parent_code": "SOC-FUN", "valid_from": "2026-03-10"},
        {"code": MARK, "name": "Avdelning", "kind": "department", "parent_code": "SOC", "valid_from": "2020-01-01"},
        {"code": f"{MARK}-F", "name": "Förvaltning", "kind": "administration", "valid_from": "2020-01-01"},
        {"code": f"{MARK}-F-A", "name": "Avdelning", "kind": "department", "parent_code": f"{MARK}-F",
         "valid_from": "2020-01-01"},
        {"code": f"{MARK}-F-A-1", "name": "Enhet", "kind": "unit", "parent_code": f"{MARK}-F-A",
         "valid_from": "2020-01-01"},
    ]
    response = client.post("/api/v1/org-units/import", json={"units": rows}, headers=admin)
    assert response.status_code == 200, response.text
    return {unit["code"]: unit["id"] for unit in response.json()["created"]}


def _entry(topic: str) -> dict:
    return {"topic": topic, "documented_on": "2026-03-10", "source": "Samtal", "nature": "fact",
            "author_name": "Ivar Isaksson", "author_title": "Kvalitetsutvecklare", "text": "Uppgift."}


def test_no_error_answer_echoes_a_submitted_value(client, users, admin, staff, investigator, sentinel_units):
    case = client.post(REPORTS, json=report(), headers=staff).json()["id"]
    assessed = client.post(f"{REPORTS}/{case}/assessments", headers=investigator,
                           json={"types": [{"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"}],
                                 "justification": "Bedömd enligt rutin."})
    assert assessed.status_code == 201, assessed.text
    narrow_investigator = users.headers(Role.investigator, "SOC-ALD", subject="ines")
    narrow_admin = users.headers(Role.admin, "SOC-ALD", subject="alva")
    reporter_elsewhere = users.headers(Role.reporter, "SOC-IFO", subject="rut")
    future_unit = report(units=[PNR])  # PNR is active from today; the report happened yesterday
    assessment = {"types": [{"type": "other_deviation"}], "justification": "Omprövad."}
    csv = "code;name;kind;parent_code\n" + "".join(f"{PNR};Enhet {i};unit;SOC-ALD\n" for i in range(2))

    investigated = client.post(REPORTS, json=report(), headers=staff).json()["id"]  # up to the decision
    for step, body in (("assessments", assessment), ("investigation", {}),
                       ("investigation/entries", _entry("what_happened")), ("investigation/entries", _entry("causes"))):
        response = client.post(f"{REPORTS}/{investigated}/{step}", json=body, headers=investigator)
        assert response.status_code == 201, response.text

    decision = client.post(f"{REPORTS}/{investigated}/investigation/decision", headers=investigator, json={
        "decision": "x", "decided_by_name": "x", "decided_by_title": "x", "root_causes": ["staffing", PNR]})
    assert decision.status_code == 422 and decision.json()["errors"][0]["pointer"] == "/root_causes/1"
    assert not _echoes(decision), decision.text

    attempts: list[tuple[str, str, dict | None, dict[str, str]]] = [
        # reports: unknown, wrong kind, inactive and forbidden enheter, and bad field values
        ("POST", REPORTS, report(units=[f"{MARK}-X"]), staff),
        ("POST", REPORTS, report(units=["SOC-ALD-1", PNR + "0"]), staff),
        ("POST", REPORTS, report(units=[MARK]), staff),
        ("POST", REPORTS, future_unit, staff),
        ("POST", REPORTS, report(units=["SOC-ALD-1"]) | {"units": [PNR]}, reporter_elsewhere),
        ("POST", REPORTS, report(units=[f"{MARK}-F-A-1"]), reporter_elsewhere),
        ("POST", REPORTS, report(units=["SOC-ALD-1", f"{MARK}-F-A-1"]), admin),
        ("POST", REPORTS, report(category=MARK), staff),
        ("POST", REPORTS, report(category=PNR), staff),
        ("POST", REPORTS, report(channel=MARK), staff),
        ("POST", REPORTS, report(subject_reference=PNR), staff),
        ("POST", REPORTS, report(subject_reference=f"Treserva {PNR}"), staff),
        ("POST", REPORTS, report(occurred_at=PNR, noticed_at=MARK), staff),
        ("POST", REPORTS, report(reporter={"subject": PNR, "name": MARK, "title": MARK}), staff),
        ("POST", REPORTS, report(units=PNR), staff),
        ("GET", f"{REPORTS}?unit_id={MARK_ID}", None, investigator),
        ("GET", f"{REPORTS}?received_from={PNR}&received_to={MARK}", None, investigator),
        ("GET", f"{REPORTS}?status={MARK}&category={PNR}", None, investigator),
        ("GET", f"{REPORTS}?cursor={PNR}", None, investigator),
        ("GET", f"{REPORTS}?cursor={MARK}.{PNR}", None, investigator),
        ("GET", f"{REPORTS}?limit={PNR}", None, investigator),
        ("GET", f"{REPORTS}/{PNR}", None, investigator),
        ("GET", f"{REPORTS}/{MARK}/case", None, investigator),
        ("GET", f"{REPORTS}/{uuid.uuid4()}", None, investigator),
        # assessments: enheter not of the case, not enheter, of another förvaltning, outside the assessor's rights
        ("POST", f"{REPORTS}/{case}/assessments", assessment | {"remove_units": [PNR]}, investigator),
        ("POST", f"{REPORTS}/{case}/assessments", assessment | {"add_units": [f"{MARK}-Y"]}, investigator),
        ("POST", f"{REPORTS}/{case}/assessments", assessment | {"add_units": [MARK]}, investigator),
        ("POST", f"{REPORTS}/{case}/assessments", assessment | {"add_units": [f"{MARK}-F-A-1"]}, investigator),
        ("POST", f"{REPORTS}/{case}/assessments", assessment | {"add_units": [PNR]}, narrow_investigator),
        ("POST", f"{REPORTS}/{case}/assessments", assessment | {"link_cases": [PNR]}, investigator),
        ("POST", f"{REPORTS}/{case}/assessments", assessment | {"link_cases": [str(uuid.uuid4())]}, investigator),
        ("POST", f"{REPORTS}/{case}/assessments", {"types": [{"type": MARK}], "justification": PNR}, investigator),
        # notifications
        ("POST", f"{REPORTS}/{case}/notifications", {"authority": MARK}, investigator),
        ("POST", f"{REPORTS}/{case}/notifications",
         {"authority": "ivo", "operator": {**OPERATOR, "organisation_number": PNR}, "unit": UNIT}, investigator),
        ("POST", f"{REPORTS}/{case}/notifications", {"authority": "ivo", "kind": MARK}, investigator),
        ("POST", f"{REPORTS}/{case}/notifications", {"authority": "ivo", "occurred_at": PNR}, investigator),
        ("POST", f"{REPORTS}/{case}/notifications", {"authority": "ivo", "nature": MARK}, investigator),
        ("POST", f"{REPORTS}/{case}/notifications/{MARK_ID}/send",
         {"decision_maker_name": "Disa", "delegation_reference": "4.2", "channel": MARK}, investigator),
        # actions and the investigation
        ("POST", f"{REPORTS}/{case}/actions", {"kind": MARK, "description": "x", "owner_name": "x",
                                               "due_date": PNR}, investigator),
        ("POST", f"{REPORTS}/{case}/actions/{MARK_ID}/done", {"done_date": PNR}, investigator),
        ("POST", f"{REPORTS}/{case}/investigation", {"kind": MARK}, investigator),
        ("POST", f"{REPORTS}/{case}/investigation/entries", {"topic": MARK, "documented_on": PNR}, investigator),
        ("POST", f"{REPORTS}/{case}/investigation/decision",
         {"decision": "x", "decided_by_name": "x", "decided_by_title": "x", "root_causes": [PNR, MARK]},
         investigator),
        # the organisation
        ("POST", "/api/v1/org-units", {"code": PNR, "name": "Igen", "kind": "unit",
                                       "parent_id": sentinel_units[MARK]}, admin),
        ("POST", "/api/v1/org-units", {"code": MARK.lower(), "name": "Igen", "kind": "department",
                                       "parent_id": sentinel_units[f"{MARK}-F"]}, admin),
        ("POST", "/api/v1/org-units", {"code": f"{MARK} {PNR}", "name": "x", "kind": "administration"}, admin),
        ("POST", "/api/v1/org-units", {"code": "NY", "name": "x", "kind": "unit", "parent_id": MARK_ID}, admin),
        ("POST", "/api/v1/org-units", {"code": "NY", "name": "x", "kind": MARK, "valid_from": PNR}, admin),
        ("GET", f"/api/v1/org-units/{MARK_ID}", None, admin),
        ("GET", f"/api/v1/org-units/{PNR}", None, admin),
        ("GET", f"/api/v1/org-units?under={MARK_ID}", None, admin),
        ("GET", f"/api/v1/org-units?active_on={PNR}", None, admin),
        ("PATCH", f"/api/v1/org-units/{MARK_ID}", {"name": "x"}, admin),
        ("POST", f"/api/v1/org-units/{sentinel_units[PNR]}/move", {"parent_id": MARK_ID}, admin),
        ("POST", f"/api/v1/org-units/{sentinel_units[PNR]}/close", {"valid_to": PNR}, admin),
        ("POST", "/api/v1/org-units/import", {"units": [
            {"code": PNR, "name": "Annat namn", "kind": "unit", "parent_code": "SOC-FUN"}]}, admin),
        ("POST", "/api/v1/org-units/import", {"units": [
            {"code": MARK.lower(), "name": "Avdelning", "kind": "department", "parent_code": "SOC"}]}, admin),
        ("POST", "/api/v1/org-units/import", {"units": [
            {"code": "NY-1", "name": "Ny", "kind": "unit", "parent_code": f"{MARK}-Z"}]}, admin),
        ("POST", "/api/v1/org-units/import", {"units": [
            {"code": f"{MARK}-2", "name": "Ny", "kind": "unit", "parent_code": "SOC-ALD"},
            {"code": f"{MARK}-2", "name": "Ny", "kind": "unit", "parent_code": "SOC-ALD"}]}, admin),
        ("POST", "/api/v1/org-units/import", {"units": [
            {"code": "NY-2", "name": "Ny", "kind": "unit", "parent_code": f"{MARK}-F"}]}, admin),
        # grants: unknown units, outside the admin's subtree, out-of-range ids
        ("POST", "/api/v1/grants", {"subject": "nils", "role": "reporter", "unit_code": f"{MARK}-Q"}, admin),
        ("POST", "/api/v1/grants", {"subject": "nils", "role": MARK, "unit_code": PNR}, admin),
        ("POST", "/api/v1/grants", {"subject": "nils", "role": "reporter", "unit_code": PNR}, narrow_admin),
        ("POST", "/api/v1/grants", {"subject": "alva", "role": "reporter", "unit_code": "SOC-ALD-1"}, narrow_admin),
        ("GET", f"/api/v1/grants?unit_id={MARK_ID}", None, admin),
        ("GET", f"/api/v1/grants?cursor={PNR}", None, admin),
        ("POST", f"/api/v1/grants/{MARK_ID}/revoke", None, admin),
        # statistics, deadlines, the access log
        ("GET", f"/api/v1/statistics/annual-table?unit_id={MARK_ID}", None, admin),
        ("GET", f"/api/v1/statistics/annual-table?year={PNR}", None, admin),
        ("GET", f"/api/v1/statistics/crosstab?rows={MARK}&from={PNR}", None, admin),
        ("GET", f"/api/v1/statistics/lead-times?unit_id={MARK_ID}&type={MARK}", None, admin),
        ("GET", f"/api/v1/statistics/open-and-overdue?unit_id={MARK_ID}&at={PNR}", None, admin),
        ("GET", f"/api/v1/deadlines?due_before={PNR}", None, investigator),
        ("GET", f"/api/v1/audit/records?report_id={PNR}&from={MARK}&outcome={MARK}", None, admin),
        ("POST", "/api/v1/audit/reviews", {"period_from": PNR, "period_to": MARK, "report_filter": PNR,
                                          "result": "x"}, admin),
    ]
    echoed = {}
    for method, url, body, headers in attempts:
        response = client.request(method, url, json=body, headers=headers)
        if response.status_code >= 400 and (found := _echoes(response)):
            echoed[f"{method} {url} {body}"] = (response.status_code, found, response.text[:300])
    response = client.post("/api/v1/org-units/import", content=csv.encode(),
                           headers={**admin, "Content-Type": "text/csv"})
    assert response.status_code >= 400
    if found := _echoes(response):
        echoed["CSV import"] = (response.status_code, found, response.text[:300])
    assert not echoed, "\n".join(f"{key}: {value}" for key, value in echoed.items())


def test_a_refused_grant_tells_the_admin_why_without_repeating_the_request_but_logs_it(client, users, org, db):
    narrow_admin = users.headers(Role.admin, "SOC-ALD", subject="alva")
    refused = client.post("/api/v1/grants", json={"subject": "nils", "role": "reporter", "unit_code": "SOC-IFO-1"},
                          headers=narrow_admin)
    assert refused.status_code == 403
    assert "SOC-IFO-1" not in refused.text and "manage grants" in refused.json()["detail"]
    with db.connect() as connection:
        details = connection.execute(text("SELECT detail FROM audit_record WHERE action = 'grant_role' "
                                          "AND outcome = 'denied'")).scalars().all()
    assert details == ["reporter on SOC-IFO-1: outside the caller's manage_grants scope"]
