"""Whole cases, end to end, through the HTTP API only, as the people who handle them would run them.

Each scenario is what issue 3 ("How it will be checked") describes: the users act with their own roles
(reporter, unit_manager, investigator, decision_maker, dpo) and the tests assert what those users see:
the status, the steps the case allows, what blocks closing, the deadlines, the timeline with its
from → to changes, and the printable notification document. Time moves only through the `clock` fixture.
The last part tries every forbidden step and checks that it is refused and changes nothing.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from service.domain.access import Role
from tests.bodies import CONTACT, CONTROLLER, OPERATOR, UNIT, report_body, send_order

REPORTS = "/api/v1/reports"

# The steps the lifecycle table allows in each status (service/domain/lifecycle.py), in the API's order.
STEPS = {
    "reported": ["assess"],
    "assessed": ["assess", "start_investigation", "manage_actions", "notify", "record_authority_response", "close"],
    "investigating": ["assess", "add_investigation_entry", "decide_investigation", "manage_actions", "notify",
                      "record_authority_response"],
    "investigated": ["assess", "manage_actions", "notify", "record_authority_response", "follow_up"],
    "followed_up": ["assess", "manage_actions", "notify", "record_authority_response", "follow_up", "close"],
    "closed": ["record_authority_response", "reopen"],
}

# The closing blockers, word for word as the users read them (service/domain/closing.py).
NEEDS_INVESTIGATION = "a lex Sarah case needs an investigation closed by a decision"
NEEDS_IVO = "a serious lex Sarah case needs a sent IVO notification"
NEEDS_IVO_SUPPLEMENT = "the investigation must be sent to IVO as a supplement"
NEEDS_IMY_HIGH = "a personal-data incident with high_risk needs a sent IMY notification"
NEEDS_IMY_RISK = "a personal-data incident with risk needs a sent IMY notification"
NEEDS_DATA_SUBJECTS = "the data subjects must be informed, or the art. 34(3) exemption recorded"
NEEDS_FOLLOW_UP = "the case needs a follow-up"


def open_actions(count: int) -> str:
    return f"{count} action(s) are not done"


FULL_TOPICS = ("what_happened", "how_noticed", "when_happened", "causes", "earlier_events", "recurrence_risk")
LIGHT_TOPICS = ("what_happened", "causes")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# The people (staff, manager, investigator, decision_maker, dpo) are the fixtures of tests/api/conftest.py.


# ---- a case, as seen through the API --------------------------------------------------------------------

class Case:
    """One report and its case; every call goes through the HTTP API with the caller's own token."""

    def __init__(self, client, case_id: str, case_number: str) -> None:
        self.client, self.id, self.number = client, case_id, case_number

    @classmethod
    def submit(cls, client, reporter, **overrides) -> Case:
        response = client.post(REPORTS, json=report_body(**overrides), headers=reporter)
        assert response.status_code == 201, response.text
        receipt = response.json()
        assert receipt["status"] == "reported"
        return cls(client, receipt["id"], receipt["case_number"])

    def url(self, *parts: object) -> str:
        return "/".join([f"{REPORTS}/{self.id}", *map(str, parts)])

    def get(self, who, *parts: object):
        return self.client.get(self.url(*parts), headers=who)

    def post(self, who, *parts: object, json=None):
        return self.client.post(self.url(*parts), json={} if json is None else json, headers=who)

    def ok(self, who, *parts: object, json=None, status: int = 200) -> dict:
        response = self.post(who, *parts, json=json)
        assert response.status_code == status, response.text
        return response.json()

    def view(self, who) -> dict:
        response = self.get(who, "case")
        assert response.status_code == 200, response.text
        return response.json()

    def timeline(self, who) -> list[dict]:
        response = self.get(who, "timeline")
        assert response.status_code == 200, response.text
        return response.json()

    def snapshot(self, who, *extra: str) -> tuple:
        """What a handler can see of the case: the case view, its timeline, and any other parts named."""
        return (self.view(who), self.timeline(who), *(self.get(who, part).json() for part in extra))

    def deadlines(self, who) -> list[tuple[str, str, bool]]:
        return [(d["kind"], d["due_at"], d["overdue"]) for d in self.view(who)["deadlines"]]

    # the steps

    def assess(self, who, *types: dict, status: int = 201, **extra) -> dict:
        body = {"types": list(types), "justification": "Bedömd enligt nämndens rutin.", **extra}
        return self.ok(who, "assessments", json=body, status=status)

    def entry(self, who, topic: str, text: str | None = None, **overrides):
        body = {"topic": topic, "documented_on": "2026-03-10", "source": "Samtal med personal", "nature": "fact",
                "author_name": "Ivar Isaksson", "author_title": "Kvalitetsutvecklare",
                "text": text or f"Anteckning om {topic}.", **overrides}
        return self.post(who, "investigation", "entries", json=body)

    def document(self, who, topics, **overrides) -> list[int]:
        ids = []
        for topic in topics:
            response = self.entry(who, topic, **overrides)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids

    def decide(self, who, *root_causes: str, **overrides):
        body = {"decision": "Rutinen ska ses över och personalen informeras.", "decided_by_name": "Ingrid Ek",
                "decided_by_title": "Verksamhetschef", "root_causes": list(root_causes), **overrides}
        return self.post(who, "investigation", "decision", json=body)

    def action(self, who, **overrides) -> dict:
        body = {"kind": "planned", "description": "Uppdatera rutinen och gå igenom den på arbetsplatsträff.",
                "owner_name": "Maja Månsson", "due_date": "2026-03-31", **overrides}
        return self.ok(who, "actions", json=body, status=201)

    def draft(self, who, authority: str, **fields):
        return self.post(who, "notifications", json={"authority": authority, **fields})


def kinds(timeline: list[dict]) -> list[str]:
    return [event["kind"] for event in timeline]


def status_changes(timeline: list[dict]) -> list[tuple[str, list]]:
    """(kind, [from, to]) for each event that moved the status, in order."""
    return [(event["kind"], event["changes"]["status"]) for event in timeline if "status" in event["changes"]]


def assert_in_time_order(timeline: list[dict]) -> None:
    moments = [datetime.fromisoformat(event["at"]) for event in timeline]
    assert moments == sorted(moments)


def assert_refused(response, status: int, type_suffix: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"].endswith(type_suffix), body
    return body


# ==== a. a minor deviation handled in the unit by its manager ===========================================

def test_a_minor_deviation_is_handled_in_the_unit_by_the_unit_manager(client, clock, staff, manager):
    case = Case.submit(client, staff)
    first_look = case.view(manager)
    assert (first_look["status"], first_look["allowed_steps"], first_look["types"]) == ("reported", ["assess"], [])

    assessed = case.assess(manager, {"type": "other_deviation"})
    assert assessed["status"] == "assessed" and assessed["allowed_steps"] == STEPS["assessed"]
    assert assessed["types"] == [{"type": "other_deviation", "lex_sarah_severity": None, "incident_risk": None,
                                  "complaint_kind": None, "complaint_submitter": None}]
    assert assessed["closing_blockers"] == [NEEDS_FOLLOW_UP]
    assert assessed["deadlines"] == [] and assessed["judged_serious_at"] is None

    clock.advance(hours=2)
    started = case.ok(manager, "investigation", json={"kind": "light"}, status=201)
    assert (started["kind"], started["missing_topics"], started["started_by_name"]) == \
        ("light", list(LIGHT_TOPICS), "Maja Månsson")
    assert case.view(manager)["status"] == "investigating"
    assert case.deadlines(manager) == [("investigation", "2026-04-09T11:00:00Z", False)]  # policy: 30 days

    clock.advance(days=1)
    what, causes = case.document(manager, LIGHT_TOPICS, documented_on="2026-03-11",
                                 author_name="Maja Månsson", author_title="Enhetschef")
    decided = case.decide(manager, "routine_not_followed", "staffing")
    assert decided.status_code == 200, decided.text
    assert decided.json()["root_causes"] == [{"code": "routine_not_followed", "name": "Rutinen följs inte"},
                                             {"code": "staffing", "name": "Bemanning/vakanser"}]
    assert [e["id"] for e in decided.json()["entries"]] == [what, causes]
    seen = case.view(manager)
    assert (seen["status"], seen["allowed_steps"], seen["deadlines"]) == ("investigated", STEPS["investigated"], [])

    action = case.action(manager, due_date="2026-03-31")
    seen = case.view(manager)
    # Due on the 31st in Swedish (summer) time: overdue from midnight local, 22:00 UTC.
    assert seen["deadlines"] == [{"kind": "action", "due_at": "2026-03-31T22:00:00Z", "overdue": False,
                                  "action_id": action["id"]}]
    assert seen["closing_blockers"] == [open_actions(1), NEEDS_FOLLOW_UP]

    clock.now = utc(2026, 3, 25, 14, 0)
    done = case.ok(manager, "actions", action["id"], "done")
    assert (done["done_date"], done["overdue"]) == ("2026-03-25", False)
    assert case.view(manager)["deadlines"] == []
    assert case.view(manager)["closing_blockers"] == [NEEDS_FOLLOW_UP]

    clock.now = utc(2026, 4, 22, 8, 0)
    evaluated = case.ok(manager, "actions", action["id"], "evaluation",
                        json={"effect_evaluation": "Inga fler felaktiga överlämningar sedan rutinen gicks igenom."})
    assert evaluated["evaluated_at"] == "2026-04-22T08:00:00Z"

    followed = case.ok(manager, "follow-ups", json={"summary": "Åtgärden har haft effekt."}, status=201)
    assert (followed["status"], followed["allowed_steps"], followed["closing_blockers"]) == \
        ("followed_up", STEPS["followed_up"], [])

    clock.advance(minutes=5)
    closed = case.ok(manager, "close", json={"note": "Avslutas på enheten."})
    assert (closed["status"], closed["allowed_steps"], closed["closed_at"]) == \
        ("closed", STEPS["closed"], "2026-04-22T08:05:00Z")
    assert closed["closing_blockers"] == [] and closed["deadlines"] == []

    timeline = case.timeline(manager)
    assert kinds(timeline) == ["reported", "assess", "investigation_started", "investigation_entry",
                               "investigation_entry", "investigation_decided", "action_created", "action_done",
                               "action_evaluated", "follow_up", "close"]
    assert status_changes(timeline) == [
        ("reported", [None, "reported"]), ("assess", ["reported", "assessed"]),
        ("investigation_started", ["assessed", "investigating"]),
        ("investigation_decided", ["investigating", "investigated"]),
        ("follow_up", ["investigated", "followed_up"]), ("close", ["followed_up", "closed"])]
    assert_in_time_order(timeline)
    assert {event["actor_name"] for event in timeline[1:]} == {"Maja Månsson"}
    assert timeline[1]["changes"]["types"] == [None, [{"type": "other_deviation"}]]
    assert timeline[2]["changes"]["investigation"] == [None, "light"]
    assert timeline[5]["changes"]["root_causes"] == [[], ["routine_not_followed", "staffing"]]
    assert timeline[7]["changes"] == {f"actions/{action['id']}/done_date": [None, "2026-03-25"]}
    assert timeline[8]["changes"][f"actions/{action['id']}/effect_evaluation"][0] is None
    assert (timeline[9]["note"], timeline[10]["note"]) == ("Åtgärden har haft effekt.", "Avslutas på enheten.")

    receipt = client.get(f"{REPORTS}/{case.id}", headers=staff).json()  # what the reporter sees
    assert (receipt["access"], receipt["status"], receipt["description"]) == ("receipt", "closed", None)


# ==== b. lex Sarah, serious: IVO first, the investigation as a supplement within two months ================

def test_a_serious_lex_sarah_case_is_notified_to_ivo_and_the_investigation_follows_as_a_supplement(
        client, clock, staff, investigator, decision_maker):
    case = Case.submit(client, staff)
    assessed = case.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"})
    assert assessed["judged_serious_at"] == "2026-03-10T09:00:00Z"
    assert assessed["closing_blockers"] == [NEEDS_INVESTIGATION, NEEDS_IVO, NEEDS_FOLLOW_UP]
    assert case.deadlines(investigator) == [("ivo_notification", "2026-03-17T09:00:00Z", False),
                                            ("ivo_notification_escalation", "2026-03-24T09:00:00Z", False)]

    started = case.ok(investigator, "investigation", status=201)
    assert started["kind"] == "full" and started["missing_topics"] == list(FULL_TOPICS)

    clock.now = utc(2026, 3, 13, 14, 15)
    draft = case.draft(decision_maker, "ivo", operator=OPERATOR, unit=UNIT)
    assert draft.status_code == 201, draft.text
    ivo = draft.json()
    assert (ivo["status"], ivo["kind"], ivo["investigation_attached"], ivo["missing_for_sending"]) == \
        ("draft", "serious_impropriety", False, [])
    assert (ivo["sender_reference"], ivo["what_happened"]) == (case.number, report_body()["description"])
    sent = case.ok(decision_maker, "notifications", ivo["id"], "send", json=send_order())
    assert (sent["status"], sent["sent_at"], sent["channel"], sent["sent_by_name"]) == \
        ("sent", "2026-03-13T14:15:00Z", "e_service", "Disa Delegat")

    # Two calendar months after sending (13 March → 13 May; not 60 days), beside the open investigation.
    assert case.deadlines(investigator) == [("investigation", "2026-04-09T09:00:00Z", False),
                                            ("ivo_investigation", "2026-05-13T13:15:00Z", False)]
    assert case.view(investigator)["closing_blockers"] == [NEEDS_INVESTIGATION, NEEDS_IVO_SUPPLEMENT, NEEDS_FOLLOW_UP]
    page = case.get(investigator, "notifications", ivo["id"], "document")
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Anmälan – lex Sarah" in page.text and case.number in page.text and "UTKAST" not in page.text
    assert "Utredningen bifogas</th><td class=\"text\">Nej" in page.text
    assert "Ett allvarligt missförhållande" in page.text and "Disa Delegat" in page.text
    assert "Myndighetens e-tjänst" in page.text and "2026-03-13 15:15" in page.text  # Swedish time

    clock.now = utc(2026, 3, 20, 10, 0)
    referenced = case.ok(decision_maker, "notifications", ivo["id"], "authority-response",
                         json={"authority_reference": "3.5.1-12345/2026"})
    assert (referenced["authority_reference"], referenced["authority_decision"]) == ("3.5.1-12345/2026", None)

    case.document(investigator, (*FULL_TOPICS, "actions_planned"), documented_on="2026-03-20")
    clock.now = utc(2026, 4, 2, 9, 0)
    decided = case.decide(investigator, "routine_not_known", "competence")
    assert decided.status_code == 200, decided.text
    assert case.deadlines(investigator) == [("ivo_investigation", "2026-05-13T13:15:00Z", False)]
    assert case.view(investigator)["closing_blockers"] == [NEEDS_IVO_SUPPLEMENT, NEEDS_FOLLOW_UP]
    action = case.action(investigator, due_date="2026-04-30", owner_name="Ingrid Ek")

    clock.now = utc(2026, 5, 12, 9, 0)  # a day before the two months are up
    due = client.get("/api/v1/deadlines", headers=investigator).json()
    assert [(d["case_number"], d["kind"], d["overdue"]) for d in due] == \
        [(case.number, "action", True), (case.number, "ivo_investigation", False)]
    supplemented = case.ok(investigator, "notifications", ivo["id"], "supplements", status=201,
                           json={"kind": "investigation", "channel": "e_service",
                                 "content": "Utredningen enligt SOSFS 2011:5 med beslut 2026-04-02."})
    assert [(s["kind"], s["sent_at"], s["channel"]) for s in supplemented["supplements"]] == \
        [("investigation", "2026-05-12T09:00:00Z", "e_service")]
    assert supplemented["status"] == "sent" and supplemented["sent_at"] == "2026-03-13T14:15:00Z"  # frozen
    assert [kind for kind, _, _ in case.deadlines(investigator)] == ["action"]
    assert case.view(investigator)["closing_blockers"] == [open_actions(1), NEEDS_FOLLOW_UP]

    case.ok(investigator, "actions", action["id"], "done", json={"done_date": "2026-05-12"})
    clock.now = utc(2026, 5, 20, 9, 0)
    decision = case.ok(decision_maker, "notifications", ivo["id"], "authority-response",
                       json={"authority_decision": "IVO har tagit emot utredningen och inleder inte tillsyn.",
                             "authority_decision_at": "2026-05-19"})
    assert (decision["authority_reference"], decision["authority_decision_at"]) == ("3.5.1-12345/2026", "2026-05-19")
    case.ok(investigator, "actions", action["id"], "evaluation",
            json={"effect_evaluation": "All personal har gått utbildningen; inga nya händelser."})
    followed = case.ok(investigator, "follow-ups", json={"summary": "Åtgärderna har följts upp."}, status=201)
    assert (followed["status"], followed["closing_blockers"], followed["deadlines"]) == ("followed_up", [], [])
    closed = case.ok(decision_maker, "close", json={})
    assert (closed["status"], closed["allowed_steps"]) == ("closed", STEPS["closed"])

    clock.now = utc(2026, 9, 1, 9, 0)  # IVO answers again, long after the case was closed
    later = case.ok(decision_maker, "notifications", ivo["id"], "authority-response",
                    json={"authority_decision": "IVO avslutar ärendet utan vidare åtgärd.",
                          "authority_decision_at": "2026-08-28"})
    assert (later["authority_decision"], later["authority_decision_at"]) == \
        ("IVO avslutar ärendet utan vidare åtgärd.", "2026-08-28")
    after = case.view(investigator)
    assert (after["status"], after["allowed_steps"], after["closed_at"]) == \
        ("closed", STEPS["closed"], closed["closed_at"])

    timeline = case.timeline(investigator)
    assert kinds(timeline) == [
        "reported", "assess", "investigation_started", "notification_drafted", "notification_sent",
        "authority_response", *["investigation_entry"] * 7, "investigation_decided", "action_created",
        "notification_supplement", "action_done", "authority_response", "action_evaluated", "follow_up", "close",
        "authority_response"]
    assert status_changes(timeline) == [
        ("reported", [None, "reported"]), ("assess", ["reported", "assessed"]),
        ("investigation_started", ["assessed", "investigating"]),
        ("investigation_decided", ["investigating", "investigated"]),
        ("follow_up", ["investigated", "followed_up"]), ("close", ["followed_up", "closed"])]
    assert_in_time_order(timeline)
    assert timeline[4]["changes"]["sent_at"] == [None, "2026-03-13T14:15:00Z"]
    assert timeline[4]["changes"]["channel"] == [None, "e_service"] and timeline[4]["actor_name"] == "Disa Delegat"
    assert timeline[5]["changes"]["authority_reference"] == [None, "3.5.1-12345/2026"]
    assert timeline[15]["changes"]["supplement"][1]["kind"] == "investigation"
    assert timeline[-1]["changes"]["authority_decision"] == [
        "IVO har tagit emot utredningen och inleder inte tillsyn.", "IVO avslutar ärendet utan vidare åtgärd."]
    assert timeline[-1]["changes"]["authority_decision_at"] == ["2026-05-19", "2026-08-28"]
    assert "status" not in timeline[-1]["changes"]

    page = case.get(decision_maker, "notifications", ivo["id"], "document").text
    assert "Kompletteringar" in page and "Utredningen enligt SOSFS 2011:5" in page
    assert "IVO:s svar" in page and "3.5.1-12345/2026" in page and "IVO avslutar ärendet utan vidare åtgärd." in page


@pytest.mark.parametrize(("sent", "due"), [
    (utc(2026, 3, 31, 10, 0), "2026-05-31T10:00:00Z"),
    (utc(2026, 12, 31, 10, 0), "2027-02-28T10:00:00Z"),  # no 31 February: the last day of the month
])
def test_the_two_months_for_the_investigation_are_calendar_months(client, clock, staff, investigator,
                                                                  decision_maker, sent, due):
    clock.now = sent
    case = Case.submit(client, staff, occurred_at="2026-03-30T18:30:00+02:00",
                       noticed_at="2026-03-30T19:00:00+02:00")
    case.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"})
    ivo = case.draft(decision_maker, "ivo", operator=OPERATOR, unit=UNIT).json()
    case.ok(decision_maker, "notifications", ivo["id"], "send", json=send_order())
    assert case.deadlines(investigator) == [("ivo_investigation", due, False)]


# ==== c. a breach of secrecy: lex Sarah and a personal-data incident, the 72-hour IMY clock ================

def secrecy_breach(client, staff, clock, **overrides) -> Case:
    clock.now = utc(2026, 3, 13, 15, 0)  # a Friday
    return Case.submit(client, staff, category="confidentiality", occurred_at="2026-03-13T13:30:00+01:00",
                       noticed_at="2026-03-13T14:00:00+01:00",
                       description="Journalanteckningar om en brukare skickades till fel mottagare.", **overrides)


def test_a_secrecy_breach_is_both_lex_sarah_and_a_personal_data_incident_and_goes_to_imy_and_ivo(
        client, clock, staff, investigator, decision_maker, dpo):
    case = secrecy_breach(client, staff, clock)
    assessed = case.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "serious_tangible_risk"},
                           {"type": "personal_data_incident", "incident_risk": "high_risk"})
    assert [t["type"] for t in assessed["types"]] == ["lex_sarah", "personal_data_incident"]
    assert assessed["closing_blockers"] == [NEEDS_INVESTIGATION, NEEDS_IVO, NEEDS_IMY_HIGH, NEEDS_DATA_SUBJECTS,
                                            NEEDS_FOLLOW_UP]
    # 72 clock hours from awareness (when it was noticed, Friday 13:00 UTC), over the weekend to Monday.
    assert case.deadlines(dpo) == [("imy_notification", "2026-03-16T13:00:00Z", False),
                                   ("ivo_notification", "2026-03-20T15:00:00Z", False),
                                   ("ivo_notification_escalation", "2026-03-27T15:00:00Z", False)]

    imy = case.draft(dpo, "imy", contact=CONTACT, controller=CONTROLLER, data_subject_categories="Brukare",
                     data_subjects_approx=1, record_categories="Journalanteckningar (känsliga uppgifter om hälsa)",
                     records_approx=3, likely_consequences="Obehörig kan ha tagit del av uppgifter om hälsa.",
                     measures="Mottagaren har ombetts radera e-posten.")
    assert imy.status_code == 201, imy.text
    imy = imy.json()
    assert (imy["aware_at"], imy["imy_deadline"], imy["missing_for_sending"]) == \
        ("2026-03-13T13:00:00Z", "2026-03-16T13:00:00Z", [])

    clock.now = utc(2026, 3, 16, 12, 30)  # Monday, half an hour to spare
    sent = case.ok(dpo, "notifications", imy["id"], "send", json=send_order("Dana Dataskydd"))
    assert (sent["status"], sent["late"], sent["delay_reason"]) == ("sent", False, None)
    assert [kind for kind, _, _ in case.deadlines(dpo)] == ["ivo_notification", "ivo_notification_escalation"]

    informed = case.ok(dpo, "data-subject-communication",
                       json={"informed_at": "2026-03-16T12:00:00Z", "method": "Brev till brukaren"})
    assert (informed["method"], informed["exemption"], informed["recorded_by_name"]) == \
        ("Brev till brukaren", None, "Dana Dataskydd")
    assert case.view(dpo)["closing_blockers"] == [NEEDS_INVESTIGATION, NEEDS_IVO, NEEDS_FOLLOW_UP]

    case.ok(investigator, "investigation", status=201)
    case.document(investigator, FULL_TOPICS, documented_on="2026-03-16")
    assert case.decide(investigator, "routine_not_followed", "it_system").status_code == 200
    ivo = case.draft(decision_maker, "ivo", operator=OPERATOR, unit=UNIT, investigation_attached=True)
    assert ivo.status_code == 201, ivo.text
    ivo_sent = case.ok(decision_maker, "notifications", ivo.json()["id"], "send", json=send_order(channel="post"))
    assert (ivo_sent["kind"], ivo_sent["investigation_attached"], ivo_sent["channel"]) == \
        ("serious_tangible_risk", True, "post")
    assert case.deadlines(investigator) == []  # the investigation went with it: no two-month deadline
    assert case.view(investigator)["closing_blockers"] == [NEEDS_FOLLOW_UP]

    case.ok(investigator, "follow-ups", json={"summary": "Rutin för utskick är ändrad."}, status=201)
    closed = case.ok(decision_maker, "close", json={"note": "Båda anmälningarna är gjorda."})
    assert closed["status"] == "closed"
    listed = case.get(dpo, "notifications").json()
    assert [(n["authority"], n["status"]) for n in listed] == [("imy", "sent"), ("ivo", "sent")]

    imy_page = case.get(dpo, "notifications", imy["id"], "document").text
    assert "Anmälan av personuppgiftsincident" in imy_page and "Hög risk" in imy_page
    assert "Anmäld inom 72 timmar</th><td class=\"text\">Ja" in imy_page and "Skäl till förseningen" not in imy_page
    assert "Brev till brukaren" in imy_page and "2026-03-16 14:00" in imy_page  # the deadline, in Swedish time
    ivo_page = case.get(decision_maker, "notifications", ivo.json()["id"], "document").text
    assert "En påtaglig risk för ett allvarligt missförhållande" in ivo_page
    assert "Utredningens anteckningar" in ivo_page and "Rutinen ska ses över" in ivo_page

    timeline = case.timeline(investigator)
    assert kinds(timeline) == ["reported", "assess", "notification_drafted", "notification_sent",
                               "data_subject_communication", "investigation_started", *["investigation_entry"] * 6,
                               "investigation_decided", "notification_drafted", "notification_sent", "follow_up",
                               "close"]
    assert timeline[3]["changes"]["notification"] == [f"imy:{imy['id']}"] * 2
    assert "delay_reason" not in timeline[3]["changes"]  # on time: nothing to explain
    assert timeline[4]["changes"]["informed_at"] == [None, "2026-03-16T12:00:00Z"]
    assert_in_time_order(timeline)


def test_a_second_breach_notified_to_imy_too_late_needs_the_reason_for_the_delay(
        client, clock, staff, investigator, dpo):
    case = secrecy_breach(client, staff, clock, units=["SOC-IFO-2"])
    case.assess(investigator, {"type": "personal_data_incident", "incident_risk": "high_risk"})
    imy = case.draft(dpo, "imy", contact=CONTACT).json()
    assert imy["imy_deadline"] == "2026-03-16T13:00:00Z"

    clock.now = utc(2026, 3, 16, 13, 0, 1)  # one second too late
    assert case.deadlines(dpo) == [("imy_notification", "2026-03-16T13:00:00Z", True)]
    overdue = client.get("/api/v1/deadlines", params={"overdue": "true"}, headers=dpo).json()
    assert [(d["case_number"], d["kind"]) for d in overdue] == [(case.number, "imy_notification")]
    before = case.snapshot(dpo, "notifications")
    refused = assert_refused(case.post(dpo, "notifications", imy["id"], "send", json=send_order("Dana Dataskydd")),
                             422, "invalid-input")
    assert [e["pointer"] for e in refused["errors"]] == ["/delay_reason"]
    assert case.snapshot(dpo, "notifications") == before
    assert before[2][0]["status"] == "draft"

    reason = "Incidenten upptäcktes av en vikarie som inte kände till rutinen för personuppgiftsincidenter."
    sent = case.ok(dpo, "notifications", imy["id"], "send", json=send_order("Dana Dataskydd", delay_reason=reason))
    assert (sent["late"], sent["delay_reason"], sent["sent_at"]) == (True, reason, "2026-03-16T13:00:01Z")
    assert case.deadlines(dpo) == []
    assert case.timeline(dpo)[-1]["changes"]["delay_reason"] == [None, reason]
    page = case.get(dpo, "notifications", imy["id"], "document").text
    assert "Anmäld inom 72 timmar</th><td class=\"text\">Nej" in page and "Skäl till förseningen" in page
    assert reason in page

    exempt = case.ok(dpo, "data-subject-communication",
                     json={"exemption": "risk_no_longer_likely",
                           "justification": "Mottagaren har intygat att uppgifterna raderats oöppnade."})
    assert exempt["exemption"] == "risk_no_longer_likely" and exempt["informed_at"] is None
    assert case.view(dpo)["closing_blockers"] == [NEEDS_FOLLOW_UP]

    case.ok(investigator, "investigation", status=201)
    case.document(investigator, FULL_TOPICS, documented_on="2026-03-16")
    assert case.decide(investigator, "routine_not_known").status_code == 200
    case.ok(investigator, "follow-ups", json={"summary": "Vikarier får rutinen vid introduktionen."}, status=201)
    assert case.ok(investigator, "close")["status"] == "closed"
    assert "art. 34.3 b" in case.get(dpo, "notifications", imy["id"], "document").text


# ==== d. a complaint ====================================================================================

def test_a_complaint_from_a_relative_is_handled_and_closed(client, clock, staff, manager, investigator):
    case = Case.submit(client, staff, category="treatment", subject_reference="Treserva-4711",
                       description="Dottern till en brukare ringde och klagade på hur personalen bemött hennes mor.",
                       immediate_actions="")
    complaint = {"type": "complaint", "complaint_kind": "complaint", "complaint_submitter": "relative"}
    shown = {**complaint, "lex_sarah_severity": None, "incident_risk": None}
    assessed = case.assess(manager, complaint)
    assert assessed["types"] == [shown]
    assert assessed["closing_blockers"] == [NEEDS_FOLLOW_UP]

    started = case.ok(manager, "investigation", status=201)
    assert started["kind"] == "light"  # a complaint is handled within the unit
    called = case.action(manager, kind="immediate", due_date=None, done_date="2026-03-10",
                         description="Enhetschefen har ringt upp dottern och bett om ursäkt.")
    assert called["done_date"] == "2026-03-10"
    case.document(manager, LIGHT_TOPICS, author_name="Maja Månsson", author_title="Enhetschef")
    assert case.decide(manager, "communication").status_code == 200
    planned = case.action(manager, due_date="2026-04-15", description="Bemötandeutbildning för arbetslaget.")
    assert case.view(manager)["closing_blockers"] == [open_actions(1), NEEDS_FOLLOW_UP]

    clock.now = utc(2026, 4, 15, 10, 0)
    case.ok(manager, "actions", planned["id"], "done")
    case.ok(manager, "actions", planned["id"], "evaluation", json={"effect_evaluation": "Dottern är nöjd."})
    followed = case.ok(manager, "follow-ups", json={"summary": "Anhörig återkopplad, utbildning genomförd."},
                       status=201)
    assert followed["closing_blockers"] == []
    assert case.ok(manager, "close")["status"] == "closed"

    history = case.get(investigator, "assessments").json()
    assert [(a["assessor_name"], a["types"], a["current"]) for a in history] == [("Maja Månsson", [shown], True)]
    assert status_changes(case.timeline(investigator))[-1] == ("close", ["followed_up", "closed"])


# ==== e. not a deviation ================================================================================

def test_a_report_that_is_not_a_deviation_is_closed_directly(client, staff, investigator):
    case = Case.submit(client, staff, description="Brukaren föll i hemmet när hemtjänsten inte var där.",
                       category="safety")
    assessed = case.assess(investigator, {"type": "not_a_deviation"})
    assert (assessed["status"], assessed["closing_blockers"], assessed["deadlines"]) == ("assessed", [], [])
    assert "close" in assessed["allowed_steps"]
    closed = case.ok(investigator, "close", json={"note": "Händelsen låg utanför nämndens insatser."})
    assert (closed["status"], closed["closing_blockers"]) == ("closed", [])
    timeline = case.timeline(investigator)
    assert status_changes(timeline) == [("reported", [None, "reported"]), ("assess", ["reported", "assessed"]),
                                        ("close", ["assessed", "closed"])]
    assert timeline[-1]["note"] == "Händelsen låg utanför nämndens insatser."
    assert client.get(f"{REPORTS}/{case.id}", headers=staff).json()["status"] == "closed"


@pytest.mark.postgres
def test_a_step_waits_for_a_simultaneous_step_on_the_same_case_and_is_checked_against_it(
        client, db, staff, investigator):
    """Two people close the same case at once: the second close must see the first and be refused, not
    close the case a second time. Here the first is a transaction that has closed the case and not yet
    committed; the API's close must wait for it, then answer 409."""
    case = Case.submit(client, staff)
    case.assess(investigator, {"type": "not_a_deviation"})
    with db.connect() as first:
        first.execute(text("UPDATE report SET status = 'closed', closed_at = now() WHERE id = :id"),
                      {"id": case.id})
        with ThreadPoolExecutor(max_workers=1) as pool:
            second = pool.submit(case.post, investigator, "close")
            waiting = _wait_for(lambda: _sessions_waiting_for_a_lock(db) > 0)
            first.commit()
            response = second.result(timeout=30)
    assert waiting, "the second close did not wait for the first"
    assert response.status_code == 409, response.text
    assert [event["kind"] for event in case.timeline(investigator)] == ["reported", "assess"]


def _sessions_waiting_for_a_lock(db) -> int:
    with db.connect() as watcher:  # a new transaction each time: pg_stat_activity is a per-transaction snapshot
        return watcher.execute(text("SELECT count(*) FROM pg_stat_activity "
                                    "WHERE wait_event_type = 'Lock' AND datname = current_database()")).scalar_one()


def _wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)  # polling another connection for a condition, not waiting for the clock
    return True


# ==== f. forbidden steps: refused, and the case is unchanged ============================================

def test_closing_too_early_names_each_blocker_until_none_is_left(client, clock, staff, investigator,
                                                                  decision_maker, dpo):
    case = secrecy_breach(client, staff, clock)
    case.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"},
                {"type": "personal_data_incident", "incident_risk": "high_risk"})
    action = case.action(investigator, due_date="2026-04-30")

    def refused_close(expected: list[str]) -> None:
        before = case.snapshot(investigator, "notifications", "actions")
        body = assert_refused(case.post(decision_maker, "close"), 409, "cannot-close")
        assert body["blockers"] == expected == before[0]["closing_blockers"]
        for blocker in expected:
            assert blocker in body["detail"]
        assert case.snapshot(investigator, "notifications", "actions") == before

    def refused_transition(status: str) -> None:
        before = case.snapshot(investigator)
        body = assert_refused(case.post(decision_maker, "close"), 409, "invalid-transition")
        assert (body["case_status"], body["allowed_steps"]) == (status, STEPS[status])
        assert case.snapshot(investigator) == before

    refused_close([NEEDS_INVESTIGATION, NEEDS_IVO, NEEDS_IMY_HIGH, NEEDS_DATA_SUBJECTS, open_actions(1),
                   NEEDS_FOLLOW_UP])
    case.ok(investigator, "investigation", status=201)
    refused_transition("investigating")
    case.document(investigator, FULL_TOPICS, documented_on="2026-03-13")
    assert case.decide(investigator).status_code == 200
    refused_transition("investigated")
    # The follow-up checks that the actions had effect: not while one is still open (docs/lifecycle.md §3).
    before = case.snapshot(investigator, "actions")
    refused = assert_refused(case.post(investigator, "follow-ups", json={"summary": "Uppföljt."}), 409, "conflict")
    assert refused["open_actions"] == [action["id"]]
    assert case.snapshot(investigator, "actions") == before
    case.ok(investigator, "actions", action["id"], "done")
    refused_transition("investigated")
    case.ok(investigator, "follow-ups", json={"summary": "Uppföljt."}, status=201)
    refused_close([NEEDS_IVO, NEEDS_IMY_HIGH, NEEDS_DATA_SUBJECTS])

    ivo = case.draft(decision_maker, "ivo", operator=OPERATOR, unit=UNIT).json()
    refused_close([NEEDS_IVO, NEEDS_IMY_HIGH, NEEDS_DATA_SUBJECTS])  # a draft is not sent
    case.ok(decision_maker, "notifications", ivo["id"], "send", json=send_order())
    refused_close([NEEDS_IVO_SUPPLEMENT, NEEDS_IMY_HIGH, NEEDS_DATA_SUBJECTS])
    case.ok(investigator, "notifications", ivo["id"], "supplements", status=201,
            json={"kind": "investigation", "content": "Utredningen med beslut.", "channel": "post"})
    refused_close([NEEDS_IMY_HIGH, NEEDS_DATA_SUBJECTS])
    imy = case.draft(dpo, "imy", contact=CONTACT).json()
    case.ok(dpo, "notifications", imy["id"], "send", json=send_order("Dana Dataskydd"))
    refused_close([NEEDS_DATA_SUBJECTS])
    case.ok(dpo, "data-subject-communication",
            json={"exemption": "unintelligible_data", "justification": "Bilagan var krypterad."})
    closed = case.ok(decision_maker, "close")
    assert (closed["status"], closed["closing_blockers"]) == ("closed", [])


@pytest.fixture
def sent_ivo(client, staff, investigator, decision_maker):
    """A serious lex Sarah case whose IVO notification has been sent."""
    case = Case.submit(client, staff)
    case.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"})
    ivo = case.draft(decision_maker, "ivo", operator=OPERATOR, unit=UNIT).json()
    case.ok(decision_maker, "notifications", ivo["id"], "send", json=send_order())
    return case, ivo


def test_a_sent_notification_cannot_be_edited(client, investigator, decision_maker, sent_ivo):
    case, ivo = sent_ivo
    before = case.snapshot(investigator, "notifications")
    for who in (investigator, decision_maker):
        edited = client.patch(case.url("notifications", ivo["id"]), headers=who,
                              json={"what_happened": "Något helt annat.", "unit": {"name": "Annan enhet"}})
        assert_refused(edited, 409, "conflict")
        assert "frozen" in edited.json()["detail"]
    assert_refused(case.post(decision_maker, "notifications", ivo["id"], "send", json=send_order()), 409, "conflict")
    assert case.snapshot(investigator, "notifications") == before
    assert before[2][0]["what_happened"] == report_body()["description"]


def test_a_second_ivo_notification_is_refused(client, investigator, decision_maker, sent_ivo):
    case, _ = sent_ivo
    before = case.snapshot(investigator, "notifications")
    second = assert_refused(case.draft(decision_maker, "ivo", operator=OPERATOR, unit=UNIT), 409, "conflict")
    assert [e["pointer"] for e in second["errors"]] == ["/authority"]
    assert "supplement" in second["detail"]
    assert case.snapshot(investigator, "notifications") == before
    assert len(before[2]) == 1


def test_e_mail_is_not_a_channel(client, staff, investigator, decision_maker, sent_ivo):
    case, ivo = sent_ivo
    before = case.snapshot(investigator, "notifications")
    for channel in ("email", "e-mail", "fax"):
        supplement = case.post(investigator, "notifications", ivo["id"], "supplements",
                               json={"kind": "other", "content": "Tillägg.", "channel": channel})
        assert [e["pointer"] for e in assert_refused(supplement, 422, "validation")["errors"]] == ["/channel"]
    assert case.snapshot(investigator, "notifications") == before

    other = Case.submit(client, staff)
    other.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "serious_tangible_risk"})
    draft = other.draft(decision_maker, "ivo", operator=OPERATOR, unit=UNIT).json()
    before = other.snapshot(investigator, "notifications")
    refused = other.post(decision_maker, "notifications", draft["id"], "send", json=send_order(channel="email"))
    assert [e["pointer"] for e in assert_refused(refused, 422, "validation")["errors"]] == ["/channel"]
    assert other.snapshot(investigator, "notifications") == before
    assert before[2][0]["status"] == "draft"


@pytest.mark.parametrize(("status", "step", "body"), [
    ("reported", ("investigation",), {}),
    ("reported", ("follow-ups",), {"summary": "Klart."}),
    ("reported", ("close",), {}),
    ("reported", ("actions",), {"kind": "planned", "description": "x", "owner_name": "Maja Månsson"}),
    ("reported", ("notifications",), {"authority": "ivo"}),
    ("assessed", ("investigation", "entries"), {"topic": "causes", "documented_on": "2026-03-10", "source": "x",
                                                "nature": "fact", "author_name": "Ivar", "author_title": "x",
                                                "text": "x"}),
    ("assessed", ("investigation", "decision"), {"decision": "x", "decided_by_name": "x",
                                                 "decided_by_title": "x"}),
    ("assessed", ("follow-ups",), {"summary": "Klart."}),
    ("assessed", ("reopen",), {"reason": "Ny information."}),
    ("investigating", ("investigation",), {}),
    ("investigating", ("close",), {}),
    ("investigated", ("close",), {}),
    ("closed", ("assessments",), {"types": [{"type": "other_deviation"}], "justification": "Ny bedömning."}),
    ("closed", ("investigation",), {}),
    ("closed", ("follow-ups",), {"summary": "Igen."}),
    ("closed", ("close",), {}),
    ("closed", ("actions",), {"kind": "planned", "description": "x", "owner_name": "Maja Månsson"}),
])
def test_a_step_from_the_wrong_state_is_409_with_the_possible_steps_and_changes_nothing(
        client, staff, investigator, status, step, body):
    case = Case.submit(client, staff)
    if status != "reported":
        case.assess(investigator, {"type": "other_deviation"})
    if status in ("investigating", "investigated", "closed"):
        case.ok(investigator, "investigation", status=201)
    if status in ("investigated", "closed"):
        case.document(investigator, LIGHT_TOPICS)
        assert case.decide(investigator).status_code == 200
    if status == "closed":
        case.ok(investigator, "follow-ups", json={"summary": "Uppföljt."}, status=201)
        case.ok(investigator, "close")
    before = case.snapshot(investigator, "actions", "notifications")
    assert before[0]["status"] == status

    refused = assert_refused(case.post(investigator, *step, json=body), 409, "invalid-transition")
    assert (refused["case_status"], refused["allowed_steps"]) == (status, STEPS[status])
    assert status in refused["detail"]
    assert case.snapshot(investigator, "actions", "notifications") == before


def test_a_light_investigation_is_refused_for_lex_sarah(client, staff, investigator, manager):
    case = Case.submit(client, staff)
    case.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "impropriety"})
    before = case.snapshot(investigator)
    for who in (investigator, manager):
        refused = assert_refused(case.post(who, "investigation", json={"kind": "light"}), 409, "conflict")
        assert [e["pointer"] for e in refused["errors"]] == ["/kind"]
    assert case.get(investigator, "investigation").status_code == 404
    assert case.snapshot(investigator) == before
    assert case.ok(investigator, "investigation", json={"kind": "full"}, status=201)["kind"] == "full"


def test_a_decision_with_topics_missing_is_refused_naming_them(client, staff, investigator):
    case = Case.submit(client, staff)
    case.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "tangible_risk"})
    case.ok(investigator, "investigation", status=201)
    case.document(investigator, ("what_happened", "causes", "actions_taken"))
    before = case.snapshot(investigator, "investigation")
    refused = assert_refused(case.decide(investigator, "staffing"), 409, "conflict")
    assert refused["missing_topics"] == ["how_noticed", "when_happened", "earlier_events", "recurrence_risk"]
    assert case.snapshot(investigator, "investigation") == before
    assert (before[0]["status"], before[2]["decision"]) == ("investigating", None)


def test_reopening_needs_a_reason_and_the_reopened_case_closes_again(client, clock, staff, manager, investigator):
    case = Case.submit(client, staff)
    case.assess(investigator, {"type": "not_a_deviation"})
    closed = case.ok(investigator, "close")
    before = case.snapshot(investigator)

    for body in ({}, {"reason": ""}, {"reason": None}):
        refused = assert_refused(case.post(investigator, "reopen", json=body), 422, "validation")
        assert [e["pointer"] for e in refused["errors"]] == ["/reason"]
    assert_refused(case.post(manager, "reopen", json={"reason": "Ny information."}), 403, "forbidden")
    assert case.snapshot(investigator) == before

    clock.advance(days=3)
    reopened = case.ok(investigator, "reopen", json={"reason": "Anhörig har lämnat ny information."})
    assert (reopened["status"], reopened["closed_at"], reopened["allowed_steps"]) == \
        ("assessed", None, STEPS["assessed"])
    reassessed = case.assess(investigator, {"type": "other_deviation"})
    assert reassessed["closing_blockers"] == [NEEDS_FOLLOW_UP]
    case.ok(investigator, "investigation", status=201)
    case.document(investigator, LIGHT_TOPICS, documented_on="2026-03-13")
    assert case.decide(investigator, "communication").status_code == 200
    case.ok(investigator, "follow-ups", json={"summary": "Anhörigas uppgift utredd."}, status=201)
    clock.advance(hours=1)
    reclosed = case.ok(investigator, "close", json={"note": "Avslutas igen."})
    assert reclosed["status"] == "closed" and reclosed["closed_at"] == "2026-03-13T10:00:00Z"
    assert reclosed["closed_at"] != closed["closed_at"]

    timeline = case.timeline(investigator)
    assert status_changes(timeline) == [
        ("reported", [None, "reported"]), ("assess", ["reported", "assessed"]), ("close", ["assessed", "closed"]),
        ("reopen", ["closed", "assessed"]), ("investigation_started", ["assessed", "investigating"]),
        ("investigation_decided", ["investigating", "investigated"]),
        ("follow_up", ["investigated", "followed_up"]), ("close", ["followed_up", "closed"])]
    reopen_event = timeline[kinds(timeline).index("reopen")]
    assert (reopen_event["note"], reopen_event["actor_name"]) == ("Anhörig har lämnat ny information.",
                                                                  "Ivar Isaksson")
    assert timeline[kinds(timeline).index("reopen") + 1]["changes"]["types"] == \
        [[{"type": "not_a_deviation"}], [{"type": "other_deviation"}]]
    assert_in_time_order(timeline)


def test_steps_need_the_right_role_and_a_refusal_changes_nothing(client, users, staff, manager, investigator,
                                                                 decision_maker, dpo):
    case = Case.submit(client, staff)
    case.assess(investigator, {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"},
                {"type": "personal_data_incident", "incident_risk": "risk"})
    ivo = case.draft(investigator, "ivo", operator=OPERATOR, unit=UNIT).json()  # the quality team drafts
    imy = case.draft(dpo, "imy", contact=CONTACT).json()
    before = case.snapshot(investigator, "notifications")
    assert before[0]["closing_blockers"] == [NEEDS_INVESTIGATION, NEEDS_IVO, NEEDS_IMY_RISK, NEEDS_FOLLOW_UP]

    for who in (investigator, manager, dpo):  # only a delegate decides on an IVO notification
        assert_refused(case.post(who, "notifications", ivo["id"], "send", json=send_order()), 403, "forbidden")
    for who in (investigator, manager):
        assert_refused(case.post(who, "notifications", imy["id"], "send", json=send_order()), 403, "forbidden")
    assert_refused(case.draft(manager, "imy"), 403, "forbidden")
    assert_refused(case.post(decision_maker, "investigation"), 403, "forbidden")
    assert_refused(case.post(staff, "close"), 404, "not-found")  # the reporter does not see the case
    sibling_manager = users.headers(Role.unit_manager, "SOC-ALD-2", subject="sune")
    assert_refused(case.post(sibling_manager, "investigation"), 404, "not-found")
    assert case.snapshot(investigator, "notifications") == before


# ==== found by these scenarios and fixed: blank reasons, backdated sending, closing after reopening =====

def test_a_blank_delay_reason_is_no_reason(client, clock, staff, investigator, dpo):
    case = secrecy_breach(client, staff, clock)
    case.assess(investigator, {"type": "personal_data_incident", "incident_risk": "risk"})
    imy = case.draft(dpo, "imy", contact=CONTACT).json()
    clock.now = utc(2026, 3, 17, 9, 0)
    before = case.snapshot(dpo, "notifications")
    refused = case.post(dpo, "notifications", imy["id"], "send", json=send_order(delay_reason="   "))
    assert refused.status_code == 422, refused.text
    assert case.snapshot(dpo, "notifications") == before


def test_a_blank_reason_does_not_reopen(client, staff, investigator):
    case = Case.submit(client, staff)
    case.assess(investigator, {"type": "not_a_deviation"})
    case.ok(investigator, "close")
    before = case.snapshot(investigator)
    refused = case.post(investigator, "reopen", json={"reason": "   "})
    assert refused.status_code == 422, refused.text
    assert case.snapshot(investigator) == before


def test_the_investigation_cannot_be_sent_before_it_was_decided(client, clock, staff, investigator, sent_ivo):
    case, ivo = sent_ivo
    case.ok(investigator, "investigation", status=201)
    case.document(investigator, FULL_TOPICS)
    clock.now = utc(2026, 3, 20, 9, 0)
    assert case.decide(investigator).status_code == 200
    before = case.snapshot(investigator, "notifications")
    refused = case.post(investigator, "notifications", ivo["id"], "supplements",
                        json={"kind": "investigation", "content": "Utredningen.", "channel": "post",
                              "sent_at": "2026-03-11T09:00:00Z"})
    assert refused.status_code == 422, refused.text
    assert case.snapshot(investigator, "notifications") == before


def test_a_notification_is_not_sent_before_the_event(client, clock, staff, investigator, dpo):
    case = secrecy_breach(client, staff, clock)
    case.assess(investigator, {"type": "personal_data_incident", "incident_risk": "risk"})
    imy = case.draft(dpo, "imy", contact=CONTACT).json()
    clock.now = utc(2026, 3, 20, 9, 0)  # days too late
    before = case.snapshot(dpo, "notifications")
    refused = case.post(dpo, "notifications", imy["id"], "send",
                        json=send_order("Dana Dataskydd", sent_at="2026-03-01T09:00:00Z"))
    assert refused.status_code == 422, refused.text
    assert case.snapshot(dpo, "notifications") == before


def test_a_reopened_deviation_is_not_closed_again_without_a_new_follow_up(client, clock, staff, investigator):
    case = Case.submit(client, staff)
    case.assess(investigator, {"type": "other_deviation"})
    case.ok(investigator, "investigation", status=201)
    case.document(investigator, LIGHT_TOPICS)
    assert case.decide(investigator).status_code == 200
    case.ok(investigator, "follow-ups", json={"summary": "Uppföljt."}, status=201)
    case.ok(investigator, "close")
    clock.advance(days=10)
    reopened = case.ok(investigator, "reopen", json={"reason": "Samma sak har hänt igen."})
    assert reopened["status"] == "assessed"
    before = case.snapshot(investigator)
    refused = case.post(investigator, "close")
    assert refused.status_code == 409, refused.text
    assert case.snapshot(investigator) == before
