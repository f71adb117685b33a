"""The access log's storage: records survive a rolled-back request, seal into a hash chain, tampering shows."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from service import audit
from service.api.middleware import current_request_id
from service.domain.access import EVERYWHERE, Grant, Principal, Role
from service.models import AuditRecord

ROOT = Path(__file__).resolve().parents[2]
PERSON = Principal(subject="ivar", display_name="Ivar Isaksson", grants=(Grant(Role.investigator, "/1/"),))
CLIENT = Principal(subject="client:treserva", display_name="Treserva", grants=(Grant(Role.integration, EVERYWHERE),))


def later() -> datetime:
    """A sealing moment at which every record written so far has settled."""
    return datetime.now(UTC) + audit.SETTLE + timedelta(seconds=1)


def rows(engine) -> list[AuditRecord]:
    with Session(engine) as session:
        return list(session.exec(select(AuditRecord).order_by(col(AuditRecord.id))).all())


def write(engine, count: int, principal: Principal = PERSON) -> None:
    with Session(engine) as session:
        for number in range(count):
            audit.record(session, principal, f"action-{number}", report_id=uuid.uuid4())
        session.commit()


def seal(engine) -> int:
    with Session(engine) as session:
        return audit.seal_all(session, later())


def verify(engine) -> audit.Broken | None:
    with Session(engine) as session:
        return audit.verify(session)


def test_records_are_written_at_commit_with_the_actor_and_the_request_id(db):
    token = current_request_id.set("req-unit-0001")
    try:
        with Session(db) as session:
            audit.record(session, CLIENT, "submit_report", roles=[Role.integration])
            assert rows(db) == []  # not before the commit
            session.commit()
    finally:
        current_request_id.reset(token)
    write(db, 1)
    client_record, person_record = rows(db)
    assert (client_record.actor_kind, client_record.acting_roles, client_record.request_id) == \
        ("system", "integration", "req-unit-0001")
    assert (person_record.actor_kind, person_record.acting_roles, person_record.request_id) == \
        ("person", "investigator", None)
    assert person_record.chain_seq is None and person_record.hash is None


def test_records_of_a_transaction_that_rolls_back_are_kept_and_not_doubled(db):
    with Session(db) as session:
        session.exec(select(AuditRecord.id)).all()
        audit.record(session, PERSON, "read_case", outcome=audit.DENIED)
        session.rollback()  # as a refused request does
    with Session(db) as session:
        audit.record(session, PERSON, "read_case")  # a read: the session closes without committing
    with Session(db) as session:
        with session.begin_nested():
            audit.record(session, PERSON, "step:assess")
        session.commit()
    assert [(r.action, r.outcome) for r in rows(db)] == \
        [("read_case", "denied"), ("read_case", "allowed"), ("step:assess", "allowed")]


def test_seal_chains_settled_records_in_id_order_and_verify_accepts_it(db):
    write(db, 5)
    with Session(db) as session:
        assert audit.seal(session, datetime.now(UTC) - timedelta(minutes=1)) == 0  # none has settled yet
    assert seal(db) == 5
    write(db, 2)
    assert seal(db) == 2
    chained = rows(db)
    assert [r.chain_seq for r in chained] == [1, 2, 3, 4, 5, 6, 7]
    assert chained[0].prev_hash == audit.GENESIS
    assert all(r.prev_hash == before.hash for before, r in zip(chained, chained[1:], strict=False))
    assert verify(db) is None


def test_a_changed_record_is_named(db):
    write(db, 6)
    seal(db)
    target = rows(db)[3]
    with db.begin() as connection:
        connection.execute(text("UPDATE audit_record SET action = 'nothing_to_see' WHERE id = :id"), {"id": target.id})
    assert verify(db) == audit.Broken(target.id, 4, "its contents or link do not match its hash")


def test_a_deleted_record_is_noticed_at_the_next(db):
    write(db, 6)
    seal(db)
    removed, following = rows(db)[2:4]
    with db.begin() as connection:
        connection.execute(text("DELETE FROM audit_record WHERE id = :id"), {"id": removed.id})
    broken = verify(db)
    assert broken is not None and (broken.id, broken.chain_seq) == (following.id, following.chain_seq)


def _cli(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AVV_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "service", "verify-audit"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_verify_command_reports_ok_or_the_first_broken_record(db, database_url):
    write(db, 4)
    seal(db)
    ok = _cli(database_url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("OK: 4 records")
    target = rows(db)[1]
    with db.begin() as connection:
        connection.execute(text("UPDATE audit_record SET actor_subject = 'someone-else' WHERE id = :id"),
                           {"id": target.id})
    broken = _cli(database_url)
    assert broken.returncode == 1
    assert f"audit record id {target.id} (chain_seq 2)" in broken.stdout


@pytest.mark.postgres
def test_only_one_instance_seals_at_a_time(db):
    write(db, 3)
    with db.connect() as other_instance:
        other_instance.execute(text("SELECT pg_advisory_lock(:key)"), {"key": audit._SEAL_LOCK})
        try:
            with Session(db) as session:
                assert audit.seal(session, later()) == 0
        finally:
            other_instance.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": audit._SEAL_LOCK})
            other_instance.commit()
    assert seal(db) == 3
