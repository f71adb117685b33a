"""The request owns the transaction (service/api/deps.py get_session): routers and use cases never commit.

The session dependency commits when the endpoint succeeds, before the response goes out; a failed commit
is the usual 500 problem with nothing stored, and what waits for the commit (clearing caches) does not run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

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
