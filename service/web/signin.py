"""Sign-in and sign-out for the web pages.

AVV_AUTH_MODE=oidc: OpenID Connect authorization code flow with PKCE (S256) against AVV_OIDC_ISSUER. The
authorization request, the token request and the PKCE challenge are built by authlib's OAuth 2 functions and
sent with the service's httpx client (authlib's own httpx integration wants another HTTP library). The ID
token is verified by the project's own verifier (service/tokens.py: RS256
only, the key by `kid` from the issuer's JWKS, `iss`, `aud` = the client id, `exp`, `iat`, `sub`), then its
`nonce` is checked against the one this browser's sign-in sent. The session's subject is then treated
exactly as a token's `sub`: the same grants, the same principal.

AVV_AUTH_MODE=dev (never in production): a page that signs in as one of the demo users.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from service import web_sessions as core_web_sessions
from service.api.deps import ClockDep, SettingsDep
from service.config import Settings
from service.demo import DEMO_GRANT_UNIT, ensure_grant
from service.domain.access import Role
from service.tokens import JwksKeySource, TokenInvalid, TokenVerifier
from service.web.render import pages
from service.web.session import (
    BrowserSessionDep,
    FormDep,
    WebRefusal,
    clear_cookie,
    in_own_session,
    safe_next,
    set_cookie,
)

log = logging.getLogger("service.web")
router = APIRouter(include_in_schema=False)

CALLBACK_PATH = "/logga-in/callback"

DEMO_USERS: dict[Role, str] = {
    Role.reporter: "Rapportör, hela Socialförvaltningen",
    Role.unit_manager: "Enhetschef, Hemtjänst Centrum",
    Role.investigator: "Utredare",
    Role.decision_maker: "Beslutsfattare",
    Role.dpo: "Dataskyddsombud",
}


@dataclass(frozen=True)
class Provider:
    """The issuer's endpoints (from its discovery document) and a verifier for its ID tokens."""

    authorization_endpoint: str
    token_endpoint: str
    end_session_endpoint: str | None
    id_tokens: TokenVerifier


def discover_provider(settings: Settings, http: httpx.Client) -> Provider:
    response = http.get(settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration")
    response.raise_for_status()
    doc = response.json()
    if doc.get("issuer") != settings.oidc_issuer:  # OIDC Discovery 1.0 section 4.3
        raise ValueError("discovery issuer mismatch")
    keys = JwksKeySource(settings.oidc_jwks_url or doc["jwks_uri"], http, ttl_seconds=settings.jwks_cache_seconds)
    verifier = TokenVerifier(keys, issuer=settings.oidc_issuer, audience=settings.client_id, cache_seconds=0,
                             id_tokens=True)
    return Provider(doc["authorization_endpoint"], doc["token_endpoint"], doc.get("end_session_endpoint"), verifier)


def _provider(request: Request) -> Provider:
    """Discovered on first use and kept; a failed discovery is tried again on the next sign-in."""
    provider = getattr(request.app.state, "oidc_provider", None)
    if provider is None:
        settings: Settings = request.app.state.settings
        try:
            provider = discover_provider(settings, request.app.state.oidc_http)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("OIDC discovery failed: %s", exc)
            raise WebRefusal(503, "Inloggningen fungerar inte just nu",
                             "Tjänsten når inte kommunens inloggning. Försök igen om en stund.") from None
        request.app.state.oidc_provider = provider
    return provider


def _base_url(request: Request, settings: Settings) -> str:
    return (settings.public_url or str(request.base_url)).rstrip("/")


def _redirect_uri(request: Request, settings: Settings) -> str:
    return _base_url(request, settings) + CALLBACK_PATH


def _authorization_url(request: Request, settings: Settings, provider: Provider, login: dict[str, Any]) -> str:
    return prepare_grant_uri(
        provider.authorization_endpoint, client_id=settings.client_id, response_type="code",
        redirect_uri=_redirect_uri(request, settings), scope=settings.oidc_scopes, state=login["state"],
        nonce=login["nonce"], code_challenge=create_s256_code_challenge(login["verifier"]),
        code_challenge_method="S256")


def _exchange(request: Request, settings: Settings, provider: Provider, code: str, verifier: str) -> dict[str, Any]:
    """The token endpoint's answer to the code; a public client sends its id, a confidential one its secret."""
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    body = prepare_token_request("authorization_code", code=code, redirect_uri=_redirect_uri(request, settings),
                                 code_verifier=verifier, **({} if secret else {"client_id": settings.client_id}))
    http: httpx.Client = request.app.state.oidc_http
    # RFC 6749 2.3.1: id and secret are form-encoded before they go into Basic.
    basic = (quote(settings.client_id, safe=""), quote(secret, safe="")) if secret else None
    response = http.post(provider.token_endpoint, content=body,
                         auth=basic,  # type: ignore[arg-type]  # httpx reads None as "no auth"; its annotation omits it
                         headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    response.raise_for_status()
    return response.json()


@router.get("/logga-in", response_class=HTMLResponse)
def sign_in_page(request: Request, settings: SettingsDep, clock: ClockDep, current: BrowserSessionDep,
                 nasta: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    next_path = safe_next(nasta)
    if current is not None and current.claims is not None:
        return RedirectResponse(next_path, status_code=303)
    now = clock()
    if settings.auth_mode == "oidc":
        provider = _provider(request)
        state, nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        login = {"state": state, "nonce": nonce, "verifier": verifier, "next": next_path}
        started = in_own_session(request, lambda session: core_web_sessions.start(session, now, settings,
                                                                              login_state=login))
        response: Response = RedirectResponse(_authorization_url(request, settings, provider, login), status_code=303)
        set_cookie(response, settings, started.token)
        return response
    # Development: pick a demo user. A session protects the form with its CSRF token.
    if current is None:
        current = in_own_session(request, lambda session: core_web_sessions.start(session, now, settings))
        request.state.browser_session = current
    response = pages(request).render(request, "logga_in.html", users=DEMO_USERS, next_path=next_path)
    set_cookie(response, settings, current.token)
    return response


@router.post("/logga-in", response_class=HTMLResponse)
def dev_sign_in(request: Request, form: FormDep, settings: SettingsDep, clock: ClockDep,
                current: BrowserSessionDep) -> Response:
    if settings.auth_mode != "dev" or settings.environment == "production":
        raise WebRefusal(404, "Sidan finns inte", "Inloggning med demoanvändare finns bara i utvecklingsläge.")
    role = next((role for role in DEMO_USERS if role.value == form.get("anvandare")), None)
    next_path = safe_next(form.get("nasta"))
    if role is None:
        return pages(request).render(request, "logga_in.html", status_code=422, users=DEMO_USERS,
                                     next_path=next_path, error="Välj vem du vill logga in som.")
    now = clock()
    subject = f"demo-{role.value}"

    def sign_in(session: Session) -> core_web_sessions.BrowserSession:
        try:  # as `devtoken` does: the demo user holds the demo grant, if the demo organisation is there
            ensure_grant(session, subject, role, DEMO_GRANT_UNIT[role], now, granted_by="system:demo")
        except ValueError:
            pass
        return core_web_sessions.sign_in(session, current.token if current else None,
                                    {"sub": subject, "name": f"Demo {DEMO_USERS[role].split(',')[0].lower()}"},
                                    now, settings)

    signed_in = in_own_session(request, sign_in)
    request.app.state.grant_cache.clear()
    response = RedirectResponse(next_path, status_code=303)
    set_cookie(response, settings, signed_in.token)
    return response


@router.get(CALLBACK_PATH, response_class=HTMLResponse)
def callback(request: Request, settings: SettingsDep, clock: ClockDep, current: BrowserSessionDep,
             code: Annotated[str | None, Query(max_length=2000)] = None,
             state: Annotated[str | None, Query(max_length=200)] = None,
             error: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    login: dict[str, Any] | None = current.login_state if current else None
    if settings.auth_mode != "oidc" or current is None or login is None or not state or not hmac.compare_digest(
            state.encode(), str(login.get("state", "")).encode()):
        raise WebRefusal(400, "Inloggningen kunde inte slutföras",
                         "Inloggningen hade gått ut eller startades i en annan webbläsare. Försök igen.")
    if error or not code:
        log.info("OIDC sign-in refused by the provider: %s", error)
        raise WebRefusal(403, "Inloggningen avbröts", "Du loggades inte in. Försök igen eller kontakta IT-support.")
    provider = _provider(request)
    try:
        token = _exchange(request, settings, provider, code, login["verifier"])
        id_token = str(token["id_token"])
        claims = provider.id_tokens.verify(id_token)
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), str(login["nonce"]).encode()):
            raise TokenInvalid("nonce mismatch")
    except Exception as exc:  # noqa: BLE001 - whatever failed (the exchange, the ID token), no one is signed in
        log.info("OIDC sign-in failed: %s: %s", type(exc).__name__, exc if isinstance(exc, TokenInvalid) else "")
        raise WebRefusal(403, "Inloggningen kunde inte slutföras",
                         "Svaret från inloggningstjänsten kunde inte godtas. Försök igen.") from None
    now = clock()
    signed_in = in_own_session(request, lambda session: core_web_sessions.sign_in(
        session, current.token, claims, now, settings, id_token=id_token))
    response = RedirectResponse(safe_next(login.get("next")), status_code=303)
    set_cookie(response, settings, signed_in.token)
    return response


@router.post("/logga-ut", response_class=HTMLResponse)
def sign_out(request: Request, form: FormDep, settings: SettingsDep, current: BrowserSessionDep) -> Response:
    target = "/utloggad"
    if current is not None:
        in_own_session(request, lambda session: core_web_sessions.end(session, current.token))
        provider = getattr(request.app.state, "oidc_provider", None)
        if settings.auth_mode == "oidc" and provider is not None and provider.end_session_endpoint:
            query = {"client_id": settings.client_id,
                     "post_logout_redirect_uri": _base_url(request, settings) + "/utloggad"}
            if current.id_token:
                query["id_token_hint"] = current.id_token
            target = provider.end_session_endpoint + ("&" if "?" in provider.end_session_endpoint else "?") + \
                urlencode(query)
    response = RedirectResponse(target, status_code=303)
    clear_cookie(response, settings)
    return response


@router.get("/utloggad", response_class=HTMLResponse)
def signed_out(request: Request) -> HTMLResponse:
    request.state.browser_session = None
    return pages(request).render(request, "utloggad.html")

