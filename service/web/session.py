"""The browser's side of sign-in: the session cookie, the principal it names, CSRF on every POST."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Annotated, TypeVar
from urllib.parse import parse_qsl, quote

from fastapi import Depends, Request, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from service import web_sessions as core_web_sessions
from service.api.deps import SettingsDep, principal_from_claims
from service.config import Settings
from service.domain.access import Principal
from service.web_sessions import BrowserSession

log = logging.getLogger("service.web")

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 64


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class WebRefusal(Exception):
    """A request a page refuses with a Swedish explanation (an expired form, a malformed post)."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status, self.title, self.message = status, title, message


def cookie_name(settings: Settings) -> str:
    # __Host-: only ever set by this host, over HTTPS, for the whole site; no subdomain can plant one.
    return "__Host-avvikelser" if settings.cookie_secure else "avvikelser"


def set_cookie(response: Response, settings: Settings, token: str) -> None:
    # No Max-Age: the cookie ends with the browser; the database ends the session on its own clock.
    response.set_cookie(cookie_name(settings), token, path="/", secure=settings.cookie_secure, httponly=True,
                        samesite="lax")


def clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(cookie_name(settings), path="/", secure=settings.cookie_secure, httponly=True,
                           samesite="lax")


T = TypeVar("T")


def in_own_session(request: Request, work: Callable[[Session], T]) -> T:
    """Run work(session) in a short database session of its own and commit it: the page's own session stays
    unopened until the page uses it (intake relies on that), as for the API's token checks."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        result = work(session)
        session.commit()
        return result


async def browser_session(request: Request, settings: SettingsDep) -> BrowserSession | None:
    if hasattr(request.state, "browser_session"):
        return request.state.browser_session
    token = request.cookies.get(cookie_name(settings))
    found = None
    if token:
        now = request.app.state.clock()
        found = await run_in_threadpool(
            in_own_session, request, lambda session: core_web_sessions.load(session, token, now, settings))
    request.state.browser_session = found
    return found


BrowserSessionDep = Annotated[BrowserSession | None, Depends(browser_session)]


async def signed_in_principal(request: Request, settings: SettingsDep, current: BrowserSessionDep) -> Principal:
    if current is None or current.claims is None:
        raise SignInRequired(request.url.path)
    return await principal_from_claims(request, settings, current.claims)


WebPrincipalDep = Annotated[Principal, Depends(signed_in_principal)]


async def posted_form(request: Request, current: BrowserSessionDep) -> dict[str, str]:
    """The posted fields (first value of each), after the CSRF check: the token must be the session's."""
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True,
                          max_num_fields=MAX_FORM_FIELDS, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise WebRefusal(400, "Formuläret kunde inte läsas",
                         "Det som skickades gick inte att läsa. Ladda om sidan och försök igen.") from None
    data: dict[str, str] = {}
    for name, value in pairs:
        data.setdefault(name, value)
    sent = data.get("csrf_token", "")
    if current is None or not sent or not hmac.compare_digest(sent.encode(), current.csrf_token.encode()):
        log.info("web form refused: CSRF token missing or wrong on %s", request.url.path)
        raise WebRefusal(403, "Sidan har hunnit bli för gammal",
                         "Formuläret kunde inte tas emot, kanske för att du har varit inaktiv en stund eller "
                         "loggat ut i en annan flik. Gå tillbaka, ladda om sidan och skicka igen.")
    return data


FormDep = Annotated[dict[str, str], Depends(posted_form)]


def sign_in_url(next_path: str) -> str:
    return "/logga-in?nasta=" + quote(next_path, safe="/")


def safe_next(value: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect after sign-in."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/rapportera"
