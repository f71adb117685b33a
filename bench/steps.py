"""How many SQL statements each kind of case step costs: one lex Sarah case, step by step, through the API.

    .venv/bin/python bench/steps.py                                   # a temporary SQLite file
    .venv/bin/python bench/steps.py --database-url postgresql+psycopg://user@host:5432/postgres

With a PostgreSQL server URL a scratch database `avv_bench_<random>` is created there and dropped at the end.
Every statement the engine sends during one request is counted (a SQLAlchemy `before_cursor_execute`
listener); the grant and org caches are warmed first, so what is counted is the step itself: loading and
locking the case, the access log, the rules' facts, the writes, the timeline and the deadlines, and the
view the answer shows. The table is printed as Markdown (bench/README.md keeps the before/after).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.config import Settings
from service.db import make_engine
from service.demo import ensure_grant, load_demo_organisation
from service.domain.access import Role
from service.main import create_app
from service.migrate import upgrade
from service.tokens import StaticKeySource, TokenVerifier, load_or_create_dev_key
from tests.bodies import OPERATOR, UNIT, report_body, send_order

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

ISSUER, AUDIENCE = "urn:avvikelser:bench", "avvikelser-bench"
TOPICS = ("what_happened", "how_noticed", "when_happened", "causes", "earlier_events", "recurrence_risk")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def run(url: str, workdir: Path) -> list[tuple[str, Counter]]:
    upgrade(url)
    engine = make_engine(url)
    clock = Clock()
    from sqlmodel import Session

    with Session(engine) as session:
        load_demo_organisation(session, clock())
        for subject, role in (("anna", Role.reporter), ("ivar", Role.investigator), ("disa", Role.decision_maker)):
            ensure_grant(session, subject, role, "SOC", clock(), granted_by="bench")
        session.commit()
    key = load_or_create_dev_key(workdir / "key.pem")
    settings = Settings(database_url=url, oidc_issuer=ISSUER, oidc_audience=AUDIENCE, dev_key_path=workdir / "no",
                        cursor_secret="bench", grant_cache_seconds=3600, org_cache_seconds=3600,
                        audit_seal_seconds=0)
    verifier = TokenVerifier(StaticKeySource(key.public_jwks()), issuer=ISSUER, audience=AUDIENCE)
    app = create_app(settings, engine=engine, clock=clock, token_verifier=verifier)

    def who(subject: str) -> dict[str, str]:
        token = key.mint({'sub': subject, 'name': subject.title()}, issuer=ISSUER, audience=AUDIENCE)
        return {"Authorization": f"Bearer {token}"}

    staff, ivar, disa = who("anna"), who("ivar"), who("disa")
    counted: Counter | None = None

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if counted is not None:
            word = statement.lstrip().split(None, 1)[0].upper()
            counted["SELECT" if word in ("SELECT", "WITH") else "other"] += 1
            counted["all"] += 1

    rows: list[tuple[str, Counter]] = []
    with TestClient(app, raise_server_exceptions=True) as client:
        receipt = client.post("/api/v1/reports", json=report_body(), headers=staff)
        assert receipt.status_code == 201, receipt.text
        base = f"/api/v1/reports/{receipt.json()['id']}"
        for headers in (ivar, disa):  # warm the grant and org caches
            assert client.get(f"{base}/case", headers=headers).status_code == 200

        def step(label: str, method: str, path: str, headers: dict, body: dict | None = None,
                 status: int = 200) -> dict:
            nonlocal counted
            counted = Counter()
            response = client.request(method, base + path, json=body, headers=headers)
            rows.append((label, counted))
            counted = None
            assert response.status_code == status, (label, response.text)
            return response.json()

        def quiet(method: str, path: str, headers: dict, body: dict | None = None) -> dict:
            response = client.request(method, base + path, json=body, headers=headers)
            assert response.status_code < 300, response.text
            return response.json()

        step("read the case (GET …/case)", "GET", "/case", ivar)
        step("assess", "POST", "/assessments", ivar,
             {"types": [{"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"}],
              "justification": "Bedömd."}, 201)
        step("start investigation", "POST", "/investigation", ivar, {}, 201)
        step("investigation entry", "POST", "/investigation/entries", ivar,
             {"topic": TOPICS[0], "documented_on": "2026-03-10", "source": "Samtal", "nature": "fact",
              "author_name": "Ivar", "author_title": "Utredare", "text": "Anteckning."}, 201)
        for topic in TOPICS[1:]:
            quiet("POST", "/investigation/entries", ivar,
                  {"topic": topic, "documented_on": "2026-03-10", "source": "Samtal", "nature": "fact",
                   "author_name": "Ivar", "author_title": "Utredare", "text": "Anteckning."})
        step("decide investigation", "POST", "/investigation/decision", ivar,
             {"decision": "Rutinen ses över.", "decided_by_name": "Ingrid Ek", "decided_by_title": "Chef",
              "root_causes": ["routine_not_known"]})
        action = step("action create", "POST", "/actions", ivar,
                      {"kind": "planned", "description": "Uppdatera rutinen.", "owner_name": "Maja",
                       "due_date": "2026-03-31"}, 201)
        step("action done", "POST", f"/actions/{action['id']}/done", ivar, {})
        draft = step("notification draft", "POST", "/notifications", disa,
                     {"authority": "ivo", "operator": OPERATOR, "unit": UNIT, "investigation_attached": True}, 201)
        step("notification send", "POST", f"/notifications/{draft['id']}/send", disa, send_order())
        step("follow-up", "POST", "/follow-ups", ivar, {"summary": "Uppföljt."}, 201)
        step("close", "POST", "/close", disa, {})
        clock.now += timedelta(days=1)
        step("reopen", "POST", "/reopen", disa, {"reason": "Ny uppgift."})
    engine.dispose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="a PostgreSQL server whose user may CREATE DATABASE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.database_url:
            name = f"avv_bench_{uuid.uuid4().hex[:12]}"
            admin = create_engine(args.database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                rows = run(make_url(args.database_url).set(database=name).render_as_string(hide_password=False),
                           workdir)
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            rows = run(f"sqlite:///{workdir / 'bench.db'}", workdir)
    print("| step | SELECTs | other statements | all |")
    print("| --- | ---: | ---: | ---: |")
    for label, counts in rows:
        print(f"| {label} | {counts['SELECT']} | {counts['other']} | {counts['all']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
