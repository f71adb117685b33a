"""Access-token validation. The only module that imports `jose`.

python-jose is minimally maintained and its defaults are unsafe (no algorithm
allow-list, iss/aud/exp optional, HMAC accepts DER public keys as secrets), so
everything it is given here is pre-checked and pinned (README, "Identity").
"""

from __future__ import annotations

import logging
import math
import os
import pathlib
import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JWTClaimsError

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS: tuple[str, ...] = ("RS256",)
MAX_TOKEN_LENGTH = 8192
# RFC 9068: access tokens are typed `at+jwt`; ID tokens are not. Settings may add `JWT` for providers
# that do not type their access tokens (service/config.py, AVV_OIDC_ACCESS_TOKEN_TYPES).
ACCESS_TOKEN_TYPE = "at+jwt"
# The subject is stored in columns of this many characters (service/models.py); longer is refused,
# never cut, since two subjects cut to the same prefix would become one person.
MAX_SUBJECT_LENGTH = 255
# Display names go into columns of this many characters; longer ones are shortened (a label, not an identity).
MAX_DISPLAY_NAME_LENGTH = 200
# Claims only ID tokens carry (OIDC Core 3.1.3.6, 3.3.2.11, FAPI 1.0 s_hash): such a token is never an access token.
_ID_TOKEN_CLAIMS = frozenset({"nonce", "at_hash", "c_hash", "s_hash"})

# Keys in a token header must never decide which key verifies the token.
_FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "crit"})
# Compact JWS only (no JWE), and strict base64url: jose's decoder tolerates padding
# and stray characters, which would make tokens malleable.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_DECODE_OPTIONS = {
    "verify_signature": True,
    "verify_nbf": True,
    "require_exp": True,
    "require_iat": True,
    "require_iss": True,
    "require_aud": True,
    "require_sub": True,
    # at_hash belongs to ID tokens; with no access_token to compare jose would reject.
    "verify_at_hash": False,
}


class TokenInvalid(Exception):
    """Raised for every rejected token.

    str(exc) is a short machine reason for server logs only (never shown to clients).
    """


class KeySource(Protocol):
    def key_for(self, kid: str) -> dict | None: ...


def _usable_keys(jwks: object) -> dict[str, dict]:
    """kid -> public RSA signing JWK. Raises ValueError if jwks is not a JWK Set."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError("not a JWK Set")
    usable: dict[str, dict] = {}
    for key in jwks["keys"]:
        if not isinstance(key, dict) or key.get("kty") != "RSA":
            continue
        if key.get("use", "sig") != "sig" or key.get("alg", ALLOWED_ALGORITHMS[0]) not in ALLOWED_ALGORITHMS:
            continue
        kid, n, e = key.get("kid"), key.get("n"), key.get("e")
        if not (isinstance(kid, str) and kid and isinstance(n, str) and isinstance(e, str)):
            continue
        # Public members only: a JWKS that leaks "d" must not turn into a private key here.
        usable[kid] = {m: key[m] for m in ("kty", "kid", "n", "e", "alg", "use") if m in key}
    return usable


class StaticKeySource:
    """Fixed set of public JWKs (dev key, tests)."""

    def __init__(self, jwks: dict) -> None:
        self._keys = _usable_keys(jwks)

    def key_for(self, kid: str) -> dict | None:
        return self._keys.get(kid)


class JwksKeySource:
    """The OIDC issuer's JWKS, fetched over HTTP and cached per process.

    `jwks_url` may be a function that finds the URL (OpenID discovery): it is called at the first fetch,
    not at start, so the service starts while the identity provider is down. Until a JWKS has been
    fetched every token is refused as `jwks_unavailable`, and a fetch is tried again at most every
    `unavailable_retry_seconds`; once keys are held, a failed refresh keeps them.
    """

    def __init__(
        self,
        jwks_url: str | Callable[[], str],
        http: httpx.Client,
        *,
        ttl_seconds: float = 600,
        min_refresh_interval_seconds: float = 30,
        unavailable_retry_seconds: float = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url: str | None = jwks_url if isinstance(jwks_url, str) else None
        self._find_url = None if isinstance(jwks_url, str) else jwks_url
        self._http = http
        self._ttl = ttl_seconds
        self._min_interval = min_refresh_interval_seconds
        self._retry_unavailable = unavailable_retry_seconds
        self._clock = clock
        # The lock is held during the fetch on purpose: concurrent requests wait for
        # one refresh instead of stampeding the IdP. Bound the wait with the client's timeouts.
        # Callers run this off the event loop (service/api/deps.py), so a wait holds a worker thread only.
        self._lock = threading.Lock()
        self._keys: dict[str, dict] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None

    def key_for(self, kid: str) -> dict | None:
        with self._lock:
            now = self._clock()
            refreshed = False
            if self._fetched_at is None or now - self._fetched_at >= self._ttl:
                refreshed = self._refresh(now)
            if self._fetched_at is None:
                raise TokenInvalid("jwks_unavailable")
            if kid not in self._keys and not refreshed:
                self._refresh(now)  # possibly a rotated key; rate-limited inside
            return self._keys.get(kid)

    def _refresh(self, now: float) -> bool:
        """Fetch unless one was attempted too recently. True if attempted."""
        interval = self._min_interval if self._fetched_at is not None else self._retry_unavailable
        if self._attempted_at is not None and now - self._attempted_at < interval:
            return False
        self._attempted_at = now
        try:
            if self._url is None:
                assert self._find_url is not None
                self._url = self._find_url()
            response = self._http.get(self._url)
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code}")
            keys = _usable_keys(response.json())
        except Exception as exc:  # noqa: BLE001 - any failure: keep serving the cached keys
            log.warning("jwks_unavailable: refresh from %s failed (%s); keeping %d cached keys",
                        self._url or "the issuer's discovery document", type(exc).__name__, len(self._keys))
            return True
        self._keys = keys
        self._fetched_at = now
        return True


def discover_jwks_url(issuer: str, http: httpx.Client) -> str:
    """jwks_uri from the issuer's OpenID discovery document. Raises httpx.HTTPError or ValueError."""
    response = http.get(issuer.rstrip("/") + "/.well-known/openid-configuration")
    response.raise_for_status()
    doc = response.json()
    if not isinstance(doc, dict):
        raise ValueError("discovery document is not a JSON object")
    # OIDC Discovery 1.0 section 4.3: the document must name exactly the issuer we asked.
    if doc.get("issuer") != issuer:
        raise ValueError(f"discovery issuer mismatch: {doc.get('issuer')!r} != {issuer!r}")
    jwks_uri = doc.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
        raise ValueError("discovery document has no usable jwks_uri")
    return jwks_uri


def _normal_typ(value: str) -> str:
    # RFC 7515 4.1.9: media types without "application/" mean the same, and compare case-insensitively.
    value = value.strip().lower()
    return value.removeprefix("application/")


def is_clean_text(value: str) -> bool:
    """No control characters (NUL is refused by PostgreSQL) and no lone surrogates (not encodable as UTF-8)."""
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)


def display_name(claims: dict) -> str:
    """The principal's display name: `name`, else `preferred_username`, else `sub`.

    A claim that is not a string, or holds nothing printable, is passed over; control characters are
    dropped and the result is shortened to MAX_DISPLAY_NAME_LENGTH characters (the stored columns' size).
    """
    for claim in ("name", "preferred_username"):
        value = claims.get(claim)
        if isinstance(value, str):
            cleaned = "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cs")).strip()
            if cleaned:
                return cleaned[:MAX_DISPLAY_NAME_LENGTH].rstrip()
    return str(claims["sub"])[:MAX_DISPLAY_NAME_LENGTH]


def _is_numeric_date(value: object) -> bool:
    # jose accepts strings such as "9999999999" and lets inf/lists escape as TypeError/OverflowError.
    return (type(value) is int or type(value) is float) and math.isfinite(value)


class TokenVerifier:
    # A client sends the same token with every request until it expires; verifying the RSA signature
    # each time is most of the cost of authentication, so a verified token may be remembered for
    # `cache_seconds` (never past its exp). The price: a key withdrawn from the JWKS keeps its tokens
    # valid that much longer.
    CACHE_SIZE = 10_000

    def __init__(self, keys: KeySource, *, issuer: str, audience: str, leeway_seconds: int = 30,
                 cache_seconds: float = 0.0, clock: Callable[[], float] = time.time,
                 access_token_types: Iterable[str] = (ACCESS_TOKEN_TYPE,), id_tokens: bool = False) -> None:
        """`id_tokens=True` makes a verifier of OpenID Connect ID tokens instead (the web sign-in's: audience
        = its client id): typed `JWT` or untyped, and carrying the `nonce` the caller then compares; never
        an access token. Every other check is the same."""
        self._keys = keys
        self._id_tokens = id_tokens
        if id_tokens:
            access_token_types = ("JWT",)
        self._types = frozenset(_normal_typ(t) for t in access_token_types)
        if not self._types:
            raise ValueError("at least one access-token typ must be accepted")
        self._issuer = issuer
        self._audience = audience
        self._options = {**_DECODE_OPTIONS, "leeway": leeway_seconds}
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._verified: OrderedDict[str, tuple[dict, float]] = OrderedDict()
        self._lock = threading.Lock()

    def remembered(self, token: str) -> dict | None:
        """The claims of a token verified less than `cache_seconds` ago, else None. No I/O, no RSA."""
        now = self._clock()
        with self._lock:
            remembered = self._verified.get(token)
            if remembered is not None and now < remembered[1]:
                self._verified.move_to_end(token)
                return dict(remembered[0])
        return None

    def verify(self, token: str) -> dict:
        """Claims of a valid access token; raises TokenInvalid otherwise. May fetch the JWKS: call it off
        the event loop."""
        remembered = self.remembered(token)
        if remembered is not None:
            return remembered
        now = self._clock()
        try:
            claims = self._verify(token)
        except TokenInvalid:
            raise
        except Exception as exc:  # jose raises outside its own hierarchy for odd claim types
            raise TokenInvalid("malformed") from exc
        if self._cache_seconds <= 0:
            return claims
        # Never past exp (without leeway): a remembered token expires no later than the token itself.
        with self._lock:
            self._verified[token] = (claims, min(float(claims["exp"]), now + self._cache_seconds))
            while len(self._verified) > self.CACHE_SIZE:
                self._verified.popitem(last=False)
        return dict(claims)

    def _verify(self, token: str) -> dict:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise TokenInvalid("too_long")
        if not _COMPACT_JWS.fullmatch(token):
            raise TokenInvalid("not_compact_jws")
        header = jwt.get_unverified_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
            raise TokenInvalid("alg_not_allowed")
        if _FORBIDDEN_HEADERS & header.keys():
            raise TokenInvalid("forbidden_header")
        # An untyped JWT is a plain "JWT" (RFC 7519 5.1), accepted only where that type is.
        typ = header.get("typ", "JWT")
        if not isinstance(typ, str) or _normal_typ(typ) not in self._types:
            raise TokenInvalid("typ_not_accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenInvalid("missing_kid")
        public_jwk = self._keys.key_for(kid)
        if public_jwk is None:
            raise TokenInvalid("unknown_kid")
        if public_jwk.get("alg", alg) != alg:
            raise TokenInvalid("alg_key_mismatch")
        key = jwk.construct(public_jwk, algorithm=alg)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(ALLOWED_ALGORITHMS),  # a str here would be a substring test
                issuer=self._issuer,
                audience=self._audience,
                options=self._options,
            )
        except ExpiredSignatureError as exc:
            raise TokenInvalid("expired") from exc
        except JWTClaimsError as exc:
            raise TokenInvalid("claim_invalid") from exc
        except Exception as exc:
            raise TokenInvalid("signature_or_format") from exc
        if not all(_is_numeric_date(claims[c]) for c in ("exp", "iat") if c in claims):
            raise TokenInvalid("claim_invalid")
        if "nbf" in claims and not _is_numeric_date(claims["nbf"]):
            raise TokenInvalid("claim_invalid")
        if self._id_tokens:
            if "nonce" not in claims:  # an ID token of a sign-in carries the nonce the sign-in sent
                raise TokenInvalid("not_an_id_token")
        else:
            if _ID_TOKEN_CLAIMS & claims.keys():
                raise TokenInvalid("id_token")
            # Keycloak marks its ID tokens in the payload (`"typ": "ID"`; access tokens say "Bearer").
            if isinstance(claims.get("typ"), str) and claims["typ"].strip().lower() == "id":
                raise TokenInvalid("id_token")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise TokenInvalid("claim_invalid")
        if len(subject) > MAX_SUBJECT_LENGTH:
            raise TokenInvalid("sub_too_long")
        if not is_clean_text(subject):
            raise TokenInvalid("sub_invalid")
        return claims


# --- development key -------------------------------------------------------

DEV_KEY_ID = "dev-1"


@dataclass(frozen=True)
class DevKey:
    private_pem: str = field(repr=False)  # keep the private key out of logs and tracebacks
    kid: str

    def public_jwks(self) -> dict:
        public = jwk.RSAKey(self.private_pem, "RS256").public_key().to_dict()
        key = {"kty": "RSA", "n": public["n"], "e": public["e"], "kid": self.kid, "alg": "RS256", "use": "sig"}
        return {"keys": [key]}

    def mint(
        self, claims: dict, *, issuer: str, audience: str, lifetime_seconds: int = 3600, now: float | None = None
    ) -> str:
        issued_at = int(time.time() if now is None else now)
        payload = {
            **claims,
            "iss": issuer,
            "aud": audience,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + lifetime_seconds,
        }
        # Typed as an access token (RFC 9068), like the tokens of a real provider.
        return jwt.encode(payload, self.private_pem, algorithm="RS256",
                          headers={"kid": self.kid, "typ": ACCESS_TOKEN_TYPE})


def load_or_create_dev_key(path: pathlib.Path) -> DevKey:
    """RSA 2048 private key PEM at path, generated (mode 0600) if missing."""
    path = pathlib.Path(path)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Write a complete temp file, then link it into place: link fails if another
        # worker won the race, and nobody ever reads a half-written key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    pem_text = path.read_text(encoding="ascii")
    loaded = serialization.load_pem_private_key(pem_text.encode("ascii"), password=None)
    if not isinstance(loaded, rsa.RSAPrivateKey) or loaded.key_size < 2048:
        raise ValueError(f"{path} is not an RSA private key of at least 2048 bits")
    return DevKey(private_pem=pem_text, kid=DEV_KEY_ID)
