"""Browser sessions, stored in the database so that they work across instances and restarts.

The cookie carries a random token (256 bits); the table keeps only its SHA-256. A session starts
anonymous (it protects the sign-in form with its CSRF token and holds an OIDC sign-in's state), and
signing in replaces it with a new one (a new token: a token seen before sign-in is worth nothing after).
A session ends when signed out, after `web_session_idle_minutes` without a request, or after
`web_session_max_hours` whatever happens.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col

from service.config import Settings
from service.models import WebSession

# A sign-in that has not finished within this time starts again.
ANONYMOUS_LIFETIME = timedelta(minutes=30)
# last_seen_at is written at most this often per session: a page view is not a database write.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class BrowserSession:
    token: str  # the cookie's value; never stored
    csrf_token: str
    claims: dict[str, Any] | None  # None: not signed in
    login_state: dict[str, Any] | None
    id_token: str | None

    @property
    def signed_in(self) -> bool:
        return self.claims is not None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _expiry(created: datetime, seen: datetime, settings: Settings, signed_in: bool) -> datetime:
    if not signed_in:
        return min(created + ANONYMOUS_LIFETIME, seen + ANONYMOUS_LIFETIME)
    return min(created + timedelta(hours=settings.web_session_max_hours),
               seen + timedelta(minutes=settings.web_session_idle_minutes))


def _view(token: str, row: WebSession) -> BrowserSession:
    return BrowserSession(token=token, csrf_token=row.csrf_token,
                          claims=json.loads(row.claims) if row.claims else None,
                          login_state=json.loads(row.login_state) if row.login_state else None,
                          id_token=row.id_token)


def start(session: Session, now: datetime, settings: Settings, *,
          login_state: dict[str, Any] | None = None) -> BrowserSession:
    """A new anonymous session (a visitor who has not signed in yet)."""
    return _create(session, now, settings, claims=None, login_state=login_state, id_token=None)


def _create(session: Session, now: datetime, settings: Settings, *, claims: dict[str, Any] | None,
            login_state: dict[str, Any] | None, id_token: str | None) -> BrowserSession:
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=_hash(token), subject=str(claims["sub"]) if claims else None,
        claims=json.dumps(claims, ensure_ascii=False) if claims else None,
        csrf_token=secrets.token_urlsafe(32),
        login_state=json.dumps(login_state) if login_state else None, id_token=id_token,
        created_at=now, last_seen_at=now, expires_at=_expiry(now, now, settings, claims is not None),
    )
    session.add(row)
    session.flush()
    return _view(token, row)


def load(session: Session, token: str | None, now: datetime, settings: Settings) -> BrowserSession | None:
    """The session the cookie names, if it is still alive; its idle clock starts again."""
    if not token or len(token) > 100:
        return None
    row = session.get(WebSession, _hash(token))
    if row is None:
        return None
    if row.expires_at <= now:
        session.delete(row)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        row.expires_at = _expiry(row.created_at, now, settings, row.claims is not None)
        session.add(row)
    return _view(token, row)


def set_login_state(session: Session, token: str, login_state: dict[str, Any] | None) -> None:
    row = session.get(WebSession, _hash(token))
    if row is not None:
        row.login_state = json.dumps(login_state) if login_state else None
        session.add(row)


def sign_in(session: Session, previous_token: str | None, claims: dict[str, Any], now: datetime,
            settings: Settings, *, id_token: str | None = None) -> BrowserSession:
    """End the anonymous session and start a signed-in one with a new token. Expired rows go too."""
    if previous_token:
        end(session, previous_token)
    session.execute(delete(WebSession).where(col(WebSession.expires_at) <= now))
    return _create(session, now, settings, claims={key: claims[key] for key in ("sub", "name", "grants")
                                                   if claims.get(key) is not None},
                   login_state=None, id_token=id_token)


def end(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(col(WebSession.token_hash) == _hash(token)))

