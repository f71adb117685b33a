"""The body limit counts the bytes that arrive, whatever the headers claim, on a real server and in-process.

Attacks from outside testing: `Content-Length: 10` with `Transfer-Encoding: chunked` let a 3 MB report be
stored; a body longer than its Content-Length was read whole. And a POST without any body headers, which
HTTP says has an empty body (curl sends one to .../revoke), was refused as the wrong media type.

The real server is uvicorn (the one the Dockerfile runs) on a free loopback port, talked to in raw bytes,
because HTTP clients will not send these requests and a test client does not frame bodies like a server.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import anyio
import pytest
import uvicorn
from sqlalchemy import text

from service.domain.access import Role
from service.main import create_app
from service.tokens import StaticKeySource, TokenVerifier
from tests.bodies import report_body
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER

REPORTS = "/api/v1/reports"
PROBLEM = "application/problem+json"


def _reports_stored(db) -> int:
    with db.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM report")).scalar_one()


def _padded_report(size: int) -> bytes:
    """A valid report, padded with whitespace (which JSON ignores) to `size` bytes."""
    body = json.dumps(report_body()).encode()
    return body + b" " * (size - len(body))


def _auth(headers: dict[str, str]) -> tuple[bytes, bytes]:
    return b"authorization", headers["Authorization"].encode()


# ---- a real server ----------------------------------------------------------------------------------------

@pytest.fixture
def server(settings, db, clock, dev_key) -> Iterator[int]:
    """uvicorn serving the app on the test database; yields its port. The socket listens before the server
    starts, so connections wait in the backlog rather than the test waiting for the server."""
    verifier = TokenVerifier(StaticKeySource(dev_key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    app = create_app(settings, engine=db, clock=clock, token_verifier=verifier)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, http="h11"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        listener.close()


def _exchange(port: int, raw: bytes) -> tuple[int, bytes]:
    """Sends raw bytes and reads the first response (the server closes: Connection: close, or an error)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading everything; the answer is what counts
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), received[:200]
    return int(head.split()[1]), body


def _request(method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"host: 127.0.0.1", b"connection: close"]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _chunked(body: bytes, size: int = 65536, *, last: bool = True) -> bytes:
    pieces = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(pieces) + (b"0\r\n\r\n" if last else b"")


JSON = (b"content-type", b"application/json")


def test_a_real_server_refuses_content_length_with_chunked_and_stores_nothing(server, db, staff):
    body = _padded_report(3_000_000)
    raw = _request("POST", REPORTS, [_auth(staff), JSON, (b"content-length", b"10"),
                                     (b"transfer-encoding", b"chunked")], _chunked(body))
    status, answer = _exchange(server, raw)
    assert status == 400
    assert json.loads(answer)["type"].endswith("ambiguous-framing")
    # the same with a body well inside the limit: the framing is ambiguous whatever the size
    small = json.dumps(report_body()).encode()
    raw = _request("POST", REPORTS, [_auth(staff), JSON, (b"content-length", str(len(small)).encode()),
                                     (b"transfer-encoding", b"chunked")], _chunked(small))
    assert _exchange(server, raw)[0] == 400
    assert _reports_stored(db) == 0


def test_a_real_server_stops_a_chunked_body_at_the_limit(server, db, staff, settings):
    body = _padded_report(settings.max_body_bytes + 1)  # exactly one byte too many, then no more is sent
    raw = _request("POST", REPORTS, [_auth(staff), JSON, (b"transfer-encoding", b"chunked")],
                   _chunked(body, last=False))
    status, answer = _exchange(server, raw)
    assert status == 413
    assert json.loads(answer)["type"].endswith("body-too-large")
    assert _reports_stored(db) == 0


def test_a_real_server_reads_no_more_than_the_declared_length(server, db, staff):
    # The server frames the body by Content-Length: the bytes after it are a second request, which is garbage.
    raw = _request("POST", REPORTS, [_auth(staff), JSON, (b"content-length", b"10")], _padded_report(3_000_000))
    status, _ = _exchange(server, raw)
    assert status in (400, 422)
    assert _reports_stored(db) == 0


def test_a_real_server_still_takes_a_chunked_report_within_the_limit(server, db, staff):
    raw = _request("POST", REPORTS, [_auth(staff), JSON, (b"transfer-encoding", b"chunked")],
                   _chunked(_padded_report(200_000)))
    assert _exchange(server, raw)[0] == 201
    assert _reports_stored(db) == 1


def test_a_real_server_takes_a_post_without_body_headers_as_an_empty_body(server, users, org, admin):
    users.grant("nina", Role.reporter, "SOC-ALD")
    grant_id = next(grant["id"] for grant in _grants(server, admin) if grant["subject"] == "nina")
    # what `curl -X POST .../revoke` sends: no Content-Length, no Transfer-Encoding, no Content-Type
    status, answer = _exchange(server, _request("POST", f"/api/v1/grants/{grant_id}/revoke", [_auth(admin)]))
    assert status == 200, answer
    assert json.loads(answer)["active"] is False
    # an endpoint that needs a body says what is missing, rather than asking for another media type
    status, answer = _exchange(server, _request("POST", REPORTS, [_auth(admin)]))
    assert status == 422, answer


def _grants(port: int, admin: dict[str, str]) -> list[dict]:
    status, answer = _exchange(port, _request("GET", "/api/v1/grants", [_auth(admin)]))
    assert status == 200
    return json.loads(answer)["items"]


# ---- in-process: the app as any ASGI server would call it ------------------------------------------------

def _asgi(app, method: str, path: str, headers: list[tuple[bytes, bytes]], parts: list[bytes]) -> tuple[int, dict]:
    """Calls the app with these headers and body messages, as a server that trusts nothing would pass them."""
    messages = [{"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
                for index, part in enumerate(parts or [b""])]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80), "state": {}}
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    anyio.run(app, scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    assert dict(start["headers"]).get(b"content-type") in (PROBLEM.encode(), b"application/json"), start
    return start["status"], json.loads(body) if body else {}


def _pieces(body: bytes, size: int = 65536) -> list[bytes]:
    return [body[i:i + size] for i in range(0, len(body), size)]


def test_in_process_content_length_with_chunked_is_400_and_stores_nothing(client, db, staff):
    status, problem = _asgi(client.app, "POST", REPORTS,
                            [_auth(staff), JSON, (b"content-length", b"10"), (b"transfer-encoding", b"chunked")],
                            _pieces(_padded_report(3_000_000)))
    assert status == 400 and problem["type"].endswith("ambiguous-framing")
    assert _reports_stored(db) == 0


def test_in_process_a_body_longer_than_declared_is_counted_not_trusted(client, db, staff, settings):
    over_the_limit = _padded_report(3_000_000)
    status, problem = _asgi(client.app, "POST", REPORTS, [_auth(staff), JSON, (b"content-length", b"10")],
                            _pieces(over_the_limit))
    assert status == 413 and problem["type"].endswith("body-too-large")
    within_the_limit = _padded_report(2000)
    status, problem = _asgi(client.app, "POST", REPORTS, [_auth(staff), JSON, (b"content-length", b"1000")],
                            [within_the_limit])
    assert status == 400 and problem["type"].endswith("bad-content-length")
    assert _reports_stored(db) == 0


def test_in_process_a_chunked_body_over_the_limit_is_413_and_stores_nothing(client, db, staff, settings):
    status, _ = _asgi(client.app, "POST", REPORTS, [_auth(staff), JSON, (b"transfer-encoding", b"chunked")],
                      _pieces(_padded_report(settings.max_body_bytes + 1)))
    assert status == 413
    # a body with no framing headers at all (HTTP/2 has no Transfer-Encoding) is counted the same way
    status, _ = _asgi(client.app, "POST", REPORTS, [_auth(staff), JSON],
                      _pieces(_padded_report(settings.max_body_bytes + 1)))
    assert status == 413
    assert _reports_stored(db) == 0
    status, _ = _asgi(client.app, "POST", REPORTS, [_auth(staff), JSON, (b"transfer-encoding", b"chunked")],
                      _pieces(_padded_report(settings.max_body_bytes)))
    assert status == 201
    assert _reports_stored(db) == 1


@pytest.mark.parametrize("length", [b"+10", b"1_0", b" ", b"0x10", b"-1"])
def test_a_content_length_that_is_not_a_plain_number_is_400(client, staff, length):
    status, problem = _asgi(client.app, "POST", REPORTS, [_auth(staff), JSON, (b"content-length", length)],
                            [b"{}"])
    assert status == 400 and problem["type"].endswith("bad-content-length")


def test_a_post_without_body_headers_has_an_empty_body(client, users, org, admin):
    users.grant("nina", Role.reporter, "SOC-ALD")
    grant_id = next(grant["id"] for grant in client.get("/api/v1/grants", headers=admin).json()["items"]
                    if grant["subject"] == "nina")
    request = client.build_request("POST", f"/api/v1/grants/{grant_id}/revoke", headers=admin)
    del request.headers["content-length"]  # what curl sends for `curl -X POST URL`
    response = client.send(request)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False

    request = client.build_request("POST", REPORTS, headers=admin)
    del request.headers["content-length"]
    response = client.send(request)
    assert response.status_code == 422, response.text  # the endpoint's own validation: the body is missing
