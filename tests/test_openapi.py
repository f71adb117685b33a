"""The committed OpenAPI document is what the app serves, and every operation documents its errors."""

from __future__ import annotations

import difflib
import json

from service.openapi_file import OPENAPI_PATH, render_openapi


def test_committed_openapi_matches_the_app():
    committed = OPENAPI_PATH.read_text()
    rendered = render_openapi()
    if committed != rendered:
        diff = "".join(difflib.unified_diff(committed.splitlines(True), rendered.splitlines(True),
                                            "openapi/openapi.json (committed)", "app.openapi()", n=2))
        raise AssertionError(f"openapi/openapi.json is stale; run `python -m service openapi`\n{diff[:4000]}")


def test_every_operation_declares_problem_responses_and_security():
    spec = json.loads(render_openapi())
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status in ("401", "422", "500"):
                assert status in responses, (method, path, status)
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            assert operation["security"] == [{"bearer": []}], (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]
