"""Generated requests to every operation (schemathesis): whatever they hold, no answer is a server error.

A bounded, repeatable run (derandomized, a few examples per operation) in every test run; a longer one by
hand against a running server is described in README.md ("Fuzzing").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis.checks import not_a_server_error

# Dates and times at and past the edges: the extremes Python can hold, with the widest UTC offsets (which
# overflow when moved to UTC or to Swedish time), no offset at all, and the edges of the accepted range
# (service/domain/time_range.py). Each was a 500 somewhere once; generated requests use them often.
_OFFSETS = [timezone(timedelta(hours=hours)) for hours in (14, -14, 0, 1, 2)]
_EDGE_MOMENTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z",
                 "9999-12-31T23:59:59.999999Z", "2026-03-01T10:00:00", "1899-12-31T23:59:59Z",
                 "1900-01-01T00:00:00+14:00", "2199-12-31T23:59:59-14:00", "2200-01-01T00:00:00Z"]
_EDGE_DAYS = ["0001-01-01", "9999-12-31", "1899-12-31", "1900-01-01", "2199-12-31", "2200-01-01"]
schemathesis.openapi.format("date-time", st.one_of(
    st.sampled_from(_EDGE_MOMENTS),
    st.builds(lambda moment, offset: moment.replace(tzinfo=offset).isoformat(),
              st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
              st.sampled_from(_OFFSETS)),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
        lambda moment: moment.replace(tzinfo=UTC).isoformat()),
))
schemathesis.openapi.format("date", st.one_of(
    st.sampled_from(_EDGE_DAYS),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
))

FUZZ = settings(max_examples=5, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _every_operation_answers_without_a_server_error(client, headers) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an operation that failed to load fails here

        @FUZZ
        @given(case=operation.as_strategy())
        def no_server_error(case) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])

        no_server_error()


def test_no_generated_request_from_an_admin_gets_a_server_error(client, admin):
    _every_operation_answers_without_a_server_error(client, admin)


def test_no_generated_request_from_an_investigator_gets_a_server_error(client, investigator):
    _every_operation_answers_without_a_server_error(client, investigator)
