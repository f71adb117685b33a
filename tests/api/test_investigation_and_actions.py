"""The investigation (utredning) and the actions (åtgärder) of a case, through the API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.domain.access import Role
from tests.bodies import report_body as report

REPORTS = "/api/v1/reports"
OTHER = {"type": "other_deviation"}
SARAH = {"type": "lex_sarah", "lex_sarah_severity": "impropriety"}
FULL_TOPICS = ("what_happened", "how_noticed", "when_happened", "causes", "earlier_events", "recurrence_risk")


def new_case(client, staff, investigator, *types):
    case_id = client.post(REPORTS, json=report(), headers=staff).json()["id"]
    if types:
        assessed = client.post(f"{REPORTS}/{case_id}/assessments", headers=investigator,
                               json={"types": list(types), "justification": "Bedömd enligt rutin."})
        assert assessed.status_code == 201, assessed.text
    return case_id


@pytest.fixture
def sarah_case(client, staff, investigator):
    return new_case(client, staff, investigator, SARAH)


@pytest.fixture
def other_case(client, staff, investigator):
    return new_case(client, staff, investigator, OTHER)


def start(client, headers, case_id, **body):
    return client.post(f"{REPORTS}/{case_id}/investigation", json=body, headers=headers)


def entry(client, headers, case_id, topic, text="Uppgift.", **overrides):
    body = {"topic": topic, "documented_on": "2026-03-10", "source": "Samtal med personal", "nature": "fact",
            "author_name": "Ivar Isaksson", "author_title": "Kvalitetsutvecklare", "text": text, **overrides}
    return client.post(f"{REPORTS}/{case_id}/investigation/entries", json=body, headers=headers)


def decide(client, headers, case_id, *root_causes, **overrides):
    body = {"decision": "Rutinen för läkemedelsöverlämning ska ses över.", "decided_by_name": "Ingrid Ek",
            "decided_by_title": "Verksamhetschef", "root_causes": list(root_causes), **overrides}
    return client.post(f"{REPORTS}/{case_id}/investigation/decision", json=body, headers=headers)


def get(client, headers, case_id, part):
    return client.get(f"{REPORTS}/{case_id}/{part}", headers=headers)


def timeline(client, headers, case_id):
    return get(client, headers, case_id, "timeline").json()


def document_all(client, headers, case_id, topics=FULL_TOPICS):
    ids = {}
    for topic in topics:
        response = entry(client, headers, case_id, topic, text=f"Om {topic}.")
        assert response.status_code == 201, response.text
        ids[topic] = response.json()["id"]
    return ids


# ---- the investigation -------------------------------------------------------------------------------

def test_a_lex_sarah_investigation_from_start_through_a_correction_to_the_decision(client, investigator, sarah_case):
    started = start(client, investigator, sarah_case)
    assert started.status_code == 201, started.text
    assert started.json()["kind"] == "full"  # derived from lex Sarah
    assert started.json()["missing_topics"] == list(FULL_TOPICS)
    case = get(client, investigator, sarah_case, "case").json()
    assert case["status"] == "investigating"
    assert [d["kind"] for d in case["deadlines"]] == ["investigation"]  # "genast": 30 days, policy

    ids = document_all(client, investigator, sarah_case)
    correction = entry(client, investigator, sarah_case, "causes", text="Rätt orsak: rutinen var okänd.",
                       nature="assessment", corrects_entry_id=ids["causes"])
    assert correction.status_code == 201, correction.text
    assert correction.json()["corrects_entry_id"] == ids["causes"]

    seen = get(client, investigator, sarah_case, "investigation").json()
    assert seen["missing_topics"] == []
    assert [e["topic"] for e in seen["entries"]] == [*FULL_TOPICS, "causes"]
    corrected = {e["id"]: e["corrected_by"] for e in seen["entries"]}
    assert corrected[ids["causes"]] == [correction.json()["id"]]
    assert corrected[correction.json()["id"]] == [] and corrected[ids["what_happened"]] == []
    assert seen["entries"][0] | {"id": None, "recorded_at": None} == {
        "id": None, "topic": "what_happened", "documented_on": "2026-03-10", "source": "Samtal med personal",
        "nature": "fact", "author_name": "Ivar Isaksson", "author_title": "Kvalitetsutvecklare",
        "text": "Om what_happened.", "corrects_entry_id": None, "corrected_by": [], "recorded_at": None}

    decided = decide(client, investigator, sarah_case, "routine_not_known", "staffing")
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["decided_at"] == "2026-03-10T09:00:00Z" and body["decided_by_title"] == "Verksamhetschef"
    assert body["root_causes"] == [{"code": "routine_not_known", "name": "Rutinen är inte känd"},
                                   {"code": "staffing", "name": "Bemanning/vakanser"}]
    case = get(client, investigator, sarah_case, "case").json()
    assert case["status"] == "investigated"
    assert case["deadlines"] == []
    assert not any("investigation" in blocker for blocker in case["closing_blockers"])
    events = timeline(client, investigator, sarah_case)
    assert [e["kind"] for e in events][-3:] == ["investigation_entry", "investigation_entry", "investigation_decided"]
    assert events[-1]["changes"]["status"] == ["investigating", "investigated"]
    assert events[-1]["changes"]["root_causes"] == [[], ["routine_not_known", "staffing"]]
    assert events[-2]["changes"][f"entries/{correction.json()['id']}"][1]["corrects_entry_id"] == ids["causes"]
    assert entry(client, investigator, sarah_case, "other_findings").status_code == 409  # decided: closed


def test_the_decision_is_refused_naming_the_missing_topics_and_nothing_changes(client, investigator, sarah_case):
    start(client, investigator, sarah_case)
    document_all(client, investigator, sarah_case, ("what_happened", "causes", "actions_taken"))
    investigation_before = get(client, investigator, sarah_case, "investigation").json()
    case_before = get(client, investigator, sarah_case, "case").json()
    events_before = timeline(client, investigator, sarah_case)

    refused = decide(client, investigator, sarah_case, "staffing")
    assert refused.status_code == 409
    assert refused.json()["missing_topics"] == ["how_noticed", "when_happened", "earlier_events", "recurrence_risk"]
    assert "recurrence_risk" in refused.json()["detail"]
    assert get(client, investigator, sarah_case, "investigation").json() == investigation_before
    assert get(client, investigator, sarah_case, "case").json() == case_before
    assert timeline(client, investigator, sarah_case) == events_before
    assert case_before["status"] == "investigating" and investigation_before["decision"] is None


def test_an_unknown_root_cause_is_422_naming_the_field(client, investigator, other_case):
    start(client, investigator, other_case)
    document_all(client, investigator, other_case, ("what_happened", "causes"))
    refused = decide(client, investigator, other_case, "staffing", "bad_luck")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/root_causes/1"
    assert get(client, investigator, other_case, "case").json()["status"] == "investigating"


def test_a_light_investigation_is_refused_for_lex_sarah(client, investigator, sarah_case):
    refused = start(client, investigator, sarah_case, kind="light")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["pointer"] == "/kind"
    assert get(client, investigator, sarah_case, "investigation").status_code == 404
    assert get(client, investigator, sarah_case, "case").json()["status"] == "assessed"
    assert start(client, investigator, sarah_case, kind="full").status_code == 201


def test_a_light_investigation_of_another_deviation_needs_what_happened_and_causes(client, investigator, other_case):
    started = start(client, investigator, other_case)
    assert started.json()["kind"] == "light"
    assert started.json()["missing_topics"] == ["what_happened", "causes"]
    entry(client, investigator, other_case, "what_happened")
    assert decide(client, investigator, other_case).json()["missing_topics"] == ["causes"]
    entry(client, investigator, other_case, "causes")
    decided = decide(client, investigator, other_case)
    assert decided.status_code == 200, decided.text
    assert decided.json()["root_causes"] == []
    assert get(client, investigator, other_case, "case").json()["status"] == "investigated"


def test_a_reassessment_to_lex_sarah_during_a_light_investigation_requires_the_full_contents(
        client, investigator, other_case):
    start(client, investigator, other_case)
    document_all(client, investigator, other_case, ("what_happened", "causes"))
    reassessed = client.post(f"{REPORTS}/{other_case}/assessments", headers=investigator,
                             json={"types": [SARAH], "justification": "Utredningen visar ett missförhållande."})
    assert reassessed.status_code == 201, reassessed.text
    assert get(client, investigator, other_case, "investigation").json()["missing_topics"] == [
        "how_noticed", "when_happened", "earlier_events", "recurrence_risk"]
    assert decide(client, investigator, other_case).status_code == 409
    document_all(client, investigator, other_case, FULL_TOPICS[1:3] + FULL_TOPICS[4:])
    decided = decide(client, investigator, other_case)
    assert decided.status_code == 200 and decided.json()["kind"] == "full"
    assert timeline(client, investigator, other_case)[-1]["changes"]["kind"] == ["light", "full"]


def test_entries_are_refused_when_no_investigation_is_open(client, investigator, sarah_case):
    refused = entry(client, investigator, sarah_case, "what_happened")
    assert refused.status_code == 409
    assert refused.json()["case_status"] == "assessed"
    assert "start_investigation" in refused.json()["allowed_steps"]
    assert "add_investigation_entry" not in refused.json()["allowed_steps"]
    assert decide(client, investigator, sarah_case).status_code == 409
    assert get(client, investigator, sarah_case, "investigation").status_code == 404


def test_an_investigation_cannot_start_before_the_assessment_nor_twice(client, staff, investigator):
    case_id = new_case(client, staff, investigator)
    refused = start(client, investigator, case_id)
    assert refused.status_code == 409 and refused.json()["allowed_steps"] == ["assess"]
    client.post(f"{REPORTS}/{case_id}/assessments", headers=investigator,
                json={"types": [OTHER], "justification": "Övrig avvikelse."})
    assert start(client, investigator, case_id).status_code == 201
    assert start(client, investigator, case_id).status_code == 409


def test_entries_must_be_well_formed_and_corrections_keep_their_place(client, staff, investigator, sarah_case):
    start(client, investigator, sarah_case)
    first = entry(client, investigator, sarah_case, "causes").json()["id"]

    future = entry(client, investigator, sarah_case, "causes", documented_on="2026-03-11")
    assert future.status_code == 422 and future.json()["errors"][0]["pointer"] == "/documented_on"
    other_topic = entry(client, investigator, sarah_case, "what_happened", corrects_entry_id=first)
    assert other_topic.status_code == 422 and other_topic.json()["errors"][0]["pointer"] == "/topic"

    elsewhere = new_case(client, staff, investigator, SARAH)
    start(client, investigator, elsewhere)
    foreign = entry(client, investigator, elsewhere, "causes", corrects_entry_id=first)
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["pointer"] == "/corrects_entry_id"
    assert entry(client, investigator, sarah_case, "causes", corrects_entry_id=10**9).status_code == 422

    assert entry(client, investigator, sarah_case, "causes", nature="opinion").status_code == 422
    assert entry(client, investigator, sarah_case, "causes", author_title="  ").status_code == 422
    assert entry(client, investigator, sarah_case, "causes", signed=True).status_code == 422  # unknown field
    assert [e["id"] for e in get(client, investigator, sarah_case, "investigation").json()["entries"]] == [first]


def test_a_reopened_case_opens_the_decided_investigation_again_with_its_entries(
        client, investigator, clock, other_case):
    start(client, investigator, other_case)
    ids = document_all(client, investigator, other_case, ("what_happened", "causes"))
    decide(client, investigator, other_case, "staffing")
    assert client.post(f"{REPORTS}/{other_case}/follow-ups", json={"summary": "Uppföljt."},
                       headers=investigator).status_code == 201
    assert client.post(f"{REPORTS}/{other_case}/close", json={}, headers=investigator).status_code == 200
    clock.advance(days=40)
    assert client.post(f"{REPORTS}/{other_case}/reopen", json={"reason": "Ny uppgift från anhörig."},
                       headers=investigator).status_code == 200

    reopened = start(client, investigator, other_case)
    assert reopened.status_code == 201, reopened.text
    body = reopened.json()
    assert [e["id"] for e in body["entries"]] == list(ids.values())
    assert (body["decision"], body["decided_at"], body["decided_by_name"], body["root_causes"]) == \
        (None, None, None, [])
    assert body["started_at"] == "2026-04-19T09:00:00Z"
    case = get(client, investigator, other_case, "case").json()
    assert case["status"] == "investigating"
    assert [(d["kind"], d["overdue"]) for d in case["deadlines"]] == [("investigation", False)]
    event = timeline(client, investigator, other_case)[-1]
    assert event["kind"] == "investigation_reopened"
    assert event["changes"]["decision"] == ["Rutinen för läkemedelsöverlämning ska ses över.", None]
    assert event["changes"]["decided_by_name"] == ["Ingrid Ek", None]
    assert event["changes"]["root_causes"] == [["staffing"], []]
    assert event["changes"]["status"] == ["assessed", "investigating"]

    entry(client, investigator, other_case, "other_findings", text="Anhörigas uppgift.")
    assert decide(client, investigator, other_case, "communication").status_code == 200


def test_who_may_see_and_do_what_in_an_investigation(client, users, investigator, sarah_case):
    decision_maker = users.headers(Role.decision_maker, "SOC", subject="dora")
    statistician = users.headers(Role.statistics, "SOC", subject="stina")
    manager_elsewhere = users.headers(Role.unit_manager, "SOC-IFO", subject="ulf")
    manager_here = users.headers(Role.unit_manager, "SOC-ALD-1", subject="maja", name="Maja Månsson")

    assert start(client, decision_maker, sarah_case).status_code == 403  # reads the case, does not investigate
    for outsider in (statistician, manager_elsewhere):
        assert start(client, outsider, sarah_case).status_code == 404
    assert get(client, investigator, sarah_case, "case").json()["status"] == "assessed"

    started = start(client, manager_here, sarah_case)
    assert started.status_code == 201 and started.json()["started_by_name"] == "Maja Månsson"
    assert entry(client, decision_maker, sarah_case, "what_happened").status_code == 403
    assert get(client, decision_maker, sarah_case, "investigation").status_code == 200
    for outsider in (statistician, manager_elsewhere):
        assert get(client, outsider, sarah_case, "investigation").status_code == 404
        assert get(client, outsider, sarah_case, "actions").status_code == 404


# ---- actions -----------------------------------------------------------------------------------------

def create_action(client, headers, case_id, **overrides):
    body = {"kind": "planned", "description": "Uppdatera rutinen för läkemedelsöverlämning.",
            "owner_name": "Ingrid Ek", "due_date": "2026-03-20", **overrides}
    return client.post(f"{REPORTS}/{case_id}/actions", json=body, headers=headers)


def action_url(case_id, action_id, what):
    return f"{REPORTS}/{case_id}/actions/{action_id}/{what}"


def all_deadlines(client, headers):
    return client.get("/api/v1/deadlines", headers=headers).json()


def test_an_action_with_a_due_date_is_a_deadline_until_it_is_done(client, investigator, clock, other_case):
    created = create_action(client, investigator, other_case)
    assert created.status_code == 201, created.text
    action = created.json()
    assert (action["kind"], action["due_date"], action["done_date"], action["overdue"]) == \
        ("planned", "2026-03-20", None, False)
    due = {"kind": "action", "due_at": "2026-03-20T23:00:00Z", "overdue": False, "action_id": action["id"]}
    case = get(client, investigator, other_case, "case").json()
    assert case["deadlines"] == [due]
    assert "1 action(s) are not done" in case["closing_blockers"]
    listed = all_deadlines(client, investigator)
    assert [(d["report_id"], d["kind"], d["action_id"], d["overdue"]) for d in listed] == \
        [(other_case, "action", action["id"], False)]

    clock.now = datetime(2026, 3, 20, 22, 59, tzinfo=UTC)  # still the 20th in Stockholm
    assert get(client, investigator, other_case, "case").json()["deadlines"][0]["overdue"] is False
    clock.now = datetime(2026, 3, 21, 8, 0, tzinfo=UTC)
    assert get(client, investigator, other_case, "case").json()["deadlines"] == [due | {"overdue": True}]
    assert [d["action_id"] for d in client.get("/api/v1/deadlines?overdue=true", headers=investigator).json()] == \
        [action["id"]]
    assert get(client, investigator, other_case, "actions").json()[0]["overdue"] is True

    done = client.post(action_url(other_case, action["id"], "done"), json={}, headers=investigator)
    assert done.status_code == 200, done.text
    assert (done.json()["done_date"], done.json()["overdue"]) == ("2026-03-21", False)
    case = get(client, investigator, other_case, "case").json()
    assert case["deadlines"] == []
    assert not any("action" in blocker for blocker in case["closing_blockers"])
    assert all_deadlines(client, investigator) == []
    event = timeline(client, investigator, other_case)[-1]
    assert event["kind"] == "action_done"
    assert event["changes"] == {f"actions/{action['id']}/done_date": [None, "2026-03-21"]}


def test_the_effect_is_evaluated_only_after_the_action_is_done(client, investigator, other_case):
    action_id = create_action(client, investigator, other_case).json()["id"]
    evaluation = {"effect_evaluation": "Inga fler fel vid överlämning under april."}
    refused = client.post(action_url(other_case, action_id, "evaluation"), json=evaluation, headers=investigator)
    assert refused.status_code == 409
    assert get(client, investigator, other_case, "actions").json()[0]["effect_evaluation"] is None

    client.post(action_url(other_case, action_id, "done"), json={"done_date": "2026-03-10"}, headers=investigator)
    evaluated = client.post(action_url(other_case, action_id, "evaluation"), json=evaluation, headers=investigator)
    assert evaluated.status_code == 200, evaluated.text
    assert evaluated.json()["effect_evaluation"] == evaluation["effect_evaluation"]
    assert evaluated.json()["evaluated_at"] == "2026-03-10T09:00:00Z"
    kinds = [e["kind"] for e in timeline(client, investigator, other_case)]
    assert kinds[-3:] == ["action_created", "action_done", "action_evaluated"]


def test_done_dates_are_checked_and_an_action_is_done_once(client, investigator, clock, other_case):
    action_id = create_action(client, investigator, other_case).json()["id"]
    clock.advance(days=2)
    before = client.post(action_url(other_case, action_id, "done"), json={"done_date": "2026-03-09"},
                         headers=investigator)
    assert before.status_code == 422 and before.json()["errors"][0]["pointer"] == "/done_date"
    future = client.post(action_url(other_case, action_id, "done"), json={"done_date": "2026-03-13"},
                         headers=investigator)
    assert future.status_code == 422
    assert client.post(action_url(other_case, action_id, "done"), json={"done_date": "2026-03-11"},
                       headers=investigator).status_code == 200
    again = client.post(action_url(other_case, action_id, "done"), json={}, headers=investigator)
    assert again.status_code == 409
    assert get(client, investigator, other_case, "actions").json()[0]["done_date"] == "2026-03-11"


def test_an_immediate_action_can_be_recorded_as_already_done(client, investigator, other_case):
    taken = create_action(client, investigator, other_case, kind="immediate", due_date=None,
                          description="Sjuksköterska kontaktad.", done_date="2026-03-09")
    assert taken.status_code == 201, taken.text
    assert taken.json()["done_date"] == "2026-03-09"
    assert get(client, investigator, other_case, "case").json()["deadlines"] == []
    planned_done = create_action(client, investigator, other_case, done_date="2026-03-10")
    assert planned_done.status_code == 422 and planned_done.json()["errors"][0]["pointer"] == "/done_date"
    past_due = create_action(client, investigator, other_case, due_date="2026-03-01")
    assert past_due.status_code == 422 and past_due.json()["errors"][0]["pointer"] == "/due_date"
    assert len(get(client, investigator, other_case, "actions").json()) == 1


def test_actions_belong_to_their_case_and_need_an_assessed_case(client, users, staff, investigator, other_case):
    action_id = create_action(client, investigator, other_case).json()["id"]
    second = new_case(client, staff, investigator, OTHER)
    wrong_case = client.post(action_url(second, action_id, "done"), json={}, headers=investigator)
    assert wrong_case.status_code == 404
    assert client.post(action_url(other_case, action_id + 1000, "evaluation"), json={"effect_evaluation": "x"},
                       headers=investigator).status_code == 404

    unassessed = new_case(client, staff, investigator)
    refused = create_action(client, investigator, unassessed)
    assert refused.status_code == 409 and refused.json()["allowed_steps"] == ["assess"]

    decision_maker = users.headers(Role.decision_maker, "SOC", subject="dora")
    assert create_action(client, decision_maker, other_case).status_code == 403
    assert len(get(client, decision_maker, other_case, "actions").json()) == 1
    assert create_action(client, users.headers(Role.statistics, "SOC"), other_case).status_code == 404
