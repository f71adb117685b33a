"""Operations: the access line and request context on every record, the JSON format, the log check
itself, and the Prometheus metrics (README, "Running it in production")."""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
import uuid

import pytest
from sqlmodel import Session

from service.api.middleware import UnhandledErrorMiddleware
from service.logs import JsonFormatter, RequestContextFilter
from service.main import create_app
from service.metrics import app_registry
from service.models import CaseDeadline
from tests.bodies import report_body
from tests.logcheck import LeakCatcher, offence


def _json_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    formatter, context = JsonFormatter(), RequestContextFilter()
    lines = []
    for record in caplog.records:
        context.filter(record)
        lines.append(json.loads(formatter.format(record)))
    return lines


def test_every_request_has_one_access_line_by_route_template_with_its_id_and_subject(client, staff, caplog):
    caplog.set_level(logging.INFO, logger="service")
    created = client.post("/api/v1/reports", json=report_body(), headers={**staff, "X-Request-ID": "req-abcdef-1"})
    assert created.status_code == 201, created.text
    report_id = created.json()["id"]
    caplog.clear()
    got = client.get(f"/api/v1/reports/{report_id}", headers={**staff, "X-Request-ID": "req-abcdef-2"})
    assert got.status_code == 200
    lines = _json_lines(caplog)
    access = [line for line in lines if line["logger"] == "service.access"]
    assert len(access) == 1
    line = access[0]
    assert line["method"] == "GET" and line["status"] == 200 and line["route"] == "/api/v1/reports/{report_id}"
    assert line["request_id"] == "req-abcdef-2" and line["subject"] == "anna"
    assert isinstance(line["duration_ms"], float) and line["time"].endswith("+00:00")
    assert report_id not in json.dumps(lines)  # the id in the path is not logged
    assert all(line["request_id"] == "req-abcdef-2" for line in lines)  # every line of the request


def test_refusals_are_logged_with_their_reason(client, caplog):
    caplog.set_level(logging.INFO, logger="service")
    assert client.get("/api/v1/org-units").status_code == 401
    assert client.get("/api/v1/org-units", headers={"Authorization": "Bearer x.y.z"}).status_code == 401
    messages = [(record.name, record.getMessage()) for record in caplog.records]
    assert ("service.errors", "refused 401 unauthenticated: A bearer token is required.") in messages
    assert ("service.auth", "token refused: malformed") in messages
    access = [m for name, m in messages if name == "service.access"]
    assert len(access) == 2 and all(m.startswith("GET /api/v1/org-units 401 ") for m in access)


def test_a_403_is_logged_with_its_reason(client, staff, caplog):
    caplog.set_level(logging.INFO, logger="service")
    assert client.get("/api/v1/audit/records", headers=staff).status_code == 403
    assert any(record.name == "service.errors" and record.getMessage().startswith("refused 403 forbidden:")
               for record in caplog.records)


def test_the_log_check_finds_case_content_and_tokens(dev_key):
    catcher = LeakCatcher()
    logger = logging.getLogger("tests.logcheck.probe")
    logger.addHandler(catcher)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        logger.info("nothing to see")
        logger.info("saved %s", report_body()["description"])
        logger.warning("header was %s", "Bearer " + dev_key.mint({"sub": "x"}, issuer="i", audience="a"))
    finally:
        logger.removeHandler(catcher)
    assert catcher.seen == 3 and len(catcher.leaks) == 2
    assert offence("Treserva-88123") and offence("GET /api/v1/reports/{report_id} 200") is None


def _sample(registry, name: str, labels: dict[str, str] | None = None) -> float | None:
    return registry.get_sample_value(name, labels or {})


def test_metrics_count_requests_by_route_and_read_the_database(client, staff, settings, db, clock):
    created = client.post("/api/v1/reports", json=report_body(), headers=staff)
    assert created.status_code == 201
    registry = client.app.state.metrics_registry
    labels = {"method": "POST", "route": "/api/v1/reports", "status": "201"}
    assert _sample(registry, "avv_http_request_duration_seconds_count", labels) >= 1
    client.get("/api/v1/reports/00000000-0000-0000-0000-000000000000/nothing-here", headers=staff)
    assert _sample(registry, "avv_http_request_duration_seconds_count",
                   {"method": "GET", "route": "unmatched", "status": "404"}) >= 1

    with Session(db) as session:
        session.add(CaseDeadline(report_id=uuid.UUID(created.json()["id"]), kind="ivo_notification",
                                 due_at=clock.now.replace(year=2025)))
        session.commit()
    fresh = app_registry(db, clock, cache_seconds=0)  # the app's own caches a few seconds
    assert _sample(fresh, "avv_db_up") == 1
    assert _sample(fresh, "avv_deadlines_overdue", {"kind": "ivo_notification"}) >= 1
    assert _sample(fresh, "avv_audit_unsealed_records") >= 1  # intake is logged, nothing sealed (sealer off)
    assert _sample(fresh, "avv_audit_seal_lag_seconds") >= 0
    assert _sample(fresh, "avv_db_pool_checked_out") is not None


def test_metrics_are_served_on_their_own_port_only(settings, db, clock):
    from fastapi.testclient import TestClient

    app = create_app(settings.model_copy(update={"metrics_port": 0, "metrics_host": "127.0.0.1"}),
                     engine=db, clock=clock)
    with TestClient(app) as client:
        port = app.state.metrics_server.server_address[1]
        client.get("/healthz")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'avv_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}' in text
        assert "avv_db_up 1.0" in text
        assert client.get("/metrics").status_code == 404  # never on the API's listener


@pytest.fixture
def intake_the_database_refuses(db):
    """A rule the database holds and the checks before it missed (one made up for the test): a report whose
    description holds 'kvällsbesöket', as the shared body's does, fails at its INSERT, an error no handler
    takes. PostgreSQL's DETAIL quotes the failing row; SQLite's messages name columns only (its RAISE takes
    no expression)."""
    if db.dialect.name == "postgresql":
        add = "ALTER TABLE report ADD CONSTRAINT ck_report_test_refuse CHECK (strpos(description, 'kvällsbesöket') = 0)"
        drop = "ALTER TABLE report DROP CONSTRAINT ck_report_test_refuse"
    else:
        add = ("CREATE TRIGGER test_refuse BEFORE INSERT ON report WHEN instr(NEW.description, 'kvällsbesöket') > 0 "
               "BEGIN SELECT RAISE(ABORT, 'refused'); END")
        drop = "DROP TRIGGER test_refuse"
    with db.begin() as connection:
        connection.exec_driver_sql(add)
    yield
    with db.begin() as connection:
        connection.exec_driver_sql(drop)


def test_an_unhandled_error_is_answered_and_logged_once_with_the_request_id(client, staff, caplog,
                                                                           intake_the_database_refuses):
    caplog.set_level(logging.INFO, logger="service")
    refused = client.post("/api/v1/reports", json=report_body(), headers={**staff, "X-Request-ID": "req-failed-01"})
    assert refused.status_code == 500
    assert refused.headers["content-type"] == "application/problem+json"
    # The id the client can quote to whoever reads the log, and the headers every answer has.
    assert refused.headers["x-request-id"] == "req-failed-01"
    assert refused.headers["x-content-type-options"] == "nosniff"
    lines = _json_lines(caplog)
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert error["logger"] == "service.errors" and error["request_id"] == "req-failed-01"
    assert error["route"] == "/api/v1/reports" and error["subject"] == "anna"
    (access,) = [line for line in lines if line["logger"] == "service.access"]
    assert access["status"] == 500 and access["request_id"] == "req-failed-01"


def test_an_error_after_the_answer_began_is_logged_once_and_breaks_off_the_response(caplog):
    # A streamed answer (an export, say) that fails midway cannot become a 500: the status is sent. The error
    # goes on to the server, which ends the connection, so the client cannot take half an answer for whole.
    async def failing_midway(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first;rows\n", "more_body": True})
        raise RuntimeError("the export failed")

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    caplog.set_level(logging.INFO, logger="service")
    scope = {"type": "http", "method": "GET", "path": "/export", "headers": [], "query_string": b""}
    with pytest.raises(RuntimeError, match="the export failed"):
        asyncio.run(UnhandledErrorMiddleware(failing_midway)(scope, receive, send))
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    (record,) = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert record.name == "service.errors" and record.getMessage() == "error after the answer began on GET /export"


def test_a_database_error_is_logged_with_its_sqlstate_and_names_never_the_failing_row(client, staff, db, caplog,
                                                                                     intake_the_database_refuses):
    description = report_body()["description"]
    caplog.set_level(logging.INFO, logger="service")
    refused = client.post("/api/v1/reports", json=report_body(), headers=staff)
    assert refused.status_code == 500
    assert refused.headers["content-type"] == "application/problem+json"
    (record,) = [record for record in caplog.records if record.name == "service.errors"]
    assert record.exc_info is None  # no handler of the log can print the driver's message from it
    line = json.dumps(_json_lines(caplog), ensure_ascii=False)
    assert description not in line and "kvällsbesöket" not in line
    assert offence(line) is None
    message = record.getMessage()
    assert message.startswith("unhandled database error on POST /api/v1/reports\nTraceback")
    if db.dialect.name == "postgresql":
        assert message.endswith("database error: IntegrityError (CheckViolation) sqlstate=23514 "
                                "constraint=ck_report_test_refuse table=report"), message
    else:
        assert message.endswith("database error: IntegrityError sqlite=SQLITE_CONSTRAINT_TRIGGER"), message
