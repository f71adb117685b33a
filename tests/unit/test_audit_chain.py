"""The access log's storage: records survive a rolled-back request, seal into a hash chain, tampering shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from service import audit
from service.domain.access import EVERYWHERE, Grant, Principal, Role
from service.models import AuditRecord
from service.request_id import current_request_id

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


def head(engine) -> audit.ChainHead | None:
    with Session(engine) as session:
        return audit.head(session)


def write_settled(engine, count: int) -> None:
    """Records written a minute ago: settled, so the verify command (on the real clock) seals them."""
    written = [{**audit.entry(PERSON, f"earlier-{number}", report_id=uuid.uuid4()),
                "at": datetime.now(UTC) - timedelta(minutes=1)} for number in range(count)]
    with engine.begin() as connection:
        connection.execute(audit.INSERT, written)


def tamper(engine, statement: str, parameters: dict | None = None) -> None:
    """Change the log behind the service's back, as someone who may switch triggers off would (a superuser,
    the tables' owner): on PostgreSQL the trigger of migration 0007 refuses it to anyone else."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(statement), parameters or {})


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


def test_several_records_in_one_statement_are_stored_as_one_record_alone_is(db):
    # A listing's records go in one statement that reads them from JSON; what is stored (the database's own
    # text for times and ids on SQLite) must be what the one-record INSERT stores, or the chain, the auditor's
    # filters and their ordering would see two kinds of record.
    at = datetime(2026, 3, 1, 23, 59, 58, 123456, tzinfo=UTC)
    report_id = uuid.UUID("0b7f3e2c-5d41-4a7e-9a55-6c1d2e3f4a5b")
    one = {**audit.entry(PERSON, "read_report", report_id=report_id, detail="receipt only"), "at": at}
    listed = [{**audit.entry(CLIENT, "list_cases", report_id=report_id, roles=[Role.integration]), "at": at},
              {**audit.entry(CLIENT, "list_cases", report_id=uuid.UUID(int=7)), "at": at},  # the same time again
              {**audit.entry(PERSON, "list_cases", detail="Å \"citat\" \\ ✓", outcome=audit.DENIED),
               "at": at + timedelta(microseconds=1)}]
    with db.begin() as connection:
        audit._insert(connection, [one])
        audit._insert(connection, listed)
    stored = {"at": "CAST(at AS TEXT)", "report_id": "CAST(report_id AS TEXT)"}
    columns = ", ".join(stored.get(name, name) for name in audit.ENTRY_COLUMNS)
    with db.connect() as connection:
        raw = connection.execute(text(f"SELECT {columns} FROM audit_record ORDER BY id")).all()
    alone, first, same_time, second = raw
    assert (first[0], first[5]) == (alone[0], alone[5])  # the same stored text for the time and the id
    assert same_time[0] == alone[0] and same_time[5] != alone[5] and second[0] != alone[0]
    assert first[1:5] == ("client:treserva", "Treserva", "system", "integration")
    assert first[6:] == ("list_cases", "allowed", None, None)
    assert second[5] is None and second[6:] == ("list_cases", "denied", None, 'Å "citat" \\ ✓')
    read_back = rows(db)
    assert [(r.at, r.report_id) for r in read_back] == [(at, report_id), (at, report_id), (at, uuid.UUID(int=7)),
                                                         (at + timedelta(microseconds=1), None)]
    assert seal(db) == 4 and verify(db) is None


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
    assert all(r.prev_hash == before.hash for before, r in pairwise(chained))
    assert verify(db) is None


def test_records_seal_to_the_same_hashes_as_logs_sealed_by_earlier_versions(db):
    # Hashes computed by the first sealer for these two records: a log sealed then must verify now, so the
    # canonical form a hash covers (service/audit.py) may not change by a byte.
    first = {"id": 7, "at": datetime(2026, 3, 1, 12, 45, 2, 123456, tzinfo=UTC), "actor_subject": "ivar",
             "actor_name": 'Ivar Åberg "utredare"', "actor_kind": "person", "acting_roles": "investigator,reader",
             "report_id": uuid.UUID("8f0e4a52-2f7c-4c55-9d52-0c8a5e0b1f11"), "action": "read_report",
             "outcome": "allowed", "request_id": "req-123", "detail": None}
    second = {**first, "id": 8, "report_id": None, "detail": "receipt only", "acting_roles": "",
              "actor_kind": "system", "outcome": "denied"}
    with db.begin() as connection:
        connection.execute(audit.INSERT, [first, second])
    assert seal(db) == 2
    assert [(r.chain_seq, r.hash) for r in rows(db)] == [
        (1, "60f7e8d3fe9bfbf8bf9897cd12fa962810e688b35305524c37d5697411fa0b37"),
        (2, "c5eeef2a415526710f09ea71ccc5edf50f941cd5d7a4a1184f49ae96a5e4f715"),
    ]
    assert verify(db) is None


def test_a_changed_record_is_named(db):
    write(db, 6)
    seal(db)
    target = rows(db)[3]
    tamper(db, "UPDATE audit_record SET action = 'nothing_to_see' WHERE id = :id", {"id": target.id})
    assert verify(db) == audit.Broken(target.id, 4, "its contents or link do not match its hash")


def test_a_deleted_record_is_noticed_at_the_next(db):
    write(db, 6)
    seal(db)
    removed, following = rows(db)[2:4]
    tamper(db, "DELETE FROM audit_record WHERE id = :id", {"id": removed.id})
    broken = verify(db)
    assert broken is not None and (broken.id, broken.chain_seq) == (following.id, following.chain_seq)


HEAD = re.compile(r"[1-9][0-9]*:[0-9a-f]{64}")


def _cli(database_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AVV_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "service", "verify-audit", *options], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def verify_audit(database_url, monkeypatch, capsys):
    """`python -m service verify-audit OPTIONS` in this process (a subprocess per run is slow)."""
    from service.__main__ import main
    from service.config import get_settings

    monkeypatch.setenv("AVV_DATABASE_URL", database_url)

    def run(*options: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        get_settings.cache_clear()
        try:
            code = main(["verify-audit", *options])
        except SystemExit as exit_:  # argparse's refusals
            code = int(exit_.code or 0)
        finally:
            get_settings.cache_clear()
        out = capsys.readouterr()
        return subprocess.CompletedProcess(["verify-audit", *options], code, out.out, out.err)

    return run


def _head_printed(run: subprocess.CompletedProcess[str]) -> str:
    """A successful run prints the head alone on stdout, ready for `>> file` or `| logger`."""
    assert run.returncode == 0, run.stderr
    assert HEAD.fullmatch(run.stdout.removesuffix("\n")), run.stdout
    return run.stdout.strip()


def test_the_verify_command_reports_ok_or_the_first_broken_record(db, database_url):
    write(db, 4)
    seal(db)
    ok = _cli(database_url)
    assert _head_printed(ok) == str(head(db))
    assert ok.stderr.startswith("OK: 4 records")
    target = rows(db)[1]
    tamper(db, "UPDATE audit_record SET actor_subject = 'someone-else' WHERE id = :id", {"id": target.id})
    broken = _cli(database_url)
    assert (broken.returncode, broken.stdout) == (1, "")
    assert f"audit record id {target.id} (chain_seq 2)" in broken.stderr


def test_an_untouched_log_verifies_against_its_head_then_seals_and_prints_the_new_head(db, verify_audit):
    empty = verify_audit()
    assert (empty.returncode, empty.stdout) == (0, "") and "empty" in empty.stderr
    write(db, 3)
    seal(db)
    kept = _head_printed(verify_audit())
    assert kept.startswith("3:")
    write_settled(db, 2)
    run = verify_audit("--expect-head", kept)
    new = _head_printed(run)
    assert new.startswith("5:") and new == str(head(db))  # sealed by the run, after verifying
    assert "OK: 5 records, 2 sealed now; 1 expected head(s) found, the newest " + kept in run.stderr
    again = verify_audit("--expect-head", kept, "--expect-head", new)  # every head listed must fit
    assert _head_printed(again) == new


def test_with_the_expected_head_the_last_record_deleted_is_noticed(db, verify_audit):
    write(db, 4)
    seal(db)
    kept = _head_printed(verify_audit())
    tamper(db, "DELETE FROM audit_record WHERE chain_seq = 4")
    assert verify(db) is None  # what is left is a chain that fits: only the kept head can tell
    run = verify_audit("--expect-head", kept)
    assert (run.returncode, run.stdout) == (1, "")
    assert f"record 4 is missing (expected head {kept}); the chain ends at 3" in run.stderr


def test_with_the_expected_head_an_emptied_log_is_noticed(db, verify_audit):
    write(db, 3)
    seal(db)
    kept = _head_printed(verify_audit())
    if db.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), db.begin() as connection:
            connection.execute(text("TRUNCATE audit_record"))  # refused, even to a superuser, by the trigger
        tamper(db, "TRUNCATE audit_record")
    else:
        tamper(db, "DELETE FROM audit_record")
    run = verify_audit("--expect-head", kept)
    assert (run.returncode, run.stdout) == (1, "")
    assert f"the audit log has no sealed record, but 1 head(s) are expected, the newest {kept}" in run.stderr


def test_with_the_expected_head_records_edited_and_sealed_again_are_noticed(db, verify_audit):
    write(db, 4)
    seal(db)
    kept = _head_printed(verify_audit())
    tamper(db, "UPDATE audit_record SET actor_subject = 'someone-else', chain_seq = NULL, prev_hash = NULL, "
               "hash = NULL WHERE chain_seq >= 2")
    seal(db)  # as the app's own sealer does within seconds
    assert verify(db) is None  # a chain that fits
    run = verify_audit("--expect-head", kept)
    assert (run.returncode, run.stdout) == (1, "")
    assert f"record 4 has hash {head(db).hash}, expected {kept.split(':')[1]}" in run.stderr


def test_verification_does_not_seal_over_cleared_seals(db, verify_audit):
    write_settled(db, 4)
    kept = _head_printed(verify_audit())
    tamper(db, "UPDATE audit_record SET action = 'nothing_to_see', chain_seq = NULL, prev_hash = NULL, "
               "hash = NULL WHERE chain_seq = 4")
    run = verify_audit("--expect-head", kept)
    assert (run.returncode, run.stdout) == (1, "")
    assert "record 4 is missing" in run.stderr
    assert [record.chain_seq for record in rows(db)] == [1, 2, 3, None]  # left as found, for whoever looks


def test_heads_kept_in_a_file_are_checked_and_the_new_head_appended(db, verify_audit, tmp_path):
    heads = tmp_path / "audit-heads"
    keep = ("--heads-file", str(heads), "--append")
    missing = verify_audit("--heads-file", str(heads))
    assert missing.returncode == 2 and "audit-heads" in missing.stderr  # no file, not told to start one
    write_settled(db, 2)
    first = _head_printed(verify_audit(*keep))  # the first run starts the file
    assert heads.read_text() == f"{first}\n"
    assert _head_printed(verify_audit(*keep)) == first
    assert heads.read_text() == f"{first}\n"  # the same head is kept once
    heads.write_text(f"# audit-log heads, appended by cron\n\n{first}  # first run\n")
    write_settled(db, 1)
    second = _head_printed(verify_audit(*keep))
    assert heads.read_text().splitlines()[-1] == second and second.startswith("3:")

    tamper(db, "DELETE FROM audit_record WHERE chain_seq = 3")
    before = heads.read_text()
    cut = verify_audit(*keep)
    assert (cut.returncode, cut.stdout) == (1, "") and "record 3 is missing" in cut.stderr
    assert heads.read_text() == before  # nothing appended after a failed run

    heads.write_text("3:not-a-hash\n")
    malformed = verify_audit("--heads-file", str(heads))
    assert malformed.returncode == 2 and "line 1" in malformed.stderr


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


def test_two_sealers_at_once_seal_each_record_once(db, monkeypatch):
    # Another process's sealer runs while this one is hashing (on SQLite this one hashes outside the write
    # lock; on PostgreSQL it holds the sealing lock, and the other finds it taken).
    write(db, 4)
    find_links = audit._links
    others: list[int] = []

    def links_then_another_sealer(reader, now):
        found = find_links(reader, now)
        monkeypatch.setattr(audit, "_links", find_links)  # the other sealer finds its links undisturbed
        others.append(seal(db))
        return found

    monkeypatch.setattr(audit, "_links", links_then_another_sealer)
    with Session(db) as session:
        this = audit.seal(session, later())
    assert sorted([this, *others]) == [0, 4]
    assert [r.chain_seq for r in rows(db)] == [1, 2, 3, 4] and verify(db) is None


@pytest.mark.postgres
def test_the_database_refuses_every_change_to_the_log_but_the_seal(db):
    write(db, 2)
    assert seal(db) == 2  # the seal passes the trigger
    write(db, 1)
    sealed, _, unsealed = rows(db)
    refused = [
        ("UPDATE audit_record SET action = 'nothing_to_see' WHERE id = :id", {"id": sealed.id}),
        ("UPDATE audit_record SET hash = :hash WHERE id = :id", {"id": sealed.id, "hash": "0" * 64}),
        ("UPDATE audit_record SET chain_seq = NULL, prev_hash = NULL, hash = NULL WHERE id = :id", {"id": sealed.id}),
        ("UPDATE audit_record SET action = 'nothing_to_see' WHERE id = :id", {"id": unsealed.id}),
        ("UPDATE audit_record SET chain_seq = 3, prev_hash = :hash, hash = :hash, action = 'x' WHERE id = :id",
         {"id": unsealed.id, "hash": "0" * 64}),  # a seal that changes the record too
        ("DELETE FROM audit_record WHERE id = :id", {"id": unsealed.id}),
        ("TRUNCATE audit_record", {}),
    ]
    for statement, parameters in refused:
        with pytest.raises(DBAPIError, match="audit_record is append-only"), db.begin() as connection:
            connection.execute(text(statement), parameters)
    assert [(r.id, r.action, r.chain_seq, r.hash) for r in rows(db)] == \
        [(r.id, r.action, r.chain_seq, r.hash) for r in (sealed, _, unsealed)]
    assert seal(db) == 1 and verify(db) is None
