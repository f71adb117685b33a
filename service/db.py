"""The database engine, with the SQLite settings the embedded default needs (sessions: service/api/deps.py)."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event


def make_engine(database_url: str, *, pool_size: int = 20, sqlite_foreign_keys: bool = True) -> Engine:
    """`sqlite_foreign_keys=False` is for migrations only: SQLite's batch ALTER copies and drops tables
    that other tables' rows still point at (migrations/env.py checks the keys afterwards)."""
    if database_url.startswith("sqlite"):
        engine = create_engine(
            database_url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=pool_size
        )
        _configure_sqlite(engine, foreign_keys=sqlite_foreign_keys)
        return engine
    # FastAPI runs sync endpoints on a 40-thread pool; the pool must not be the narrower bottleneck.
    # No pre-ping: it costs a round trip per request. A connection the server dropped fails one request
    # and is discarded (SQLAlchemy invalidates the pool on disconnect errors); recycling bounds their age.
    return create_engine(database_url, pool_size=pool_size, max_overflow=20, pool_recycle=1800)


def _configure_sqlite(engine: Engine, *, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting;
        # taking the write lock up front makes concurrent requests queue instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
