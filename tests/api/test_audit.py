"""The access log through the API: what is logged, refused probes, auditors' queries, log reviews, grants."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient  # tests/api/conftest.py has imported it, quieting its warning
from sqlalchemy import event, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from service import audit
from service.db import make_engine
from service.domain.access import Role
from service.main import create_app
from service.models import AuditRecord
from service.tokens import StaticKeySource, TokenVerifier
from tests.bodies import report_body as report
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER

REPORTS = "/api/v1/reports"
RECORDS = "/api/v1/audit/records"
REVIEWS = "/api/v1/audit/reviews"
GRANTS = "/api/v1/grants"


def logged(db, **where) -> list[AuditRecord]:
    with Session(db) as session:
        query = select(AuditRecord).order_by(col(AuditRecord.id))
        for name, value in where.items():
            query = query.where(getattr(AuditRecord, name) == value)
        return list(session.exec(query).all())


@contextmanager
def access_log_inserts(db) -> Iterator[list[str]]:
    """What the database driver is handed to write access records while the block runs: "one statement" per
    statement executed once (however many rows it inserts), "many statements" per statement it is asked to
    execute once for each of several parameter sets (an executemany: a statement per record)."""
    handed: list[str] = []

    def executed(cursor, statement, parameters, context):
        if statement.startswith("INSERT INTO audit_record"):
            handed.append("one statement")

    def executed_many(cursor, statement, parameters, context):
        if statement.startswith("INSERT INTO audit_record"):
            handed.append("many statements")

    event.listen(db, "do_execute", executed)
    event.listen(db, "do_executemany", executed_many)
    try:
        yield handed
    finally:
        event.remove(db, "do_execute", executed)
        event.remove(db, "do_executemany", executed_many)


def rid(name: str) -> dict[str, str]:
    return {"X-Request-ID": f"req-{name}-0001"}


@pytest.fixture
def auditor(users, org):
    return users.headers(Role.auditor, "*", subject="agda", name="Agda Granskare")


@pytest.fixture
def case_id(client, staff):
    return client.post(REPORTS, json=report(), headers={**staff, **rid("submit")}).json()["id"]


def test_submissions_reads_steps_and_lists_are_logged_with_who_role_case_and_request_id(
        client, db, staff, investigator, case_id):
    (submitted,) = logged(db, action="submit_report")
    assert (submitted.actor_subject, submitted.actor_name, submitted.actor_kind, submitted.acting_roles) == \
        ("anna", "Anna Andersson", "person", "reporter")
    assert (str(submitted.report_id), submitted.outcome, submitted.request_id) == \
        (case_id, "allowed", "req-submit-0001")

    assert client.get(f"{REPORTS}/{case_id}/case", headers={**investigator, **rid("case")}).status_code == 200
    assessment = {"types": [{"type": "other_deviation"}], "justification": "Enligt rutin."}
    assert client.post(f"{REPORTS}/{case_id}/assessments", headers={**investigator, **rid("assess")},
                       json=assessment).status_code == 201
    assert client.get(f"{REPORTS}/{case_id}/timeline", headers={**investigator, **rid("timeline")}).status_code == 200
    assert client.get(f"{REPORTS}/{case_id}", headers={**investigator, **rid("get")}).status_code == 200
    for action, request in [("read_case", "case"), ("step:assess", "assess"), ("read_timeline", "timeline"),
                            ("read_report", "get")]:
        (entry,) = logged(db, action=action)
        assert (entry.actor_subject, entry.acting_roles, str(entry.report_id), entry.outcome, entry.request_id) == \
            ("ivar", "investigator", case_id, "allowed", f"req-{request}-0001"), action

    other_id = client.post(REPORTS, json=report(units=["SOC-ALD-2"]), headers=staff).json()["id"]
    with access_log_inserts(db) as inserts:
        assert len(client.get(REPORTS, headers={**investigator, **rid("list")}).json()["items"]) == 2
    assert inserts == ["one statement"]  # for the whole page
    listed = logged(db, action="list_cases")
    assert {str(entry.report_id) for entry in listed} == {case_id, other_id}
    assert {entry.request_id for entry in listed} == {"req-list-0001"}

    assert client.get(f"{REPORTS}/{case_id}", headers=staff).json()["access"] == "receipt"
    assert logged(db, action="read_report", actor_subject="anna")[0].detail == "receipt only"


def test_a_page_of_a_listing_writes_all_its_access_records_in_one_insert_statement(client, db, staff, investigator):
    ids = {client.post(REPORTS, json=report(), headers=staff).json()["id"] for _ in range(7)}
    with access_log_inserts(db) as inserts:
        page = client.get(REPORTS, params={"limit": 5}, headers={**investigator, **rid("page")}).json()
    assert inserts == ["one statement"]
    listed = logged(db, action="list_cases", request_id="req-page-0001")
    assert [str(entry.report_id) for entry in listed] == [item["id"] for item in page["items"]]
    assert len(listed) == 5 and {entry.report_id for entry in listed} <= {uuid.UUID(i) for i in ids}

    with access_log_inserts(db) as inserts:  # the last page, and a search that finds nothing
        rest = client.get(REPORTS, params={"cursor": page["next_cursor"]}, headers=investigator).json()["items"]
        assert client.get(REPORTS, params={"q": "finns inte"}, headers=investigator).json()["items"] == []
    assert len(rest) == 2 and inserts == ["one statement", "one statement"]


def test_a_read_holds_no_write_lock_on_sqlite_and_its_record_is_committed_before_the_answer(
        client, db, staff, investigator):
    report_id = client.post(REPORTS, json=report(), headers=staff).json()["id"]
    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()[:2]) if statement.startswith("BEGIN") else statement.split()[0])

    event.listen(db, "before_cursor_execute", note)
    try:
        answer = client.get(f"{REPORTS}/{report_id}", headers={**investigator, **rid("lockfree")})
    finally:
        event.remove(db, "before_cursor_execute", note)
    assert answer.status_code == 200
    if db.dialect.name == "sqlite":
        # The read (and the caller's grants, unless cached) in deferred transactions (snapshots; WAL lets them
        # run beside a writer), then the access record in a short write transaction of its own: the one
        # write lock is held for the INSERT only.
        assert set(sent[:-2]) == {"BEGIN", "SELECT"} and sent[-2:] == ["BEGIN IMMEDIATE", "INSERT"]
    else:  # PostgreSQL's readers never wait for writers: the record is committed with the read
        assert set(sent[:-1]) == {"SELECT"} and sent[-1] == "INSERT"
    assert [entry.report_id for entry in logged(db, action="read_report", request_id="req-lockfree-0001")] == \
        [uuid.UUID(report_id)]


def test_the_deadline_list_is_logged_per_case_and_so_are_empty_and_refused_ones(
        client, db, users, staff, investigator, case_id):
    # Its kinds tell the assessment: an IMY deadline says the case is a personal-data incident.
    incident = {"types": [{"type": "personal_data_incident", "incident_risk": "risk"}], "justification": "Fel adress."}
    assert client.post(f"{REPORTS}/{case_id}/assessments", headers=investigator, json=incident).status_code == 201
    other_id = client.post(REPORTS, json=report(units=["SOC-ALD-2"]), headers=staff).json()["id"]
    assert client.post(f"{REPORTS}/{other_id}/assessments", headers=investigator, json=incident).status_code == 201
    due = client.get("/api/v1/deadlines", headers={**investigator, **rid("due")}).json()
    assert "imy_notification" in {item["kind"] for item in due}
    listed = logged(db, action="list_deadlines")
    assert sorted((str(e.report_id), e.actor_subject, e.acting_roles, e.outcome, e.request_id) for e in listed) == \
        sorted((case, "ivar", "investigator", "allowed", "req-due-0001") for case in (case_id, other_id))

    # A unit manager whose units have nothing due: the look is logged all the same.
    sibling = users.headers(Role.unit_manager, "SOC-ALD-3", subject="sune")
    assert client.get("/api/v1/deadlines", headers=sibling).json() == []
    assert [(e.report_id, e.outcome, e.detail) for e in logged(db, action="list_deadlines", actor_subject="sune")] \
        == [(None, "allowed", "no hits")]

    # A reporter may not read any case: an empty answer, as for anyone, and a refusal in the log.
    assert client.get("/api/v1/deadlines", headers={**staff, **rid("probe")}).json() == []
    (refused,) = logged(db, action="list_deadlines", actor_subject="anna")
    assert (refused.outcome, refused.acting_roles, refused.report_id, refused.request_id) == \
        ("denied", "reporter", None, "req-probe-0001")


def test_a_replayed_submission_is_logged_as_a_replay(client, db, users, org):
    treserva = users.headers(Role.integration, "SOC", subject="client:treserva", name="Treserva")
    body = report(external_reference="T-1", reporter={"subject": "anna", "name": "Anna Andersson"})
    first = client.post(REPORTS, json=body, headers=treserva)
    again = client.post(REPORTS, json=body, headers=treserva)
    assert (first.status_code, again.status_code) == (201, 200)
    actions = [(entry.action, entry.actor_kind, str(entry.report_id)) for entry in logged(db)]
    report_id = first.json()["id"]
    assert actions == [("submit_report", "system", report_id), ("submit_report_replay", "system", report_id)]


def test_a_reporter_probing_someone_elses_case_gets_404_and_is_logged(client, db, users, case_id):
    bo = users.headers(Role.reporter, "SOC", subject="bo")
    for path, action in [("", "read_report"), ("/case", "read_case"), ("/timeline", "read_timeline")]:
        assert client.get(f"{REPORTS}/{case_id}{path}", headers={**bo, **rid("probe")}).status_code == 404
        (entry,) = logged(db, actor_subject="bo", action=action)
        assert (entry.outcome, str(entry.report_id), entry.acting_roles, entry.request_id) == \
            ("denied", case_id, "reporter", "req-probe-0001")
    missing = uuid.uuid4()
    assert client.get(f"{REPORTS}/{missing}/case", headers=bo).status_code == 404
    assert logged(db, actor_subject="bo", report_id=missing)[0].outcome == "denied"


def test_a_unit_manager_trying_a_sibling_units_case_gets_404_and_is_logged(client, db, users, case_id):
    sibling = users.headers(Role.unit_manager, "SOC-ALD-2", subject="sune")
    assert client.get(f"{REPORTS}/{case_id}/case", headers=sibling).status_code == 404
    assert client.post(f"{REPORTS}/{case_id}/assessments", headers=sibling,
                       json={"types": [{"type": "other_deviation"}], "justification": "x"}).status_code == 404
    assert [(e.action, e.outcome, str(e.report_id)) for e in logged(db, actor_subject="sune")] == \
        [("read_case", "denied", case_id), ("step:assess", "denied", case_id)]


def test_a_role_without_the_step_gets_403_and_is_logged_in_its_role_on_the_case(client, db, users, case_id):
    decider = users.headers(Role.decision_maker, "SOC", subject="dora")
    assert client.post(f"{REPORTS}/{case_id}/assessments", headers=decider,
                       json={"types": [{"type": "other_deviation"}], "justification": "x"}).status_code == 403
    (entry,) = logged(db, actor_subject="dora")
    assert (entry.action, entry.outcome, entry.acting_roles) == ("step:assess", "denied", "decision_maker")


def test_a_submission_for_an_enhet_outside_ones_grants_is_refused_and_logged(client, db, users, org):
    local = users.headers(Role.reporter, "SOC-ALD-1", subject="carl")
    assert client.post(REPORTS, json=report(units=["SOC-IFO-1"]), headers=local).status_code == 403
    (entry,) = logged(db, actor_subject="carl")
    assert (entry.action, entry.outcome, entry.report_id) == ("submit_report", "denied", None)


def test_an_integration_client_trying_a_case_it_did_not_submit_is_logged_as_a_system(client, db, users, case_id):
    lifecare = users.headers(Role.integration, "SOC", subject="client:lifecare", name="Lifecare")
    assert client.get(f"{REPORTS}/{case_id}", headers=lifecare).status_code == 404
    assert client.get(f"{REPORTS}/{case_id}/case", headers=lifecare).status_code == 404
    entries = logged(db, actor_subject="client:lifecare")
    assert [(e.action, e.outcome, e.actor_kind, str(e.report_id)) for e in entries] == \
        [("read_report", "denied", "system", case_id), ("read_case", "denied", "system", case_id)]


def test_the_auditor_queries_per_user_per_case_and_per_period(client, db, users, staff, investigator, auditor,
                                                             case_id):
    other_id = client.post(REPORTS, json=report(units=["SOC-FUN-1"]), headers=staff).json()["id"]
    client.get(f"{REPORTS}/{case_id}/case", headers=investigator)
    middle = datetime.now(UTC)
    client.get(f"{REPORTS}/{other_id}/timeline", headers=investigator)
    client.get(f"{REPORTS}/{case_id}/timeline", headers=users.headers(Role.reporter, "SOC", subject="bo"))

    def query(**params):
        response = client.get(RECORDS, params=params, headers=auditor)
        assert response.status_code == 200, response.text
        return [(e["actor_subject"], e["action"], e["report_id"]) for e in response.json()["items"]]

    assert query(subject="ivar") == [("ivar", "read_case", case_id), ("ivar", "read_timeline", other_id)]
    assert query(report_id=case_id) == [("anna", "submit_report", case_id), ("ivar", "read_case", case_id),
                                        ("bo", "read_timeline", case_id)]
    assert query(**{"from": middle.isoformat(), "subject": "ivar"}) == [("ivar", "read_timeline", other_id)]
    assert query(to=middle.isoformat(), report_id=other_id) == [("anna", "submit_report", other_id)]
    assert query(outcome="denied") == [("bo", "read_timeline", case_id)]
    denied = client.get(RECORDS, params={"outcome": "denied"}, headers=auditor).json()["items"][0]
    assert denied["acting_roles"] == ["reporter"] and denied["chain_seq"] is None

    first = client.get(RECORDS, params={"subject": "ivar", "limit": 1}, headers=auditor).json()
    rest = client.get(RECORDS, params={"subject": "ivar", "limit": 1, "cursor": first["next_cursor"]},
                      headers=auditor).json()
    assert [e["action"] for e in first["items"] + rest["items"]] == ["read_case", "read_timeline"]
    assert rest["next_cursor"] is None
    # The auditor's own reading is on the case's record too, for the next auditor to see.
    assert query(report_id=case_id, subject="agda")[0] == ("agda", "read_audit_log", case_id)
    assert client.get(RECORDS, params={"cursor": "12.forged"}, headers=auditor).status_code == 400
    assert client.get(RECORDS, params={"from": "2026-03-10T09:00:00"}, headers=auditor).status_code == 422

    reads = logged(db, actor_subject="agda", action="read_audit_log")
    assert len(reads) >= 7 and reads[1].report_id == uuid.UUID(case_id)
    assert reads[1].detail == "filters: report_id; 3 records"


def test_an_auditor_on_a_unit_sees_the_records_about_its_cases_only(client, db, users, staff, investigator,
                                                                   case_id):
    other_id = client.post(REPORTS, json=report(units=["SOC-FUN-1"]), headers=staff).json()["id"]
    client.get(f"{REPORTS}/{other_id}/case", headers=investigator)
    local = users.headers(Role.auditor, "SOC-FUN", subject="frida")
    items = client.get(RECORDS, headers=local).json()["items"]
    assert {e["report_id"] for e in items} == {other_id}
    assert [e["action"] for e in items] == ["submit_report", "read_case"]


def test_reading_the_log_needs_the_auditor_role_and_a_refusal_is_logged(client, db, investigator, case_id):
    assert client.get(RECORDS, headers=investigator).status_code == 403
    assert client.get(REVIEWS, headers=investigator).status_code == 403
    assert [(e.action, e.outcome) for e in logged(db, actor_subject="ivar")] == \
        [("read_audit_log", "denied"), ("read_log_reviews", "denied")]


def test_log_reviews_are_recorded_and_listed(client, db, users, auditor, case_id, clock):
    body = {"period_from": "2026-03-01T00:00:00Z", "period_to": "2026-03-10T00:00:00Z", "subject_filter": "ivar",
            "report_filter": case_id, "result": "Stickprov: alla läsningar hade stöd i ärendet."}
    made = client.post(REVIEWS, json=body, headers=auditor)
    assert made.status_code == 201, made.text
    review = made.json()
    assert (review["reviewer_subject"], review["reviewer_name"], review["reviewed_at"]) == \
        ("agda", "Agda Granskare", "2026-03-10T09:00:00Z")
    assert (review["subject_filter"], review["report_filter"], review["result"]) == \
        ("ivar", case_id, body["result"])
    local = users.headers(Role.auditor, "SOC-ALD", subject="frida")
    client.post(REVIEWS, json={**body, "subject_filter": None, "report_filter": None, "result": "Inga avvikelser."},
                headers=local)
    assert [r["reviewer_subject"] for r in client.get(REVIEWS, headers=auditor).json()["items"]] == ["agda", "frida"]
    assert [r["reviewer_subject"] for r in client.get(REVIEWS, headers=local).json()["items"]] == ["frida"]
    wrong_way = client.post(REVIEWS, json={**body, "period_to": "2026-02-01T00:00:00Z"}, headers=auditor)
    assert wrong_way.status_code == 422 and wrong_way.json()["errors"][0]["pointer"] == "/period_to"
    (entry,) = logged(db, actor_subject="agda", action="record_log_review")
    assert str(entry.report_id) == case_id and entry.detail == f"log review {review['id']}"


def test_grants_are_given_and_revoked_through_the_api_at_once_and_audited(client, db, users, admin, case_id):
    client.app.state.grant_cache.seconds = 60  # as in production: the change must clear it
    nina = {"Authorization": f"Bearer {users.token('nina', 'Nina')}"}
    assert client.get(f"{REPORTS}/{case_id}/case", headers=nina).status_code == 404
    given = client.post(GRANTS, json={"subject": "nina", "role": "investigator", "unit_code": "SOC-ALD-1",
                                      "reference": "BRA-2026-07"}, headers=admin)
    assert given.status_code == 201, given.text
    grant = given.json()
    assert (grant["unit_code"], grant["reference"], grant["granted_by"], grant["active"]) == \
        ("SOC-ALD-1", "BRA-2026-07", "admin", True)
    assert client.get(f"{REPORTS}/{case_id}/case", headers=nina).status_code == 200

    listed = client.get(GRANTS, params={"subject": "nina"}, headers=admin).json()["items"]
    assert [(g["id"], g["role"], g["active"]) for g in listed] == [(grant["id"], "investigator", True)]
    revoked = client.post(f"{GRANTS}/{grant['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "admin"
    assert client.get(f"{REPORTS}/{case_id}/case", headers=nina).status_code == 404
    assert client.post(f"{GRANTS}/{grant['id']}/revoke", headers=admin).status_code == 409
    assert client.get(GRANTS, params={"subject": "nina"}, headers=admin).json()["items"][0]["active"] is False

    changes = [(e.action, e.outcome, e.actor_subject, e.detail) for e in logged(db, actor_subject="admin")
               if e.action in ("grant_role", "revoke_role")]
    assert changes == [
        ("grant_role", "allowed", "admin", f"grant {grant['id']}: investigator on SOC-ALD-1; reference: BRA-2026-07"),
        ("revoke_role", "allowed", "admin", f"grant {grant['id']}: investigator on SOC-ALD-1"),
    ]


def test_where_tokens_carry_the_roles_grants_cannot_be_stored_to_no_effect(client, settings, db, users, admin, org):
    """With AVV_GRANT_SOURCE=token a stored grant would change nothing: say so instead of answering 201."""
    stored = client.post(GRANTS, json={"subject": "nina", "role": "investigator", "unit_code": "SOC-ALD-1"},
                         headers=admin).json()
    settings.grant_source = "token"
    idp_admin = {"Authorization": f"Bearer {users.token('idp-admin', grants=[{'role': 'admin', 'unit': '*'}])}"}
    given = client.post(GRANTS, json={"subject": "olle", "role": "investigator", "unit_code": "SOC-ALD-1"},
                        headers=idp_admin)
    assert given.status_code == 409
    assert given.headers["content-type"] == "application/problem+json"
    assert "identity provider" in given.json()["detail"]
    assert client.post(f"{GRANTS}/{stored['id']}/revoke", headers=idp_admin).status_code == 409
    reporter = {"Authorization": f"Bearer {users.token('rita', grants=[{'role': 'reporter', 'unit': '*'}])}"}
    assert client.post(GRANTS, json={"subject": "olle", "role": "investigator", "unit_code": "SOC-ALD-1"},
                       headers=reporter).status_code == 403  # who may not manage grants still hears 403
    with db.connect() as connection:
        subjects = connection.execute(text("SELECT subject, revoked_at FROM role_grant WHERE subject IN "
                                           "('nina', 'olle')")).all()
    assert subjects == [("nina", None)]


@pytest.mark.parametrize(("body", "pointer"), [
    ({"subject": "nina", "role": "overlord", "unit_code": "SOC"}, "/role"),
    ({"subject": "nina", "role": "investigator", "unit_code": "NOPE"}, "/unit_code"),
    ({"subject": "", "role": "investigator", "unit_code": "SOC"}, "/subject"),
])
def test_unknown_roles_and_units_are_refused_naming_the_field(client, admin, org, body, pointer):
    response = client.post(GRANTS, json=body, headers=admin)
    assert response.status_code == 422
    assert pointer in [error["pointer"] for error in response.json()["errors"]]


def test_an_avdelning_admin_grants_inside_it_only(client, db, users, admin, org):
    local = users.headers(Role.admin, "SOC-ALD", subject="alva")
    inside = client.post(GRANTS, json={"subject": "nina", "role": "unit_manager", "unit_code": "SOC-ALD-2"},
                         headers=local)
    assert inside.status_code == 201
    for unit in ("SOC-IFO-1", "SOC", "*"):
        assert client.post(GRANTS, json={"subject": "nina", "role": "unit_manager", "unit_code": unit},
                           headers=local).status_code == 403, unit
    assert client.post(GRANTS, json={"subject": "alva", "role": "investigator", "unit_code": "SOC-ALD-1"},
                       headers=local).status_code == 403  # not to oneself
    elsewhere = client.post(GRANTS, json={"subject": "olle", "role": "reporter", "unit_code": "SOC-IFO-1"},
                            headers=admin).json()
    assert client.post(f"{GRANTS}/{elsewhere['id']}/revoke", headers=local).status_code == 403
    seen = {g["unit_code"] for g in client.get(GRANTS, headers=local).json()["items"]}
    assert seen == {"SOC-ALD", "SOC-ALD-2"}
    refusals = [(e.action, e.detail) for e in logged(db, actor_subject="alva", outcome="denied")]
    assert refusals[0] == ("grant_role", "unit_manager on SOC-IFO-1: outside the caller's manage_grants scope")
    assert [action for action, _ in refusals] == ["grant_role"] * 4 + ["revoke_role"]
    assert client.get(GRANTS, headers=users.headers(Role.investigator, "SOC")).status_code == 403


def test_records_written_through_the_api_seal_and_verify(client, db, investigator, case_id):
    client.get(f"{REPORTS}/{case_id}/case", headers=investigator)
    with Session(db) as session:
        assert audit.seal_all(session, datetime.now(UTC) + timedelta(minutes=1)) == 2
        assert audit.verify(session) is None


def test_the_app_seals_in_the_background_while_it_runs(settings, db, clock, dev_key, users, org, monkeypatch):
    monkeypatch.setattr(audit, "SETTLE", timedelta(0))
    verifier = TokenVerifier(StaticKeySource(dev_key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    app = create_app(settings.model_copy(update={"audit_seal_seconds": 0.05}), engine=db, clock=clock,
                     token_verifier=verifier)
    with TestClient(app) as running:
        running.get(f"{REPORTS}/{uuid.uuid4()}", headers=users.headers(Role.investigator, "SOC"))
        deadline = time.monotonic() + 10
        while logged(db)[0].chain_seq is None and time.monotonic() < deadline:
            time.sleep(0.05)
        sealer = next(thread for thread in threading.enumerate() if thread.name == "audit-sealer")
    assert logged(db)[0].chain_seq == 1
    assert not sealer.is_alive()  # stopped with the app


APP_ROLE_SQL = Path(__file__).resolve().parents[2] / "docs" / "postgresql-app-role.sql"


@pytest.fixture
def app_role(db, database_url):
    """An engine connected as the service's own role, set up as README.md tells production to: not a
    superuser, owning nothing, with the grants of docs/postgresql-app-role.sql."""
    name = f"avv_app_{uuid.uuid4().hex[:10]}"  # roles are the server's, shared by every test database
    statements = [statement.strip() for statement in "\n".join(
        line for line in APP_ROLE_SQL.read_text().splitlines() if not line.startswith("--")).split(";")]
    with db.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        for statement in filter(None, statements):
            connection.execute(text(statement.replace("avvikelser_app", f'"{name}"')))
    engine = make_engine(make_url(database_url).set(username=name).render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        with db.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{name}"'))  # its grants in this database
            connection.execute(text(f'DROP ROLE "{name}"'))


@pytest.mark.postgres
def test_the_service_as_its_own_role_appends_and_seals_the_log_and_can_change_nothing_in_it(
        settings, db, clock, dev_key, users, org, app_role):
    verifier = TokenVerifier(StaticKeySource(dev_key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    staff = users.headers(Role.reporter, "SOC", subject="anna")
    investigator = users.headers(Role.investigator, "SOC", subject="ivar")
    with TestClient(create_app(settings, engine=app_role, clock=clock, token_verifier=verifier)) as service:
        case_id = service.post(REPORTS, json=report(), headers=staff).json()["id"]
        assessment = {"types": [{"type": "other_deviation"}], "justification": "Enligt rutin."}
        assert service.post(f"{REPORTS}/{case_id}/assessments", json=assessment,
                            headers=investigator).status_code == 201
        assert service.get(f"{REPORTS}/{case_id}/timeline", headers=investigator).status_code == 200
        assert service.get(f"{REPORTS}/{uuid.uuid4()}", headers=staff).status_code == 404  # a refusal, logged
    with Session(app_role) as session:  # the sealer, as the service runs it
        assert audit.seal_all(session, datetime.now(UTC) + timedelta(minutes=1)) == 4
        assert audit.verify(session) is None
    sealed = logged(db)[0]
    for statement in [
        f"UPDATE audit_record SET actor_subject = 'someone-else' WHERE id = {sealed.id}",
        f"UPDATE audit_record SET hash = repeat('0', 64) WHERE id = {sealed.id}",  # a seal set once stays
        f"UPDATE audit_record SET chain_seq = NULL, prev_hash = NULL, hash = NULL WHERE id = {sealed.id}",
        f"DELETE FROM audit_record WHERE id = {sealed.id}",
        "TRUNCATE audit_record",
        "ALTER TABLE audit_record DISABLE TRIGGER audit_record_append_only",  # only the owner may
        "SET session_replication_role = replica",  # only a superuser may
    ]:
        with pytest.raises(DBAPIError, match=r"append-only|permission denied|must be owner"), \
                app_role.begin() as connection:
            connection.execute(text(statement))
    assert next((r.id, r.actor_subject, r.hash) for r in logged(db)) == (sealed.id, sealed.actor_subject, sealed.hash)
    assert len(logged(db)) == 4
