"""Reports that reached the organisation on paper, by phone or in person, registered in the service later.

The real receipt decides the case number's year, the statistics, the "genast" flag and every deadline; the
timeline and the case show both moments and both people.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.domain.access import Role
from tests.bodies import report_body

pytestmark = pytest.mark.exact_figures  # small counts read exactly: suppression off (conftest.py)

URL = "/api/v1/reports"
# Registered in the middle of January 2027; the paper report reached Hemtjänst Centrum before Christmas.
REGISTERED = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)


def paper_report(**overrides) -> dict:
    """A paper report noticed and handed in before Christmas 2026, registered now by a handler."""
    body = dict(occurred_at="2026-12-18T18:30:00+01:00", noticed_at="2026-12-18T19:00:00+01:00",
                received_at="2026-12-19T10:00:00+01:00", received_by="Rut Receptionist", channel="paper")
    return report_body(**{**body, **overrides})


@pytest.fixture
def settings(settings, request):
    """A test may ask for more settings with indirect parametrisation."""
    return settings.model_copy(update=getattr(request, "param", {}))


@pytest.fixture
def january(clock):
    clock.now = REGISTERED
    return clock


@pytest.fixture
def integration(users, org):
    return users.headers(Role.integration, "SOC", subject="client:treserva", name="Treserva")


def _pointers(response) -> list[str]:
    return [error["pointer"] for error in response.json()["errors"]]


def test_a_paper_report_from_last_december_counts_in_last_year(client, users, january, investigator):
    response = client.post(URL, json=paper_report(), headers=investigator)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["case_number"] == "SOC-2026-00001"  # the year of the receipt, not of the registration
    assert receipt["received_at"] == "2026-12-19T09:00:00Z"
    # A report received in January through the form is the first of 2027.
    staff = users.headers(Role.reporter, "SOC", subject="anna")
    on_time = client.post(URL, json=report_body(occurred_at="2027-01-15T08:00:00+01:00",
                                                noticed_at="2027-01-15T08:30:00+01:00"), headers=staff)
    assert on_time.json()["case_number"] == "SOC-2027-00001"

    statistics = users.headers(Role.statistics, "SOC", subject="stina")
    total = {year: next(row for row in client.get("/api/v1/statistics/annual-table", params={"year": year},
                                                  headers=statistics).json()["rows"] if row["level"] == "total")
             for year in (2026, 2027)}
    assert total[2026]["counts"]["unassessed"] == 1 and total[2026]["counts"]["total"] == 1
    assert total[2027]["counts"]["unassessed"] == 1  # only the report received in January

    listed = client.get(URL, params={"received_from": "2026-12-01", "received_to": "2026-12-31"},
                        headers=investigator).json()["items"]
    assert [item["case_number"] for item in listed] == ["SOC-2026-00001"]


def test_deadlines_count_from_the_real_receipt(client, january, investigator):
    created = client.post(URL, json=paper_report(), headers=investigator).json()
    case = client.get(f"{URL}/{created['id']}/case", headers=investigator).json()
    first = next(deadline for deadline in case["deadlines"] if deadline["kind"] == "first_assessment")
    assert first["due_at"] == "2026-12-20T09:00:00Z" and first["overdue"] is True  # 24 hours after the receipt
    due = client.get("/api/v1/deadlines", params={"overdue": "true"}, headers=investigator).json()
    assert [(item["case_number"], item["kind"]) for item in due] == [(created["case_number"], "first_assessment")]


def test_the_case_and_the_report_show_who_received_and_who_registered(client, january, investigator):
    created = client.post(URL, json=paper_report(), headers=investigator).json()
    case = client.get(f"{URL}/{created['id']}/case", headers=investigator).json()
    assert (case["received_at"], case["registered_at"]) == ("2026-12-19T09:00:00Z", "2027-01-15T09:00:00Z")
    assert (case["received_by"], case["registered_by"]) == ("Rut Receptionist", "Ivar Isaksson")
    seen = client.get(f"{URL}/{created['id']}", headers=investigator).json()
    assert seen["channel"] == "paper" and seen["registered_by"] == "Ivar Isaksson"
    assert seen["received_by"] == "Rut Receptionist" and seen["registered_at"] == "2027-01-15T09:00:00Z"


def test_a_report_sent_through_the_service_is_registered_when_received(client, staff, investigator):
    created = client.post(URL, json=report_body(), headers=staff).json()
    case = client.get(f"{URL}/{created['id']}/case", headers=investigator).json()
    assert case["registered_at"] == case["received_at"] == created["received_at"]
    assert case["registered_by"] is None and case["received_by"] is None
    timeline = client.get(f"{URL}/{created['id']}/timeline", headers=investigator).json()
    assert [entry["kind"] for entry in timeline] == ["reported"]


def test_the_timeline_shows_the_receipt_and_the_registration(client, january, investigator):
    created = client.post(URL, json=paper_report(channel="phone"), headers=investigator).json()
    timeline = client.get(f"{URL}/{created['id']}/timeline", headers=investigator).json()
    assert [(entry["kind"], entry["at"], entry["actor_name"]) for entry in timeline] == [
        ("received", "2026-12-19T09:00:00Z", "Rut Receptionist"),
        ("registered", "2027-01-15T09:00:00Z", "Ivar Isaksson"),
    ]
    assert timeline[0]["changes"]["status"] == [None, "reported"]
    assert timeline[0]["changes"]["channel"] == [None, "phone"]


def test_genast_is_judged_on_the_real_receipt(client, january, investigator):
    # Handed in the day after it was noticed, registered four weeks later: not late.
    in_time = client.post(URL, json=paper_report(), headers=investigator).json()
    # Noticed a week before it was handed in: late, however soon it was registered afterwards.
    handed_in_late = client.post(URL, json=paper_report(
        occurred_at="2027-01-05T10:00:00+01:00", noticed_at="2027-01-05T10:00:00+01:00",
        received_at="2027-01-12T10:00:00+01:00"), headers=investigator).json()
    seen = {report["id"]: client.get(f"{URL}/{report['id']}", headers=investigator).json()["reported_late"]
            for report in (in_time, handed_in_late)}
    assert seen == {in_time["id"]: False, handed_in_late["id"]: True}


def test_a_handler_may_name_the_person_who_made_the_report(client, january, investigator):
    body = paper_report(reporter={"subject": "bo.berg", "name": "Bo Berg", "title": "Undersköterska"})
    created = client.post(URL, json=body, headers=investigator).json()
    assert client.get(f"{URL}/{created['id']}", headers=investigator).json()["reporter_name"] == "Bo Berg"


def test_a_reporter_may_not_register_a_report_as_received_earlier(client, january, staff):
    response = client.post(URL, json=paper_report(), headers=staff)
    assert response.status_code == 403, response.text
    assert _pointers(response) == ["/received_at"]
    assert client.get(URL, headers=staff).json()["items"] == []


def test_a_handler_of_another_enhet_may_not(client, january, manager):
    # Maja handles Hemtjänst Centrum (SOC-ALD-1) only.
    response = client.post(URL, json=paper_report(units=["SOC-ALD-2"]), headers=manager)
    assert response.status_code == 403
    assert client.post(URL, json=paper_report(), headers=manager).status_code == 201


def test_an_integration_client_is_refused_by_default(client, january, integration):
    body = paper_report(reporter={"subject": "u1", "name": "Bo Berg"})
    response = client.post(URL, json=body, headers=integration)
    assert response.status_code == 403
    assert _pointers(response) == ["/received_at"]


@pytest.mark.parametrize("settings", [{"late_registration_by_clients": True}], indirect=True)
def test_an_integration_client_may_when_the_setting_allows_it(client, january, integration, investigator):
    body = paper_report(reporter={"subject": "u1", "name": "Bo Berg"}, external_reference="PAPER-17")
    first = client.post(URL, json=body, headers=integration)
    assert first.status_code == 201, first.text
    assert first.json()["case_number"] == "SOC-2026-00001"
    again = client.post(URL, json=body, headers=integration)  # a retry gets the first receipt
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other_time = client.post(URL, json={**body, "received_at": "2026-12-20T10:00:00+01:00"}, headers=integration)
    assert other_time.status_code == 409
    case = client.get(f"{URL}/{first.json()['id']}/case", headers=investigator).json()
    assert case["registered_by"] == "Treserva"


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"received_at": "2027-01-15T11:00:00+01:00"}, "/received_at"),  # an hour ahead of the clock
        ({"received_at": "2026-12-18T18:45:00+01:00"}, "/received_at"),  # before it was noticed
        ({"occurred_at": "2026-10-01T10:00:00+02:00", "noticed_at": "2026-10-01T10:00:00+02:00",
          "received_at": "2026-10-01T12:00:00+02:00"}, "/received_at"),  # 106 days back: outside the window
        ({"channel": "web_form"}, "/channel"),
        ({"channel": None}, "/channel"),
        ({"received_by": None}, "/received_by"),
    ],
)
def test_an_unbelievable_receipt_is_refused_naming_the_field(client, january, investigator, overrides, pointer):
    response = client.post(URL, json=paper_report(**overrides), headers=investigator)
    assert response.status_code == 422, response.text
    assert _pointers(response) == [pointer]
    assert client.get(URL, headers=investigator).json()["items"] == []


@pytest.mark.parametrize("settings", [{"late_registration_days": 200}], indirect=True)
def test_the_window_is_a_setting(client, january, investigator):
    body = paper_report(occurred_at="2026-10-01T10:00:00+02:00", noticed_at="2026-10-01T10:00:00+02:00",
                        received_at="2026-10-01T12:00:00+02:00")
    assert client.post(URL, json=body, headers=investigator).status_code == 201
