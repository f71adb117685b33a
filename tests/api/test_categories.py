"""Report categories as data (issue 11): per förvaltning, valid over time, changed by admins without a restart;
a report without a category is "not stated", which the statistics show as its own value.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlmodel import Session, select

from service.categories import check_category
from service.domain.access import Role
from service.domain.errors import InvalidInput
from service.models import AuditRecord, Report
from tests.api.test_crosstab import COMPLAINT, OTHER, Office, at, table, totals
from tests.bodies import report_body as report

pytestmark = pytest.mark.exact_figures  # small counts read exactly: suppression off (conftest.py)

CATEGORIES = "/api/v1/report-categories"
REPORTS = "/api/v1/reports"
DEFAULT_CODES = ["treatment", "documentation", "communication", "case_handling", "care", "medication", "it_support",
                 "safety", "confidentiality", "other"]



@pytest.fixture
def office(client, users, clock, org):
    return Office(client, users, clock)


@pytest.fixture
def stats(users, org):
    return users.headers(Role.statistics, "SOC", subject="stina")


def listed(client, headers, **params) -> list[dict]:
    response = client.get(CATEGORIES, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def category_id(client, admin, code: str, unit: str = "SOC") -> int:
    return next(item["id"] for item in listed(client, admin, include_retired=True)
                if item["code"] == code and item["administration_code"] == unit)


def test_every_forvaltning_has_the_configured_categories_from_its_first_day(client, admin, org):
    soc = listed(client, admin)
    assert [item["code"] for item in soc] == DEFAULT_CODES
    medication = soc[DEFAULT_CODES.index("medication")]
    assert medication | {"id": 0} == {"id": 0, "code": "medication", "label_sv": "Läkemedel", "label_en": "Medication",
                                      "valid_from": "2020-01-01", "valid_to": None, "administration_id": org["SOC"],
                                      "administration_code": "SOC"}
    created = client.post("/api/v1/org-units", headers=admin, json={
        "code": "VOF", "name": "Vård- och omsorgsförvaltningen", "kind": "administration", "valid_from": "2024-01-01"})
    assert created.status_code == 201, created.text
    vof = listed(client, admin, administration_id=created.json()["id"])
    assert [item["code"] for item in vof] == DEFAULT_CODES and {item["valid_from"] for item in vof} == {"2024-01-01"}


def test_only_an_admin_of_the_forvaltning_itself_changes_its_categories(client, users, admin, org, db):
    body = {"administration_id": org["SOC"], "code": "falls", "label_sv": "Fall", "label_en": "Falls"}
    medication = category_id(client, admin, "medication")
    others = {
        "admin of an avdelning": users.headers(Role.admin, "SOC-ALD", subject="avdelningsadmin"),
        "investigator": users.headers(Role.investigator, "SOC", subject="utredare"),
        "statistics": users.headers(Role.statistics, "SOC", subject="statistiker"),
        "reporter": users.headers(Role.reporter, "SOC", subject="rapportor"),
    }
    for who, headers in others.items():
        assert client.post(CATEGORIES, json=body, headers=headers).status_code == 403, who
        assert client.patch(f"{CATEGORIES}/{medication}", json={"label_sv": "Medicin"},
                            headers=headers).status_code == 403, who
        assert client.post(f"{CATEGORIES}/{medication}/retire", json={"valid_to": "2026-12-31"},
                           headers=headers).status_code == 403, who
        assert "falls" not in [item["code"] for item in listed(client, headers)], who  # they read the list, though

    soc_admin = users.headers(Role.admin, "SOC", subject="forvaltningsadmin")
    created = client.post(CATEGORIES, json=body, headers=soc_admin)
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"/report-categories/{created.json()['id']}")
    relabelled = client.patch(f"{CATEGORIES}/{created.json()['id']}", json={"label_en": "Falls and trips"},
                              headers=admin)
    assert relabelled.json()["label_en"] == "Falls and trips" and relabelled.json()["label_sv"] == "Fall"
    with Session(db) as session:
        logged = session.exec(select(AuditRecord.action, AuditRecord.outcome, AuditRecord.actor_subject)
                              .where(AuditRecord.action.in_(["create_category", "change_category",
                                                             "retire_category"]))).all()
    assert ("create_category", "allowed", "forvaltningsadmin") in logged
    assert ("change_category", "allowed", "admin") in logged
    assert ("create_category", "denied", "avdelningsadmin") in logged
    assert ("retire_category", "denied", "utredare") in logged


def test_codes_are_ascii_never_reused_and_not_stated_is_reserved(client, admin, org):
    def create(code: str):
        return client.post(CATEGORIES, headers=admin,
                           json={"administration_id": org["SOC"], "code": code, "label_sv": "Något"})

    for code in ("läkemedel", "two words", "NOT_STATED", "not_stated"):
        refused = create(code)
        assert refused.status_code == 422, code
        assert [error["pointer"] for error in refused.json()["errors"]] == ["/code"], code
    duplicate = create("Medication")  # the same code regardless of case
    assert duplicate.status_code == 409 and duplicate.json()["errors"][0]["pointer"] == "/code"
    not_a_forvaltning = client.post(CATEGORIES, headers=admin,
                                    json={"administration_id": org["SOC-ALD"], "code": "falls", "label_sv": "Fall"})
    assert not_a_forvaltning.status_code == 422
    assert not_a_forvaltning.json()["errors"][0]["pointer"] == "/administration_id"
    assert client.patch(f"{CATEGORIES}/999999", json={"label_sv": "X"}, headers=admin).status_code == 404


def test_a_category_added_or_retired_applies_to_the_next_report_without_a_restart(client, office, admin, org):
    office.submit("2026-03-10T09:00:00", category="medication")  # the list is now cached by intake
    refused = client.post(REPORTS, json=report(category="falls"), headers=office.reporter)
    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "/category"

    created = client.post(CATEGORIES, headers=admin, json={
        "administration_id": org["SOC"], "code": "falls", "label_sv": "Fall", "label_en": "Falls"})
    assert created.status_code == 201, created.text
    office.submit("2026-03-10T09:05:00", category="falls")

    retired = client.post(f"{CATEGORIES}/{created.json()['id']}/retire", json={"valid_to": "2026-03-10"},
                          headers=admin)
    assert retired.status_code == 200 and retired.json()["valid_to"] == "2026-03-10"
    office.submit("2026-03-10T22:00:00", category="falls")  # still 2026-03-10 in Sweden: its last day
    office.clock.now = at("2026-03-11T09:00:00")
    late = client.post(REPORTS, json=report(category="falls", occurred_at="2026-03-11T09:00:00+01:00",
                                            noticed_at="2026-03-11T09:00:00+01:00"), headers=office.reporter)
    assert late.status_code == 422
    assert late.json()["errors"][0]["pointer"] == "/category"
    assert "not in use on the day" in late.json()["errors"][0]["detail"]  # retired, not unknown


def test_listing_by_day_and_with_the_retired_ones(client, office, admin, org, users):
    future = client.post(CATEGORIES, headers=admin, json={
        "administration_id": org["SOC"], "code": "falls", "label_sv": "Fall", "valid_from": "2026-04-01"})
    assert future.status_code == 201 and future.json()["label_en"] == "Fall"  # the Swedish label by default
    old = client.post(CATEGORIES, headers=admin, json={  # a category of the past, as an import brings it
        "administration_id": org["SOC"], "code": "hygiene", "label_sv": "Hygien", "label_en": "Hygiene",
        "valid_from": "2010-01-01", "valid_to": "2019-12-31"})
    assert old.status_code == 201, old.text

    codes = lambda **params: [item["code"] for item in listed(client, office.reporter, **params)]  # noqa: E731
    assert codes() == DEFAULT_CODES  # today, 2026-03-10
    assert codes(on="2026-04-01") == [*DEFAULT_CODES, "falls"]
    assert codes(on="2015-06-30") == ["hygiene"]
    assert codes(include_retired=True) == [*DEFAULT_CODES, "falls", "hygiene"]
    assert listed(client, {"Authorization": f"Bearer {users.token('no-grants')}"}) == []  # no grant: no förvaltning


def test_a_retired_category_stays_on_old_reports_and_in_old_years_statistics(client, office, admin, stats, db, org):
    old = office.submit("2025-06-01T10:00:00", category="it_support")
    it_support = category_id(client, admin, "it_support")
    too_early = client.post(f"{CATEGORIES}/{it_support}/retire", json={"valid_to": "2025-05-31"}, headers=admin)
    assert too_early.status_code == 409 and too_early.json()["errors"][0]["pointer"] == "/valid_to"
    office.clock.now = at("2026-03-10T09:00:00")
    assert client.post(f"{CATEGORIES}/{it_support}/retire", json={"valid_to": "2025-12-31"},
                       headers=admin).status_code == 200
    later = client.patch(f"{CATEGORIES}/{it_support}", json={"valid_from": "2025-06-02"}, headers=admin)
    assert later.status_code == 409 and later.json()["errors"][0]["pointer"] == "/valid_from"

    refused = client.post(REPORTS, json=report(category="it_support"), headers=office.reporter)
    assert refused.status_code == 422 and "not in use on the day" in refused.json()["errors"][0]["detail"]
    assert client.get(f"{REPORTS}/{old}", headers=office.investigator).json()["category"] == "it_support"

    in_2025 = table(client, stats, rows="category", year=2025)
    row = next(row for row in in_2025["rows"] if row["key"] == "it_support")
    assert (row["label_sv"], row["label_en"], row["total"]) == ("IT-stöd", "IT support", 1)
    in_2026 = table(client, stats, rows="category", year=2026)
    assert "it_support" not in [row["key"] for row in in_2026["rows"]]  # retired before 2026, no report has it

    with Session(db) as session:  # the one check that imports of old reports call too
        assert check_category(session, org["SOC"], "it_support", date(2025, 12, 31)) == "it_support"
        assert check_category(session, org["SOC"], None, date(2026, 1, 1)) == "not_stated"
        with pytest.raises(InvalidInput):
            check_category(session, org["SOC"], "it_support", date(2026, 1, 1))


def test_another_forvaltnings_category_is_refused(client, office, admin, org):
    created = client.post("/api/v1/org-units", headers=admin, json={
        "code": "VOF", "name": "Vård- och omsorgsförvaltningen", "kind": "administration", "valid_from": "2020-01-01"})
    vof = created.json()["id"]
    assert client.post(CATEGORIES, headers=admin, json={"administration_id": vof, "code": "falls",
                                                        "label_sv": "Fall"}).status_code == 201
    refused = client.post(REPORTS, json=report(category="falls"), headers=office.reporter)  # SOC-ALD-1 is SOC's
    assert refused.status_code == 422 and refused.json()["errors"][0]["detail"].startswith("Unknown category")
    assert [item["code"] for item in listed(client, office.reporter)] == DEFAULT_CODES  # SOC's only


def test_no_category_is_not_stated_and_its_own_column_never_other(client, office, stats, db):
    complaint = office.submit("2026-02-01T10:00:00", category=None)
    office.assess(complaint, {"type": "complaint", "complaint_kind": "not_stated", "complaint_submitter": "not_stated"})
    other = office.submit("2026-02-02T10:00:00", category="other")
    office.assess(other, OTHER)
    office.assess(office.submit("2026-02-03T10:00:00", category="care"), COMPLAINT)
    with Session(db) as session:
        assert session.get(Report, uuid.UUID(complaint)).category == "not_stated"
    assert client.get(f"{REPORTS}/{complaint}", headers=office.investigator).json()["category"] == "not_stated"

    by_category = table(client, stats, rows="category")
    assert totals(by_category) == {"not_stated": 1, "other": 1, "care": 1}
    keys = [row["key"] for row in by_category["rows"]]
    assert keys == [*DEFAULT_CODES, "not_stated"]  # listed even at zero, after the förvaltning's own
    not_stated = by_category["rows"][-1]
    assert (not_stated["label_sv"], not_stated["label_en"]) == ("Ej angivet", "Not stated")

    kinds = table(client, stats, rows="complaint_kind", columns="complaint_submitter")
    row = next(row for row in kinds["rows"] if row["key"] == "not_stated")
    assert row["label_sv"] == "Ej angivet" and row["counts"]["not_stated"] == 1 and row["counts"]["other"] == 0
    assert next(r for r in kinds["rows"] if r["key"] == "other")["total"] == 0
    assert kinds["column_totals"]["not_stated"] == 1 and kinds["column_totals"]["relative"] == 1

