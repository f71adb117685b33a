"""The access log (docs/requirements.md L1, L2): who touched which case, in which role, how, when, in which request.

`record` is called where access is decided (cases.load_case, the report reads, intake, grants, the log
itself). Records wait on the session and are inserted in one statement when the session commits, so
they land in the same transaction as the request's own work. A transaction that ends without committing
them (a refusal on its way to a 404/403, which rolls back, or a session closed without a commit) has them
committed in a short transaction of their own once its connection is released: a refused probe must be
logged although the request fails, and a second connection opened while the request's transaction is
still open would wait forever on SQLite, whose one write lock that transaction holds. The session
listeners that do this are registered by `install_listeners` (via db.install_session_listeners).

Tamper evidence without a hot row: records are inserted unsealed (no lock shared between requests);
`seal`, run every few seconds by one instance, chains them in id order, each hash covering the
previous hash and the record's fields. `verify` recomputes the chain and names the first record that
does not fit. Limits: the newest few seconds are unsealed; cutting records off the end of the chain,
emptying it, or clearing the seals and sealing again (which the app's own sealer does within seconds)
are not detected by the chain alone. Heads (`SEQ:HASH`) kept where the database's users cannot write
are what catch them: `check_heads` requires every expected head to be in the chain with the same hash,
and `python -m service verify-audit` verifies against them before it seals anything. On PostgreSQL a
trigger (migration 0007) also refuses any UPDATE but the seal, and every DELETE and TRUNCATE.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Engine, event, func, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session as OrmSession, SessionTransaction
from sqlmodel import Session, col, select as select_model

from service.db import READS_ONLY, reading, writing
from service.domain.access import Permission, Principal, Role, Scope
from service.domain.errors import Forbidden, InvalidInput
from service.models import AuditRecord, LogReview, table_of
from service.request_id import current_request_id
from service.scope import audit_records_within, log_reviews_visible_to

log = logging.getLogger("service.audit")

ALLOWED, DENIED = "allowed", "denied"
GENESIS = "0" * 64  # the prev_hash of the first record
# Seal only records this old, so that a transaction still committing lower ids is not overtaken and the
# chain follows id order (verify follows chain_seq, so this is tidiness, not correctness).
SETTLE = timedelta(seconds=2)
BATCH = 1000  # on SQLite, the records whose seals one write transaction stores
_SEAL_LOCK = 0x61756469  # PostgreSQL advisory lock key ("audi"): one sealer at a time across instances
_PENDING = "audit_pending"  # session.info key: records waiting for the session's commit

_table = table_of(AuditRecord)


def record(session: Session, principal: Principal, action: str, *, report_id: uuid.UUID | None = None,
           outcome: str = ALLOWED, detail: str | None = None, roles: Iterable[Role] | None = None) -> None:
    """Log one access. `roles`: those the actor holds on the case's enheter (default: all they hold)."""
    if not session.in_transaction():
        session.begin()  # no I/O yet; but its end, commit or not, is what writes the record
    session.info.setdefault(_PENDING, []).append(
        entry(principal, action, report_id=report_id, outcome=outcome, detail=detail, roles=roles))


def record_cases(session: Session, principal: Principal, action: str,
                 cases: Iterable[tuple[uuid.UUID, frozenset[Role], str | None]]) -> None:
    """Log one access to each of several cases at once (a listing shows them together): per case its id, the
    roles the actor holds on its enheter and a detail. The records share their time and everything else."""
    if not session.in_transaction():
        session.begin()
    shared = entry(principal, action)
    session.info.setdefault(_PENDING, []).extend(
        {**shared, "report_id": report_id, "acting_roles": _roles_text(roles), "detail": _detail_text(detail)}
        for report_id, roles, detail in cases)


def entry(principal: Principal, action: str, *, report_id: uuid.UUID | None = None,
          outcome: str = ALLOWED, detail: str | None = None, roles: Iterable[Role] | None = None) -> dict[str, Any]:
    """One access record's columns, for a caller that inserts it in its own statement (intake does)."""
    held = roles if roles is not None else (grant.role for grant in principal.grants)
    return {
        "at": datetime.now(UTC),  # wall-clock time of the access, not the case clock
        "actor_subject": principal.subject,
        "actor_name": principal.display_name,
        "actor_kind": "system" if principal.is_integration else "person",
        "acting_roles": _roles_text(held),
        "report_id": report_id,
        "action": action,
        "outcome": outcome,
        "request_id": current_request_id.get(),
        "detail": _detail_text(detail),
    }


def _roles_text(roles: Iterable[Role]) -> str:
    return ",".join(sorted({role.value for role in roles}))


def _detail_text(detail: str | None) -> str | None:
    return detail[:500] if detail else None  # the column's length; a detail never holds case content


# What `entry` fills; the sealer fills the rest later.
ENTRY_COLUMNS = tuple(c.name for c in _table.columns if c.name not in ("id", "chain_seq", "prev_hash", "hash"))
INSERT = insert(_table)  # built once: intake, the hottest path, runs it on every report


def _pg_type(name: str) -> str:
    # Text as TEXT, not VARCHAR(n): a cast would silently cut a value too long, where the INSERT refuses it.
    declared = _table.c[name].type.compile(dialect=postgresql.dialect())
    return "TEXT" if declared.startswith("VARCHAR") else declared


# Several records (a listing's, one per listed case) go in ONE statement that reads them from ONE parameter, a
# JSON array of the records: json_each on SQLite, json_to_recordset on PostgreSQL. The statement's text does
# not depend on how many records there are, so it is parsed (and, on PostgreSQL, prepared) once. Earlier forms
# bound every field of every record through SQLAlchemy's type processors (a VALUES list, or one array per
# column that psycopg then built element by element in Python), ~20 µs per record; here json.dumps writes the
# records in C and only the values JSON has no type for go through the column's own processor
# (bench/README.md, "Routing, dependencies and the list's records").
_INSERT_FROM_JSON = {
    "sqlite": text(
        f"INSERT INTO {_table.name} ({', '.join(ENTRY_COLUMNS)}) SELECT "
        + ", ".join(f"json_extract(value, '$.{name}')" for name in ENTRY_COLUMNS) + " FROM json_each(:records)"),
    "postgresql": text(
        f"INSERT INTO {_table.name} ({', '.join(ENTRY_COLUMNS)}) SELECT {', '.join(ENTRY_COLUMNS)} "
        "FROM json_to_recordset(CAST(:records AS json)) AS r("
        + ", ".join(f"{name} {_pg_type(name)}" for name in ENTRY_COLUMNS) + ")"),
}


@functools.cache
def _json_value(dialect: Dialect) -> Callable[[Any], Any]:
    """How a record's value that JSON has no type for is written, as its column's type would bind it: on SQLite
    the stored text itself (a time as SQLite's DATETIME keeps it, an id as 32 hex digits); on PostgreSQL text
    that the column's type reads back (ISO 8601 with the offset)."""
    bind_time = _table.c.at.type.dialect_impl(dialect).bind_processor(dialect)
    bind_id = _table.c.report_id.type.dialect_impl(dialect).bind_processor(dialect)

    # A listing's records share their time: it is written once. One tuple, replaced whole, so that threads
    # sharing this function never see a time with another's text.
    last_time: tuple[datetime | None, str] = (None, "")

    def json_value(value: Any) -> Any:
        nonlocal last_time
        if isinstance(value, datetime):
            if value is last_time[0]:
                return last_time[1]
            bound = bind_time(value) if bind_time else value
            written = bound.isoformat() if isinstance(bound, datetime) else str(bound)
            last_time = (value, written)
            return written
        if isinstance(value, uuid.UUID):
            return str(bind_id(value) if bind_id else value)
        raise TypeError(f"an access record's field holds a {type(value).__name__}, which JSON cannot carry")

    return json_value


def roles_on(principal: Principal, unit_paths: Iterable[str]) -> frozenset[Role]:
    """The roles the actor holds on any of these units: the roles in which they act on the case."""
    return frozenset(role for path in unit_paths for role in principal.roles_for(path))


def _reads_only(session: OrmSession) -> bool:
    """A session of the reading engine (service/db.py reading): its records are written after it ends."""
    return bool(session.get_bind().get_execution_options().get(READS_ONLY))


def _insert_pending(session: OrmSession) -> None:
    # Savepoint releases commit nothing yet; the outermost commit carries the records.
    pending = session.info.get(_PENDING)
    if pending and not session.in_nested_transaction() and not _reads_only(session):
        _insert(session.connection(), pending)


def _forget_committed(session: OrmSession) -> None:
    if not session.in_nested_transaction() and not _reads_only(session):
        session.info.pop(_PENDING, None)


def _write_uncommitted(session: OrmSession, transaction: SessionTransaction) -> None:
    # The session's transaction ended without committing its records (a refusal on its way to a 404/403,
    # a session closed uncommitted, or the end of a reading session's transaction, committed or not) and its
    # connection is back in the pool: commit them alone, before the request's answer goes out.
    pending = session.info.pop(_PENDING, None) if transaction.parent is None else None
    if pending:
        with writing(cast(Engine, session.get_bind()).connect()) as connection, connection.begin():
            _insert(connection, pending)


def _insert(connection: Connection, pending: list[dict[str, Any]]) -> None:
    # One record (the common case) as a plain execute: cheaper than writing and reading JSON for one row.
    if len(pending) == 1:
        connection.execute(INSERT, pending[0])
    else:
        dialect = connection.dialect
        connection.execute(_INSERT_FROM_JSON[dialect.name],
                           {"records": json.dumps(pending, default=_json_value(dialect), separators=(",", ":"))})


# ---- the auditor's reads and log reviews (docs/requirements.md L3) ------------------------------------
#
# What an auditor sees (service/scope.py): with the auditor role on '*', every record; on a unit, the
# records about reports that concern an enhet in that subtree, and nothing about no report (grants, the
# log itself) or about ids that match no report. Log reviews: '*' auditors see all, others their own.
# Reading the log is itself logged.


@dataclass(frozen=True)
class RecordFilter:
    subject: str | None = None
    report_id: uuid.UUID | None = None
    from_: datetime | None = None
    to: datetime | None = None
    action: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class Page:
    items: list[Any]
    more: bool


def auditor_scope(session: Session, principal: Principal, action: str) -> Scope:
    """The caller's auditor scope; refused (403, logged) without the auditor role."""
    scope = principal.scope(Permission.read_audit_log)
    if scope.is_empty:
        record(session, principal, action, outcome=DENIED, detail="no auditor role")
        raise Forbidden("Reading the access log needs the auditor role.")
    return scope


def list_records(session: Session, principal: Principal, wanted: RecordFilter, *,
                 after_id: Callable[[], int] | None, page_size: int) -> Page:
    """Access records in the auditor's scope, oldest first. `after_id` reads the page cursor once allowed."""
    scope = auditor_scope(session, principal, "read_audit_log")
    query = select_model(AuditRecord).where(audit_records_within(scope))  # the scope first; filters only narrow it
    if wanted.subject is not None:
        query = query.where(AuditRecord.actor_subject == wanted.subject)
    if wanted.report_id is not None:
        query = query.where(AuditRecord.report_id == wanted.report_id)
    if wanted.from_ is not None:
        query = query.where(col(AuditRecord.at) >= wanted.from_)
    if wanted.to is not None:
        query = query.where(col(AuditRecord.at) < wanted.to)
    if wanted.action is not None:
        query = query.where(AuditRecord.action == wanted.action)
    if wanted.outcome is not None:
        query = query.where(AuditRecord.outcome == wanted.outcome)
    if after_id is not None:
        query = query.where(col(AuditRecord.id) > after_id())
    rows = session.exec(query.order_by(col(AuditRecord.id)).limit(page_size + 1)).all()
    items = list(rows[:page_size])
    given = {"subject": wanted.subject, "report_id": wanted.report_id, "from": wanted.from_, "to": wanted.to,
             "action": wanted.action, "outcome": wanted.outcome}
    used = ", ".join(name for name, value in given.items() if value is not None) or "none"
    record(session, principal, "read_audit_log", report_id=wanted.report_id,
           detail=f"filters: {used}; {len(items)} records")  # which filters, not their values
    return Page(items=items, more=len(rows) > page_size)


@dataclass(frozen=True)
class NewReview:
    period_from: datetime
    period_to: datetime
    subject_filter: str | None
    report_filter: uuid.UUID | None
    result: str


def record_review(session: Session, principal: Principal, new: NewReview, now: datetime) -> LogReview:
    """Record a log review (loggkontroll), and log that. No commit here."""
    auditor_scope(session, principal, "record_log_review")
    if new.period_to <= new.period_from:
        raise InvalidInput("period_to must be after period_from.", field="period_to")
    review = LogReview(reviewer_subject=principal.subject, reviewer_name=principal.display_name,
                       reviewed_at=now, period_from=new.period_from, period_to=new.period_to,
                       subject_filter=new.subject_filter, report_filter=new.report_filter, result=new.result)
    session.add(review)
    session.flush()
    record(session, principal, "record_log_review", report_id=new.report_filter, detail=f"log review {review.id}")
    return review


def list_reviews(session: Session, principal: Principal, *, after_id: Callable[[], int] | None,
                 page_size: int) -> Page:
    """Recorded log reviews the auditor sees, oldest first."""
    scope = auditor_scope(session, principal, "read_log_reviews")
    query = select_model(LogReview).where(log_reviews_visible_to(principal, scope))
    if after_id is not None:
        query = query.where(col(LogReview.id) > after_id())
    rows = session.exec(query.order_by(col(LogReview.id)).limit(page_size + 1)).all()
    items = list(rows[:page_size])
    record(session, principal, "read_log_reviews", detail=f"{len(items)} reviews")
    return Page(items=items, more=len(rows) > page_size)


_LISTENERS = (("before_commit", _insert_pending), ("after_commit", _forget_committed),
              ("after_transaction_end", _write_uncommitted))


def install_listeners() -> None:
    """Make sessions write their pending access records: with the commit, or alone after a rollback.

    Called through service/db.py install_session_listeners (the app factory, the command line, the tests'
    database fixture); importing this module registers nothing. Calling it again does nothing.
    """
    for name, listener in _LISTENERS:
        if not event.contains(OrmSession, name, listener):
            event.listen(OrmSession, name, listener)


# ---- the chain ----------------------------------------------------------------------------------------


# The canonical form a record's hash covers: every column but the seal's own (prev_hash, hash) as compact JSON
# with sorted keys, the time in UTC ISO 8601, the report id as a hyphenated UUID. Logs sealed in the past
# verify only while this stays the same byte for byte (tests/unit/test_audit_chain.py pins two hashes).
# Written out field by field, in sorted order, for the C encoder: the sealer hashes every record a read or a
# listing writes, and a generic conversion per field cost more than the rest of sealing together.
_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _digest(prev_hash: str, fields: Mapping[Any, Any], chain_seq: int) -> str:
    report_id = fields["report_id"]
    canonical = _CANONICAL({
        "acting_roles": fields["acting_roles"], "action": fields["action"], "actor_kind": fields["actor_kind"],
        "actor_name": fields["actor_name"], "actor_subject": fields["actor_subject"],
        "at": fields["at"].astimezone(UTC).isoformat(), "chain_seq": chain_seq,
        "detail": fields["detail"], "id": fields["id"], "outcome": fields["outcome"],
        "report_id": None if report_id is None else str(report_id), "request_id": fields["request_id"],
    })
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


# SQLite: a batch's seals in one statement too, from one JSON array of [id, chain_seq, prev_hash, hash]. An
# executemany steps the statement once per record, and the sealing thread must win the GIL back after every
# step while it holds the write lock: with a busy server that stretched one batch's lock to seconds.
_SQLITE_SEAL = text(
    f"UPDATE {_table.name} SET chain_seq = json_extract(link.value, '$[1]'),"
    " prev_hash = json_extract(link.value, '$[2]'), hash = json_extract(link.value, '$[3]')"
    f" FROM json_each(:links) AS link WHERE {_table.name}.id = json_extract(link.value, '$[0]')"
)
# PostgreSQL: a batch's seals in one statement, where an executemany is one UPDATE per record on the server.
_PG_SEAL = text(
    f"UPDATE {_table.name} AS sealed SET chain_seq = link.seq, prev_hash = link.prev, hash = link.hash"
    " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:seqs AS BIGINT[]), CAST(:prevs AS TEXT[]), CAST(:hashes AS TEXT[]))"
    " AS link(id, seq, prev, hash) WHERE sealed.id = link.id"
)


def seal(session: Session, now: datetime) -> int:
    """One pass: chain up to BATCH unsealed records older than SETTLE, in id order, and commit.

    Returns how many were sealed (0 also when another instance holds the sealing lock, or on SQLite when
    another process sealed first).
    """
    engine = cast(Engine, session.get_bind())
    if engine.dialect.name == "postgresql":
        if not session.execute(select(func.pg_try_advisory_xact_lock(_SEAL_LOCK))).scalar_one():
            session.rollback()
            return 0
        _top, links = _links(session, now)
        if links:
            ids, seqs, prevs, hashes = (list(column) for column in zip(*links, strict=True))
            session.execute(_PG_SEAL, {"ids": ids, "seqs": seqs, "prevs": prevs, "hashes": hashes})
        session.commit()
        return len(links)
    # SQLite: the reading and hashing (the long part, in Python) outside the one write lock, for which every
    # request's access record waits; under the lock only a check that no other process sealed meanwhile,
    # and one UPDATE.
    with reading(engine).connect() as connection, connection.begin():
        top, links = _links(connection, now)
    if not links:
        return 0
    if head(session) != top:
        session.rollback()
        return 0
    session.execute(_SQLITE_SEAL, {"links": json.dumps(links)})
    session.commit()
    return len(links)


def _links(reader: Session | Connection, now: datetime) -> tuple[ChainHead | None, list[tuple[int, int, str, str]]]:
    """The chain's head, and the next links after it: (id, chain_seq, prev_hash, hash) of each record."""
    top = head(reader)
    seq, prev = (top.chain_seq, top.hash) if top else (0, GENESIS)
    rows = reader.execute(select(_table).where(_table.c.chain_seq.is_(None), _table.c.at <= now - SETTLE)
                          .order_by(_table.c.id).limit(BATCH)).mappings().all()
    links = []
    for row in rows:
        seq += 1
        digest = _digest(prev, row, seq)
        links.append((row["id"], seq, prev, digest))
        prev = digest
    return top, links


def seal_all(session: Session, now: datetime) -> int:
    sealed = total = seal(session, now)
    while sealed == BATCH:
        sealed = seal(session, now)
        total += sealed
    return total


@dataclass(frozen=True)
class Broken:
    id: int
    chain_seq: int
    reason: str


@dataclass(frozen=True, order=True)
class ChainHead:
    chain_seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.chain_seq}:{self.hash}"  # the form kept outside the database, one per line

    @classmethod
    def parse(cls, text: str) -> ChainHead:
        """`SEQ:HASH` as printed by verify-audit; ValueError naming what is wrong."""
        found = re.fullmatch(r"\s*([1-9][0-9]*)\s*:\s*([0-9a-fA-F]{64})\s*", text)
        if found is None:
            raise ValueError(f"not a head (SEQ:HASH, a chain_seq and 64 hex digits): {text.strip()!r}")
        return cls(int(found[1]), found[2].lower())


@dataclass(frozen=True)
class Walk:
    broken: Broken | None  # the first record that does not fit, if any
    head: ChainHead | None  # the last record that fits (the start, when none follows it)


def walk(session: Session, start: ChainHead | None = None) -> Walk:
    """Recompute the chain after `start` (a head already verified; default: from the first record)."""
    last = start
    prev, expected, after = (start.hash, start.chain_seq + 1, start.chain_seq) if start else (GENESIS, 1, 0)
    while True:
        rows = session.execute(select(_table).where(_table.c.chain_seq > after)
                               .order_by(_table.c.chain_seq).limit(BATCH)).mappings().all()
        if not rows:
            return Walk(None, last)
        for row in rows:
            if row["chain_seq"] != expected:
                return Walk(Broken(row["id"], row["chain_seq"], f"chain_seq {expected} is missing before it"), last)
            if row["prev_hash"] != prev or row["hash"] != _digest(prev, row, row["chain_seq"]):
                return Walk(Broken(row["id"], row["chain_seq"], "its contents or link do not match its hash"), last)
            prev, expected = row["hash"], expected + 1
            last = ChainHead(row["chain_seq"], row["hash"])
        after = rows[-1]["chain_seq"]


def verify(session: Session) -> Broken | None:
    """Recompute the chain from the start; the first record that does not fit it, or None."""
    return walk(session).broken


def check_heads(session: Session, expected: Iterable[ChainHead], top: ChainHead | None) -> list[str]:
    """What is wrong with the chain (verified up to `top`) against heads kept outside the database.

    Every expected head must still be in the chain: its record there, with the same hash. The newest
    one (highest chain_seq) is how much of the log is vouched for: records up to it were sealed when it
    was taken, so a chain that now ends before it was cut, and a different hash at it (or at any older
    head) means the records up to it were changed and sealed again. Records sealed after the newest
    expected head are vouched for only by the chain itself until a later head is kept.
    """
    wanted = sorted(set(expected))
    if not wanted:
        return []
    if top is None:
        return [f"the audit log has no sealed record, but {len(wanted)} head(s) are expected, the newest {wanted[-1]}"]
    stored: dict[int, str] = {}
    seqs = sorted({head.chain_seq for head in wanted if head.chain_seq <= top.chain_seq})
    for start in range(0, len(seqs), 1000):
        found = session.execute(select(_table.c.chain_seq, _table.c.hash)
                                .where(_table.c.chain_seq.in_(seqs[start:start + 1000]))).all()
        stored.update((seq, digest) for seq, digest in found)
    problems = []
    for head in wanted:
        if head.chain_seq not in stored:
            problems.append(f"record {head.chain_seq} is missing (expected head {head}); "
                            f"the chain ends at {top.chain_seq}")
        elif stored[head.chain_seq] != head.hash:
            problems.append(f"record {head.chain_seq} has hash {stored[head.chain_seq]}, expected {head.hash}")
    return problems


def head(session: Session | Connection) -> ChainHead | None:
    row = session.execute(select(_table.c.chain_seq, _table.c.hash).where(_table.c.chain_seq.is_not(None))
                          .order_by(_table.c.chain_seq.desc()).limit(1)).first()
    return ChainHead(row[0], row[1]) if row else None


class Sealer:
    """Seals every `seconds` in a background thread; the app's lifespan starts and stops it."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        self.engine, self.seconds = engine, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                with Session(self.engine) as session:
                    seal_all(session, datetime.now(UTC))
            except Exception:  # a database hiccup must not end sealing for the life of the process
                log.exception("sealing the audit log failed; retrying in %s s", self.seconds)
