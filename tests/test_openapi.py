"""The committed OpenAPI document is what the app serves, it is whole (every `$ref` resolves), it passes
Redocly's recommended rules, and openapi-python-client makes a client with every operation from it."""

from __future__ import annotations

import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from service.api.problems import FieldError
from service.domain.reports import case_number
from service.openapi_file import OPENAPI_PATH, render_openapi

ROOT = Path(__file__).resolve().parent.parent
NODE_TOOLS = ROOT / "tests" / "node"
REDOCLY = NODE_TOOLS / "node_modules" / ".bin" / "redocly"
CLIENT_CONFIG = ROOT / "openapi" / "python-client.yaml"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
NODE_HINT = "the test tools in tests/node are installed by scripts/test (or: cd tests/node && npm ci)"


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
    shared = spec["components"]["responses"]
    for method, path, operation in _operations(spec):
        responses = operation["responses"]
        for status in ("401", "422", "500", "503"):
            assert status in responses, (method, path, status)
        for status, response in responses.items():
            if "$ref" in response:
                response = shared[response["$ref"].removeprefix("#/components/responses/")]
            if status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (method, path, status)
        assert operation["security"] == [{"bearer": []}], (method, path)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_the_database_unavailable_answer_is_declared_once_and_referred_to_by_every_operation(spec):
    # Every operation reads the database (grants, the org tree, the access log), so every one may answer 503.
    (name,) = spec["components"]["responses"]
    for method, path, operation in _operations(spec):
        assert operation["responses"]["503"] == {"$ref": f"#/components/responses/{name}"}, (method, path)
    assert spec["components"]["responses"][name]["headers"]["Retry-After"]["schema"]["type"] == "integer"


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


# ---- the outside tools: Redocly's linter and openapi-python-client -------------------------------------


def test_redocly_recommended_rules_report_no_errors():
    """`redocly lint --extends recommended` on the committed document (redocly.yaml names it too)."""
    if shutil.which("node") is None:
        pytest.fail(f"Node.js is not installed: Redocly CLI needs it; {NODE_HINT}")
    if not REDOCLY.exists():
        pytest.fail(f"Redocly CLI is missing ({REDOCLY.relative_to(ROOT)}): {NODE_HINT}")
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    run = subprocess.run([str(REDOCLY), "lint", "--extends", "recommended", "--format", "json",
                          str(OPENAPI_PATH.relative_to(ROOT))],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"redocly lint gave no report (exit {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")

    def listed(severity: str) -> list[str]:
        return [f"{problem['ruleId']}: {problem['message']} at "
                f"{', '.join(location['pointer'] for location in problem.get('location', []))}"
                for problem in report["problems"] if problem["severity"] == severity]

    errors, warnings = listed("error"), listed("warn")
    assert report["totals"]["errors"] == 0 and not errors, (
        "Redocly's recommended rules found errors:\n" + "\n".join(errors)
        + "\nwarnings:\n" + ("\n".join(warnings) or "none"))
    assert run.returncode == 0, run.stderr[-2000:]


def test_openapi_python_client_generates_every_operation_without_warnings(tmp_path, spec):
    bin_dir = Path(sys.executable).parent
    generator, ruff = bin_dir / "openapi-python-client", bin_dir / "ruff"
    for tool in (generator, ruff):
        if not tool.exists():
            pytest.fail(f"{tool.name} is missing from {bin_dir}: install the test extra "
                        "(scripts/bootstrap, or pip install -e '.[test]')")
    package = tmp_path / "avvikelser_client"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    run = subprocess.run([str(generator), "generate", "--path", str(OPENAPI_PATH), "--meta", "none",
                          "--config", str(CLIENT_CONFIG), "--output-path", str(package), "--fail-on-warning"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    said = "\n".join(line for line in f"{run.stdout}\n{run.stderr}".splitlines()
                     if line.strip() and not line.startswith("Generating "))
    assert run.returncode == 0 and not said, f"openapi-python-client said:\n{said[-4000:]}"

    # Every operation is a module of its tag's folder with the four calls; each module imports.
    check = subprocess.run([sys.executable, "-c", _IMPORT_EVERY_MODULE, package.name], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr[-4000:]
    modules = json.loads(check.stdout)
    operation_ids = sorted(operation["operationId"] for _, _, operation in _operations(spec))
    assert sorted(modules) == operation_ids
    calls = {"sync", "sync_detailed", "asyncio", "asyncio_detailed"}
    incomplete = {name: found for name, found in modules.items() if not calls <= set(found.get("calls", []))
                  and name not in _UPSTREAM_BROKEN}
    assert not incomplete, incomplete
    broken = {name: found["error"] for name, found in modules.items() if "error" in found}
    # openapi-python-client annotates a required body of several media types with `Unset` without importing
    # it (its issue 1451); the only operation with such a body is the org import. Drop this when fixed.
    assert broken.keys() <= _UPSTREAM_BROKEN and all("Unset" in error for error in broken.values()), broken


_UPSTREAM_BROKEN = {"import_units"}

_IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys
api = importlib.import_module(sys.argv[1] + ".api")
found = {}
for tag in pkgutil.iter_modules(api.__path__, api.__name__ + "."):
    for module in pkgutil.iter_modules(importlib.import_module(tag.name).__path__, tag.name + "."):
        name = module.name.rsplit(".", 1)[1]
        try:
            loaded = importlib.import_module(module.name)
        except Exception as exc:
            found[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        found[name] = {"calls": [call for call in ("sync", "sync_detailed", "asyncio", "asyncio_detailed")
                                 if callable(getattr(loaded, call, None))]}
print(json.dumps(found))
"""
