"""Identical writes racing each other: the database keeps one, the others hear the documented 409.

The requests run in threads against the app, released together by a barrier, so that each one's check
("is there one already?") runs before any of them has committed. On SQLite every writing transaction
holds the database's one write lock from its start, so requests queue and the checks alone decide;
the races are real only on PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from service.domain.access import Role
from tests.bodies import report_body

GRANTS = "/api/v1/grants"
UNITS = "/api/v1/org-units"
REPORTS = "/api/v1/reports"

pytestmark = pytest.mark.postgres


def _together(count: int, send):
    """`send(i)` from `count` threads released at the same moment; the responses in order of i."""
    start = threading.Barrier(count)

    def one(i: int):
        start.wait()
        return send(i)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_parallel_identical_grants_store_one_and_revoking_it_takes_the_access_away(client, db, users, admin, org):
    case_id = client.post(REPORTS, json=report_body(), headers=users.headers(Role.reporter, "SOC")).json()["id"]
    body = {"subject": "nina", "role": "investigator", "unit_code": "SOC-ALD"}
    responses = _together(16, lambda _: client.post(GRANTS, json=body, headers=admin))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 15, [r.text for r in responses if r.status_code not in (201, 409)]
    for response in responses:
        if response.status_code == 409:
            assert response.headers["content-type"] == "application/problem+json"
            assert [error["pointer"] for error in response.json()["errors"]] == ["/role"]
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM role_grant WHERE subject = 'nina'")).scalar_one() == 1
    (grant,) = [response.json() for response in responses if response.status_code == 201]
    nina = {"Authorization": f"Bearer {users.token('nina')}"}
    assert client.get(f"{REPORTS}/{case_id}/case", headers=nina).status_code == 200
    assert client.post(f"{GRANTS}/{grant['id']}/revoke", headers=admin).status_code == 200
    assert client.get(f"{REPORTS}/{case_id}/case", headers=nina).status_code == 404


def test_parallel_grants_on_every_forvaltning_store_one(client, db, admin, org):
    body = {"subject": "nina", "role": "auditor", "unit_code": "*"}
    statuses = sorted(r.status_code for r in _together(8, lambda _: client.post(GRANTS, json=body, headers=admin)))
    assert statuses == [201] + [409] * 7
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM role_grant WHERE subject = 'nina'")).scalar_one() == 1


def test_parallel_codes_differing_only_in_case_store_one(client, db, admin, org):
    def create(i: int):
        return client.post(UNITS, json={"code": "abc" if i % 2 else "ABC", "name": f"Enhet {i}", "kind": "unit",
                                        "parent_id": org["SOC-ALD"]}, headers=admin)

    responses = _together(8, create)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert [error["pointer"] for error in response.json()["errors"]] == ["/code"]
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM org_unit WHERE lower(code) = 'abc'")).scalar_one() == 1


def test_parallel_imports_of_codes_differing_only_in_case_store_one(client, db, admin, org):
    def load(i: int):
        rows = [{"code": "SOC-ALD-5", "name": "Hemtjänst Söder", "kind": "unit", "parent_code": "SOC-ALD"},
                {"code": "new" if i % 2 else "NEW", "name": f"Enhet {i}", "kind": "unit", "parent_code": "SOC-ALD"}]
        return client.post(f"{UNITS}/import", json={"units": rows}, headers=admin)

    responses = _together(8, load)
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7, [r.text for r in responses]
    with db.connect() as connection:
        stored = connection.execute(text("SELECT code FROM org_unit WHERE code IN ('SOC-ALD-5', 'new', 'NEW')"))
        assert len(stored.all()) == 2  # one import, whole; nothing of the others


def test_linking_two_cases_from_both_ends_at_once_links_them_once(client, db, staff, investigator):
    pairs = [[client.post(REPORTS, json=report_body(), headers=staff).json()["id"] for _ in range(2)]
             for _ in range(4)]

    def link(i: int):
        here, there = pairs[i // 2] if i % 2 else reversed(pairs[i // 2])
        return client.post(f"{REPORTS}/{here}/assessments", headers=investigator, json={
            "types": [{"type": "other_deviation"}], "justification": "Samma händelse.", "link_cases": [there]})

    responses = _together(8, link)
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses if r.status_code != 201]
    for here, there in pairs:
        for one, other in ((here, there), (there, here)):
            case = client.get(f"{REPORTS}/{one}/case", headers=investigator).json()
            assert [linked["id"] for linked in case["linked_cases"]] == [other]
    with db.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM case_link")).scalar_one() == 8
