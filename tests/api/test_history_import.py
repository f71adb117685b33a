"""POST /api/v1/imports/reports: the history of a previous register, all or nothing (docs/history-import.md)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.domain.access import Role
from service.models import AuditRecord, CaseDeadline, Report

IMPORT = "/api/v1/imports/reports"
REPORTS = "/api/v1/reports"
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NDJSON_EXAMPLE = (EXAMPLES / "history-import.ndjson").read_bytes()
CSV_EXAMPLE = (EXAMPLES / "history-import.csv").read_bytes()
EXAMPLE_ROWS = [json.loads(line) for line in NDJSON_EXAMPLE.decode().splitlines() if line.strip()]


def _json(rows: list[dict]) -> dict:
    return {"reports": rows}


def _count(db, model=Report) -> int:
    with db.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def _case(client, headers, previous_number: str) -> dict:
    listed = client.get(REPORTS, params={"previous_case_number": previous_number}, headers=headers)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    return item


def test_json_import_stores_the_cases_with_our_numbers_and_keeps_theirs(client, org, admin, investigator, db):
    answer = client.post(IMPORT, json=_json(EXAMPLE_ROWS), headers=admin)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["rows"], summary["new"], summary["unchanged"], summary["refused"]) == (3, 3, 0, 0)
    assert summary["stored"] is True and summary["errors"] == []

    item = _case(client, investigator, "T-2025-0117")
    assert item["case_number"] == "SOC-2025-00001"  # our own number, from the year it was received
    assert item["status"] == "closed"
    report = client.get(f"{REPORTS}/{item['id']}", headers=investigator).json()
    assert (report["import_source"], report["previous_case_number"]) == ("treserva", "T-2025-0117")
    assert report["channel"] == "imported"
    # The previous number is searchable in the free-text search too.
    found = client.get(REPORTS, params={"q": "t-2025-0342"}, headers=investigator).json()["items"]
    assert [found_item["case_number"] for found_item in found] == ["SOC-2025-00002"]

    case = client.get(f"{REPORTS}/{item['id']}/case", headers=investigator).json()
    assert case["imported"]["source"] == "treserva" and case["imported"]["imported_by"] == "admin"
    assert case["types"] == [{"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety",
                              "incident_risk": None, "complaint_kind": None, "complaint_submitter": None}]
    assert case["closed_at"].startswith("2025-04-11T12:00:00")
    assert case["deadlines"] == []  # a closed case has none


def test_a_closed_case_stays_closed_with_one_imported_event_and_no_invented_steps(client, org, admin, investigator):
    client.post(IMPORT, json=_json(EXAMPLE_ROWS[:1]), headers=admin)
    item = _case(client, investigator, "T-2025-0117")
    timeline = client.get(f"{REPORTS}/{item['id']}/timeline", headers=investigator).json()
    assert [entry["kind"] for entry in timeline] == ["imported"]
    assert timeline[0]["changes"]["status"] == [None, "closed"]
    assert timeline[0]["changes"]["previous_case_number"] == [None, "T-2025-0117"]
    assessments = client.get(f"{REPORTS}/{item['id']}/assessments", headers=investigator).json()
    assert len(assessments) == 1
    [ivo] = client.get(f"{REPORTS}/{item['id']}/notifications", headers=investigator).json()
    assert ivo["authority"] == "ivo" and ivo["sent_at"].startswith("2025-02-10T12:00:00")
    assert ivo["authority_reference"] == "IVO 3.5.1-01234/2025"
    document = client.get(f"{REPORTS}/{item['id']}/notifications/{ivo['id']}/document", headers=investigator)
    assert document.status_code == 200, document.text


def test_an_open_case_continues_in_the_normal_lifecycle(client, org, admin, investigator):
    client.post(IMPORT, json=_json(EXAMPLE_ROWS[2:]), headers=admin)
    item = _case(client, investigator, "2025:44")
    case = client.get(f"{REPORTS}/{item['id']}/case", headers=investigator).json()
    assert case["status"] == "reported"
    assert [deadline["kind"] for deadline in case["deadlines"]] == ["first_assessment"]
    assessed = client.post(f"{REPORTS}/{item['id']}/assessments", headers=investigator,
                           json={"types": [{"type": "not_a_deviation"}], "justification": "Ingen avvikelse."})
    assert assessed.status_code == 201, assessed.text
    closed = client.post(f"{REPORTS}/{item['id']}/close", json={}, headers=investigator)
    assert closed.status_code < 300, closed.text
    assert closed.json()["status"] == "closed"


@pytest.mark.parametrize("media_type, body", [("application/x-ndjson", NDJSON_EXAMPLE), ("text/csv", CSV_EXAMPLE)])
def test_ndjson_and_csv_are_read_as_streams(client, org, admin, investigator, media_type, body):
    answer = client.post(IMPORT, content=body, headers={**admin, "Content-Type": media_type})
    assert answer.status_code == 200, answer.text
    assert answer.json()["new"] == (3 if media_type.endswith("ndjson") else 2)
    if media_type == "text/csv":
        item = _case(client, investigator, "P-19-0004")
        case = client.get(f"{REPORTS}/{item['id']}/case", headers=investigator).json()
        assert case["status"] == "assessed" and case["types"][0]["type"] == "other_deviation"
        report = client.get(f"{REPORTS}/{item['id']}", headers=investigator).json()
        assert sorted(unit["code"] for unit in report["units"]) == ["SOC-ALD-2", "SOC-ALD-4"]


def test_a_dry_run_lists_every_bad_row_and_stores_nothing(client, org, admin, db):
    rows = copy.deepcopy(EXAMPLE_ROWS)
    rows[0]["units"] = ["SOC-ALD-1", "NOPE"]
    rows[1]["assessment"]["types"][0]["complaint_kind"] = "grumble"
    rows[2]["closed_at"] = "2025-12-01T10:00:00+01:00"  # an open case has none
    answer = client.post(IMPORT, params={"dry_run": "true"}, json=_json(rows), headers=admin)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["dry_run"] is True and summary["stored"] is False
    assert (summary["new"], summary["refused"]) == (0, 3)
    assert {error["pointer"] for error in summary["errors"]} == {
        "/reports/0/units/1", "/reports/1/assessment/types/0/complaint_kind", "/reports/2/closed_at"}
    assert "NOPE" not in answer.text and "grumble" not in answer.text  # submitted values are never echoed
    assert _count(db) == 0

    good = client.post(IMPORT, params={"dry_run": "true"}, json=_json(EXAMPLE_ROWS), headers=admin).json()
    assert (good["new"], good["refused"], good["stored"]) == (3, 0, False)
    assert _count(db) == 0


def test_one_bad_row_refuses_the_whole_file(client, org, admin, db):
    rows = copy.deepcopy(EXAMPLE_ROWS)
    rows[2]["received_at"] = "2099-01-01T10:00:00+01:00"
    answer = client.post(IMPORT, json=_json(rows), headers=admin)
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert [error["pointer"] for error in problem["errors"]] == ["/reports/2/received_at"]
    assert _count(db) == 0 and _count(db, CaseDeadline) == 0


def test_loading_the_same_file_twice_changes_nothing(client, org, admin, db):
    first = client.post(IMPORT, content=NDJSON_EXAMPLE, headers={**admin, "Content-Type": "application/x-ndjson"})
    assert first.json()["new"] == 3
    # The same cases as JSON, with the times written in another offset: the same contents.
    rows = copy.deepcopy(EXAMPLE_ROWS)
    rows[0]["received_at"] = "2025-02-03T07:15:00Z"
    again = client.post(IMPORT, json=_json(rows), headers=admin)
    assert again.status_code == 200, again.text
    assert (again.json()["new"], again.json()["unchanged"]) == (0, 3)
    assert _count(db) == 3


def test_a_row_contradicting_a_stored_case_is_refused_not_merged(client, org, admin, investigator):
    client.post(IMPORT, json=_json(EXAMPLE_ROWS), headers=admin)
    rows = copy.deepcopy(EXAMPLE_ROWS)
    rows[1]["category"] = "care"
    answer = client.post(IMPORT, json=_json(rows), headers=admin)
    assert answer.status_code == 422
    assert [(e["pointer"], e["code"]) for e in answer.json()["errors"]] == [
        ("/reports/1/previous_case_number", "contradicts_stored")]
    item = _case(client, investigator, "T-2025-0342")
    assert client.get(f"{REPORTS}/{item['id']}", headers=investigator).json()["category"] == "treatment"


def test_the_same_case_twice_in_one_file_is_refused(client, org, admin):
    answer = client.post(IMPORT, json=_json([EXAMPLE_ROWS[0], EXAMPLE_ROWS[0]]), headers=admin)
    assert answer.status_code == 422
    assert [e["code"] for e in answer.json()["errors"]] == ["duplicate_in_file"]


def test_only_admins_import_and_each_import_is_audited_once(client, org, admin, users, db):
    investigator = users.headers(Role.investigator, "SOC", subject="ivar")
    refused = client.post(IMPORT, json=_json(EXAMPLE_ROWS), headers=investigator)
    assert refused.status_code == 403
    assert _count(db) == 0
    client.post(IMPORT, json=_json(EXAMPLE_ROWS), headers=admin)
    with db.connect() as connection:
        records = connection.execute(select(AuditRecord.actor_subject, AuditRecord.outcome, AuditRecord.detail)
                                     .where(AuditRecord.action == "import_reports")).all()
    assert sorted(records) == [("admin", "allowed", "3 rows, 3 new, 0 unchanged, 0 refused"),
                               ("ivar", "denied", "not an admin")]


def test_a_personnummer_is_refused_as_subject_and_flagged_in_free_text(client, org, admin):
    rows = copy.deepcopy(EXAMPLE_ROWS)
    rows[1]["subject_reference"] = "19121212-1212"
    rows[0]["description"] = "Gäller 121212-1212."
    answer = client.post(IMPORT, params={"dry_run": "true"}, json=_json(rows), headers=admin).json()
    assert [e["pointer"] for e in answer["errors"]] == ["/reports/1/subject_reference"]
    assert answer["possible_personal_identity_numbers"] == ["/reports/0/description"]
    assert "1212" not in json.dumps(answer["errors"])


def test_an_enhet_not_active_on_the_day_received_is_refused(client, org, admin):
    rows = copy.deepcopy(EXAMPLE_ROWS[:1])
    rows[0]["received_at"] = "2019-12-31T10:00:00+01:00"  # the demo organisation starts in 2020
    rows[0]["occurred_at"] = rows[0]["noticed_at"] = "2019-12-30T10:00:00+01:00"
    answer = client.post(IMPORT, params={"dry_run": "true"}, json=_json(rows), headers=admin).json()
    assert [(e["pointer"], e["code"]) for e in answer["errors"]] == [("/reports/0/units/0", "inactive_unit")]


def test_unreadable_bodies_are_400_and_json_has_the_ordinary_size_limit(client, org, admin, settings):
    bad_csv = client.post(IMPORT, content=b"source;nonsense\n", headers={**admin, "Content-Type": "text/csv"})
    assert bad_csv.status_code == 400
    bad_line = client.post(IMPORT, content=b"{not json\n", headers={**admin, "Content-Type": "application/x-ndjson"})
    assert bad_line.status_code == 422 and bad_line.json()["errors"][0]["pointer"] == "/reports/0"
    too_big = client.post(IMPORT, content=b" " * (settings.max_body_bytes + 1),
                          headers={**admin, "Content-Type": "application/json"})
    assert too_big.status_code == 413


def test_lead_times_of_imported_cases_come_from_their_own_history(client, org, admin, users, settings):
    """The statistics read received_at, first_assessed_at, the notifications' sent_at and closed_at of an
    imported case as of a live one (the annual table: tests/api/test_counting_reference.py)."""
    settings.statistics_min_suppress_below = 1  # exact figures for two cases
    client.post(IMPORT, json=_json(EXAMPLE_ROWS), headers=admin)
    reader = users.headers(Role.statistics, "SOC", subject="stina")
    answer = client.get("/api/v1/statistics/lead-times", params={"unit_id": org["SOC"], "year": 2025},
                        headers=reader)
    assert answer.status_code == 200, answer.text
    measured = {lead["key"]: (lead["n"], lead["median_hours"]) for lead in answer.json()["lead_times"]}
    n, median = measured["reported_to_assessed"]
    assert n == 2 and abs(median - (25.75 + 23) / 2) <= 0.01
    assert measured["assessed_to_notified_ivo"] == (1, 147.0)
    n, median = measured["reported_to_closed"]  # the open case is not closed: not counted
    assert n == 2 and abs(median - (1612.75 + 431) / 2) <= 0.01


def test_ndjson_and_csv_have_their_own_size_limit_declared_or_streamed(client, org, admin, settings, db):
    settings.max_import_bytes = len(NDJSON_EXAMPLE) - 1
    headers = {**admin, "Content-Type": "application/x-ndjson"}
    declared = client.post(IMPORT, content=NDJSON_EXAMPLE, headers=headers)  # refused from its Content-Length
    assert declared.status_code == 413
    streamed = client.post(IMPORT, content=iter([NDJSON_EXAMPLE[:500], NDJSON_EXAMPLE[500:]]), headers=headers)
    assert streamed.status_code == 413  # chunked: counted as it is read
    assert _count(db) == 0
    with db.connect() as connection:
        assert connection.execute(select(AuditRecord.outcome, AuditRecord.detail)
                                  .where(AuditRecord.action == "import_reports")).all() == [
            ("denied", "aborted after 0 rows")]  # the first chunk held no whole line yet
    settings.max_import_bytes = len(NDJSON_EXAMPLE)
    assert client.post(IMPORT, content=NDJSON_EXAMPLE, headers=headers).status_code == 200
