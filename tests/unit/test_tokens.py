"""Attack-token suite for service.tokens: runs offline with fixture keys and MockTransport."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jose import jwk, jwt

from service.tokens import (
    DEV_KEY_ID,
    MAX_DISPLAY_NAME_LENGTH,
    MAX_SUBJECT_LENGTH,
    MAX_TOKEN_LENGTH,
    JwksKeySource,
    StaticKeySource,
    TokenInvalid,
    TokenVerifier,
    discover_jwks_url,
    display_name,
    load_or_create_dev_key,
)

ISSUER = "https://idp.example.test/realms/kommun"
AUDIENCE = "avvikelser-api"
JWKS_URL = "https://idp.example.test/realms/kommun/certs"


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    public = jwk.RSAKey(_private_pem(key), "RS256").public_key().to_dict()
    return {"kty": "RSA", "n": public["n"], "e": public["e"], "kid": kid, "alg": "RS256", "use": "sig"}


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def verifier(signing_key) -> TokenVerifier:
    keys = StaticKeySource({"keys": [_public_jwk(signing_key, "k1")]})
    return TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 300}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(key: rsa.RSAPrivateKey, claims: dict, kid: str = "k1", **headers) -> str:
    # Typed as RFC 9068 access tokens, like a provider's; jose would otherwise write "typ": "JWT".
    return jwt.encode(claims, _private_pem(key), algorithm="RS256", headers={"kid": kid, "typ": "at+jwt", **headers})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256_by_hand(secret: bytes, claims: dict, kid: str = "k1") -> str:
    # Built by hand because jose itself refuses PEM (but not DER) public keys as HMAC secrets.
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _rejected(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenInvalid) as info:
        verifier.verify(token)
    return str(info.value)


# --- TokenVerifier ---------------------------------------------------------


def test_valid_token_returns_claims(verifier, signing_key):
    claims = verifier.verify(_sign(signing_key, _claims(scope="cases:read")))
    assert claims["sub"] == "user-1"
    assert claims["scope"] == "cases:read"
    assert claims["iss"] == ISSUER and claims["aud"] == AUDIENCE


def test_audience_list_containing_ours_is_accepted(verifier, signing_key):
    assert verifier.verify(_sign(signing_key, _claims(aud=["other-api", AUDIENCE])))["sub"] == "user-1"


def test_expired_token_is_rejected(verifier, signing_key):
    past = int(time.time()) - 3600
    assert _rejected(verifier, _sign(signing_key, _claims(iat=past, exp=past + 60))) == "expired"


def test_expiry_within_leeway_is_accepted(verifier, signing_key):
    now = int(time.time())
    assert verifier.verify(_sign(signing_key, _claims(iat=now - 60, exp=now - 5)))


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "aud", "iss"])
def test_missing_required_claim_is_rejected(verifier, signing_key, missing):
    _rejected(verifier, _sign(signing_key, _claims(**{missing: None})))


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": "9999999999"},  # jose itself accepts numeric strings
        {"exp": float("inf")},
        {"iat": "1"},
        {"nbf": [1]},  # jose raises a bare TypeError here
        {"sub": ""},
        {"sub": 42},
    ],
)
def test_malformed_claim_types_are_rejected(verifier, signing_key, overrides):
    _rejected(verifier, _sign(signing_key, _claims(**overrides)))


def test_wrong_audience_is_rejected(verifier, signing_key):
    assert _rejected(verifier, _sign(signing_key, _claims(aud="some-other-api"))) == "claim_invalid"


def test_wrong_issuer_is_rejected(verifier, signing_key):
    assert _rejected(verifier, _sign(signing_key, _claims(iss="https://evil.example.test"))) == "claim_invalid"


def test_nbf_in_future_is_rejected(verifier, signing_key):
    assert _rejected(verifier, _sign(signing_key, _claims(nbf=int(time.time()) + 600))) == "claim_invalid"


def test_alg_none_is_rejected(verifier):
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    body = _b64(json.dumps(_claims()).encode())
    assert _rejected(verifier, f"{header}.{body}.") == "not_compact_jws"
    # Even with a dummy signature segment the alg check refuses it.
    assert _rejected(verifier, f"{header}.{body}.AAAA") == "alg_not_allowed"


def test_hs256_with_pem_public_key_as_secret_is_rejected(verifier, signing_key):
    pem = signing_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert _rejected(verifier, _hs256_by_hand(pem, _claims())) == "alg_not_allowed"


def test_hs256_with_der_public_key_as_secret_is_rejected(verifier, signing_key):
    der = signing_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = _hs256_by_hand(der, _claims())
    # Sanity: this forgery fools raw jose when HS256 is allowed (python-jose issue #414).
    assert jwt.decode(forged, der, algorithms=["RS256", "HS256"], audience=AUDIENCE)["sub"] == "user-1"
    assert _rejected(verifier, forged) == "alg_not_allowed"


def test_token_signed_by_other_key_with_same_kid_is_rejected(verifier, other_key):
    assert _rejected(verifier, _sign(other_key, _claims(), kid="k1")) == "signature_or_format"


def test_tampered_payload_is_rejected(verifier, signing_key):
    header, _, signature = _sign(signing_key, _claims()).split(".")
    body = _b64(json.dumps(_claims(sub="admin")).encode())
    assert _rejected(verifier, f"{header}.{body}.{signature}") == "signature_or_format"


def test_unknown_kid_is_rejected(verifier, signing_key):
    assert _rejected(verifier, _sign(signing_key, _claims(), kid="nope")) == "unknown_kid"


def test_missing_kid_is_rejected(verifier, signing_key):
    token = jwt.encode(_claims(), _private_pem(signing_key), algorithm="RS256", headers={"typ": "at+jwt"})
    assert _rejected(verifier, token) == "missing_kid"


def test_jwe_shaped_token_is_rejected(verifier):
    header = _b64(json.dumps({"alg": "RSA-OAEP", "enc": "A256GCM", "kid": "k1"}).encode())
    assert _rejected(verifier, f"{header}.AAAA.AAAA.AAAA.AAAA") == "not_compact_jws"


def test_oversized_token_is_rejected(verifier, signing_key):
    token = _sign(signing_key, _claims(pad="x" * MAX_TOKEN_LENGTH))
    assert _rejected(verifier, token) == "too_long"


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "crit"])
def test_key_pointing_headers_are_rejected(verifier, signing_key, name):
    value = ["exp"] if name == "crit" else "https://evil.example.test/jwks.json"
    assert _rejected(verifier, _sign(signing_key, _claims(), **{name: value})) == "forbidden_header"


def test_padding_appended_to_signature_is_rejected(verifier, signing_key):
    # jose's base64 decoder would accept this malleated token.
    assert _rejected(verifier, _sign(signing_key, _claims()) + "==") == "not_compact_jws"


@pytest.mark.parametrize(
    "garbage",
    [
        "", "abc", "a.b", "a.b.c", "...", "😀.😀.😀", "eyJ.eyJ.sig",
        _b64(b"[1,2]") + ".e30.AA",  # header is JSON but not an object
        _b64(b"\xff") + ".e30.AA",  # header is not UTF-8
        None, b"a.b.c",
    ],
)
def test_garbage_is_rejected(verifier, garbage):
    _rejected(verifier, garbage)


# --- access tokens, not ID tokens (RFC 9068) -------------------------------


def _jwt_typed(key: rsa.RSAPrivateKey, claims: dict, typ: str | None) -> str:
    """A token whose header says `typ` (None: no typ at all, which jose would not write by itself)."""
    header = {"alg": "RS256", "kid": "k1", **({"typ": typ} if typ is not None else {})}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_access_token_types_are_accepted_in_either_spelling(verifier, signing_key, typ):
    assert verifier.verify(_jwt_typed(signing_key, _claims(), typ))["sub"] == "user-1"


@pytest.mark.parametrize("typ", ["JWT", None, "logout+jwt", "", 7])
def test_tokens_not_typed_as_access_tokens_are_refused_by_default(verifier, signing_key, typ):
    assert _rejected(verifier, _jwt_typed(signing_key, _claims(), typ)) == "typ_not_accepted"


def test_a_provider_typing_access_tokens_jwt_can_be_allowed(signing_key):
    keys = StaticKeySource({"keys": [_public_jwk(signing_key, "k1")]})
    lenient = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, access_token_types=("at+jwt", "JWT"))
    assert lenient.verify(_jwt_typed(signing_key, _claims(), "JWT"))["sub"] == "user-1"
    assert lenient.verify(_jwt_typed(signing_key, _claims(), None))["sub"] == "user-1"  # untyped means JWT
    assert lenient.verify(_jwt_typed(signing_key, _claims(), "at+jwt"))["sub"] == "user-1"
    assert _rejected(lenient, _jwt_typed(signing_key, _claims(), "logout+jwt")) == "typ_not_accepted"


@pytest.mark.parametrize(
    "marker",
    [{"nonce": "n-0S6_WzA2Mj"}, {"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}, {"c_hash": "LDktKdoQak3Pk0cnXxCltA"},
     {"s_hash": "x"}, {"typ": "ID"}],
    ids=["nonce", "at_hash", "c_hash", "s_hash", "keycloak-typ-ID"],
)
def test_id_tokens_are_refused_even_where_jwt_is_accepted(signing_key, marker):
    keys = StaticKeySource({"keys": [_public_jwk(signing_key, "k1")]})
    lenient = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, access_token_types=("at+jwt", "JWT"))
    for typ in ("JWT", "at+jwt"):
        assert _rejected(lenient, _jwt_typed(signing_key, _claims(**marker), typ)) == "id_token"


def test_the_web_sign_ins_verifier_takes_id_tokens_and_no_access_tokens(signing_key):
    """The one place an ID token is wanted: the browser sign-in (service/web/signin.py), audience = its client."""
    keys = StaticKeySource({"keys": [_public_jwk(signing_key, "k1")]})
    id_verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE, id_tokens=True)
    assert id_verifier.verify(_jwt_typed(signing_key, _claims(nonce="n-1"), "JWT"))["nonce"] == "n-1"
    untyped = jwt.encode(_claims(nonce="n-1"), _private_pem(signing_key), algorithm="RS256", headers={"kid": "k1"})
    assert id_verifier.verify(untyped)["sub"] == "user-1"
    assert _rejected(id_verifier, _sign(signing_key, _claims(nonce="n-1"))) == "typ_not_accepted"  # at+jwt
    assert _rejected(id_verifier, _jwt_typed(signing_key, _claims(), "JWT")) == "not_an_id_token"
    access_verifier = TokenVerifier(keys, issuer=ISSUER, audience=AUDIENCE)
    assert _rejected(access_verifier, _jwt_typed(signing_key, _claims(nonce="n-1"), "JWT")) == "typ_not_accepted"


def test_keycloak_bearer_payload_typ_is_an_access_token(verifier, signing_key):
    assert verifier.verify(_sign(signing_key, _claims(typ="Bearer")))["sub"] == "user-1"


def test_a_verifier_must_accept_some_type(signing_key):
    with pytest.raises(ValueError):
        TokenVerifier(StaticKeySource({"keys": []}), issuer=ISSUER, audience=AUDIENCE, access_token_types=())


# --- claims that end up in bounded columns ----------------------------------


def test_subject_of_255_characters_is_accepted_and_longer_refused(verifier, signing_key):
    assert verifier.verify(_sign(signing_key, _claims(sub="s" * MAX_SUBJECT_LENGTH)))["sub"] == "s" * 255
    assert _rejected(verifier, _sign(signing_key, _claims(sub="s" * (MAX_SUBJECT_LENGTH + 1)))) == "sub_too_long"
    # Characters, not bytes: 255 two-byte letters fit a varchar(255).
    assert verifier.verify(_sign(signing_key, _claims(sub="å" * MAX_SUBJECT_LENGTH)))


@pytest.mark.parametrize("sub", ["user\x00-1", "user\n1", "\x7f", "\ud800"])
def test_subject_with_control_characters_or_lone_surrogates_is_refused(verifier, signing_key, sub):
    assert _rejected(verifier, _sign(signing_key, _claims(sub=sub))) == "sub_invalid"


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"sub": "u1", "name": "Anna Andersson", "preferred_username": "anna"}, "Anna Andersson"),
        ({"sub": "u1", "preferred_username": "anna"}, "anna"),
        ({"sub": "u1"}, "u1"),
        ({"sub": "u1", "name": "N" * 300}, "N" * MAX_DISPLAY_NAME_LENGTH),
        ({"sub": "u1", "name": "Anna\x00 Andersson\u200b"}, "Anna Andersson\u200b"),
        ({"sub": "u1", "name": "\x00\n ", "preferred_username": "anna"}, "anna"),
        ({"sub": "u1", "name": ["Anna"], "preferred_username": {"x": 1}}, "u1"),
        ({"sub": "u1", "name": "Bo\ud800"}, "Bo"),
        ({"sub": "s" * 255}, "s" * MAX_DISPLAY_NAME_LENGTH),
    ],
)
def test_display_name_fits_its_columns_and_holds_no_control_characters(claims, expected):
    assert display_name(claims) == expected


# --- key sources -----------------------------------------------------------


def test_static_source_drops_unusable_keys(signing_key):
    good = _public_jwk(signing_key, "good")
    source = StaticKeySource(
        {
            "keys": [
                good,
                {**good, "kid": "enc", "use": "enc"},
                {**good, "kid": "hs", "alg": "HS256"},
                {"kty": "oct", "kid": "oct", "k": "c2VjcmV0"},
                {**good, "kid": "priv", "d": "AAAA"},
            ]
        }
    )
    assert source.key_for("good") == good
    assert source.key_for("enc") is None and source.key_for("hs") is None and source.key_for("oct") is None
    assert "d" not in source.key_for("priv")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeIdp:
    """Serves a JWKS through httpx.MockTransport and counts requests."""

    def __init__(self, jwks: dict) -> None:
        self.jwks = jwks
        self.requests = 0
        self.fail = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URL
        self.requests += 1
        if self.fail:
            return httpx.Response(503, text="down")
        return httpx.Response(200, json=self.jwks)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _jwks_verifier(idp: FakeIdp, clock: FakeClock) -> TokenVerifier:
    source = JwksKeySource(JWKS_URL, idp.client(), ttl_seconds=600, min_refresh_interval_seconds=30, clock=clock)
    return TokenVerifier(source, issuer=ISSUER, audience=AUDIENCE)


def test_jwks_is_cached_within_ttl_and_refetched_after(signing_key, clock):
    idp = FakeIdp({"keys": [_public_jwk(signing_key, "k1")]})
    verifier = _jwks_verifier(idp, clock)
    token = _sign(signing_key, _claims())
    verifier.verify(token)
    clock.now += 599
    verifier.verify(token)
    assert idp.requests == 1
    clock.now += 1
    verifier.verify(token)
    assert idp.requests == 2


def test_unknown_kid_triggers_one_refresh_that_finds_rotated_key(signing_key, other_key, clock):
    idp = FakeIdp({"keys": [_public_jwk(signing_key, "k1")]})
    verifier = _jwks_verifier(idp, clock)
    verifier.verify(_sign(signing_key, _claims()))
    clock.now += 31
    idp.jwks = {"keys": [_public_jwk(signing_key, "k1"), _public_jwk(other_key, "k2")]}
    assert verifier.verify(_sign(other_key, _claims(), kid="k2"))["sub"] == "user-1"
    assert idp.requests == 2


def test_unknown_kids_within_min_refresh_interval_do_not_refetch(signing_key, clock):
    idp = FakeIdp({"keys": [_public_jwk(signing_key, "k1")]})
    verifier = _jwks_verifier(idp, clock)
    verifier.verify(_sign(signing_key, _claims()))  # initial fetch
    clock.now += 31
    for i in range(5):
        _rejected(verifier, _sign(signing_key, _claims(), kid=f"unknown-{i}"))
        clock.now += 1
    assert idp.requests == 2  # initial + one forced refresh
    clock.now += 30
    _rejected(verifier, _sign(signing_key, _claims(), kid="unknown-late"))
    assert idp.requests == 3


def test_unknown_kid_on_first_use_fetches_once_even_without_rate_limit(signing_key, clock):
    idp = FakeIdp({"keys": [_public_jwk(signing_key, "k1")]})
    source = JwksKeySource(JWKS_URL, idp.client(), min_refresh_interval_seconds=0, clock=clock)
    assert source.key_for("unknown") is None
    assert idp.requests == 1


@pytest.mark.parametrize(
    "broken",
    [
        lambda request: httpx.Response(503, text="down"),
        lambda request: httpx.Response(200, text="<html>not json</html>"),
        lambda request: httpx.Response(200, json={"no": "keys"}),
        lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused", request=request)),
    ],
    ids=["http-503", "bad-json", "not-a-jwks", "network-error"],
)
def test_failed_refresh_keeps_cached_keys(signing_key, clock, broken):
    idp = FakeIdp({"keys": [_public_jwk(signing_key, "k1")]})
    healthy = idp.handler
    idp.handler = lambda request: broken(request) if idp.fail else healthy(request)
    verifier = _jwks_verifier(idp, clock)
    token = _sign(signing_key, _claims())
    verifier.verify(token)
    idp.fail = True
    clock.now += 700  # past the TTL, so a refresh is attempted and fails
    assert verifier.verify(token)["sub"] == "user-1"
    _rejected(verifier, _sign(signing_key, _claims(), kid="unknown"))


def test_failed_refreshes_are_rate_limited(signing_key, clock):
    idp = FakeIdp({"keys": [_public_jwk(signing_key, "k1")]})
    verifier = _jwks_verifier(idp, clock)
    token = _sign(signing_key, _claims())
    verifier.verify(token)
    idp.fail = True
    clock.now += 700
    for _ in range(5):
        verifier.verify(token)
        clock.now += 1
    assert idp.requests == 2


def test_refresh_drops_removed_keys(signing_key, other_key, clock):
    idp = FakeIdp({"keys": [_public_jwk(signing_key, "k1")]})
    verifier = _jwks_verifier(idp, clock)
    token = _sign(signing_key, _claims())
    verifier.verify(token)
    idp.jwks = {"keys": [_public_jwk(other_key, "k2")]}
    clock.now += 600
    assert _rejected(verifier, token) == "unknown_kid"


def _discovery_client(doc: dict, seen: list[str]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=doc)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_discover_jwks_url():
    seen: list[str] = []
    http = _discovery_client({"issuer": ISSUER, "jwks_uri": JWKS_URL}, seen)
    assert discover_jwks_url(ISSUER, http) == JWKS_URL
    assert seen == [ISSUER + "/.well-known/openid-configuration"]


@pytest.mark.parametrize(
    "doc",
    [
        {"issuer": "https://evil.example.test", "jwks_uri": JWKS_URL},
        {"issuer": ISSUER},
        {"issuer": ISSUER, "jwks_uri": "file:///etc/passwd"},
    ],
)
def test_discover_rejects_bad_documents(doc):
    with pytest.raises(ValueError):
        discover_jwks_url(ISSUER, _discovery_client(doc, []))


# --- development key -------------------------------------------------------


def test_dev_key_is_created_with_mode_0600_and_round_trips(tmp_path):
    path = tmp_path / "secrets" / "dev-key.pem"
    created = load_or_create_dev_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert created.kid == DEV_KEY_ID
    assert load_or_create_dev_key(path) == created
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind
    assert "PRIVATE KEY" not in repr(created)


def test_dev_key_minted_token_verifies(tmp_path):
    dev = load_or_create_dev_key(tmp_path / "dev-key.pem")
    verifier = TokenVerifier(StaticKeySource(dev.public_jwks()), issuer=ISSUER, audience=AUDIENCE)
    claims = verifier.verify(dev.mint({"sub": "dev-user", "units": ["u1"]}, issuer=ISSUER, audience=AUDIENCE))
    assert claims["sub"] == "dev-user" and claims["units"] == ["u1"]
    assert claims["nbf"] == claims["iat"] and claims["exp"] == claims["iat"] + 3600
    header = jwt.get_unverified_header(dev.mint({"sub": "x"}, issuer=ISSUER, audience=AUDIENCE))
    assert header["kid"] == DEV_KEY_ID and header["typ"] == "at+jwt"  # an access token, like a provider's


def test_dev_key_mint_respects_now_and_lifetime(tmp_path):
    dev = load_or_create_dev_key(tmp_path / "dev-key.pem")
    verifier = TokenVerifier(StaticKeySource(dev.public_jwks()), issuer=ISSUER, audience=AUDIENCE)
    stale = dev.mint({"sub": "dev-user"}, issuer=ISSUER, audience=AUDIENCE, lifetime_seconds=60, now=time.time() - 3600)
    assert _rejected(verifier, stale) == "expired"


def test_dev_public_jwks_has_expected_members(tmp_path):
    (key,) = load_or_create_dev_key(tmp_path / "k.pem").public_jwks()["keys"]
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"


def test_a_verified_token_is_remembered_only_when_asked_and_never_past_exp(tmp_path):
    class Counting(StaticKeySource):
        lookups = 0

        def key_for(self, kid):
            Counting.lookups += 1
            return super().key_for(kid)

    dev = load_or_create_dev_key(tmp_path / "k.pem")
    token = dev.mint({"sub": "anna"}, issuer="iss", audience="aud", lifetime_seconds=100)
    exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["exp"]
    now = [time.time()]
    keys = Counting(dev.public_jwks())
    uncached = TokenVerifier(keys, issuer="iss", audience="aud", clock=lambda: now[0])
    cached = TokenVerifier(keys, issuer="iss", audience="aud", cache_seconds=60, clock=lambda: now[0])
    for _ in range(3):
        uncached.verify(token)
    assert Counting.lookups == 3
    for _ in range(3):
        assert cached.verify(token)["sub"] == "anna"
    assert Counting.lookups == 4
    now[0] += 61  # past the cache time: verified again
    cached.verify(token)
    assert Counting.lookups == 5
    now[0] = exp + 1  # the entry from a moment ago would still be in its 60 s, but not past exp
    try:
        cached.verify(token)
    except TokenInvalid:
        pass  # jose judges exp by the real clock; what matters is that the signature was checked again
    assert Counting.lookups == 6
