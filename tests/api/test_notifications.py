"""IVO and IMY notifications through the API: drafting, sending, supplements, responses, the document."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update
from sqlmodel import Session, col

from service.domain.access import Role
from service.models import Investigation, InvestigationEntry, Report
from tests import bodies
from tests.bodies import OPERATOR, UNIT, report_body as report, send_order

REPORTS = "/api/v1/reports"
SERIOUS = {"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"}
CONTACT = {**bodies.CONTACT, "email": "dso@exempel.se"}  # this module's DPO writes from another mailbox
SEND = send_order()  # sent by Disa Delegat


def new_case(client, staff, **overrides) -> str:
    response = client.post(REPORTS, json=report(**overrides), headers=staff)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def assess(client, headers, case_id, *types, **extra):
    body = {"types": list(types), "justification": "Bedömd enligt rutin.", **extra}
    response = client.post(f"{REPORTS}/{case_id}/assessments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def incident(risk):
    return {"type": "personal_data_incident", "incident_risk": risk}


def url(case_id, *parts):
    return "/".join([f"{REPORTS}/{case_id}/notifications", *map(str, parts)])


def draft(client, headers, case_id, authority, **fields):
    return client.post(url(case_id), json={"authority": authority, **fields}, headers=headers)


def deadlines(client, headers, case_id):
    case = client.get(f"{REPORTS}/{case_id}/case", headers=headers).json()
    return {d["kind"]: d["due_at"] for d in case["deadlines"]}


def timeline(client, headers, case_id):
    return client.get(f"{REPORTS}/{case_id}/timeline", headers=headers).json()


def decide_investigation(db, case_id, clock, *entries: str) -> None:
    """Stands in for the investigation endpoints (built separately): a decided investigation with entries."""
    with Session(db) as session:
        case = session.get(Report, uuid.UUID(case_id))
        assert case is not None
        investigation = Investigation(report_id=case.id, kind="full", started_at=clock(), started_by_name="Ivar",
                                      decision="Brister i rutinen för läkemedelsöverlämning.", decided_at=clock(),
                                      decided_by_name="Ivar Isaksson", decided_by_title="Kvalitetsutvecklare")
        session.add(investigation)
        session.flush()
        assert investigation.id is not None
        session.add_all(InvestigationEntry(investigation_id=investigation.id, topic="what_happened",
                                           documented_on=clock().date(), source="Samtal med personal", nature="fact",
                                           author_name="Ivar Isaksson", author_title="Kvalitetsutvecklare",
                                           text=text, recorded_at=clock(), recorded_by="ivar") for text in entries)
        # Test data, not a step: a status written through the ORM outside case_step fails at flush
        # (service/cases.py install_step_guard), so it is set with a plain UPDATE.
        session.execute(update(Report).where(col(Report.id) == case.id).values(status="investigated"))
        session.commit()


@pytest.fixture
def serious_case(client, staff, investigator):
    case_id = new_case(client, staff)
    assess(client, investigator, case_id, SERIOUS)
    return case_id


@pytest.fixture
def ivo_draft(client, investigator, serious_case):
    response = draft(client, investigator, serious_case, "ivo", operator=OPERATOR, unit=UNIT)
    assert response.status_code == 201, response.text
    return response.json()


# ---- IVO ---------------------------------------------------------------------------------------------

def test_the_ivo_draft_is_filled_in_from_the_case(client, investigator, serious_case):
    response = draft(client, investigator, serious_case, "ivo")
    assert response.status_code == 201, response.text
    notification = response.json()
    assert response.headers["location"].endswith(f"/notifications/{notification['id']}")
    assert notification["status"] == "draft" and notification["authority"] == "ivo"
    assert notification["kind"] == "serious_impropriety"
    assert notification["sender_reference"] == "SOC-2026-00001"
    assert notification["what_happened"] == report()["description"]
    assert notification["occurred_at"] == "2026-03-09T17:30:00Z"
    assert notification["unit"] == {"name": "Hemtjänst Centrum", "address": None}
    assert notification["investigation_attached"] is False
    assert notification["missing_for_sending"] == ["operator.name", "operator.organisation_number", "unit.address"]
    edited = client.patch(url(serious_case, notification["id"]), json={"operator": OPERATOR, "unit": UNIT},
                          headers=investigator)
    assert edited.status_code == 200, edited.text
    assert edited.json()["missing_for_sending"] == [] and edited.json()["operator"] == OPERATOR
    listed = client.get(url(serious_case), headers=investigator).json()
    assert [n["id"] for n in listed] == [notification["id"]]
    kinds = [entry["kind"] for entry in timeline(client, investigator, serious_case)]
    assert kinds[-2:] == ["notification_drafted", "notification_edited"]
    assert timeline(client, investigator, serious_case)[-1]["changes"]["unit"] == [
        {"name": "Hemtjänst Centrum", "address": None}, UNIT]


def test_ivo_send_without_investigation_sets_the_two_month_deadline_met_by_the_supplement(
        client, db, clock, investigator, decision_maker, serious_case, ivo_draft):
    assert set(deadlines(client, investigator, serious_case)) == {"ivo_notification", "ivo_notification_escalation"}
    sent = client.post(url(serious_case, ivo_draft["id"], "send"), json=SEND, headers=decision_maker)
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["status"] == "sent" and body["sent_at"] == "2026-03-10T09:00:00Z"
    assert (body["decision_maker_name"], body["delegation_reference"], body["channel"], body["sent_by_name"]) == (
        "Disa Delegat", "Delegationsordning punkt 4.2", "e_service", "Disa Delegat")
    # two months on the Swedish calendar (CEST)
    assert deadlines(client, investigator, serious_case) == {"ivo_investigation": "2026-05-10T08:00:00Z"}

    clock.advance(days=20)
    supplement = {"kind": "investigation", "content": "Utredningen bifogas.", "channel": "post"}
    refused = client.post(url(serious_case, ivo_draft["id"], "supplements"), json=supplement, headers=investigator)
    assert refused.status_code == 409  # the investigation has no decision yet
    decide_investigation(db, serious_case, clock)
    added = client.post(url(serious_case, ivo_draft["id"], "supplements"), json=supplement, headers=investigator)
    assert added.status_code == 201, added.text
    assert [(s["kind"], s["channel"], s["sent_at"]) for s in added.json()["supplements"]] == [
        ("investigation", "post", "2026-03-30T09:00:00Z")]
    assert deadlines(client, investigator, serious_case) == {}
    assert "the investigation must be sent to IVO as a supplement" not in \
        client.get(f"{REPORTS}/{serious_case}/case", headers=investigator).json()["closing_blockers"]
    assert timeline(client, investigator, serious_case)[-1]["kind"] == "notification_supplement"


def test_a_sent_notification_is_frozen(client, investigator, decision_maker, serious_case, ivo_draft):
    client.post(url(serious_case, ivo_draft["id"], "send"), json=SEND, headers=decision_maker)
    before = client.get(url(serious_case, ivo_draft["id"]), headers=investigator).json()
    events = len(timeline(client, investigator, serious_case))
    edited = client.patch(url(serious_case, ivo_draft["id"]), json={"where": "Någon annanstans"},
                          headers=investigator)
    assert edited.status_code == 409
    again = client.post(url(serious_case, ivo_draft["id"], "send"), json=SEND, headers=decision_maker)
    assert again.status_code == 409
    assert client.get(url(serious_case, ivo_draft["id"]), headers=investigator).json() == before
    assert len(timeline(client, investigator, serious_case)) == events


def test_one_ivo_notification_per_case(client, investigator, serious_case, ivo_draft):
    second = draft(client, investigator, serious_case, "ivo")
    assert second.status_code == 409
    assert second.json()["errors"][0]["pointer"] == "/authority"
    assert len(client.get(url(serious_case), headers=investigator).json()) == 1


def test_ivo_needs_a_serious_lex_sarah_assessment(client, staff, investigator):
    case_id = new_case(client, staff)
    assess(client, investigator, case_id, {"type": "lex_sarah", "lex_sarah_severity": "impropriety"})
    assert draft(client, investigator, case_id, "ivo").status_code == 409
    assert client.get(url(case_id), headers=investigator).json() == []


def test_email_is_not_a_channel(client, investigator, decision_maker, serious_case, ivo_draft):
    refused = client.post(url(serious_case, ivo_draft["id"], "send"), json={**SEND, "channel": "email"},
                          headers=decision_maker)
    assert refused.status_code == 422
    assert [error["pointer"] for error in refused.json()["errors"]] == ["/channel"]
    assert client.get(url(serious_case, ivo_draft["id"]), headers=investigator).json()["status"] == "draft"


def test_only_a_delegate_sends_to_ivo(client, users, staff, investigator, dpo, serious_case, ivo_draft):
    send_url = url(serious_case, ivo_draft["id"], "send")
    assert client.post(send_url, json=SEND, headers=investigator).status_code == 403
    assert client.post(send_url, json=SEND, headers=dpo).status_code == 403  # the DPO sends to IMY only
    assert client.post(send_url, json=SEND, headers=staff).status_code == 404
    assert client.get(url(serious_case), headers=staff).status_code == 404
    manager = users.headers(Role.unit_manager, "SOC-ALD-1")
    assert draft(client, manager, serious_case, "imy").status_code == 403
    assert client.get(url(serious_case, ivo_draft["id"]), headers=investigator).json()["status"] == "draft"


def test_an_incomplete_draft_is_not_sent(client, investigator, decision_maker, serious_case):
    notification = draft(client, investigator, serious_case, "ivo").json()
    refused = client.post(url(serious_case, notification["id"], "send"), json=SEND, headers=decision_maker)
    assert refused.status_code == 409
    assert refused.json()["missing"] == ["operator.name", "operator.organisation_number", "unit.address"]


@pytest.mark.parametrize(("fields", "pointer"), [
    ({"nature": "Fel mottagare"}, "/nature"),
    ({"operator": {**OPERATOR, "organisation_number": "212000-0143"}}, "/operator/organisation_number"),
    ({"operator": {**OPERATOR, "organisation_number": "2120000142"}}, "/operator/organisation_number"),
    ({"occurred_at": "2026-03-11T09:00:00Z"}, "/occurred_at"),
    ({"kind": "impropriety"}, "/kind"),
    ({"colour": "red"}, "/colour"),
])
def test_bad_form_fields_are_refused_and_change_nothing(client, investigator, serious_case, fields, pointer):
    response = draft(client, investigator, serious_case, "ivo", **fields)
    assert response.status_code == 422, response.text
    assert pointer in [error["pointer"] for error in response.json()["errors"]]
    assert client.get(url(serious_case), headers=investigator).json() == []


def test_a_notification_of_another_case_is_404(client, staff, investigator, serious_case, ivo_draft):
    other = new_case(client, staff)
    assess(client, investigator, other, SERIOUS)
    assert client.get(url(other, ivo_draft["id"]), headers=investigator).status_code == 404
    assert client.patch(url(other, ivo_draft["id"]), json={"where": "x"}, headers=investigator).status_code == 404
    assert client.get(url(serious_case, 999999), headers=investigator).status_code == 404
    assert client.get(url(other, ivo_draft["id"], "document"), headers=investigator).status_code == 404


def test_supplements_and_responses_need_a_sent_notification(client, investigator, serious_case, ivo_draft):
    supplement = client.post(url(serious_case, ivo_draft["id"], "supplements"),
                             json={"kind": "other", "content": "Tillägg", "channel": "post"}, headers=investigator)
    assert supplement.status_code == 409
    answer = client.post(url(serious_case, ivo_draft["id"], "authority-response"),
                         json={"authority_reference": "3.5.1-1/2026"}, headers=investigator)
    assert answer.status_code == 409


def test_the_authoritys_response_is_recorded_and_can_be_corrected(client, clock, investigator, decision_maker,
                                                                   serious_case, ivo_draft):
    client.post(url(serious_case, ivo_draft["id"], "send"), json=SEND, headers=decision_maker)
    clock.advance(days=3)
    first = client.post(url(serious_case, ivo_draft["id"], "authority-response"),
                        json={"authority_reference": "3.5.1-1234/2026"}, headers=investigator)
    assert first.status_code == 200, first.text
    clock.advance(days=40)
    decided = client.post(url(serious_case, ivo_draft["id"], "authority-response"),
                          json={"authority_reference": "3.5.1-1243/2026", "authority_decision": "IVO avslutar ärendet.",
                                "authority_decision_at": "2026-04-20"}, headers=investigator)
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["authority_reference"], body["authority_decision"], body["authority_decision_at"]) == (
        "3.5.1-1243/2026", "IVO avslutar ärendet.", "2026-04-20")
    last = timeline(client, investigator, serious_case)[-1]
    assert last["kind"] == "authority_response"
    assert last["changes"]["authority_reference"] == ["3.5.1-1234/2026", "3.5.1-1243/2026"]
    future = client.post(url(serious_case, ivo_draft["id"], "authority-response"),
                         json={"authority_decision_at": "2026-12-01"}, headers=investigator)
    assert future.status_code == 422


def test_an_attached_investigation_must_be_decided_and_goes_into_the_document(
        client, db, clock, staff, investigator, decision_maker):
    case_id = new_case(client, staff, description="Brukaren fick <script>alert('x')</script> fel dos & blev sjuk.")
    assess(client, investigator, case_id, SERIOUS)
    notification = draft(client, investigator, case_id, "ivo", operator=OPERATOR, unit=UNIT,
                         investigation_attached=True).json()
    send_url = url(case_id, notification["id"], "send")
    refused = client.post(send_url, json=SEND, headers=decision_maker)
    assert refused.status_code == 409 and refused.json()["errors"][0]["pointer"] == "/investigation_attached"
    decide_investigation(db, case_id, clock, "Personalen saknade <b>rutin</b> för dubbelkontroll.")
    assert client.post(send_url, json=SEND, headers=decision_maker).status_code == 200
    assert deadlines(client, investigator, case_id) == {}  # attached: no two-month deadline

    document = client.get(url(case_id, notification["id"], "document"), headers=investigator)
    assert document.status_code == 200
    assert document.headers["content-type"] == "text/html; charset=utf-8"
    page = document.text
    assert "Anmälan – lex Sarah" in page and "SOC-2026-00001" in page
    assert "<script>" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "fel dos &amp; blev sjuk" in page
    assert "&lt;b&gt;rutin&lt;/b&gt;" in page and "Vad som hänt" in page
    assert "Brister i rutinen för läkemedelsöverlämning." in page
    assert "Ett allvarligt missförhållande" in page and "212000-0142" in page and "Storgatan 1" in page
    assert "2026-03-09 18:30" in page  # occurred_at in Swedish time
    assert "Disa Delegat" in page and "Delegationsordning punkt 4.2" in page and "UTKAST" not in page


def test_the_draft_document_says_it_is_a_draft(client, investigator, serious_case):
    notification = draft(client, investigator, serious_case, "ivo").json()
    page = client.get(url(serious_case, notification["id"], "document"), headers=investigator).text
    assert "UTKAST" in page and "operator.organisation_number" in page
    assert "@media print" in page and '<meta charset="utf-8">' in page


# ---- IMY ---------------------------------------------------------------------------------------------

@pytest.fixture
def incident_case(client, staff, investigator):
    def make(risk="risk"):
        case_id = new_case(client, staff, category="confidentiality")
        assess(client, investigator, case_id, incident(risk), incident_aware_at="2026-03-10T09:00:00Z")
        return case_id
    return make


def test_imy_sent_exactly_72_hours_after_awareness_is_on_time(client, clock, dpo, investigator, incident_case):
    case_id = incident_case()
    assert deadlines(client, investigator, case_id) == {"imy_notification": "2026-03-13T09:00:00Z"}
    notification = draft(client, dpo, case_id, "imy", contact=CONTACT, data_subjects_approx=12,
                         record_categories="Namn och uppgifter om insatser").json()
    assert notification["aware_at"] == "2026-03-10T09:00:00Z"
    assert notification["imy_deadline"] == "2026-03-13T09:00:00Z"
    assert notification["nature"] == report()["description"] and notification["missing_for_sending"] == []
    clock.advance(hours=72)
    sent = client.post(url(case_id, notification["id"], "send"), json={**SEND, "channel": "post"}, headers=dpo)
    assert sent.status_code == 200, sent.text
    assert sent.json()["late"] is False and sent.json()["delay_reason"] is None
    assert deadlines(client, investigator, case_id) == {}


def test_imy_later_than_72_hours_needs_the_reason_for_the_delay(client, clock, dpo, investigator, incident_case):
    case_id = incident_case()
    notification = draft(client, dpo, case_id, "imy", contact=CONTACT).json()
    clock.advance(hours=72, seconds=1)
    send_url = url(case_id, notification["id"], "send")
    refused = client.post(send_url, json=SEND, headers=dpo)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["pointer"] == "/delay_reason"
    assert deadlines(client, investigator, case_id) == {"imy_notification": "2026-03-13T09:00:00Z"}
    sent = client.post(send_url, json={**SEND, "delay_reason": "Incidenten upptäcktes av en vikarie under helgen."},
                       headers=dpo)
    assert sent.status_code == 200, sent.text
    assert sent.json()["late"] is True
    assert deadlines(client, investigator, case_id) == {}
    page = client.get(url(case_id, notification["id"], "document"), headers=dpo).text
    assert "Anmälan av personuppgiftsincident" in page and "Skäl till förseningen" in page


def test_imy_needs_an_incident_with_risk_and_only_ivo_takes_the_investigation(
        client, staff, investigator, dpo, incident_case):
    no_risk = incident_case("no_risk")
    assert draft(client, dpo, no_risk, "imy").status_code == 409
    case_id = incident_case()
    notification = draft(client, dpo, case_id, "imy", contact=CONTACT).json()
    assert client.post(url(case_id, notification["id"], "send"), json=SEND, headers=dpo).status_code == 200
    refused = client.post(url(case_id, notification["id"], "supplements"),
                          json={"kind": "investigation", "content": "x", "channel": "post"}, headers=dpo)
    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "/kind"
    phased = client.post(url(case_id, notification["id"], "supplements"),
                         json={"kind": "other", "content": "Antalet registrerade är 40.", "channel": "e_service"},
                         headers=dpo)
    assert phased.status_code == 201


def test_data_subject_communication_for_a_high_risk_incident(client, dpo, investigator, incident_case):
    risk_only = incident_case("risk")
    informed = {"informed_at": "2026-03-10T08:30:00Z", "method": "Brev till de berörda"}
    assert client.post(f"{REPORTS}/{risk_only}/data-subject-communication", json=informed,
                       headers=dpo).status_code == 409
    case_id = incident_case("high_risk")
    dsc_url = f"{REPORTS}/{case_id}/data-subject-communication"
    assert client.get(dsc_url, headers=dpo).status_code == 404
    blockers = client.get(f"{REPORTS}/{case_id}/case", headers=dpo).json()["closing_blockers"]
    assert any("data subjects" in blocker for blocker in blockers)
    assert client.post(dsc_url, json=informed, headers=investigator).status_code == 403
    missing = client.post(dsc_url, json={"exemption": "disproportionate_effort"}, headers=dpo)
    assert missing.status_code == 422 and missing.json()["errors"][0]["pointer"] == "/justification"
    recorded = client.post(dsc_url, json=informed, headers=dpo)
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["method"] == "Brev till de berörda" and recorded.json()["exemption"] is None
    blockers = client.get(f"{REPORTS}/{case_id}/case", headers=dpo).json()["closing_blockers"]
    assert not any("data subjects" in blocker for blocker in blockers)
    changed = client.post(dsc_url, json={"exemption": "unintelligible_data",
                                         "justification": "Datorn var krypterad."}, headers=dpo)
    assert changed.status_code == 200
    assert client.get(dsc_url, headers=dpo).json()["exemption"] == "unintelligible_data"
    last = timeline(client, dpo, case_id)[-1]
    assert last["kind"] == "data_subject_communication"
    assert last["changes"]["exemption"] == [None, "unintelligible_data"]
    assert last["changes"]["informed_at"] == ["2026-03-10T08:30:00Z", None]
    notification = draft(client, dpo, case_id, "imy", contact=CONTACT).json()
    page = client.get(url(case_id, notification["id"], "document"), headers=dpo).text
    assert "Datorn var krypterad." in page and "art. 34.3 a" in page


def test_the_authoritys_response_may_arrive_after_the_case_is_closed(
        client, db, clock, dpo, investigator, decision_maker, incident_case):
    case_id = incident_case()
    notification = draft(client, dpo, case_id, "imy", contact=CONTACT).json()
    client.post(url(case_id, notification["id"], "send"), json=SEND, headers=dpo)
    decide_investigation(db, case_id, clock)
    assert client.post(f"{REPORTS}/{case_id}/follow-ups", json={"summary": "Rutinen fungerar."},
                       headers=investigator).status_code == 201
    closed = client.post(f"{REPORTS}/{case_id}/close", json={}, headers=investigator)
    assert closed.status_code == 200, closed.text
    clock.advance(days=30)
    answer = client.post(url(case_id, notification["id"], "authority-response"),
                         json={"authority_reference": "IMY-2026-555", "authority_decision": "Ingen åtgärd.",
                               "authority_decision_at": "2026-04-08"}, headers=dpo)
    assert answer.status_code == 200, answer.text
    assert client.get(f"{REPORTS}/{case_id}/case", headers=dpo).json()["status"] == "closed"
    supplement = client.post(url(case_id, notification["id"], "supplements"),
                             json={"kind": "other", "content": "x", "channel": "post"}, headers=dpo)
    assert supplement.status_code == 409  # a closed case takes no new notifications or supplements
