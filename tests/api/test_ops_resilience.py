"""Resilience: the identity provider down at start, PostgreSQL stopped and started under load."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from service.db import make_engine
from service.demo import DEMO_ORGANISATION
from service.domain.access import Role
from service.main import create_app
from service.migrate import upgrade
from service.tokens import StaticKeySource, TokenVerifier
from tests.bodies import report_body
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER
from tests.pgserver import ThrowawayPostgres


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_jwks(port: int, jwks: dict) -> ThreadingHTTPServer:
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_service_starts_while_the_idp_is_down_and_verifies_once_it_is_up(settings, db, clock, users, dev_key,
                                                                              caplog):
    caplog.set_level(logging.INFO, logger="service")
    port = _closed_port()
    oidc = settings.model_copy(update={"auth_mode": "oidc", "oidc_jwks_url": f"http://127.0.0.1:{port}/jwks"})
    app = create_app(oidc, engine=db, clock=clock)  # builds its verifier from the settings: nothing fetched yet
    headers = users.headers(Role.reporter, "*", subject="rut")
    with TestClient(app, raise_server_exceptions=False) as client:
        refused = client.get("/api/v1/org-units", headers=headers)
        assert refused.status_code == 401 and refused.headers["content-type"] == "application/problem+json"
        assert any(r.name == "service.auth" and r.getMessage() == "token refused: jwks_unavailable"
                   for r in caplog.records)
        assert any(r.name == "service.tokens" and r.getMessage().startswith("jwks_unavailable")
                   for r in caplog.records)
        server = _serve_jwks(port, dev_key.public_jwks())
        try:
            deadline = time.monotonic() + 15
            while (status := client.get("/api/v1/org-units", headers=headers).status_code) == 401:
                assert time.monotonic() < deadline, "never verified after the IdP came up"
                time.sleep(0.2)
            assert status == 200
        finally:
            server.shutdown()
            server.server_close()


@pytest.mark.postgres
def test_postgresql_stopped_and_started_under_load_gives_503_then_recovers_losing_no_acknowledged_write(
        settings, clock, dev_key):
    from tests.api.conftest import Users

    postgres = ThrowawayPostgres()
    url = postgres.init()
    try:
        upgrade(url)
        engine = make_engine(url)
        users = Users(engine, dev_key, clock)
        verifier = TokenVerifier(StaticKeySource(dev_key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
        app = create_app(settings.model_copy(update={"database_url": url}), engine=engine, clock=clock,
                         token_verifier=verifier)
        with TestClient(app, raise_server_exceptions=False) as client:
            admin = users.headers(Role.admin, "*", subject="admin")
            rows = [{"code": code, "name": name, "kind": kind.value, "parent_code": parent, "valid_from": "2020-01-01"}
                    for code, name, kind, parent in DEMO_ORGANISATION]
            assert client.post("/api/v1/org-units/import", json={"units": rows}, headers=admin).status_code == 200
            reporter = users.headers(Role.reporter, "*", subject="rut")
            acknowledged: list[str] = []
            statuses: list[int] = []
            bad: list[str] = []
            stop = threading.Event()

            def write() -> None:
                while not stop.is_set():
                    response = client.post("/api/v1/reports", json=report_body(), headers=reporter)
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        acknowledged.append(response.json()["id"])
                    elif response.status_code == 503:
                        if (response.headers["content-type"] != "application/problem+json"
                                or "retry-after" not in response.headers):
                            bad.append(response.text)
                        time.sleep(0.05)
                    else:
                        bad.append(f"{response.status_code} {response.text}")

            writers = [threading.Thread(target=write) for _ in range(3)]
            for writer in writers:
                writer.start()
            time.sleep(1.0)
            before = len(acknowledged)
            postgres.stop()
            time.sleep(1.0)
            assert client.get("/readyz").status_code == 503
            postgres.start()
            deadline = time.monotonic() + 15
            while len(acknowledged) < before + 5:
                assert time.monotonic() < deadline, "no writes acknowledged after PostgreSQL came back"
                time.sleep(0.1)
            stop.set()
            for writer in writers:
                writer.join(timeout=30)
            assert client.get("/readyz").status_code == 200
        assert not bad, bad[:3]
        assert 503 in statuses and before > 0
        with engine.connect() as connection:
            stored = {str(row[0]) for row in connection.execute(text("SELECT id FROM report"))}
        assert {str(uuid.UUID(i)) for i in acknowledged} <= stored
        engine.dispose()
    finally:
        postgres.remove()
