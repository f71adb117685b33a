"""Report intake and reads: receipts, case numbers, de-duplication, validation, visibility, filters, paging."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.domain.access import Role
from tests.bodies import report_body as report

URL = "/api/v1/reports"


@pytest.fixture
def integration(users, org):
    return users.headers(Role.integration, "SOC", subject="client:treserva", name="Treserva")


def test_staff_submission_returns_a_receipt_with_a_case_number(client, staff):
    response = client.post(URL, json=report(), headers=staff)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["case_number"] == "SOC-2026-00001"
    assert receipt["status"] == "reported"
    assert [unit["code"] for unit in receipt["units"]] == ["SOC-ALD-1"]
    assert response.headers["location"].endswith(f"/reports/{receipt['id']}")
    assert client.post(URL, json=report(), headers=staff).json()["case_number"] == "SOC-2026-00002"


def test_case_numbers_restart_each_year_in_swedish_time(client, staff, clock):
    client.post(URL, json=report(), headers=staff)
    clock.now = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already 2027 in Stockholm
    response = client.post(URL, json=report(occurred_at="2026-12-31T22:00:00Z", noticed_at="2026-12-31T22:10:00Z"),
                           headers=staff)
    assert response.json()["case_number"] == "SOC-2027-00001"


def test_reporter_sees_receipt_and_status_but_not_the_content(client, staff):
    created = client.post(URL, json=report(), headers=staff).json()
    seen = client.get(f"{URL}/{created['id']}", headers=staff).json()
    assert seen["access"] == "receipt"
    assert seen["status"] == "reported" and seen["case_number"] == created["case_number"]
    assert seen["description"] is None and seen["reporter_name"] is None


def test_investigator_sees_the_whole_report_and_who_made_it(client, staff, investigator):
    created = client.post(URL, json=report(), headers=staff).json()
    seen = client.get(f"{URL}/{created['id']}", headers=investigator).json()
    assert seen["access"] == "case"
    assert seen["description"] == report()["description"]
    assert seen["reporter_name"] == "Anna Andersson"
    assert seen["channel"] == "web_form"
    assert seen["occurred_at"] == "2026-03-09T17:30:00Z"
    assert seen["reported_late"] is False


def test_a_report_made_more_than_a_day_after_it_was_noticed_is_flagged_late(client, staff, investigator, clock):
    on_time = client.post(URL, json=report(), headers=staff).json()  # noticed 14 hours before
    clock.now = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
    late = client.post(URL, json=report(), headers=staff).json()
    assert late["reported_late"] is None  # the reporter sees the receipt only
    assert client.get(f"{URL}/{on_time['id']}", headers=investigator).json()["reported_late"] is False
    assert client.get(f"{URL}/{late['id']}", headers=investigator).json()["reported_late"] is True


def test_integration_submits_for_a_named_reporter_once_per_external_reference(client, integration, investigator):
    body = report(external_reference="TRE-2026-991", channel="integration",
                  reporter={"subject": "u123", "name": "Bo Berg", "title": "Undersköterska"})
    first = client.post(URL, json=body, headers=integration)
    assert first.status_code == 201, first.text
    again = client.post(URL, json=body, headers=integration)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    changed = client.post(URL, json={**body, "description": "Något annat"}, headers=integration)
    assert changed.status_code == 409
    assert changed.json()["errors"][0]["pointer"] == "/external_reference"
    listed = client.get(URL, headers=investigator).json()["items"]
    assert [item["case_number"] for item in listed] == [first.json()["case_number"]]
    seen = client.get(f"{URL}/{first.json()['id']}", headers=investigator).json()
    assert (seen["reporter_name"], seen["reporter_title"]) == ("Bo Berg", "Undersköterska")


def test_the_same_external_reference_from_two_clients_is_two_reports(client, users, org, integration):
    other = users.headers(Role.integration, "SOC", subject="client:lifecare")
    body = report(external_reference="X-1", reporter={"subject": "u1", "name": "Bo Berg"})
    assert client.post(URL, json=body, headers=integration).status_code == 201
    assert client.post(URL, json=body, headers=other).status_code == 201


def test_integration_client_sees_status_of_what_it_submitted_only(client, integration, staff):
    mine = client.post(URL, json=report(reporter={"subject": "u1", "name": "Bo Berg"}), headers=integration).json()
    theirs = client.post(URL, json=report(), headers=staff).json()
    assert client.get(f"{URL}/{mine['id']}", headers=integration).json()["access"] == "receipt"
    assert client.get(f"{URL}/{theirs['id']}", headers=integration).status_code == 404
    assert [item["id"] for item in client.get(URL, headers=integration).json()["items"]] == [mine["id"]]


@pytest.mark.parametrize(
    ("overrides", "status", "pointer"),
    [
        ({"units": ["SOC-ALD-1", "NO-SUCH"]}, 422, "/units/1"),
        ({"units": ["SOC-ALD"]}, 422, "/units/0"),
        ({"units": []}, 422, "/units"),
        ({"units": ["SOC-ALD-1", "SOC-ALD-1"]}, 422, "/units"),
        ({"occurred_at": "2026-03-09T18:30:00"}, 422, "/occurred_at"),
        ({"occurred_at": "yesterday"}, 422, "/occurred_at"),
        ({"occurred_at": "2026-03-11T18:30:00+01:00"}, 422, "/occurred_at"),
        ({"noticed_at": "2026-03-08T18:30:00+01:00"}, 422, "/noticed_at"),
        ({"description": ""}, 422, "/description"),
        ({"description": 42}, 422, "/description"),
        ({"description": "a\x00b"}, 422, "/description"),
        ({"description": "x" * 20_001}, 422, "/description"),
        ({"category": "no-such"}, 422, "/category"),
        ({"channel": "email"}, 422, "/channel"),
        ({"subject_reference": "19121212-1212"}, 422, "/subject_reference"),
        ({"subject_reference": None}, 422, "/subject_reference"),
        ({"no_specific_subject": True}, 422, "/subject_reference"),
        ({"reporter": {"subject": "x", "name": "Someone Else"}}, 422, "/reporter"),
        ({"status": "closed"}, 422, "/status"),
    ],
)
def test_bad_reports_are_refused_naming_the_field_and_nothing_is_stored(client, staff, investigator, overrides,
                                                                         status, pointer):
    response = client.post(URL, json=report(**overrides), headers=staff)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [error["pointer"] for error in response.json()["errors"]]
    assert "x" * 50 not in response.text and "\x00" not in response.text  # input is never echoed
    assert client.get(URL, headers=investigator).json()["items"] == []


@pytest.mark.parametrize("reference", ["121212 1212", "121212\u20131212", "12121212 1212", "19 12 12 12-1212",
                                       "121212\u00a01212", "121212\u22121212", "121272-1219"])
def test_a_personnummer_however_written_is_refused_as_subject_reference(client, staff, investigator, reference):
    response = client.post(URL, json=report(subject_reference=reference), headers=staff)
    assert response.status_code == 422, response.text
    assert [error["pointer"] for error in response.json()["errors"]] == ["/subject_reference"]
    assert "1212" not in response.text and "1219" not in response.text  # the number is never echoed
    assert client.get(URL, headers=investigator).json()["items"] == []


def test_free_text_that_seems_to_hold_a_personnummer_is_flagged_on_receipt_and_case(client, staff, investigator):
    response = client.post(URL, headers=staff, json=report(
        description="Brukaren, 19121212\u20131212, fick fel läkemedel.",
        immediate_actions="Ringde anhörig på 070-123 45 67."))
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["possible_personal_identity_numbers"] == ["/description"]
    assert "1212" not in receipt["case_number"] and "19121212" not in response.text
    seen = client.get(f"{URL}/{receipt['id']}", headers=investigator).json()
    assert seen["access"] == "case" and seen["possible_personal_identity_numbers"] == ["/description"]
    own = client.get(f"{URL}/{receipt['id']}", headers=staff).json()
    assert own["access"] == "receipt" and own["possible_personal_identity_numbers"] == ["/description"]
    plain = client.post(URL, json=report(immediate_actions="Ringde 070-123 45 67 och 08-123 456 78."), headers=staff)
    assert plain.json()["possible_personal_identity_numbers"] == []


def test_no_specific_person_is_a_valid_subject(client, staff):
    response = client.post(URL, json=report(subject_reference=None, no_specific_subject=True), headers=staff)
    assert response.status_code == 201


def test_a_report_may_concern_several_enheter_of_one_forvaltning_only(client, staff, users, admin, org):
    response = client.post(URL, json=report(units=["SOC-ALD-1", "SOC-FUN-2"]), headers=staff)
    assert response.status_code == 201
    assert [unit["code"] for unit in response.json()["units"]] == ["SOC-ALD-1", "SOC-FUN-2"]
    client.post("/api/v1/org-units/import", headers=admin, json={"units": [
        {"code": "VOF", "name": "VOF", "kind": "administration", "valid_from": "2020-01-01"},
        {"code": "VOF-A", "name": "A", "kind": "department", "parent_code": "VOF", "valid_from": "2020-01-01"},
        {"code": "VOF-A-1", "name": "A1", "kind": "unit", "parent_code": "VOF-A", "valid_from": "2020-01-01"}]})
    everywhere = users.headers(Role.reporter, "*", subject="bo")
    response = client.post(URL, json=report(units=["SOC-ALD-1", "VOF-A-1"]), headers=everywhere)
    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "/units"
    created = client.post(URL, json=report(units=["VOF-A-1"]), headers=everywhere).json()
    assert created["case_number"] == "VOF-2026-00001"


def test_reporting_needs_a_grant_on_the_enhet(client, users, org):
    local = users.headers(Role.reporter, "SOC-FUN", subject="cecilia")
    response = client.post(URL, json=report(units=["SOC-ALD-1"]), headers=local)
    assert response.status_code == 403
    stats = users.headers(Role.statistics, "SOC")
    assert client.post(URL, json=report(), headers=stats).status_code == 403


def test_closed_enhet_takes_reports_only_for_events_while_it_was_open(client, staff, admin, org):
    client.post(f"/api/v1/org-units/{org['SOC-ALD-4']}/close", json={"valid_to": "2026-02-28"}, headers=admin)
    refused = client.post(URL, json=report(units=["SOC-ALD-4"]), headers=staff)
    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "/units/0"
    late = report(units=["SOC-ALD-4"], occurred_at="2026-02-27T10:00:00+01:00", noticed_at="2026-03-09T10:00:00+01:00")
    assert client.post(URL, json=late, headers=staff).status_code == 201


def test_unit_manager_sees_own_enhet_not_the_sibling(client, staff, users, org):
    in_ald1 = client.post(URL, json=report(units=["SOC-ALD-1"]), headers=staff).json()
    in_ald2 = client.post(URL, json=report(units=["SOC-ALD-2"]), headers=staff).json()
    manager = users.headers(Role.unit_manager, "SOC-ALD-1", subject="maria")
    assert client.get(f"{URL}/{in_ald1['id']}", headers=manager).json()["access"] == "case"
    hidden = client.get(f"{URL}/{in_ald2['id']}", headers=manager)
    assert hidden.status_code == 404
    assert [item["id"] for item in client.get(URL, headers=manager).json()["items"]] == [in_ald1["id"]]


def test_roles_without_case_access_see_nothing(client, staff, users, org):
    created = client.post(URL, json=report(), headers=staff).json()
    for role in (Role.statistics, Role.admin, Role.auditor):
        headers = users.headers(role, "SOC")
        assert client.get(f"{URL}/{created['id']}", headers=headers).status_code == 404
        assert client.get(URL, headers=headers).json()["items"] == []


def test_filters(client, staff, investigator, clock, org):
    client.post(URL, json=report(units=["SOC-ALD-1"], category="medication",
                                 description="Fel dos på ÄLDREBOENDET"), headers=staff)
    clock.advance(days=30)
    client.post(URL, json=report(units=["SOC-FUN-1"], category="treatment", description="Otrevligt bemötande"),
                headers=staff)

    def numbers(**params):
        response = client.get(URL, headers=investigator, params=params)
        assert response.status_code == 200, response.text
        return [item["case_number"] for item in response.json()["items"]]

    assert numbers() == ["SOC-2026-00002", "SOC-2026-00001"]
    assert numbers(unit_id=org["SOC-ALD"]) == ["SOC-2026-00001"]
    assert numbers(unit_id=org["SOC"]) == ["SOC-2026-00002", "SOC-2026-00001"]
    assert numbers(category="treatment") == ["SOC-2026-00002"]
    assert numbers(category=["treatment", "medication"]) == ["SOC-2026-00002", "SOC-2026-00001"]
    assert numbers(status="reported") == ["SOC-2026-00002", "SOC-2026-00001"]
    assert numbers(q="äldreboendet") == ["SOC-2026-00001"]
    assert numbers(q="100%") == []
    assert numbers(received_from="2026-04-01") == ["SOC-2026-00002"]
    assert numbers(received_to="2026-03-10") == ["SOC-2026-00001"]


def test_keyset_pages_cover_every_report_once(client, staff, investigator, clock):
    for _ in range(7):
        client.post(URL, json=report(), headers=staff)
        clock.advance(minutes=1)
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get(URL, headers=investigator, params=params).json()
        seen += [item["case_number"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"SOC-2026-{n:05d}" for n in range(7, 0, -1)]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"cursor": "bm90IGEgY3Vyc29y.0000"}, 400),
        ({"colour": "red"}, 400),
        ({"limit": 0}, 422),
        ({"limit": "many"}, 422),
        ({"status": "nonsense"}, 422),
        ({"q": "x"}, 422),
        ({"unit_id": 999999}, 422),
        ({"received_from": "March"}, 422),
    ],
)
def test_bad_list_parameters_are_refused(client, investigator, params, status):
    response = client.get(URL, headers=investigator, params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_page_size_is_capped(client, staff, investigator, settings):
    for _ in range(3):
        client.post(URL, json=report(), headers=staff)
    settings.max_page_size = 2
    page = client.get(URL, headers=investigator, params={"limit": 10_000}).json()
    assert len(page["items"]) == 2 and page["next_cursor"] is not None


def test_case_numbers_grow_past_five_digits_alike_on_both_databases(client, staff, db, org):
    from sqlalchemy import text

    client.post(URL, json=report(), headers=staff)
    with db.begin() as connection:
        connection.execute(text("UPDATE case_number_sequence SET last_number = 99999"))
    assert client.post(URL, json=report(), headers=staff).json()["case_number"] == "SOC-2026-100000"
