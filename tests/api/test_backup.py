"""Backups: the embedded SQLite database copied while it serves, and a PostgreSQL dump restored into a fresh
database where the access log still verifies and the statistics give the same table."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient  # tests/api/conftest.py has imported it, quieting its warning
from sqlalchemy import create_engine, make_url, text
from sqlmodel import Session

from service import audit
from service.db import make_engine
from service.demo import load_demo_organisation
from service.domain.access import Role
from service.main import create_app
from service.migrate import upgrade
from service.tokens import StaticKeySource, TokenVerifier
from tests.api.conftest import Users
from tests.bodies import report_body
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER, FakeClock

ROOT = Path(__file__).resolve().parents[2]
REPORTS = "/api/v1/reports"


def _cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AVV_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "service", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def _count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_sqlite_backup_while_reports_keep_coming_is_whole_and_consistent(tmp_path, dev_key, settings):
    """Runs on every backend: the database backed up here is a SQLite file of its own."""
    url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(url)
    engine = make_engine(url)
    clock = FakeClock()
    with Session(engine) as session:
        load_demo_organisation(session, clock())
        session.commit()
    verifier = TokenVerifier(StaticKeySource(dev_key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    app = create_app(settings.model_copy(update={"database_url": url}), engine=engine, clock=clock,
                     token_verifier=verifier)
    staff = Users(engine, dev_key, clock).headers(Role.reporter, "SOC", subject="backup-staff")
    stop = threading.Event()
    answers: list[int] = []
    with TestClient(app) as client:
        for _ in range(5):
            assert client.post(REPORTS, json=report_body(), headers=staff).status_code == 201

        def keep_submitting() -> None:
            while not stop.is_set():
                answers.append(client.post(REPORTS, json=report_body(), headers=staff).status_code)

        writer = threading.Thread(target=keep_submitting)
        writer.start()
        try:
            result = _cli("backup", "--to", str(tmp_path / "copy.db"), database_url=url)
        finally:
            stop.set()
            writer.join()
    engine.dispose()

    assert result.returncode == 0, result.stderr
    copy = Path(result.stdout.strip())
    assert copy == tmp_path / "copy.db"
    assert not copy.with_name("copy.db.partial").exists()
    assert set(answers) <= {201}
    with sqlite3.connect(copy) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        # One moment: every report in the copy has its enheter.
        orphans = connection.execute(
            "SELECT count(*) FROM report r WHERE NOT EXISTS (SELECT 1 FROM report_unit u WHERE u.report_id = r.id)"
        ).fetchone()[0]
    assert orphans == 0
    assert 5 <= _count(copy, "report") <= 5 + len(answers)
    # A restore is putting the file back: the service migrates it (nothing to do) and its access log verifies.
    restored = f"sqlite:///{copy}"
    assert _cli("migrate", database_url=restored).returncode == 0
    check = _cli("verify-audit", database_url=restored)
    assert check.returncode == 0, check.stdout + check.stderr


def test_backup_never_overwrites_and_sends_postgresql_to_pg_dump(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    upgrade(url)
    target = tmp_path / "exists.db"
    target.write_text("keep me")
    refused = _cli("backup", "--to", str(target), database_url=url)
    assert refused.returncode == 1 and "never overwrites" in refused.stderr
    assert target.read_text() == "keep me"
    postgres = _cli("backup", database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert postgres.returncode == 1 and "pg_dump" in postgres.stderr


def test_backup_by_default_lies_beside_the_database(tmp_path):
    (tmp_path / "data").mkdir()
    url = f"sqlite:///{tmp_path / 'data' / 'avvikelser.db'}"
    upgrade(url)
    result = _cli("backup", database_url=url)
    assert result.returncode == 0, result.stderr
    written = Path(result.stdout.strip())
    assert written.parent == tmp_path / "data" / "backups"
    assert written.name.startswith("avvikelser-") and written.suffix == ".db"
    assert _count(written, "alembic_version") == 1


def _pg_tool(name: str) -> str:
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[4]))
    found = installed[-1] if installed else shutil.which(name)
    assert found, f"{name} not found: install Debian's postgresql package (scripts/test does)"
    return found


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.mark.postgres
def test_postgresql_dump_restores_into_a_fresh_database_that_verifies(client, db, users, org, staff,
                                                                       database_url, fresh_database, tmp_path):
    for _ in range(3):
        assert client.post(REPORTS, json=report_body(), headers=staff).status_code == 201
    statistician = users.headers(Role.statistics, "SOC", subject="backup-stats")
    table_url = "/api/v1/statistics/annual-table?year=2026"
    before = client.get(table_url, headers=statistician)
    assert before.status_code == 200
    with Session(db) as session:
        audit.seal_all(session, client.app.state.clock() + audit.SETTLE * 2)

    dump = tmp_path / "avvikelser.dump"
    subprocess.run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", _libpq(database_url)],
                   check=True, capture_output=True, timeout=120)
    target = fresh_database()
    subprocess.run([_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={_libpq(target)}",
                    str(dump)], check=True, capture_output=True, timeout=120)

    check = _cli("verify-audit", database_url=target)
    assert check.returncode == 0, check.stdout + check.stderr
    restored_engine = create_engine(target)
    try:
        with restored_engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM report")).scalar_one() == 3
    finally:
        restored_engine.dispose()
    restored_app = create_app(client.app.state.settings.model_copy(update={"database_url": target}),
                              clock=client.app.state.clock, token_verifier=client.app.state.token_verifier)
    with TestClient(restored_app) as restored_client:
        after = restored_client.get(table_url, headers=statistician)
    restored_app.state.engine.dispose()
    assert after.status_code == 200
    assert after.json() == before.json()
