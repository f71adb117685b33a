"""Who the caller is: bearer tokens through the API, and where their grants come from."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization

from service.domain.access import Role
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER

URL = "/api/v1/org-units"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"sub": "admin", "iss": TEST_ISSUER, "aud": TEST_AUDIENCE, "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _hs256_with_public_key(dev_key, claims: dict) -> str:
    import hashlib
    import hmac

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    public_pem = load_pem_private_key(dev_key.private_pem.encode(), None).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'kid': dev_key.kid}).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def test_a_valid_token_is_accepted(client, admin, org):
    assert client.get(URL, headers=admin).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer not.a.token"])
def test_missing_or_malformed_authorization_is_401(client, header):
    response = client.get(URL, headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_forged_expired_and_confused_tokens_are_401_and_say_nothing_why(client, users, dev_key, org):
    users.grant("admin", Role.admin, "*")
    mint = lambda **claims: dev_key.mint(_claims(**claims), issuer=claims.get("iss", TEST_ISSUER),  # noqa: E731
                                         audience=claims.get("aud", TEST_AUDIENCE))
    valid = users.token("admin")
    header, payload, signature = valid.split(".")
    tampered_claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered_claims["sub"] = "someone-else"
    attacks = {
        "expired": dev_key.mint({"sub": "admin"}, issuer=TEST_ISSUER, audience=TEST_AUDIENCE,
                                now=time.time() - 7200, lifetime_seconds=600),
        "wrong audience": mint(aud="another-api"),
        "wrong issuer": mint(iss="https://evil.example"),
        "alg none": _unsigned({"alg": "none", "kid": dev_key.kid}, _claims()),
        "HS256 signed with the public key": _hs256_with_public_key(dev_key, _claims()),
        "tampered payload": f"{header}.{_b64(json.dumps(tampered_claims).encode())}.{signature}",
        "signature stripped": f"{header}.{payload}.",
    }
    for name, token in attacks.items():
        response = client.get(URL, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, name
        assert response.json()["detail"] == "The bearer token is not valid.", name


def test_health_and_docs_need_no_token(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_stored_grants_win_over_token_claims_by_default(client, users, org):
    token = users.token("eve", grants=[{"role": "admin", "unit": "*"}])  # claims admin, holds nothing here
    response = client.post(URL, json={"code": "X", "name": "X", "kind": "administration"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403


def test_with_grant_source_token_the_claims_decide(client, settings, users, org):
    settings.grant_source = "token"
    token = users.token("idp-admin", grants=[{"role": "admin", "unit": "SOC-ALD"}, {"role": "bogus", "unit": "*"},
                                             "garbage", {"role": "admin", "unit": "NO-SUCH"}])
    headers = {"Authorization": f"Bearer {token}"}
    ok = client.post(URL, json={"code": "SOC-ALD-9", "name": "Ny", "kind": "unit", "parent_id": org["SOC-ALD"]},
                     headers=headers)
    assert ok.status_code == 201
    refused = client.post(URL, json={"code": "SOC-FUN-9", "name": "Ny", "kind": "unit", "parent_id": org["SOC-FUN"]},
                          headers=headers)
    assert refused.status_code == 403


def test_a_revoked_grant_stops_working_before_the_token_expires(client, users, db, org):
    from sqlalchemy import text

    headers = users.headers(Role.admin, "*", subject="temp-admin")
    assert client.post(URL, json={"code": "A1", "name": "A", "kind": "administration"}, headers=headers).status_code == 201
    with db.begin() as connection:
        connection.execute(text("UPDATE role_grant SET revoked_at = CURRENT_TIMESTAMP, revoked_by = 'test' "
                                "WHERE subject = 'temp-admin'"))
    assert client.post(URL, json={"code": "A2", "name": "A", "kind": "administration"}, headers=headers).status_code == 403


def test_readyz_is_503_when_the_schema_is_not_at_head(client):
    client.app.state.migration_head = "some-future-revision"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "migrations not at head"


def test_with_a_grant_cache_a_revocation_takes_effect_within_its_seconds(client, users, db, org):
    from sqlalchemy import text

    from service.caches import TtlCache

    seconds = [0.0]
    client.app.state.grant_cache = TtlCache(5, clock=lambda: seconds[0])
    headers = users.headers(Role.statistics, "SOC", subject="cached-stats")
    table = "/api/v1/statistics/annual-table"
    params = {"unit_id": org["SOC"]}
    assert client.get(table, params=params, headers=headers).status_code == 200
    with db.begin() as connection:
        connection.execute(text("UPDATE role_grant SET revoked_at = CURRENT_TIMESTAMP, revoked_by = 'test' "
                                "WHERE subject = 'cached-stats'"))
    seconds[0] = 4.9
    assert client.get(table, params=params, headers=headers).status_code == 200
    seconds[0] = 5.1
    assert client.get(table, params=params, headers=headers).status_code == 403
