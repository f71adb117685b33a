"""The real server (`python -m service serve`, as scripts/serve runs it) logs why it refused a token."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.processes import WAIT_SECONDS, LoggedProcess

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} (?P<level>[A-Z]+) (?P<logger>[\w.]+) "
                  r"(?P<message>.*?)(?: \[request [\w.-]+\])?$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AVV_")}
    env.update(AVV_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}", AVV_DEV_KEY_PATH=str(tmp_path / "key.pem"),
               AVV_AUTH_MODE="dev", AVV_AUDIT_SEAL_SECONDS="0", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[tuple[LoggedProcess, str]]:
    process = subprocess.Popen([sys.executable, "-m", "service", "serve", "--demo", "--host", "127.0.0.1",
                                "--port", "0"],
                               cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    server = LoggedProcess("the server", process)
    try:
        port = server.next_match(r"Uvicorn running on http://127\.0\.0\.1:(\d+)").group(1)
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_refused_tokens_are_logged_with_their_reason_and_never_the_token(server, env):
    running, base = server
    minted = subprocess.run([sys.executable, "-m", "service", "devtoken", "--role", "investigator"], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True).stdout.strip()
    header = json.loads(base64.urlsafe_b64decode(minted.split(".")[0] + "=="))
    assert header["typ"] == "at+jwt"  # dev tokens are access tokens by RFC 9068, as the verifier requires

    header_part, payload_part, signature = minted.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload_part + "=="))
    tampered = f"{header_part}.{_b64(json.dumps({**claims, 'sub': 'demo-admin'}).encode())}.{signature}"
    as_id_token = f"{_b64(json.dumps({**header, 'typ': 'JWT'}).encode())}.{payload_part}.{signature}"
    with httpx.Client(base_url=base) as http:
        assert http.get("/api/v1/org-units", headers={"Authorization": f"Bearer {minted}"}).status_code == 200
        for token in (tampered, as_id_token):
            response = http.get("/api/v1/org-units", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401
            assert response.json()["detail"] == "The bearer token is not valid."
    lines = running.stop()

    records = [match.groupdict() for line in lines if (match := LINE.match(line))]
    refusals = [record for record in records if record["logger"] == "service.auth"]
    assert [(r["level"], r["message"]) for r in refusals] == [
        ("INFO", "token refused: signature_or_format"), ("INFO", "token refused: typ_not_accepted")]
    log = "\n".join(lines)
    for token in (minted, tampered, as_id_token):
        for part in token.split("."):
            assert part not in log


def test_the_json_log_has_one_object_per_line_with_the_request_id_and_no_token(env):
    env = {**env, "AVV_LOG_FORMAT": "json"}
    process = subprocess.Popen([sys.executable, "-m", "service", "serve", "--demo", "--host", "127.0.0.1",
                                "--port", "0"],
                               cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    server = LoggedProcess("the server", process, reads=process.stdout)
    try:
        match = server.next_match(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
        token = subprocess.run([sys.executable, "-m", "service", "devtoken", "--role", "investigator"], cwd=ROOT,
                               env=env, capture_output=True, text=True, check=True).stdout.strip()
        with httpx.Client(base_url=f"http://127.0.0.1:{match.group(1)}") as http:
            assert http.get("/api/v1/org-units", headers={"Authorization": f"Bearer {token}",
                                                         "X-Request-ID": "json-log-test-1"}).status_code == 200
    finally:
        seen = server.stop()
    records = [json.loads(line) for line in seen if line.startswith("{")]
    assert len(records) == len([line for line in seen if line.strip()]), seen  # uvicorn's lines too
    access = [r for r in records if r["logger"] == "service.access"]
    assert access == [{**access[0], "method": "GET", "route": "/api/v1/org-units", "status": 200,
                       "request_id": "json-log-test-1", "subject": "demo-investigator"}]
    assert {"time", "level", "logger", "message", "duration_ms"} <= access[0].keys()
    for part in token.split("."):
        assert part not in "\n".join(seen)


def test_devtoken_refuses_a_subject_the_service_would_refuse(capsys):
    from service.__main__ import main

    assert main(["devtoken", "--role", "reporter", "--subject", "x" * 256]) == 2
    assert "--subject must be at most 255 characters" in capsys.readouterr().err


def test_sigterm_drains_readyz_answers_503_and_a_request_in_flight_is_finished(env):
    import socket

    env = {**env, "AVV_DRAIN_SECONDS": "2"}
    process = subprocess.Popen([sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", "0"],
                               cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    running = LoggedProcess("the server", process)
    try:
        port = int(running.next_match(r"Uvicorn running on http://127\.0\.0\.1:(\d+)").group(1))
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/readyz").status_code == 200
        # A request in flight: headers and half its body sent before the signal, the rest after it.
        body = b'{"units": []}'
        in_flight = socket.create_connection(("127.0.0.1", port), timeout=30)
        in_flight.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:5])
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        running.next_match(r"SIGTERM: draining")
        assert httpx.get(f"{base}/readyz").status_code == 503  # the load balancer takes the instance out
        time.sleep(2.5)  # past the drain: the server no longer takes connections, and waits for this one
        in_flight.sendall(body[5:])
        answer = in_flight.recv(65536)
        in_flight.close()
        assert answer.startswith(b"HTTP/1.1 401 ")  # answered (no token), not cut off
        process.wait(timeout=WAIT_SECONDS)
    finally:
        running.stop()
