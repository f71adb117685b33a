"""AVV_AUTH_MODE=oidc against a real OpenID provider on loopback (oidc-provider, tests/oidc.py).

The service discovers the provider's JWKS from its issuer, as in production; the tokens are the
provider's own: client-credentials and authorization-code access tokens are accepted, its ID tokens
are not, not even one whose audience is the API's (a client named like the API).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from service.config import Settings
from service.domain.access import Role
from service.main import create_app
from service.tokens import JwksKeySource, TokenVerifier, discover_jwks_url
from tests.api.conftest import TestClient
from tests.bodies import report_body
from tests.oidc import AUDIENCE, OTHER_RESOURCE, OidcProvider

REPORTS = "/api/v1/reports"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(token: str, index: int) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[index] + "=="))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def oidc_settings(settings: Settings, oidc_provider: OidcProvider) -> Settings:
    settings.auth_mode = "oidc"
    settings.oidc_issuer = oidc_provider.issuer
    settings.oidc_audience = AUDIENCE
    return settings


def _app(settings: Settings, db, clock, **kwargs) -> TestClient:
    return TestClient(create_app(settings, engine=db, clock=clock, **kwargs), raise_server_exceptions=False)


@pytest.fixture
def api(oidc_settings: Settings, db, clock, org) -> Iterator[TestClient]:
    """The service in oidc mode on the test database (the demo organisation loaded by the dev-key app)."""
    with _app(oidc_settings, db, clock) as client:
        yield client


@pytest.fixture
def refusals(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The log of refused tokens; `_reasons(refusals)` lists their reasons so far."""
    caplog.set_level("INFO", logger="service.auth")
    return caplog


def _reasons(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().removeprefix("token refused: ") for r in caplog.records if r.name == "service.auth"]


def test_client_credentials_and_authorization_code_access_tokens_are_accepted(api, users, oidc_provider):
    users.grant("integration", Role.integration, "SOC")  # a client-credentials token's sub is its client_id
    users.grant("oidc-ivar", Role.investigator, "SOC")
    machine = oidc_provider.client_credentials()
    assert _part(machine, 0)["typ"] == "at+jwt" and _part(machine, 1)["aud"] == AUDIENCE

    submitted = api.post(REPORTS, json=report_body(reporter={"subject": "u123", "name": "Bo Berg"},
                                                   external_reference="T-1"), headers=_bearer(machine))
    assert submitted.status_code == 201, submitted.text

    person = oidc_provider.log_in("oidc-ivar")["access_token"]
    listed = api.get(REPORTS, headers=_bearer(person))
    assert listed.status_code == 200, listed.text
    assert [item["case_number"] for item in listed.json()["items"]] == [submitted.json()["case_number"]]
    seen = api.get(f"{REPORTS}/{submitted.json()['id']}", headers=_bearer(person)).json()
    assert seen["reporter_name"] == "Bo Berg"


def test_id_tokens_are_refused_even_with_the_apis_audience(api, oidc_settings, db, clock, users, oidc_provider,
                                                            refusals):
    users.grant("oidc-ivar", Role.investigator, "SOC")
    named_like_the_api = oidc_provider.log_in("oidc-ivar", client_id=AUDIENCE)
    id_token = named_like_the_api["id_token"]
    assert _part(id_token, 1)["aud"] == AUDIENCE  # the attack: signed, issued and addressed just right
    assert api.get(REPORTS, headers=_bearer(named_like_the_api["access_token"])).status_code == 200
    webapp_id_token = oidc_provider.log_in("oidc-ivar")["id_token"]
    for token in (id_token, webapp_id_token):
        response = api.get(REPORTS, headers=_bearer(token))
        assert response.status_code == 401
        assert response.json()["detail"] == "The bearer token is not valid."
    assert _reasons(refusals) == ["typ_not_accepted", "typ_not_accepted"]

    # Where access tokens typed JWT are accepted, the ID token is still told apart by its claims.
    oidc_settings.oidc_access_token_types = ("at+jwt", "JWT")
    with _app(oidc_settings, db, clock) as lenient:
        assert lenient.get(REPORTS, headers=_bearer(id_token)).status_code == 401
        assert lenient.get(REPORTS, headers=_bearer(named_like_the_api["access_token"])).status_code == 200
    assert _reasons(refusals)[-1] == "id_token"


def test_access_tokens_for_another_audience_are_refused(api, users, oidc_provider, refusals):
    users.grant("integration", Role.investigator, "SOC")
    other = oidc_provider.client_credentials(resource=OTHER_RESOURCE)
    assert _part(other, 1)["aud"] == "another-api"
    assert api.get(REPORTS, headers=_bearer(other)).status_code == 401
    other_user = oidc_provider.log_in("integration", resource=OTHER_RESOURCE)["access_token"]
    assert api.get(REPORTS, headers=_bearer(other_user)).status_code == 401
    assert _reasons(refusals) == ["claim_invalid", "claim_invalid"]
    assert api.get(REPORTS, headers=_bearer(oidc_provider.client_credentials())).status_code == 200


def test_tokens_signed_with_other_keys_are_refused(api, users, oidc_provider, refusals):
    users.grant("integration", Role.investigator, "SOC")
    genuine = oidc_provider.client_credentials()
    header, payload, _ = genuine.split(".")
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_input = f"{header}.{payload}"  # the provider's own header and claims, our signature
    forged = f"{signing_input}.{_b64(stranger.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))}"
    unknown_header = _b64(json.dumps({**_part(genuine, 0), "kid": "not-the-providers"}).encode())
    unknown_input = f"{unknown_header}.{payload}"
    unknown_kid = f"{unknown_input}.{_b64(stranger.sign(unknown_input.encode(), padding.PKCS1v15(), hashes.SHA256()))}"
    for token in (forged, unknown_kid):
        assert api.get(REPORTS, headers=_bearer(token)).status_code == 401
    assert _reasons(refusals) == ["signature_or_format", "unknown_kid"]
    assert api.get(REPORTS, headers=_bearer(genuine)).status_code == 200


def test_after_a_key_rotation_new_tokens_verify_and_old_ones_still_do(oidc_settings, db, clock, org, users,
                                                                       oidc_provider, refusals):
    import httpx

    users.grant("integration", Role.investigator, "SOC")
    seconds = [0.0]  # the JWKS cache's clock: a refetch for an unknown kid happens at most every 30 s
    with httpx.Client(timeout=5) as http:
        keys = JwksKeySource(discover_jwks_url(oidc_provider.issuer, http), http, clock=lambda: seconds[0])
        verifier = TokenVerifier(keys, issuer=oidc_provider.issuer, audience=AUDIENCE)
        with _app(oidc_settings, db, clock, token_verifier=verifier) as api:
            before = oidc_provider.client_credentials()
            assert api.get(REPORTS, headers=_bearer(before)).status_code == 200
            new_kid = oidc_provider.rotate()
            after = oidc_provider.client_credentials()
            assert _part(after, 0)["kid"] == new_kid != _part(before, 0)["kid"]
            # Within 30 s of the last fetch the unknown kid does not make the service ask again...
            assert api.get(REPORTS, headers=_bearer(after)).status_code == 401
            seconds[0] += 31
            # ...after that it does, and finds the new key.
            assert api.get(REPORTS, headers=_bearer(after)).status_code == 200
            assert api.get(REPORTS, headers=_bearer(before)).status_code == 200  # the old key is still published
    assert _reasons(refusals) == ["unknown_kid"]
