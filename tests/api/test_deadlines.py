"""Legal and policy deadlines that must not be defeated: the one awareness time of an incident, when a
notification can have been sent, duties that outlive a re-assessment, the first assessment, the follow-up.

Each test replays a way the deadline rules were once got round, and shows what the user sees instead.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from service.domain.access import Role
from tests.bodies import CONTACT, OPERATOR, UNIT, report_body, send_order

pytestmark = pytest.mark.exact_figures  # small counts read exactly: suppression off (conftest.py)

REPORTS = "/api/v1/reports"
SERIOUS = {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"}
INCIDENT = {"type": "personal_data_incident", "incident_risk": "risk"}
AWARE = "2026-03-10T08:00:00Z"  # the report (tests/bodies.py) was noticed 9 March 18:00 UTC, received 10 March 09:00


class Case:
    def __init__(self, client, case_id: str, number: str) -> None:
        self.client, self.id, self.number = client, case_id, number

    @classmethod
    def submit(cls, client, reporter, **overrides) -> Case:
        response = client.post(REPORTS, json=report_body(**overrides), headers=reporter)
        assert response.status_code == 201, response.text
        return cls(client, response.json()["id"], response.json()["case_number"])

    def url(self, *parts: object) -> str:
        return "/".join([f"{REPORTS}/{self.id}", *map(str, parts)])

    def post(self, who, *parts: object, json=None):
        return self.client.post(self.url(*parts), json={} if json is None else json, headers=who)

    def ok(self, who, *parts: object, json=None, status: int = 200) -> dict:
        response = self.post(who, *parts, json=json)
        assert response.status_code == status, response.text
        return response.json()

    def assess(self, who, *types: dict, **extra):
        return self.post(who, "assessments", json={"types": list(types), "justification": "Bedömd.", **extra})

    def view(self, who) -> dict:
        response = self.client.get(self.url("case"), headers=who)
        assert response.status_code == 200, response.text
        return response.json()

    def deadlines(self, who) -> dict[str, str]:
        return {d["kind"]: d["due_at"] for d in self.view(who)["deadlines"]}

    def snapshot(self, who, *parts: str) -> tuple:
        return (self.view(who), *(self.client.get(self.url(part), headers=who).json()
                                  for part in ("timeline", "assessments", "notifications", *parts)))


def refused(response, status: int, pointer: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if pointer is not None:
        assert [error["pointer"] for error in body["errors"]] == [pointer]
    return body



@pytest.fixture
def stats(users, org):
    return users.headers(Role.statistics, "SOC", subject="stina")


# ---- the one awareness time of an incident (IMY, 72 hours) ---------------------------------------------

@pytest.fixture
def incident_case(client, staff, investigator):
    case = Case.submit(client, staff, category="confidentiality")
    assert case.assess(investigator, INCIDENT, incident_aware_at=AWARE).status_code == 201
    return case


def test_the_imy_draft_cannot_move_the_awareness_time_and_a_late_sending_needs_its_reason(
        client, clock, investigator, dpo, incident_case):
    case = incident_case
    later = "2026-03-14T08:00:00Z"
    refused(case.post(dpo, "notifications", json={"authority": "imy", "contact": CONTACT, "aware_at": later}),
            422, "/aware_at")
    imy = case.ok(dpo, "notifications", json={"authority": "imy", "contact": CONTACT}, status=201)
    assert (imy["aware_at"], imy["imy_deadline"]) == (AWARE, "2026-03-13T08:00:00Z")
    before = case.snapshot(dpo)
    edited = client.patch(case.url("notifications", imy["id"]), json={"aware_at": later}, headers=dpo)
    refused(edited, 422, "/aware_at")
    refused(client.patch(case.url("notifications", imy["id"]), json={"aware_at": None}, headers=dpo), 422, "/aware_at")
    assert case.snapshot(dpo) == before
    same = client.patch(case.url("notifications", imy["id"]), json={"aware_at": "2026-03-10T09:00:00+01:00"},
                        headers=dpo)  # the form sent back as shown: the same moment
    assert same.status_code == 200, same.text

    clock.advance(hours=100)
    send_url = ("notifications", imy["id"], "send")
    refused(case.post(dpo, *send_url, json=send_order("Dana Dataskydd")), 422, "/delay_reason")
    sent = case.ok(dpo, *send_url, json=send_order("Dana Dataskydd", delay_reason="Handläggaren var sjuk."))
    assert (sent["late"], sent["aware_at"], sent["imy_deadline"]) == (True, AWARE, "2026-03-13T08:00:00Z")


def test_a_reassessment_moves_the_awareness_time_earlier_never_later(client, clock, investigator, incident_case):
    case = incident_case
    assert case.view(investigator)["incident_aware_at"] == AWARE
    assert case.deadlines(investigator) == {"imy_notification": "2026-03-13T08:00:00Z"}
    clock.advance(hours=30)
    before = case.snapshot(investigator)
    refused(case.assess(investigator, INCIDENT, incident_aware_at="2026-03-11T08:00:00Z"), 422, "/incident_aware_at")
    assert case.snapshot(investigator) == before

    # Without a time the case keeps the one it has (not the report's noticed_at, which is earlier).
    kept = case.assess(investigator, {**INCIDENT, "incident_risk": "high_risk"})
    assert kept.status_code == 201, kept.text
    assert kept.json()["incident_aware_at"] == AWARE
    # Re-assessed as no incident, then as one again: the record still shows when the organisation knew.
    assert case.assess(investigator, {"type": "other_deviation"}).status_code == 201
    assert case.view(investigator)["incident_aware_at"] == AWARE
    refused(case.assess(investigator, INCIDENT, incident_aware_at="2026-03-10T09:00:00Z"), 422, "/incident_aware_at")
    back = case.assess(investigator, INCIDENT)
    assert back.status_code == 201 and back.json()["incident_aware_at"] == AWARE
    assert case.deadlines(investigator) == {"imy_notification": "2026-03-13T08:00:00Z"}

    earlier = case.assess(investigator, INCIDENT, incident_aware_at="2026-03-09T20:00:00Z")
    assert earlier.status_code == 201, earlier.text
    assert case.deadlines(investigator) == {"imy_notification": "2026-03-12T20:00:00Z"}
    events = [e for e in client.get(case.url("timeline"), headers=investigator).json()
              if "incident_aware_at" in e["changes"]]
    assert [(e["actor_name"], e["changes"]["incident_aware_at"]) for e in events] == [
        ("Ivar Isaksson", [None, AWARE]), ("Ivar Isaksson", [AWARE, "2026-03-09T20:00:00Z"])]
    history = client.get(case.url("assessments"), headers=investigator).json()
    assert [a["incident_aware_at"] for a in history] == [AWARE, AWARE, None, AWARE, "2026-03-09T20:00:00Z"]


def test_an_imy_draft_follows_the_awareness_time_moved_earlier(client, clock, investigator, dpo, incident_case):
    case = incident_case
    imy = case.ok(dpo, "notifications", json={"authority": "imy", "contact": CONTACT}, status=201)
    assert case.assess(investigator, INCIDENT, incident_aware_at="2026-03-09T20:00:00Z").status_code == 201
    shown = client.get(case.url("notifications", imy["id"]), headers=dpo).json()
    assert (shown["aware_at"], shown["imy_deadline"]) == ("2026-03-09T20:00:00Z", "2026-03-12T20:00:00Z")
    clock.now += timedelta(hours=60)  # on time from 10 March 08:00, late from 9 March 20:00
    refused(case.post(dpo, "notifications", imy["id"], "send", json=send_order("Dana Dataskydd")),
            422, "/delay_reason")


@pytest.mark.parametrize(("sent_at", "why"), [
    ("2026-03-10T08:30:00Z", "before the report was received and the draft made"),
    ("2026-03-10T10:30:00Z", "before the draft was made"),
    ("2026-03-13T12:06:00Z", "more than five minutes ahead"),
])
def test_sent_at_lies_between_the_draft_and_now(client, clock, staff, investigator, decision_maker, sent_at, why):
    case = Case.submit(client, staff)
    assert case.assess(investigator, SERIOUS).status_code == 201
    clock.advance(hours=2)
    ivo = case.ok(decision_maker, "notifications", json={"authority": "ivo", "operator": OPERATOR, "unit": UNIT},
                  status=201)
    clock.now = clock.now.replace(day=13, hour=12, minute=0)
    before = case.snapshot(investigator)
    refused(case.post(decision_maker, "notifications", ivo["id"], "send", json=send_order(sent_at=sent_at)),
            422, "/sent_at")
    assert case.snapshot(investigator) == before, why
    sent = case.ok(decision_maker, "notifications", ivo["id"], "send", json=send_order(sent_at="2026-03-10T11:00:00Z"))
    assert sent["sent_at"] == "2026-03-10T11:00:00Z"  # recorded afterwards: the draft's own moment is possible


def test_lead_times_cannot_go_negative_through_a_backdated_sending(client, clock, staff, investigator,
                                                                   decision_maker, stats):
    """An event from 2022 reported now: a sending dated in 2023 is after the event, but before anything existed."""
    case = Case.submit(client, staff, occurred_at="2022-09-01T10:00:00+02:00")
    assert case.assess(investigator, SERIOUS).status_code == 201
    ivo = case.ok(decision_maker, "notifications", json={"authority": "ivo", "operator": OPERATOR, "unit": UNIT},
                  status=201)
    refused(case.post(decision_maker, "notifications", ivo["id"], "send",
                      json=send_order(sent_at="2023-01-01T00:00:00Z")), 422, "/sent_at")
    clock.advance(hours=3)
    case.ok(decision_maker, "notifications", ivo["id"], "send", json=send_order())
    lead = client.get("/api/v1/statistics/lead-times", params={"year": 2026}, headers=stats).json()
    [notified] = [item for item in lead["lead_times"] if item["key"] == "assessed_to_notified_ivo"]
    assert (notified["n"], notified["median_hours"]) == (1, 3.0)


# ---- duties of a sent notification outlive a re-assessment -------------------------------------------

@pytest.mark.parametrize("downgrade", [
    {"type": "lex_sarah", "lex_sarah_severity": "impropriety"},
    {"type": "other_deviation"},
    {"type": "not_a_deviation"},
])
def test_the_two_month_rule_of_a_sent_ivo_notification_survives_a_downgrade(
        client, clock, staff, investigator, decision_maker, downgrade):
    case = Case.submit(client, staff)
    assert case.assess(investigator, SERIOUS).status_code == 201
    ivo = case.ok(decision_maker, "notifications", json={"authority": "ivo", "operator": OPERATOR, "unit": UNIT},
                  status=201)
    case.ok(decision_maker, "notifications", ivo["id"], "send", json=send_order())
    assert case.deadlines(investigator) == {"ivo_investigation": "2026-05-10T08:00:00Z"}

    clock.advance(days=3)
    downgraded = case.assess(investigator, downgrade)
    assert downgraded.status_code == 201, downgraded.text
    assert {d["kind"]: d["due_at"] for d in downgraded.json()["deadlines"]} == \
        {"ivo_investigation": "2026-05-10T08:00:00Z"}
    assert "the investigation must be sent to IVO as a supplement" in downgraded.json()["closing_blockers"]
    listed = client.get("/api/v1/deadlines", headers=investigator).json()
    assert [(d["case_number"], d["kind"]) for d in listed] == [(case.number, "ivo_investigation")]
    if downgrade["type"] == "not_a_deviation":  # closable from `assessed` otherwise: not with this duty open
        body = refused(case.post(investigator, "close"), 409)
        assert body["blockers"] == ["the investigation must be sent to IVO as a supplement"]


# ---- the first assessment ("genast") ---------------------------------------------------------------

def test_a_report_nobody_touches_is_due_for_its_first_assessment(client, clock, staff, investigator):
    case = Case.submit(client, staff)
    assert case.view(investigator)["deadlines"] == [
        {"kind": "first_assessment", "due_at": "2026-03-11T09:00:00Z", "overdue": False, "action_id": None}]
    clock.advance(hours=24, seconds=1)
    overdue = client.get("/api/v1/deadlines", params={"overdue": "true"}, headers=investigator).json()
    assert [(d["case_number"], d["kind"], d["overdue"]) for d in overdue] == [(case.number, "first_assessment", True)]

    assessed = case.assess(investigator, {"type": "other_deviation"})
    assert assessed.status_code == 201 and assessed.json()["deadlines"] == []
    assert client.get("/api/v1/deadlines", headers=investigator).json() == []


def test_the_first_assessment_deadline_is_not_shown_to_the_reporter(client, staff):
    case = Case.submit(client, staff)
    assert client.get(case.url("case"), headers=staff).status_code == 404
    assert client.get("/api/v1/deadlines", headers=staff).json() == []


# ---- the follow-up comes after the actions ---------------------------------------------------------

def test_a_follow_up_is_refused_while_actions_are_open(client, staff, manager):
    case = Case.submit(client, staff)
    assert case.assess(manager, {"type": "other_deviation"}).status_code == 201
    case.ok(manager, "investigation", json={"kind": "light"}, status=201)
    for topic in ("what_happened", "causes"):
        case.ok(manager, "investigation", "entries", status=201, json={
            "topic": topic, "documented_on": "2026-03-10", "source": "Samtal", "nature": "fact",
            "author_name": "Maja Månsson", "author_title": "Enhetschef", "text": "Anteckning."})
    case.ok(manager, "investigation", "decision", json={"decision": "Rutinen ses över.", "decided_by_name": "Maja",
                                                        "decided_by_title": "Enhetschef", "root_causes": ["staffing"]})
    first = case.ok(manager, "actions", status=201, json={"kind": "planned", "description": "Rutin.",
                                                         "owner_name": "Maja Månsson", "due_date": "2026-03-31"})
    second = case.ok(manager, "actions", status=201, json={"kind": "planned", "description": "Utbildning.",
                                                          "owner_name": "Maja Månsson"})
    case.ok(manager, "actions", first["id"], "done")
    before = case.snapshot(manager, "actions")
    body = refused(case.post(manager, "follow-ups", json={"summary": "Uppföljt."}), 409)
    assert body["open_actions"] == [second["id"]] and str(second["id"]) in body["detail"]
    assert case.snapshot(manager, "actions") == before
    case.ok(manager, "actions", second["id"], "done")
    followed = case.ok(manager, "follow-ups", json={"summary": "Uppföljt."}, status=201)
    assert followed["status"] == "followed_up"
