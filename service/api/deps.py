"""Request-scoped dependencies: settings, clock, database session, and the authenticated principal."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from service.api.problems import ProblemException
from service.caches import OrgSnapshot
from service.config import Settings
from service.db import session_scope
from service.domain.access import Principal
from service.grants import principal_from_claims
from service.tokens import TokenInvalid, TokenVerifier

log = logging.getLogger("service.auth")


# Dependencies that do no I/O are async: a sync one costs a hop to the threadpool on every request.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_clock(request: Request) -> Callable[[], datetime]:
    return request.app.state.clock


def get_session(request: Request) -> Iterator[Session]:
    yield from session_scope(request.app.state.engine)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
# scope="function": the session closes (rolling back anything uncommitted) before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemException(401, "A bearer token is required.", type_="unauthenticated",
                               headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def get_principal(request: Request, session: SessionDep, settings: SettingsDep) -> Principal:
    token = _bearer_token(request)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        claims = verifier.verify(token)
    except TokenInvalid as exc:
        # The reason goes to our log only; the client learns nothing about why.
        log.info("token refused: %s", exc)
        raise ProblemException(401, "The bearer token is not valid.", type_="unauthenticated",
                               headers=_UNAUTHORIZED_HEADERS) from None
    principal = principal_from_claims(session, claims, settings.grant_source, request.app.state.grant_cache)
    request.state.principal_subject = principal.subject
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_org(request: Request, session: SessionDep) -> OrgSnapshot:
    return request.app.state.org_cache.get("org", lambda: OrgSnapshot.load(session))


def org_changed(request: Request) -> None:
    """Call after committing a change to the org tree: this process sees it at once, others within the TTL."""
    request.app.state.org_cache.clear()
    request.app.state.grant_cache.clear()  # grants carry unit paths, which a move changes


OrgDep = Annotated[OrgSnapshot, Depends(get_org)]
