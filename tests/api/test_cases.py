"""Assessment, closing, reopening and the timeline through the API."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from service.domain.access import Role
from service.models import AuditRecord
from tests.bodies import report_body as report

REPORTS = "/api/v1/reports"


@pytest.fixture
def case_id(client, staff):
    return client.post(REPORTS, json=report(), headers=staff).json()["id"]


def assess(client, headers, case_id, *types, **extra):
    body = {"types": list(types), "justification": "Bedömd enligt rutin.", **extra}
    return client.post(f"{REPORTS}/{case_id}/assessments", json=body, headers=headers)


def test_a_report_that_is_not_a_deviation_is_assessed_and_closed(client, investigator, case_id):
    assessed = assess(client, investigator, case_id, {"type": "not_a_deviation"})
    assert assessed.status_code == 201, assessed.text
    case = assessed.json()
    assert case["status"] == "assessed" and case["closing_blockers"] == []
    assert "close" in case["allowed_steps"]
    closed = client.post(f"{REPORTS}/{case_id}/close", json={"note": "Gäller regionens hälso- och sjukvård."},
                         headers=investigator)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"] is not None
    timeline = client.get(f"{REPORTS}/{case_id}/timeline", headers=investigator).json()
    assert [entry["kind"] for entry in timeline] == ["reported", "assess", "close"]
    assert timeline[1]["changes"]["status"] == ["reported", "assessed"]
    assert timeline[1]["actor_name"] == "Ivar Isaksson"
    assert timeline[2]["note"] == "Gäller regionens hälso- och sjukvård."


def test_reassessment_keeps_the_history(client, investigator, case_id):
    assess(client, investigator, case_id, {"type": "other_deviation"})
    case = assess(client, investigator, case_id, {"type": "lex_sarah", "lex_sarah_severity": "impropriety"}).json()
    assert case["types"] == [{"type": "lex_sarah", "lex_sarah_severity": "impropriety", "incident_risk": None,
                              "complaint_kind": None, "complaint_submitter": None}]
    history = client.get(f"{REPORTS}/{case_id}/assessments", headers=investigator).json()
    assert [(a["types"][0]["type"], a["current"]) for a in history] == [("other_deviation", False), ("lex_sarah", True)]
    timeline = client.get(f"{REPORTS}/{case_id}/timeline", headers=investigator).json()
    assert timeline[-1]["changes"]["types"][0] == [{"type": "other_deviation"}]


def test_closing_too_early_is_refused_with_what_is_missing_and_changes_nothing(client, investigator, case_id):
    assess(client, investigator, case_id, {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"})
    before = client.get(f"{REPORTS}/{case_id}/case", headers=investigator).json()
    refused = client.post(f"{REPORTS}/{case_id}/close", json={}, headers=investigator)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("cannot-close")
    blockers = " ".join(refused.json()["blockers"])
    assert "investigation" in blockers and "IVO" in blockers and "follow-up" in blockers
    assert client.get(f"{REPORTS}/{case_id}/case", headers=investigator).json() == before


def test_a_step_from_the_wrong_state_is_409_naming_the_possible_steps(client, investigator, case_id):
    refused = client.post(f"{REPORTS}/{case_id}/follow-ups", json={"summary": "Klart"}, headers=investigator)
    assert refused.status_code == 409
    body = refused.json()
    assert body["type"].endswith("invalid-transition")
    assert body["case_status"] == "reported" and body["allowed_steps"] == ["assess"]
    assert len(client.get(f"{REPORTS}/{case_id}/timeline", headers=investigator).json()) == 1


def test_reopen_needs_a_reason_and_a_closed_case(client, investigator, case_id):
    assert client.post(f"{REPORTS}/{case_id}/reopen", json={"reason": "Ny information"},
                       headers=investigator).status_code == 409
    assess(client, investigator, case_id, {"type": "not_a_deviation"})
    client.post(f"{REPORTS}/{case_id}/close", json={}, headers=investigator)
    assert client.post(f"{REPORTS}/{case_id}/reopen", json={}, headers=investigator).status_code == 422
    reopened = client.post(f"{REPORTS}/{case_id}/reopen", json={"reason": "Anhörig har lämnat ny information"},
                           headers=investigator)
    assert reopened.status_code == 200 and reopened.json()["status"] == "assessed"
    assert reopened.json()["closed_at"] is None
    assert client.get(f"{REPORTS}/{case_id}/timeline", headers=investigator).json()[-1]["note"] == \
        "Anhörig har lämnat ny information"


def test_assessment_can_correct_the_enheter_and_link_cases(client, staff, investigator, case_id):
    other = client.post(REPORTS, json=report(units=["SOC-ALD-2"]), headers=staff).json()["id"]
    case = assess(client, investigator, case_id, {"type": "other_deviation"}, add_units=["SOC-ALD-3"],
                  remove_units=["SOC-ALD-1"], link_cases=[other]).json()
    assert [linked["id"] for linked in case["linked_cases"]] == [other]
    seen = client.get(f"{REPORTS}/{case_id}", headers=investigator).json()
    assert [unit["code"] for unit in seen["units"]] == ["SOC-ALD-3"]
    other_case = client.get(f"{REPORTS}/{other}/case", headers=investigator).json()
    assert [linked["id"] for linked in other_case["linked_cases"]] == [case_id]


@pytest.mark.parametrize(
    ("types", "extra", "pointer"),
    [
        ([{"type": "not_a_deviation"}, {"type": "complaint", "complaint_kind": "praise",
                                         "complaint_submitter": "client"}], {}, "/types"),
        ([{"type": "lex_sarah"}], {}, "/types/0/lex_sarah_severity"),
        ([{"type": "lex_sarah", "lex_sarah_severity": "very_bad"}], {}, "/types/0/lex_sarah_severity"),
        ([{"type": "other_deviation"}], {"incident_aware_at": "2026-03-09T10:00:00Z"}, "/incident_aware_at"),
        ([{"type": "other_deviation"}], {"add_units": ["SOC-ALD"]}, "/add_units/0"),
        ([{"type": "other_deviation"}], {"remove_units": ["SOC-ALD-1"]}, "/remove_units"),
        ([{"type": "other_deviation"}], {"link_cases": ["00000000-0000-0000-0000-000000000000"]}, "/link_cases/0"),
    ],
)
def test_bad_assessments_are_refused_and_change_nothing(client, investigator, case_id, types, extra, pointer):
    response = assess(client, investigator, case_id, *types, **extra)
    assert response.status_code == 422, response.text
    assert pointer in [error["pointer"] for error in response.json()["errors"]]
    assert client.get(f"{REPORTS}/{case_id}/case", headers=investigator).json()["status"] == "reported"


def test_removing_an_enhet_needs_the_right_to_assess_its_cases(client, users, staff, db):
    """An investigator of one avdelning may not take a shared case away from another avdelning."""
    shared = client.post(REPORTS, json=report(units=["SOC-ALD-1", "SOC-IFO-1"]), headers=staff).json()["id"]
    elder_care = users.headers(Role.investigator, "SOC-ALD", subject="alva")
    family_care = users.headers(Role.investigator, "SOC-IFO", subject="ines")
    refused = assess(client, elder_care, shared, {"type": "other_deviation"}, remove_units=["SOC-IFO-1"])
    assert refused.status_code == 403, refused.text
    assert [error["pointer"] for error in refused.json()["errors"]] == ["/remove_units/0"]
    # Nothing changed: the other avdelning still sees and handles the case, and it is still unassessed.
    seen = client.get(f"{REPORTS}/{shared}", headers=family_care)
    assert seen.status_code == 200 and [u["code"] for u in seen.json()["units"]] == ["SOC-ALD-1", "SOC-IFO-1"]
    assert client.get(f"{REPORTS}/{shared}/case", headers=family_care).json()["status"] == "reported"
    with Session(db) as session:
        denied = session.exec(select(AuditRecord).where(AuditRecord.actor_subject == "alva",
                                                        AuditRecord.outcome == "denied")).all()
    assert [(record.action, str(record.report_id)) for record in denied] == [("step:assess", shared)]
    # Removing one's own enhet, or one where the right is held, still works.
    allowed = assess(client, elder_care, shared, {"type": "other_deviation"}, remove_units=["SOC-ALD-1"])
    assert allowed.status_code == 201, allowed.text
    assert client.get(f"{REPORTS}/{shared}", headers=elder_care).status_code == 404


def test_only_handlers_see_the_case_and_only_assessors_assess(client, users, staff, case_id):
    assert client.get(f"{REPORTS}/{case_id}/case", headers=staff).status_code == 404
    assert client.get(f"{REPORTS}/{case_id}/timeline", headers=staff).status_code == 404
    for role in (Role.statistics, Role.admin, Role.auditor):
        assert client.get(f"{REPORTS}/{case_id}/timeline", headers=users.headers(role, "SOC")).status_code == 404
    sibling_manager = users.headers(Role.unit_manager, "SOC-ALD-2")
    assert assess(client, sibling_manager, case_id, {"type": "other_deviation"}).status_code == 404
    decision_maker = users.headers(Role.decision_maker, "SOC")
    assert client.get(f"{REPORTS}/{case_id}/case", headers=decision_maker).status_code == 200
    assert assess(client, decision_maker, case_id, {"type": "other_deviation"}).status_code == 403
    manager = users.headers(Role.unit_manager, "SOC-ALD-1")
    assert assess(client, manager, case_id, {"type": "other_deviation"}).status_code == 201


def test_serious_assessment_starts_the_ivo_clock(client, investigator, case_id, clock):
    case = assess(client, investigator, case_id,
                  {"type": "lex_sarah", "lex_sarah_severity": "serious_tangible_risk"}).json()
    assert case["judged_serious_at"] == "2026-03-10T09:00:00Z"
    assert {d["kind"]: d["due_at"] for d in case["deadlines"]} == {
        "ivo_notification": "2026-03-17T09:00:00Z", "ivo_notification_escalation": "2026-03-24T09:00:00Z"}
    clock.advance(days=8)
    due = client.get("/api/v1/deadlines", params={"overdue": "true"}, headers=investigator).json()
    assert [(d["kind"], d["overdue"]) for d in due] == [("ivo_notification", True)]


def test_personal_data_incident_deadline_runs_from_awareness(client, investigator, case_id):
    case = assess(client, investigator, case_id, {"type": "personal_data_incident", "incident_risk": "risk"},
                  incident_aware_at="2026-03-09T20:00:00+01:00").json()
    assert [(d["kind"], d["due_at"]) for d in case["deadlines"]] == [("imy_notification", "2026-03-12T19:00:00Z")]
