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
    header = _b64(json.dumps({'alg': 'HS256', 'kid': dev_key.kid}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
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
    created = client.post(URL, json={"code": "A1", "name": "A", "kind": "administration"}, headers=headers)
    assert created.status_code == 201
    with db.begin() as connection:
        connection.execute(text("UPDATE role_grant SET revoked_at = CURRENT_TIMESTAMP, revoked_by = 'test' "
                                "WHERE subject = 'temp-admin'"))
    refused = client.post(URL, json={"code": "A2", "name": "A", "kind": "administration"}, headers=headers)
    assert refused.status_code == 403


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


# ---- claims that end up in bounded columns, and ID tokens (issue 9) ------------------------------------

REPORTS = "/api/v1/reports"


def _refusals(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "service.auth"]


def test_a_subject_longer_than_the_subject_columns_is_an_invalid_token_and_the_reason_is_logged(
        client, users, investigator, caplog):
    from tests.bodies import report_body

    long_subject = "u" * 256  # no grant can even be stored for it: role_grant.subject holds 255
    token = users.token(long_subject, name="Lång Subjekt")
    caplog.set_level("INFO", logger="service.auth")
    for method, url, body in [("GET", REPORTS, None), ("POST", REPORTS, report_body()), ("GET", URL, None)]:
        response = client.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (method, url, response.text)
        assert response.json()["detail"] == "The bearer token is not valid."
    assert _refusals(caplog) == ["token refused: sub_too_long"] * 3
    assert token not in caplog.text
    # One character less fits, and works.
    fitting = "u" * 255
    users.grant(fitting, Role.reporter, "SOC")
    created = client.post(REPORTS, json=report_body(), headers={"Authorization": f"Bearer {users.token(fitting)}"})
    assert created.status_code == 201, created.text
    seen = client.get(f"{REPORTS}/{created.json()['id']}", headers=investigator).json()
    assert seen["reporter_name"] == fitting.title()[:200]


def test_a_subject_with_a_nul_character_is_an_invalid_token(client, users, org, caplog):
    caplog.set_level("INFO", logger="service.auth")
    response = client.get(REPORTS, headers={"Authorization": f"Bearer {users.token('anna' + chr(0))}"})
    assert response.status_code == 401
    assert _refusals(caplog) == ["token refused: sub_invalid"]


def test_display_names_from_the_token_are_shortened_and_cleaned_to_fit_their_columns(client, users, investigator):
    from tests.bodies import report_body

    users.grant("bo", Role.reporter, "SOC")
    for name, shown in [("B" * 300, "B" * 200), ("Bo\x00 Berg", "Bo Berg")]:
        headers = {"Authorization": f"Bearer {users.token('bo', name=name)}"}
        created = client.post(REPORTS, json=report_body(), headers=headers)
        assert created.status_code == 201, created.text
        seen = client.get(f"{REPORTS}/{created.json()['id']}", headers=investigator).json()
        assert seen["reporter_name"] == shown


def test_id_tokens_and_untyped_tokens_are_not_access_tokens(client, users, dev_key, org, caplog):
    from jose import jwt

    users.grant("admin", Role.admin, "*")
    caplog.set_level("INFO", logger="service.auth")
    # Signed by the right key, for the right audience: only what kind of token it is differs.
    as_id_token = users.token("admin", nonce="n-0S6_WzA2Mj", auth_time=int(time.time()))
    typed_jwt = jwt.encode(_claims(), dev_key.private_pem, algorithm="RS256", headers={"kid": dev_key.kid})
    assert jwt.get_unverified_header(typed_jwt)["typ"] == "JWT"
    for token in (as_id_token, typed_jwt):
        response = client.get(URL, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["detail"] == "The bearer token is not valid."
    assert _refusals(caplog) == ["token refused: id_token", "token refused: typ_not_accepted"]
    assert client.get(URL, headers={"Authorization": f"Bearer {users.token('admin')}"}).status_code == 200


def test_an_access_token_typ_of_jwt_can_be_allowed_but_id_tokens_stay_refused(settings, db, clock, dev_key, users,
                                                                             org, tmp_path):
    from jose import jwt

    from service.main import create_app
    from tests.api.conftest import TestClient

    key_file = tmp_path / "dev-key.pem"
    key_file.write_text(dev_key.private_pem)
    settings.dev_key_path = key_file
    settings.oidc_access_token_types = ("at+jwt", "JWT")  # as AVV_OIDC_ACCESS_TOKEN_TYPES=at+jwt,JWT
    users.grant("admin", Role.admin, "*")
    sign = lambda claims: jwt.encode(claims, dev_key.private_pem, algorithm="RS256",  # noqa: E731
                                     headers={"kid": dev_key.kid})
    with TestClient(create_app(settings, engine=db, clock=clock), raise_server_exceptions=False) as lenient:
        for token, status in [(sign(_claims()), 200), (users.token("admin"), 200),
                              (sign(_claims(nonce="n-0S6_WzA2Mj")), 401), (sign(_claims(at_hash="x")), 401)]:
            assert lenient.get(URL, headers={"Authorization": f"Bearer {token}"}).status_code == status


def test_a_grants_claim_naming_a_unit_with_a_nul_character_is_an_unknown_unit(client, settings, users, org):
    settings.grant_source = "token"
    token = users.token("idp-admin",
                        grants=[{"role": "admin", "unit": "SOC\x00"}, {"role": "admin", "unit": "SOC-ALD"}])
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(URL, headers=headers).status_code == 200
    made = client.post(URL, json={"code": "SOC-ALD-9", "name": "Ny", "kind": "unit", "parent_id": org["SOC-ALD"]},
                       headers=headers)
    assert made.status_code == 201
    refused = client.post(URL, json={"code": "SOC-FUN-9", "name": "Ny", "kind": "unit", "parent_id": org["SOC-FUN"]},
                          headers=headers)
    assert refused.status_code == 403
