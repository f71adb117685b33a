"""Request-scoped dependencies: settings, clock, database session, and the authenticated principal."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from sqlmodel import Session

from service.api.problems import ProblemException
from service.caches import OrgSnapshot
from service.config import Settings
from service.domain.access import Principal
from service.domain.reports import local_date
from service.grants import grants_key, load_grants, principal_of
from service.org_units import apply_due_placements
from service.tokens import TokenInvalid, TokenVerifier

log = logging.getLogger("service.auth")
T = TypeVar("T")


# Dependencies that do no I/O are async: a sync one costs a hop to the threadpool on every request.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_clock(request: Request) -> Callable[[], datetime]:
    return request.app.state.clock


async def get_session(request: Request) -> AsyncIterator[Session]:
    # Creating a session does no I/O, and closing one whose work was committed does none either;
    # only a session left mid-transaction (the request failed) is rolled back on the threadpool.
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


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


def _read_alone(request: Request, load: Callable[[Session], T]) -> T:
    """Cache loads read in a short session of their own, never in the request's: that one stays unopened
    until the endpoint uses it (intake relies on this), and is not held open by what a cache needs."""
    with Session(request.app.state.engine) as session:
        return load(session)


async def keep_org_current(request: Request) -> None:
    """Org changes dated in the future take effect on their day: the first request of each day (in this
    process's time zone) applies those that are due, before anything reads the tree or grants."""
    state = request.app.state
    today = local_date(state.clock(), state.settings.time_zone)
    if state.org_day != today:
        await run_in_threadpool(_apply_due_placements, state, today)


def _apply_due_placements(state: Any, today: date) -> None:
    with state.org_day_lock:
        if state.org_day == today:
            return
        with Session(state.engine) as session:
            apply_due_placements(session, today)
            session.commit()
        # Another instance may have applied them already; what this process cached may still be yesterday's.
        state.org_cache.clear()
        state.grant_cache.clear()
        state.org_day = today


async def get_principal(request: Request, settings: SettingsDep) -> Principal:
    token = _bearer_token(request)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        # A remembered token costs nothing; verifying may fetch the JWKS, so it runs off the event loop.
        claims = verifier.remembered(token) or await run_in_threadpool(verifier.verify, token)
    except TokenInvalid as exc:
        # The reason goes to our log only; the client learns nothing about why.
        log.info("token refused: %s", exc)
        raise ProblemException(401, "The bearer token is not valid.", type_="unauthenticated",
                               headers=_UNAUTHORIZED_HEADERS) from None
    await keep_org_current(request)
    cache = request.app.state.grant_cache
    key = grants_key(claims, settings.grant_source)
    grants = cache.peek(key)
    if grants is None:
        grants = await run_in_threadpool(
            _read_alone, request, lambda session: load_grants(session, claims, settings.grant_source))
        cache.put(key, grants)
    principal = principal_of(claims, grants)
    request.state.principal_subject = principal.subject
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_org(request: Request) -> OrgSnapshot:
    await keep_org_current(request)
    cache = request.app.state.org_cache
    org = cache.peek("org")
    if org is None:
        org = await run_in_threadpool(_read_alone, request, OrgSnapshot.load)
        cache.put("org", org)
    return org


def org_changed(request: Request) -> None:
    """Call after committing a change to the org tree: this process sees it at once, others within the TTL."""
    request.app.state.org_cache.clear()
    request.app.state.grant_cache.clear()  # grants carry unit paths, which a move changes


OrgDep = Annotated[OrgSnapshot, Depends(get_org)]
