"""The server's own log: JSON lines on stdout in production, plain lines on stderr in development.

Called once at start by `python -m service serve` and by the ASGI entry point (service/asgi.py), so
`scripts/serve` and the container (uvicorn service.asgi:app) log alike. AVV_LOG_FORMAT picks the format
(`json` or `text`); unset, it is `json` when AVV_ENVIRONMENT=production and `text` otherwise.

Every record made while a request is served carries that request's id, the principal's subject once the
token is verified, and the route template (service/api/observe.py). What
goes here: one access line per request (service.access), refused tokens and 403s with their reason
(service.auth, never the token), failed JWKS refreshes, database outages, unexpected errors. Never a
token, a request body or case content: tests/conftest.py greps every record of the test run for them.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_HANDLER_NAME = "service-log"
# uvicorn's own loggers (start, stop, errors) go through the same handler, so a JSON log is JSON throughout.
_OTHER_LOGGERS = ("uvicorn", "uvicorn.error")

# The ASGI scope of the request being served (service/api/observe.py sets it), None outside a request.
# Its state holds the request id (service/api/middleware.py) and, once the token is verified, the
# principal's subject (service/api/deps.py); the threadpool copies the context, so sync code sees it too.
request_scope: ContextVar[MutableMapping[str, Any] | None] = ContextVar("request_scope", default=None)

# Fields of a JSON line taken from `extra=` on a log call (the access line's).
_EXTRA_FIELDS = ("method", "route", "status", "duration_ms")


def route_template(scope: Mapping[str, Any]) -> str | None:
    """The matched operation's path template ("/api/v1/reports/{report_id}"), never the path as sent,
    which may hold ids or anything a client typed; None before a route matched or when none did."""
    path_format = getattr(scope.get("route"), "path_format", None)
    if not isinstance(path_format, str):
        return None
    # A route of an included router may know its path without the router's prefix, which has no
    # parameters: take the prefix from the path as sent, as many segments as the route does not cover.
    sent = scope.get("path", "").split("/")
    covered = path_format.count("/")
    return "/".join(sent[:len(sent) - covered]) + path_format if len(sent) > covered else path_format


# The fields of a PostgreSQL error that name the schema, never the data. Its other parts can quote case
# content: the DETAIL line ("Failing row contains (…)", "Key (code)=(…) already exists"), the primary
# message ("invalid input syntax for type integer: …"), and the statement's parameters.
_DIAGNOSTIC_NAMES = ("sqlstate", "constraint_name", "table_name", "column_name", "datatype_name")


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from or while handling, outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not other for other in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _is_database_error(exc: BaseException) -> bool:
    from sqlalchemy.exc import StatementError

    if isinstance(exc, (StatementError, sqlite3.Error)):
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover - SQLite-only installations
        return False
    return isinstance(exc, psycopg.Error)


def database_error_summary(exc: BaseException) -> str | None:
    """For an exception that is, or arose from, a database error: the classes, the SQLSTATE and the names
    of the constraint, table, column and type involved, e.g. `IntegrityError (CheckViolation) sqlstate=23514
    constraint=ck_report_x table=report`. Never the driver's message, its DETAIL or the parameters.
    None for any other exception."""
    chain = _chain(exc)
    errors = [error for error in chain if _is_database_error(error)]
    if not errors:
        return None
    names = []
    for error in (chain[0], *errors, getattr(errors[0], "orig", None)):
        if error is not None and type(error).__name__ not in names:
            names.append(type(error).__name__)
    parts = [names[0] + (f" ({', '.join(names[1:])})" if len(names) > 1 else "")]
    for error in [*errors, getattr(errors[0], "orig", None)]:
        diag = getattr(error, "diag", None)
        if diag is not None:  # psycopg
            parts += [f"{name.removesuffix('_name')}={value}" for name in _DIAGNOSTIC_NAMES
                      if (value := getattr(diag, name, None))]
            break
        if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorname", None):
            parts.append(f"sqlite={error.sqlite_errorname}")
            break
    return " ".join(parts)


def safe_traceback(exc: BaseException) -> str:
    """The exception's traceback; for a database error only its frames and its summary, no message."""
    summary = database_error_summary(exc)
    if summary is None:
        return "".join(traceback.format_exception(exc)).rstrip("\n")
    frames = "".join(traceback.format_tb(exc.__traceback__))
    return f"Traceback (most recent call last):\n{frames}database error: {summary}"


class SafeDatabaseErrors(logging.Filter):
    """Rewrites a record carrying a database error (uvicorn's "Exception in ASGI application", a background
    thread's log.exception) so that the error appears only as safe_traceback gives it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and database_error_summary(exc) is not None:
            record.msg = f"{record.getMessage()}\n{safe_traceback(exc)}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class RequestContextFilter(logging.Filter):
    """Puts the current request's id, subject and route on every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        scope = request_scope.get()
        state = scope.get("state", {}) if scope is not None else {}
        if not hasattr(record, "request_id"):
            record.request_id = state.get("request_id")
        if not hasattr(record, "subject"):
            record.subject = state.get("principal_subject")
        if not hasattr(record, "route"):
            record.route = route_template(scope) if scope is not None else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id, subject, and
    route, method, status, duration_ms where known. json.dumps escapes control characters, so a value
    cannot forge a line of its own."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "subject": getattr(record, "subject", None),
        }
        for name in _EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)

    def formatException(self, ei: Any) -> str:  # noqa: N802 - overrides logging.Formatter's method
        """A database error without its text (safe_traceback); any other exception as usual."""
        return safe_traceback(ei[1]) if ei[1] is not None else super().formatException(ei)


class TextFormatter(logging.Formatter):
    """The development format: time level logger message, and the request id when there is one, at the end of
    the first line (a traceback follows on the next)."""

    def __init__(self) -> None:
        super().__init__(FORMAT, DATE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        request_id = getattr(record, "request_id", None)
        if not request_id:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [request {request_id}]{newline}{rest}"

    def formatException(self, ei: Any) -> str:  # noqa: N802 - overrides logging.Formatter's method
        """A database error without its text (safe_traceback); any other exception as usual."""
        return safe_traceback(ei[1]) if ei[1] is not None else super().formatException(ei)


def log_format() -> str:
    """`json` or `text`, from AVV_LOG_FORMAT, else from AVV_ENVIRONMENT."""
    chosen = os.environ.get("AVV_LOG_FORMAT", "").strip().lower()
    if chosen in ("json", "text"):
        return chosen
    if chosen:
        raise ValueError("AVV_LOG_FORMAT must be json or text")
    return "json" if os.environ.get("AVV_ENVIRONMENT", "").strip().lower() == "production" else "text"


def configure_logging(level: int = logging.INFO, fmt: str | None = None) -> None:
    """Records of the `service.*` loggers at `level` and above go out in `fmt` (default: log_format()).
    Calling it again adds no second handler, but hands uvicorn's loggers to it again in JSON: uvicorn sets
    up its own logging after `python -m service serve` has called this, and before it imports the app."""
    logger = logging.getLogger("service")
    logger.setLevel(level)
    handler = next((h for h in logger.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        fmt = fmt or log_format()
        handler = logging.StreamHandler(sys.stdout if fmt == "json" else sys.stderr)
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
        handler.addFilter(RequestContextFilter())
        handler.addFilter(SafeDatabaseErrors())
        logger.addHandler(handler)
        # Not also through the root logger: Alembic's logging set-up (alembic.ini) gives it a handler of its own.
        logger.propagate = False
    for name in _OTHER_LOGGERS:  # uvicorn logs what escapes the app, a database error too, in either format
        other = logging.getLogger(name)
        if not any(isinstance(existing, SafeDatabaseErrors) for existing in other.filters):
            other.addFilter(SafeDatabaseErrors())
    if isinstance(handler.formatter, JsonFormatter):
        for name in _OTHER_LOGGERS:
            other = logging.getLogger(name)
            other.handlers = [handler]
            other.propagate = False
