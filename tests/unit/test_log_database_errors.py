"""How a database error appears in the log (service/logs.py): classes, SQLSTATE and names, never its text."""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy.exc import IntegrityError

from service.logs import JsonFormatter, SafeDatabaseErrors, TextFormatter, database_error_summary, safe_traceback

ROW = "Brukaren fick fel läkemedel vid kvällsbesöket."


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - to give it a traceback
        return caught


def _integrity_error() -> IntegrityError:
    orig = sqlite3.IntegrityError(f"refused: {ROW}")
    orig.sqlite_errorname = "SQLITE_CONSTRAINT_TRIGGER"
    return IntegrityError("INSERT INTO report (description) VALUES (?)", [ROW], orig)


def test_a_database_error_and_one_raised_while_handling_it_keep_only_classes_and_names():
    error = _raised(_integrity_error())
    assert database_error_summary(error) == "IntegrityError sqlite=SQLITE_CONSTRAINT_TRIGGER"
    try:
        try:
            raise error
        except IntegrityError:
            raise ValueError(f"could not store {ROW}")  # noqa: B904 - the implicit chain is what is tested
    except ValueError as outer:
        assert database_error_summary(outer) == "ValueError (IntegrityError) sqlite=SQLITE_CONSTRAINT_TRIGGER"
        text = safe_traceback(outer)
    assert text.startswith("Traceback (most recent call last):\n") and ROW not in text


def test_other_errors_keep_their_whole_traceback():
    error = _raised(KeyError("units"))
    assert database_error_summary(error) is None
    assert safe_traceback(error).endswith("KeyError: 'units'")


def test_the_text_format_gives_the_request_id_on_the_first_line_of_a_record_with_a_traceback():
    error = _raised(KeyError("units"))
    record = logging.LogRecord("service.errors", logging.ERROR, __file__, 1, "unhandled error on GET /x", None,
                               (type(error), error, error.__traceback__))
    record.request_id = "req-12345678"
    first, *rest = TextFormatter().format(record).splitlines()
    assert first.endswith(" ERROR service.errors unhandled error on GET /x [request req-12345678]")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "KeyError: 'units'"


def test_every_formatter_and_the_filter_leave_the_failing_row_out():
    error = _raised(_integrity_error())
    for make in (JsonFormatter, TextFormatter):
        record = logging.LogRecord("service.audit", logging.ERROR, __file__, 1, "sealing failed", None,
                                   (type(error), error, error.__traceback__))
        assert ROW not in make().format(record)
    record = logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application\n", None,
                               (type(error), error, error.__traceback__))
    SafeDatabaseErrors().filter(record)
    assert record.exc_info is None and ROW not in logging.Formatter().format(record)
    assert record.getMessage().endswith("database error: IntegrityError sqlite=SQLITE_CONSTRAINT_TRIGGER")
