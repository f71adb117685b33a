"""The database engine, with the SQLite settings the embedded default needs (sessions: service/api/deps.py)."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections import deque
from typing import cast

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import PoolProxiedConnection

log = logging.getLogger("service.db")

# How long a writer waits for SQLite's one write lock, in this process's queue or in SQLite's busy handler.
_BUSY_SECONDS = 30


def make_engine(database_url: str, *, pool_size: int = 20, sqlite_foreign_keys: bool = True,
                sqlite_background_checkpoints: bool = False) -> Engine:
    """`sqlite_foreign_keys=False` is for migrations only: SQLite's batch ALTER copies and drops tables
    that other tables' rows still point at (migrations/env.py checks the keys afterwards).

    `sqlite_background_checkpoints`: commits never copy the write-ahead log into the database file; a
    WalCheckpointer must then do it (the server starts one). Left to SQLite, the commit that fills the log
    past 1000 pages does the copy and its fsync before it returns, while the writer queue waits for it:
    a stall of hundreds of milliseconds for every writer, about once a second under load.

    `hide_parameters`: a database error's text leaves out the statement's values, which may be case content,
    so an error logged with its traceback cannot carry them into the logs."""
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": _BUSY_SECONDS}, pool_size=pool_size,
            hide_parameters=True,
        )
        _configure_sqlite(engine, foreign_keys=sqlite_foreign_keys, checkpoints=not sqlite_background_checkpoints)
        return engine
    # FastAPI runs sync endpoints on a 40-thread pool; the pool must not be the narrower bottleneck.
    # No pre-ping: it costs a round trip per request. A connection the server dropped fails one request
    # and is discarded (SQLAlchemy invalidates the pool on disconnect errors); recycling bounds their age.
    return create_engine(database_url, pool_size=pool_size, max_overflow=20, pool_recycle=1800, hide_parameters=True)


# Execution option of the connections of a reading engine (`reading`).
READS_ONLY = "avv_reads_only"


def reading(engine: Engine) -> Engine:
    """The engine for requests that only read: the access records a read writes wait on the session and are
    inserted once its transaction has ended (service/audit.py), in a short write transaction of their own.

    On SQLite its transactions begin deferred, outside the writer queue: in WAL mode a reader waits for no
    writer and no other reader, and sees one snapshot for the whole transaction. Such a transaction may not
    write (refused below): upgrading it fails at once when another writer has committed since it began. On
    PostgreSQL readers never waited for writers; there it is the engine itself, and a read's records are
    committed with it, which costs fewer round trips.
    """
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{READS_ONLY: True})


def writing(connection: Connection) -> Connection:
    """A connection of either engine made to begin a write transaction (SQLite: BEGIN IMMEDIATE, queued)."""
    return connection.execution_options(**{READS_ONLY: False})


class WriterQueue:
    """One transaction at a time per process, first come first served, handed over directly.

    SQLite has one write lock per database. Left to itself, a writer that finds it taken sleeps in
    SQLite's busy handler and polls, with ever longer naps, so a late arrival can take the lock before
    one that has waited for a second: the median stays low and the tail grows to seconds. Here the
    lock is taken in arrival order before `BEGIN IMMEDIATE`, and passed straight to the next waiter when
    the holder's COMMIT or ROLLBACK has run, so the busy handler only ever waits for other processes.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._holder: object | None = None
        self._waiting: deque[tuple[object, threading.Event]] = deque()

    def acquire(self, owner: object) -> None:
        with self._lock:
            if self._holder is None:
                self._holder = owner
                return
            turn = threading.Event()
            self._waiting.append((owner, turn))
        if turn.wait(self.timeout):
            return
        with self._lock:
            if turn.is_set():  # handed over just as the wait ran out
                return
            self._waiting.remove((owner, turn))
        raise TimeoutError(f"waited {self.timeout} s for the database's write lock")

    def release(self, owner: object) -> None:
        with self._lock:
            if self._holder is not owner:
                return  # a rollback of a connection that never began a transaction (pool reset)
            if self._waiting:
                self._holder, turn = self._waiting.popleft()
                turn.set()
            else:
                self._holder = None


class WalCheckpointer:
    """Copies SQLite's write-ahead log into the database file every `seconds`, in a thread of its own.

    PASSIVE: it waits for no reader or writer and takes no place in the writer queue; it copies what no
    reader still needs, and a later pass copies the rest. (See make_engine's sqlite_background_checkpoints.)
    """

    def __init__(self, engine: Engine, seconds: float = 1.0) -> None:
        self.engine, self.seconds = engine, seconds
        self.last_pass: tuple[int, int] | None = None  # what the last pass found, for the metrics
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def checkpoint(self) -> tuple[int, int]:
        """One pass: the pages in the log, and how many of them are now in the database file."""
        raw = self.engine.raw_connection()  # the driver's connection, in autocommit: no transaction, no queue
        try:
            driver = cast(sqlite3.Connection, raw.driver_connection)
            _busy, in_log, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            self.last_pass = (in_log, copied)
            return in_log, copied
        finally:
            raw.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self._checkpoint_logging_failure()  # what the last second wrote

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self._checkpoint_logging_failure()

    def _checkpoint_logging_failure(self) -> None:
        try:
            self.checkpoint()
        except Exception:  # a busy or missing file must not end checkpointing, or the server's shutdown
            log.exception("checkpointing the SQLite write-ahead log failed; next try in %s s", self.seconds)


def _configure_sqlite(engine: Engine, *, foreign_keys: bool, checkpoints: bool) -> None:
    queue = WriterQueue(timeout=_BUSY_SECONDS)
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    # The queue is released after the DBAPI commit or rollback has run, not in SQLAlchemy's `commit` event
    # (which fires before it): the next writer's BEGIN IMMEDIATE then never meets a lock still held.
    # SQLAlchemy hands these the pool's proxy of the connection; the queue knows the DBAPI connection.
    def do_commit(connection: PoolProxiedConnection) -> None:
        try:
            commit(connection)
        finally:
            queue.release(getattr(connection, "dbapi_connection", connection))

    def do_rollback(connection: PoolProxiedConnection) -> None:
        try:
            rollback(connection)
        finally:
            queue.release(getattr(connection, "dbapi_connection", connection))

    dialect.do_commit = do_commit  # type: ignore[method-assign, assignment]  # this engine's dialect only
    dialect.do_rollback = do_rollback  # type: ignore[method-assign, assignment]  # likewise

    # A connection closed or invalidated mid-transaction (a crash, a lost file handle) ends its
    # transaction without a rollback call; it must not take the queue with it.
    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_connection: sqlite3.Connection, _record: object, _exception: object) -> None:
        queue.release(dbapi_connection)

    @event.listens_for(engine, "close")
    def _on_close(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        queue.release(dbapi_connection)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if not checkpoints:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READS_ONLY):
            connection.exec_driver_sql("BEGIN")  # a reader: a snapshot, no lock to wait for
            return
        # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting;
        # taking the write lock up front makes concurrent requests queue instead.
        dbapi_connection = connection.connection.dbapi_connection
        queue.acquire(dbapi_connection)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            queue.release(dbapi_connection)
            raise

    @event.listens_for(engine, "before_cursor_execute")
    def _refuse_writes_of_readers(connection: Connection, _cursor: object, statement: str, *_: object) -> None:
        if connection.get_execution_options().get(READS_ONLY) and not _READ_STATEMENT.match(statement):
            raise ReaderWrote(f"a reading transaction may not run {statement.split(None, 1)[0]!r} "
                              "(service/db.py reading): use the writing session")


_READ_STATEMENT = re.compile(r"\s*(SELECT|WITH|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


class ReaderWrote(RuntimeError):
    """A reading transaction on SQLite tried to write: a bug in the endpoint's choice of session."""


def install_session_listeners() -> None:
    """Every session listener the service relies on; the app factory, the command line and the tests call it.

    The access log's (service/audit.py: records written with the commit, or alone after a rollback), the
    case-step guard (service/cases.py: timeline records and status changes only through case_step) and the
    notice to other instances that grants or the org tree changed (service/cache_signal.py).
    Calling it again does nothing.
    """
    from service import audit, cache_signal, cases

    audit.install_listeners()
    cases.install_step_guard()
    cache_signal.install_listeners()
