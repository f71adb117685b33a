"""The floors of the house stay apart (issue 10): routers hold no queries, Core and the domain import no HTTP.

- service/api/*.py: no select(...), no .exec(/.execute(/.where(/.get( on a session; queries, and the
  scoping they start from (service/scope.py), belong to the use cases in service/*.py.
- service/*.py and service/domain/*.py import nothing from service.api (main.py and asgi.py assemble the
  app, and may); the domain imports no FastAPI, SQLAlchemy or SQLModel.
- Only service/scope.py builds a condition on org paths (what a principal may see); list filters by a
  subtree the caller names are the only other path conditions, and are listed here by name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[2] / "service"
QUERY_CALLS = {"select", "exec", "execute", "where", "scalars", "scalar"}
SESSION_METHODS = {"get", "add", "add_all", "flush", "delete", "merge", "refresh"}
# Router functions allowed a query-like call, with the reason. Keep this empty unless justified.
ROUTER_ALLOWED: dict[tuple[str, str], str] = {
    ("health.py", "readyz"): "the readiness probe's SELECT 1 asks the database itself, no use case's data",
}
# Path conditions outside service/scope.py: filters by a subtree the caller names, not who sees what.
PATH_FILTERS_ALLOWED = {
    ("grants.py", "list_grants"),  # ?unit_id= narrows the grants already scoped by grants_manageable_by
    ("org_units.py", "list_units"),  # ?under= on the org tree, which is not secret
    ("org_units.py", "_rewrite_paths"),  # rewrites paths under a moved unit
    ("statistics.py", "placed_reports"),  # the subtree statistics_root allowed
    ("statistics.py", "units_in_period"),
}


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            yield call


def _name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _receiver(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
        return call.func.value.id
    return None


def test_routers_hold_no_queries() -> None:
    found = []
    for path in sorted((SERVICE / "api").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in _functions(tree):
            for call in _calls(function):
                name = _name(call)
                query = name in QUERY_CALLS or (_receiver(call) == "session" and name in SESSION_METHODS)
                if query and (path.name, function.name) not in ROUTER_ALLOWED:
                    found.append(f"{path.name}:{call.lineno} {function.name}: {name}(")
    assert found == [], "queries belong in service/*.py use cases:\n" + "\n".join(found)


def _imports(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def test_core_and_domain_do_not_import_the_api() -> None:
    found = []
    for path in sorted([*SERVICE.glob("*.py"), *(SERVICE / "domain").glob("*.py")]):
        if path.parent == SERVICE and path.name in ("main.py", "asgi.py"):
            continue  # the app's assembly
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if name == "service.api" or name.startswith("service.api."):
                found.append(f"{path.relative_to(SERVICE.parent)} imports {name}")
    assert found == []


def test_the_domain_is_pure() -> None:
    found = []
    for path in sorted((SERVICE / "domain").glob("*.py")):
        for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if name.split(".")[0] in ("fastapi", "starlette", "sqlalchemy", "sqlmodel", "pydantic"):
                found.append(f"{path.name} imports {name}")
            if name.startswith("service.") and not name.startswith("service.domain"):
                found.append(f"{path.name} imports {name}")
    assert found == []


def test_scoping_lives_in_one_module() -> None:
    """A condition on an org path (`...path.startswith(`) is a statement of who sees what: service/scope.py."""
    found = []
    for path in sorted([*SERVICE.glob("*.py"), *(SERVICE / "api").glob("*.py")]):
        if path.name == "scope.py" and path.parent == SERVICE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in _functions(tree):
            for call in _calls(function):
                func = call.func
                if (isinstance(func, ast.Attribute) and func.attr == "startswith"
                        and "path" in ast.unparse(func.value) and "autoescape" in ast.unparse(call)
                        and ((path.name, function.name) not in PATH_FILTERS_ALLOWED or path.parent != SERVICE)):
                    found.append(f"{path.relative_to(SERVICE.parent)}:{call.lineno} {function.name}")
    assert found == [], "scoping conditions belong in service/scope.py:\n" + "\n".join(found)
