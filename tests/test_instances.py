"""Two real service processes on one PostgreSQL database behave as one service (README, "Several instances").

Instances A and B (uvicorn, two ports) share the settings the README lists. C, the app in this process on
the same database (a third process would only cost start-up time), differs from them in its cursor secret.
The grant and org caches are given an hour here, so that anything B sees of A's changes
within the test came through the database's notices (service/cache_signal.py), not through a cache expiring.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session

from service.config import Settings
from service.db import install_session_listeners, make_engine
from service.demo import ensure_grant, load_demo_organisation
from service.domain.access import Role
from service.main import create_app
from service.migrate import upgrade
from service.tokens import DevKey, StaticKeySource, TokenVerifier, load_or_create_dev_key
from tests.bodies import report_body
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER
from tests.logcheck import offence
from tests.processes import WAIT_SECONDS, LoggedProcess

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # as in tests/api/conftest.py
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parent.parent
REPORTS = "/api/v1/reports"
ORG_UNITS = "/api/v1/org-units"
# How long B may take to see A's committed grant or org change. The caches' TTL is an hour: only the
# notice can make it, and it takes milliseconds; the bound leaves room for a loaded test machine.
NOTICE_SECONDS = 3.0
READY = (r"Uvicorn running on http://127\.0\.0\.1:(?P<port>\d+)", r"listening for grant and org changes")


class Instance(LoggedProcess):
    base = ""

    def wait_until_ready(self, deadline: float) -> None:
        found: dict[str, re.Match[str]] = {}
        while len(found) < len(READY):
            line = self.next_line(deadline)
            for pattern in READY:
                if pattern not in found and (match := re.search(pattern, line)):
                    found[pattern] = match
        self.base = f"http://127.0.0.1:{found[READY[0]]['port']}"


@dataclass
class Service:
    a: httpx.Client
    b: httpx.Client
    c: httpx.Client  # the same database, another cursor secret
    engine: Engine
    key: DevKey
    instances: list[Instance]

    def headers(self, subject: str, role: Role | None = None, unit: str = "SOC") -> dict[str, str]:
        """A token for `subject`, with its grant stored first when a role is given."""
        if role is not None:
            with Session(self.engine) as session:
                ensure_grant(session, subject, role, unit, datetime.now(UTC), granted_by="test")
                session.commit()
        token = self.key.mint({"sub": subject, "name": subject.title()}, issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
        return {"Authorization": f"Bearer {token}"}


def _start(name: str, env: dict[str, str]) -> Instance:
    # uvicorn itself, as the container runs it; the database is migrated once, before (README).
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "service.asgi:app", "--host", "127.0.0.1",
                                "--port", "0", "--no-access-log"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return Instance(f"instance {name}", process)


@pytest.fixture(scope="module")
def service(fresh_database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    url = fresh_database()
    upgrade(url)
    install_session_listeners()
    engine = make_engine(url)
    with Session(engine) as session:
        load_demo_organisation(session, datetime.now(UTC))
        session.commit()
    folder = tmp_path_factory.mktemp("instances")
    key = load_or_create_dev_key(folder / "key.pem")
    shared = {name: value for name, value in os.environ.items() if not name.startswith("AVV_")}
    shared.update(AVV_DATABASE_URL=url, AVV_AUTH_MODE="dev", AVV_DEV_KEY_PATH=str(folder / "key.pem"),
                  AVV_OIDC_ISSUER=TEST_ISSUER, AVV_OIDC_AUDIENCE=TEST_AUDIENCE, AVV_CURSOR_SECRET="shared-secret",
                  AVV_GRANT_CACHE_SECONDS="3600", AVV_ORG_CACHE_SECONDS="3600", AVV_LOG_FORMAT="text",
                  PYTHONUNBUFFERED="1")
    started = time.monotonic()
    instances = [_start("A", shared), _start("B", shared)]
    other_secret = Settings(database_url=url, oidc_issuer=TEST_ISSUER, oidc_audience=TEST_AUDIENCE,
                            dev_key_path=folder / "key.pem", cursor_secret="another-secret", audit_seal_seconds=0)
    verifier = TokenVerifier(StaticKeySource(key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    try:
        with ExitStack() as clients:
            for instance in instances:
                instance.wait_until_ready(started + WAIT_SECONDS)
            print(f"two instances ready in {time.monotonic() - started:.1f} s")
            a, b = (clients.enter_context(httpx.Client(base_url=instance.base, timeout=30)) for instance in instances)
            c = clients.enter_context(TestClient(create_app(other_secret, token_verifier=verifier)))
            yield Service(a, b, c, engine=engine, key=key, instances=instances)
    finally:
        for instance in instances:
            instance.stop()
        engine.dispose()


def _together(*sends: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """The requests from threads released at the same moment; the responses in the order given."""
    start = threading.Barrier(len(sends))

    def one(send: Callable[[], httpx.Response]) -> httpx.Response:
        start.wait()
        return send()

    with ThreadPoolExecutor(max_workers=len(sends)) as pool:
        return list(pool.map(one, sends))


def _within(seconds: float, check: Callable[[], bool]) -> float:
    """Seconds until `check()` held, asking again at once each time; fails after `seconds`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            pytest.fail(f"not within {seconds} s")
    return time.monotonic() - started


def test_one_external_reference_sent_to_both_instances_at_once_is_stored_once(service):
    client = service.headers("client:treserva", Role.integration)
    reporter = {"subject": "u1", "name": "Bo Berg", "title": "Undersköterska"}
    for round_ in range(5):
        body = report_body(external_reference=f"TRE-{round_}", reporter=reporter)
        first, second = _together(partial(service.a.post, REPORTS, json=body, headers=client),
                                  partial(service.b.post, REPORTS, json=body, headers=client))
        assert sorted([first.status_code, second.status_code]) == [200, 201], (first.text, second.text)
        assert first.json()["case_number"] == second.json()["case_number"]  # the replay is the first receipt
    with service.engine.connect() as connection:
        stored = connection.execute(text("SELECT count(*), count(DISTINCT external_reference) FROM report "
                                         "WHERE external_reference LIKE 'TRE-%'")).one()
    assert tuple(stored) == (5, 5)


def test_one_case_closed_on_both_instances_at_once_is_closed_once(service):
    staff = service.headers("anna", Role.reporter)
    investigator = service.headers("ivar", Role.investigator)
    for _ in range(3):
        case_id = service.a.post(REPORTS, json=report_body(), headers=staff).json()["id"]
        assessed = service.b.post(f"{REPORTS}/{case_id}/assessments", headers=investigator, json={
            "types": [{"type": "not_a_deviation"}], "justification": "Gäller regionens hälso- och sjukvård."})
        assert assessed.status_code == 201, assessed.text
        closes = _together(partial(service.a.post, f"{REPORTS}/{case_id}/close", json={}, headers=investigator),
                           partial(service.b.post, f"{REPORTS}/{case_id}/close", json={}, headers=investigator))
        assert sorted(r.status_code for r in closes) == [200, 409], [r.text for r in closes]
        (refused,) = [r for r in closes if r.status_code == 409]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:avvikelser:problem:invalid-transition"
        timeline = service.a.get(f"{REPORTS}/{case_id}/timeline", headers=investigator).json()
        assert [entry["kind"] for entry in timeline] == ["reported", "assess", "close"]


def test_a_grant_revoked_on_one_instance_is_refused_by_the_other_at_once(service):
    admin = service.headers("admin", Role.admin, "*")
    case_id = service.a.post(REPORTS, json=report_body(), headers=service.headers("anna", Role.reporter)).json()["id"]
    granted = service.a.post("/api/v1/grants", headers=admin,
                             json={"subject": "nina", "role": "investigator", "unit_code": "SOC-ALD"})
    assert granted.status_code == 201, granted.text
    nina = service.headers("nina")
    assert service.b.get(f"{REPORTS}/{case_id}/case", headers=nina).status_code == 200  # B now caches her grants

    assert service.a.post(f"/api/v1/grants/{granted.json()['id']}/revoke", headers=admin).status_code == 200
    seconds = _within(NOTICE_SECONDS,
                      lambda: service.b.get(f"{REPORTS}/{case_id}/case", headers=nina).status_code == 404)
    print(f"B refused the revoked grant {seconds * 1000:.0f} ms after A answered the revocation")


def test_a_unit_created_on_one_instance_takes_reports_on_the_other_at_once(service):
    admin = service.headers("admin", Role.admin, "*")
    staff = service.headers("anna", Role.reporter)
    assert service.b.post(REPORTS, json=report_body(), headers=staff).status_code == 201  # B now caches the tree
    units = service.a.get("/api/v1/org-units", headers=admin).json()
    parent = next(unit["id"] for unit in (units["items"] if isinstance(units, dict) else units)
                  if unit["code"] == "SOC-ALD")
    created = service.a.post("/api/v1/org-units", headers=admin, json={
        "code": "SOC-ALD-9", "name": "Hemtjänst Nyby", "kind": "unit", "parent_id": parent,
        "valid_from": "2020-01-01"})
    assert created.status_code == 201, created.text
    seconds = _within(NOTICE_SECONDS, lambda: service.b.post(
        REPORTS, json=report_body(units=["SOC-ALD-9"]), headers=staff).status_code == 201)
    print(f"B took reports for the new unit {seconds * 1000:.0f} ms after A answered its creation")


def test_a_list_cursor_from_one_instance_is_accepted_by_the_other_and_refused_with_another_secret(service):
    staff = service.headers("anna", Role.reporter)
    for _ in range(2):
        assert service.a.post(REPORTS, json=report_body(), headers=staff).status_code == 201
    investigator = service.headers("ivar", Role.investigator)
    first = service.a.get(REPORTS, params={"limit": 1}, headers=investigator).json()
    assert first["next_cursor"]
    second = service.b.get(REPORTS, params={"limit": 1, "cursor": first["next_cursor"]}, headers=investigator)
    assert second.status_code == 200, second.text
    assert [item["id"] for item in second.json()["items"]] != [item["id"] for item in first["items"]]
    refused = service.c.get(REPORTS, params={"limit": 1, "cursor": first["next_cursor"]}, headers=investigator)
    assert refused.status_code == 400, refused.text
    assert refused.headers["content-type"] == "application/problem+json"


def test_a_database_error_in_a_real_server_is_logged_once_without_the_failing_row(service):
    # A rule the database holds and the service's checks missed (made up for the test): PostgreSQL's DETAIL
    # quotes the failing row. The service logs it once (service.errors); it does not escape the app, so
    # uvicorn does not log it again ("Exception in ASGI application").
    with service.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE report ADD CONSTRAINT ck_report_test_refuse "
                                   "CHECK (strpos(description, 'kvällsbesöket') = 0) NOT VALID")  # earlier rows hold it
    try:
        refused = service.a.post(REPORTS, json=report_body(), headers=service.headers("anna", Role.reporter))
    finally:
        with service.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE report DROP CONSTRAINT ck_report_test_refuse")
    assert refused.status_code == 500
    assert refused.headers["x-request-id"]
    (a, *_) = service.instances
    # A later request's access line: whatever uvicorn would log of the failed one is written by then.
    later = r"GET /api/v1/org-units 200 "
    seen = len(re.findall(later, a.read_all()))
    assert service.a.get(ORG_UNITS, headers=service.headers("anna")).status_code == 200
    a.wait_for(later, count=seen + 1)
    summaries = [line for line in a.read_all().splitlines() if line.startswith("database error: ")]
    assert summaries == ["database error: IntegrityError (CheckViolation) sqlstate=23514 "
                         "constraint=ck_report_test_refuse table=report"]
    assert "Exception in ASGI application" not in a.read_all()


def test_the_instances_logged_no_case_content_and_no_token(service):
    for instance in service.instances:
        log = instance.read_all()
        assert offence(log) is None, log
        assert "kvällsbesöket" not in log
