"""Request-scoped dependencies: settings, clock, database session, and the authenticated principal."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Hashable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.dependencies.utils import get_flat_params
from fastapi.params import Param
from fastapi.routing import APIRoute
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from service.api.problems import ProblemException
from service.caches import TtlCache
from service.categories import CategoryBook
from service.config import Settings
from service.domain.access import Principal
from service.domain.reports import local_date
from service.grants import grants_key, load_grants, principal_of
from service.org_units import OrgSnapshot, apply_due_placements
from service.tokens import TokenInvalid, TokenVerifier

log = logging.getLogger("service.auth")
T = TypeVar("T")


# Dependencies that do no I/O are async: a sync one costs a hop to the threadpool on every request.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_clock(request: Request) -> Callable[[], datetime]:
    return request.app.state.clock


_AFTER_COMMIT = "after_commit"  # request.state: what runs once the request's transaction is committed


def _request_session(engine_of: Callable[[Any], Engine]) -> Callable[[Request], AsyncIterator[Session]]:
    async def request_session(request: Request) -> AsyncIterator[Session]:
        """The request's session and its one transaction: committed when the endpoint succeeds, else rolled back.

        The commit runs when the endpoint has returned (its answer already built) and before the response goes
        out, so an answer never reports what was not stored: a failed commit is the usual 500 problem. A
        refused or failed request rolls back; its access-log records are written then all the same
        (service/audit.py). What must follow a committed change (clearing caches) is queued with `after_commit`
        and runs only once the commit succeeded. Use cases and routers do not commit or roll back.
        """
        # Creating a session does no I/O, and closing one that never began a transaction does none either;
        # committing or rolling back runs on the threadpool (for a sync endpoint of a CommittingRoute, in the
        # endpoint's own hop, so this finds the transaction already committed).
        session = Session(engine_of(request.app.state), expire_on_commit=False)
        session.info[_REQUEST_SESSION] = True
        callbacks: list[Callable[[], None]] = []
        setattr(request.state, _AFTER_COMMIT, callbacks)
        try:
            yield session
        except BaseException:
            if session.in_transaction():
                await run_in_threadpool(session.close)
            else:
                session.close()
            raise
        if session.in_transaction():
            await run_in_threadpool(_commit_and_close, session)  # one hop to the thread pool, not two
        else:
            session.close()
        for callback in callbacks:
            callback()

    return request_session


get_session = _request_session(lambda state: state.engine)
# For endpoints that only read (and log the access): on SQLite they read without the write lock
# (service/db.py reading), their access records written in a short transaction of their own as theirs ends.
get_reading_session = _request_session(lambda state: state.reading_engine)


_REQUEST_SESSION = "request_session"  # Session.info key: this is a request's session (see CommittingRoute)


class CommittingRoute(APIRoute):
    """The API's route: refuses query parameters it does not know, and its sync endpoint commits the request's
    session in its own thread-pool hop, as it returns. Every router under /api/v1 uses it (a test checks).

    Unknown query parameters: a misspelt filter must fail loudly (400) rather than silently widen a query.
    Checked before any dependency runs, against the parameters the route declares, worked out once here:
    as a dependency of every route the check cost a dependency's solving on every request.

    The commit: without it the session dependency commits after the endpoint, in a second hop: the thread that
    ran the endpoint gives the event loop back while its transaction is still open, and the commit waits for
    the loop's turn. On SQLite that transaction holds the one write lock all that time, so every other writer
    waits too (the long tail under load, bench/README.md). Same rules as the dependency: only when the
    endpoint returned, before the response goes out; a failed commit fails the request; after-commit work
    still runs in the dependency, which then finds nothing left to commit.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _committing(endpoint)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()  # called by the constructor, and per inclusion of the router
        known = frozenset(param.alias for param in get_flat_params(self.dependant)
                          if isinstance(param.field_info, Param) and param.field_info.in_.value == "query")

        async def refusing_unknown_query_parameters(request: Request) -> Response:
            if request.query_params:
                unknown = sorted(set(request.query_params) - known)
                if unknown:
                    raise ProblemException(
                        400, f"Unknown query parameter(s): {', '.join(unknown)}.", type_="unknown-query-parameter",
                        errors=[{"pointer": None, "location": "query", "name": name,
                                 "detail": "not a parameter of this operation", "code": "unknown_parameter"}
                                for name in unknown])
            return await handle(request)

        return refusing_unknown_query_parameters


def _committing(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the parameters, and their module, through __wrapped__
    def run_then_commit(*args: Any, **kwargs: Any) -> Any:
        answer = endpoint(*args, **kwargs)
        for value in kwargs.values():
            if isinstance(value, Session) and value.info.get(_REQUEST_SESSION) and value.in_transaction():
                value.commit()
        return answer

    return run_then_commit


def _commit_and_close(session: Session) -> None:
    try:
        session.commit()
    finally:
        session.close()


def after_commit(request: Request, callback: Callable[[], None]) -> None:
    """Run `callback` once the request's transaction is committed; never if it fails or rolls back."""
    queued = getattr(request.state, _AFTER_COMMIT, None)
    if queued is None:  # no request session: nothing is waiting to be committed
        callback()
    else:
        queued.append(callback)


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
# scope="function": the transaction is committed (or rolled back) before the response goes out.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadingSessionDep = Annotated[Session, Depends(get_reading_session, scope="function")]

_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProblemException(401, "A bearer token is required.", type_="unauthenticated",
                               headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


def read_alone(request: Request, load: Callable[[Session], T]) -> T:
    """Cache loads read in a short session of their own, never in the request's: that one stays unopened
    until the endpoint uses it (intake relies on this), and is not held open by what a cache needs. On SQLite
    they take no write lock (service/db.py reading)."""
    with Session(request.app.state.reading_engine) as session:
        return load(session)


async def cached(request: Request, cache: TtlCache[T], key: Hashable, load: Callable[[Session], T]) -> T:
    """What `cache` keeps under `key`, or else `load`ed (off the event loop, as read_alone reads) and kept."""
    value = cache.peek(key)
    if value is None:
        value = await run_in_threadpool(read_alone, request, load)
        cache.put(key, value)
    return value


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


async def get_principal(request: Request) -> Principal:
    token = _bearer_token(request)
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        # A remembered token costs nothing; verifying may fetch the JWKS, so it runs off the event loop.
        claims = verifier.remembered(token)
        if claims is None:
            claims = await run_in_threadpool(verifier.verify, token)
    except TokenInvalid as exc:
        # The reason goes to our log only; the client learns nothing about why.
        log.info("token refused: %s", exc)
        raise ProblemException(401, "The bearer token is not valid.", type_="unauthenticated",
                               headers=_UNAUTHORIZED_HEADERS) from None
    return await principal_from_claims(request, request.app.state.settings, claims)


async def principal_from_claims(request: Request, settings: Settings, claims: dict) -> Principal:
    """The principal of verified claims (a token's, or a browser session's): its stored or claimed grants."""
    await keep_org_current(request)
    grants = await cached(request, request.app.state.grant_cache, grants_key(claims, settings.grant_source),
                          lambda session: load_grants(session, claims, settings.grant_source))
    principal = principal_of(claims, grants)
    request.state.principal_subject = principal.subject
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_org(request: Request) -> OrgSnapshot:
    await keep_org_current(request)
    return await cached(request, request.app.state.org_cache, "org", OrgSnapshot.load)


def forget_org_data(state: Any) -> None:
    """Empty this process's caches of what an org change touches (`state`: the app's)."""
    state.org_cache.clear()
    state.grant_cache.clear()  # grants carry unit paths, which a move changes
    state.category_cache.clear()  # a new förvaltning comes with its categories


def org_changed(request: Request) -> None:
    """Call when the request changes the org tree: once that is committed, this process sees it at once,
    others when the transaction's notice reaches them (service/cache_signal.py), at the latest within the TTL."""
    after_commit(request, lambda: forget_org_data(request.app.state))


OrgDep = Annotated[OrgSnapshot, Depends(get_org)]


async def get_categories(request: Request) -> CategoryBook:
    """Every förvaltning's report categories, as intake checks them: cached like the org tree."""
    return await cached(request, request.app.state.category_cache, "categories", CategoryBook.load)


def categories_changed(request: Request) -> None:
    """Call when the request changes a category: once committed, this process checks reports against the
    change at once, other instances within AVV_ORG_CACHE_SECONDS. No restart is needed."""
    after_commit(request, request.app.state.category_cache.clear)


CategoriesDep = Annotated[CategoryBook, Depends(get_categories)]
