"""The request owns the transaction (service/api/deps.py get_session): routers and use cases never commit.

The session dependency commits when the endpoint succeeds, before the response goes out (for the API's sync
endpoints in the endpoint's own thread-pool hop, CommittingRoute); a failed commit is the usual 500 problem
with nothing stored, and what waits for the commit (clearing caches) does not run.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
from pathlib import Path

import anyio.to_thread
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import event
from sqlmodel import Session, select

from service.api.deps import CommittingRoute
from service.main import API_PREFIX
from service.models import OrgUnit

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/v1/org-units"


def test_no_router_or_use_case_commits_or_rolls_back():
    for path in [*sorted((ROOT / "service" / "api").glob("*.py")),
                 *(ROOT / "service" / name for name in ("cases.py", "assessments.py", "investigations.py",
                                                         "actions.py", "notifications.py", "reports.py",
                                                         "org_units.py", "grants.py", "statistics.py"))]:
        if path.name == "deps.py":  # the session dependency itself, and the org-day job's own session
            continue
        text = path.read_text()
        assert ".commit()" not in text, path
        # Granting rolls back to re-read after losing a race on the unique index (service/grants.py).
        if path.parent.name != "api" and path.name != "grants.py":
            assert ".rollback()" not in text, path


def test_importing_the_access_log_registers_no_listeners():
    code = ("import service.audit as a; from sqlalchemy import event; from sqlalchemy.orm import Session; "
            "assert not any(event.contains(Session, n, f) for n, f in a._LISTENERS); "
            "a.install_listeners(); a.install_listeners(); "
            "assert all(event.contains(Session, n, f) for n, f in a._LISTENERS)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_failed_commit_is_a_500_problem_stores_nothing_and_keeps_the_caches(client, db, admin, monkeypatch):
    first = client.post(URL, json={"code": "SOC", "name": "Socialförvaltningen", "kind": "administration"},
                        headers=admin)
    assert first.status_code == 201, first.text
    assert client.get(URL, headers=admin).status_code == 200  # the org day applied
    cached = object()
    client.app.state.org_cache.put("org", cached)

    def refuse(self):
        raise RuntimeError("the database went away at commit")

    monkeypatch.setattr(Session, "commit", refuse)
    response = client.post(URL, json={"code": "VOF", "name": "Vård och omsorg", "kind": "administration"},
                           headers=admin)
    monkeypatch.undo()
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    with Session(db) as session:
        assert session.exec(select(OrgUnit.code)).all() == ["SOC"]
    assert client.app.state.org_cache.peek("org") is cached  # the change was not committed: nothing to clear


def test_a_committed_org_change_clears_the_caches_after_the_commit(client, admin):
    assert client.post(URL, json={"code": "SOC", "name": "Socialförvaltningen", "kind": "administration"},
                       headers=admin).status_code == 201
    unit_id = client.get(URL, headers=admin).json()[0]["id"]
    client.app.state.org_cache.put("org", object())
    renamed = client.patch(f"{URL}/{unit_id}", json={"name": "Soc"}, headers=admin)
    assert renamed.status_code == 200, renamed.text
    assert client.app.state.org_cache.peek("org") is None


def test_every_api_operation_commits_in_the_thread_that_ran_it(client):
    operations = [context for context in iter_route_contexts(client.app.routes)
                  if isinstance(context.original_route, APIRoute) and (context.path or "").startswith(API_PREFIX)]
    others = sorted(context.path for context in operations if not isinstance(context.original_route, CommittingRoute))
    assert len(operations) > 50 and others == []


def test_a_change_begins_writes_and_commits_in_one_thread_pool_hop(client, db, admin, monkeypatch):
    # Committed in a later hop, the transaction (on SQLite: the one write lock) stays open while the thread
    # waits for the event loop's turn, and every other writer waits with it.
    hops = itertools.count(1)
    running = threading.local()
    to_thread = anyio.to_thread.run_sync

    async def numbered(func, *args, **kwargs):
        number = next(hops)

        def run(*inner):
            running.hop = number
            try:
                return func(*inner)
            finally:
                running.hop = None

        return await to_thread(run, *args, **kwargs)

    seen: dict[str, list[int | None]] = {"write": [], "commit": []}

    def wrote(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO org_unit "):
            seen["write"].append(getattr(running, "hop", None))

    def committed(conn):
        seen["commit"].append(getattr(running, "hop", None))

    monkeypatch.setattr(anyio.to_thread, "run_sync", numbered)
    event.listen(db, "before_cursor_execute", wrote)
    event.listen(db, "commit", committed)
    try:
        answer = client.post(URL, json={"code": "SOC", "name": "Socialförvaltningen", "kind": "administration"},
                             headers=admin)
    finally:
        event.remove(db, "before_cursor_execute", wrote)
        event.remove(db, "commit", committed)
    assert answer.status_code == 201, answer.text
    (hop,) = seen["write"]
    assert hop is not None and hop in seen["commit"]
