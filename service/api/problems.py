"""RFC 9457 problem+json: one body shape for every error the service gives."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.params import Param
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import InterfaceError, OperationalError, TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from service.domain.closing import CannotClose
from service.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from service.domain.lifecycle import InvalidTransition
from service.logs import database_error_summary, route_template, safe_traceback

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:avvikelser:problem:"

log = logging.getLogger("service.errors")
# Seconds a client is asked to wait when the database is away (503).
RETRY_AFTER_SECONDS = 5


class FieldError(BaseModel):
    pointer: str | None = None
    location: str
    name: str | None = Field(default=None, description="The field or parameter the error is about.")
    detail: str
    code: str


class Problem(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


def problem_response(
    status: int,
    *,
    detail: str | None = None,
    title: str | None = None,
    type_: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + type_ if type_ else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update({key: value for key, value in extensions.items() if value is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


class ProblemException(Exception):
    """Raised by the API layer for an HTTP-level refusal that is not a domain rule."""

    def __init__(self, status: int, detail: str, *, type_: str | None = None,
                 headers: dict[str, str] | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type_ = type_
        self.headers = headers
        self.extensions = extensions


_DOMAIN_STATUS: list[tuple[type[DomainError], int, str]] = [
    (InvalidTransition, 409, "invalid-transition"),
    (CannotClose, 409, "cannot-close"),
    (NotFound, 404, "not-found"),
    (Forbidden, 403, "forbidden"),
    (Conflict, 409, "conflict"),
    (InvalidInput, 422, "invalid-input"),
]


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Starlette names only the first route that matched the path; list every method the path takes."""
    allowed = [method for method in _METHODS
               if any(route.matches({**request.scope, "method": method})[0] is Match.FULL
                      for route in request.app.routes)]
    return ", ".join(allowed)


def _instance(request: Request) -> str | None:
    """The operation's path template ("/api/v1/reports/{report_id}/close"), never the path as sent, which
    may hold anything a client put in it; none when no route matched."""
    return route_template(request.scope)


def _segment(part: Any) -> str:
    """One reference token of a JSON pointer (RFC 6901): '~' and '/' are escaped."""
    return str(part).replace("~", "~0").replace("/", "~1")


def _pointer(location: tuple[Any, ...] | list[Any]) -> str | None:
    parts = list(location)
    if not parts or parts[0] != "body":
        return None
    return "/" + "/".join(_segment(part) for part in parts[1:])


def _field_pointer(field: str) -> str:
    """A domain error's field as a JSON pointer: '/units/3/code' stays, 'unit.name' becomes '/unit/name'."""
    if field.startswith("/"):
        return field
    return "/" + "/".join(_segment(part) for part in field.split("."))


_PARAMETERS: dict[int, dict[str, str]] = {}


def _parameter_locations(request: Request) -> dict[str, str]:
    """The route's parameters outside the body, by name: 'query', 'path', 'header' or 'cookie'."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return {}
    known = _PARAMETERS.get(id(route))
    if known is None:
        known = {param.alias: param.field_info.in_.value
                 for param in get_flat_params(route.dependant) if isinstance(param.field_info, Param)}
        _PARAMETERS[id(route)] = known
    return known


def _field_error(request: Request, field: str, detail: str, code: str) -> dict[str, Any]:
    """A domain error's field where the client gave it: a query, path or header parameter of the route, else
    a member of the body (only those have a pointer, as in FastAPI's validation errors)."""
    pointer = _field_pointer(field)
    name = ".".join(part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/"))
    location = _parameter_locations(request).get(name, "body")
    return {"pointer": pointer if location == "body" else None, "location": location, "name": name,
            "detail": detail, "code": code}


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = (exc.detail if isinstance(exc.detail, str) and exc.detail != HTTPStatus(exc.status_code).phrase
                  else None)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return problem_response(exc.status_code, detail=detail, instance=_instance(request), headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        if any(error.get("type") == "json_invalid" for error in raw):
            return problem_response(400, title="Malformed JSON", type_="malformed-json",
                                    detail="The request body is not valid JSON.", instance=_instance(request))
        # Never echo the submitted value: it may hold personal data.
        errors = [
            {
                "pointer": _pointer(error["loc"]),
                "location": str(error["loc"][0]) if error["loc"] else "body",
                "name": ".".join(str(part) for part in error["loc"][1:]) or None,
                "detail": error["msg"],
                "code": error["type"],
            }
            for error in raw
        ]
        names = ", ".join(sorted({e["name"] or e["location"] for e in errors}))
        return problem_response(422, title="Request validation failed", type_="validation",
                                detail=f"Invalid or missing: {names}.", instance=_instance(request), errors=errors)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        for cls, status, type_ in _DOMAIN_STATUS:
            if isinstance(exc, cls):
                errors = None
                if exc.field is not None:
                    errors = [_field_error(request, exc.field, exc.detail, type_)]
                if status == 403:  # the reason, as the client is told it (it repeats none of their input)
                    log.info("refused 403 %s: %s", type_, exc.detail)
                extensions: dict[str, Any] = exc.extensions()
                return problem_response(status, type_=type_, detail=exc.detail, instance=_instance(request),
                                        errors=errors, **extensions)
        raise exc  # a DomainError subclass without a mapping is a programming error

    @app.exception_handler(ProblemException)
    async def _problem(request: Request, exc: ProblemException) -> JSONResponse:
        if exc.status in (401, 403):  # why a token was refused is logged by service.auth (deps.py)
            log.info("refused %d %s: %s", exc.status, exc.type_, exc.detail)
        return problem_response(exc.status, type_=exc.type_, detail=exc.detail, instance=_instance(request),
                                headers=exc.headers, **exc.extensions)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(SQLAlchemyTimeoutError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The database is down, restarting, unreachable or its pool is exhausted. Nothing is acknowledged:
        # a write answers 2xx only after its commit returned. Only the error's class is logged: a
        # driver's message may quote the statement's parameters.
        log.warning("database unavailable: %s (%s)", type(exc).__name__,
                    type(getattr(exc, "orig", None)).__name__)
        return problem_response(503, type_="database-unavailable", title="Service Unavailable",
                                detail="The database cannot be reached just now. Try again shortly.",
                                instance=_instance(request), headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    # The last resort outside every middleware (Starlette's); UnhandledErrorMiddleware answers first.
    app.add_exception_handler(Exception, unhandled_error_response)


async def unhandled_error_response(request: Request, exc: Exception) -> JSONResponse:
    """The 500 problem for an error nothing else handled, and its one log line."""
    if database_error_summary(exc) is not None:
        # A constraint the checks before it missed, say: PostgreSQL's message and DETAIL can quote the
        # failing row, so only the SQLSTATE, the names involved and the frames are logged.
        log.error("unhandled database error on %s %s\n%s", request.method, request.url.path, safe_traceback(exc))
    else:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(500, detail="An unexpected error occurred. It has been logged.",
                            instance=_instance(request))


DATABASE_UNAVAILABLE = "DatabaseUnavailable"  # the name of the shared 503 in components/responses


def database_unavailable_response() -> dict[str, Any]:
    """The 503 every operation may answer (each touches the database: grants, the org tree, the access log),
    declared once under components/responses and referred to by every operation (service/main.py)."""
    return {
        "description": "The database cannot be reached just now (down, restarting, or all its connections "
                       "busy). The request was not acknowledged: send it again after `Retry-After` seconds. A "
                       "write cut off by the outage may have landed all the same, so look before resending it "
                       "(a report with an `external_reference` can simply be sent again).",
        "headers": {"Retry-After": {"description": "Seconds to wait before trying again.",
                                    "schema": {"type": "integer", "minimum": 1, "examples": [RETRY_AFTER_SECONDS]}}},
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the listed statuses, all documented as problem+json."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
