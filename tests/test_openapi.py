"""The committed OpenAPI document is what the app serves, and it is whole: every `$ref` resolves."""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from service.api.problems import FieldError
from service.domain.reports import case_number
from service.openapi_file import OPENAPI_PATH, render_openapi

ROOT = Path(__file__).resolve().parent.parent
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield method, path, operation


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return json.loads(render_openapi())


def test_committed_openapi_matches_the_app():
    committed = OPENAPI_PATH.read_text()
    rendered = render_openapi()
    if committed != rendered:
        diff = "".join(difflib.unified_diff(committed.splitlines(True), rendered.splitlines(True),
                                            "openapi/openapi.json (committed)", "app.openapi()", n=2))
        raise AssertionError(f"openapi/openapi.json is stale; run `python -m service openapi`\n{diff[:4000]}")


def test_every_operation_declares_problem_responses_and_security(spec):
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        for status in ("401", "422", "500"):
            assert status in responses, (method, path, status)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)
        assert operation["security"] == [{"bearer": []}], (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_every_ref_resolves(spec):
    def refs(node: Any, where: str):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield where, node["$ref"]
            for key, value in node.items():
                yield from refs(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from refs(value, f"{where}/{index}")

    def resolves(ref: str) -> bool:
        if not ref.startswith("#/"):
            return False
        node: Any = spec
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    unresolved = [f"{where}: {ref}" for where, ref in refs(spec, "#") if not resolves(ref)]
    assert not unresolved, "unresolved $ref:\n" + "\n".join(unresolved)


def test_every_body_and_answer_names_its_schema(spec):
    """A media type without a schema shows as nothing in Swagger UI and is dropped by client generators."""
    missing = []
    for method, path, operation in _operations(spec):
        bodies = {"request body": operation.get("requestBody", {})}
        bodies.update({f"response {status}": response for status, response in operation["responses"].items()})
        for what, body in bodies.items():
            for media_type, entry in body.get("content", {}).items():
                if "schema" not in entry:
                    missing.append(f"{method.upper()} {path} {what} {media_type}")
    assert not missing, "no schema for:\n" + "\n".join(missing)


def test_only_operations_that_take_a_body_document_413_and_415(spec):
    for method, path, operation in _operations(spec):
        documented = {"413", "415"} & set(operation["responses"])
        expected = {"413", "415"} if "requestBody" in operation else set()
        assert documented == expected, (method, path, sorted(documented))


def test_the_field_error_schema_names_every_key_an_error_item_carries(spec):
    documented = set(spec["components"]["schemas"]["FieldError"]["properties"])
    assert documented == set(FieldError.model_fields) == {"pointer", "location", "name", "detail", "code"}
    assert spec["components"]["schemas"]["Problem"]["properties"]["errors"]["anyOf"][0]["items"] == {
        "$ref": "#/components/schemas/FieldError"}


def test_the_org_import_body_is_documented_as_json_and_as_csv(spec):
    body = spec["paths"]["/api/v1/org-units/import"]["post"]["requestBody"]
    assert body["required"] is True
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OrgImport"}
    units = spec["components"]["schemas"]["OrgImport"]["properties"]["units"]
    assert units["items"] == {"$ref": "#/components/schemas/ImportUnit"}
    assert body["content"]["text/csv"]["schema"]["type"] == "string"


def test_the_contract_carries_the_package_version_and_a_server(spec):
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    assert spec["info"]["version"] == project["version"], (
        "the version in the document comes from the installed package's metadata: reinstall the project "
        "(scripts/bootstrap) after changing pyproject.toml")
    assert spec["info"]["license"]["identifier"] == project["license"]["text"]
    assert spec["servers"] == [{"url": "/", "description": "The host that serves this document"}]


def test_examples_have_the_real_formats(spec):
    schemas = spec["components"]["schemas"]
    for model in ("ReportRead", "ReportSummary"):
        example, = schemas[model]["properties"]["case_number"]["examples"]
        assert example == case_number("soc", 2026, 1) == "SOC-2026-00001"
    for name, schema, example in _examples(spec):
        pattern = schema.get("pattern")
        assert pattern is None or re.search(pattern, example), (name, example, pattern)


def _examples(node: Any, name: str = "#"):
    if isinstance(node, dict):
        for example in node.get("examples", []) if isinstance(node.get("examples"), list) else []:
            yield name, node, example
        for key, value in node.items():
            yield from _examples(value, f"{name}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _examples(value, f"{name}/{index}")
