"""Generated requests to every operation (schemathesis): whatever they hold, no answer is a server error.

A bounded, repeatable run (derandomized, a few examples per operation) in every test run; a longer one by
hand against a running server is described in README.md ("Fuzzing").
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

FUZZ = settings(max_examples=5, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _every_operation_answers_without_a_server_error(client, headers) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    for result in schema.get_all_operations():
        operation = result.ok()

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
