"""Tells the other instances on the same PostgreSQL database that grants, the org tree or categories changed.

Each process caches the org tree, subjects' grants and the report categories (service/caches.py). A
transaction that writes a grant, a unit, a placement or a category sends `NOTIFY avv_caches` on its own
connection; PostgreSQL delivers it when,
and only if, that transaction commits. Every process listens on a dedicated connection in a background
thread and clears those caches when a notice arrives, so a revoked grant is refused by every instance a
moment after the revoking request returned, not after the cache's TTL. Were the listening connection lost,
the thread reconnects and clears the caches then too (notices sent in between are lost); until it is back
the TTLs bound how stale a cache can be. SQLite serves from one process, which clears its own caches.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Delete, Engine, Update, event
from sqlalchemy.orm import ORMExecuteState, Session as OrmSession

from service.models import OrgUnit, OrgUnitPlacement, ReportCategory, RoleGrant, table_of

log = logging.getLogger("service.caches")

CHANNEL = "avv_caches"
_WATCHED = (RoleGrant, OrgUnit, OrgUnitPlacement, ReportCategory)
_WATCHED_TABLES = frozenset(table_of(model).name for model in _WATCHED)

def _notify(session: OrmSession, tables: set[str]) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # The payload names the table (one of _WATCHED_TABLES, never data). Identical notices of one
        # transaction are delivered once: PostgreSQL folds them.
        for table in sorted(tables):
            connection.exec_driver_sql(f"NOTIFY {CHANNEL}, '{table}'")


def _after_flush(session: OrmSession, _flush_context: Any) -> None:
    tables = {type(instance).__tablename__ for changed in (session.new, session.dirty, session.deleted)
              for instance in changed if isinstance(instance, _WATCHED)}
    if tables:
        _notify(session, tables)


def _on_execute(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, (Update, Delete)) and (table := getattr(statement.table, "name", None)) in _WATCHED_TABLES:
        _notify(state.session, {table})


_LISTENERS = (("after_flush", _after_flush), ("do_orm_execute", _on_execute))


def install_listeners() -> None:
    """Make sessions announce grant and org changes (service/db.py install_session_listeners calls it)."""
    for name, listener in _LISTENERS:
        if not event.contains(OrmSession, name, listener):
            event.listen(OrmSession, name, listener)


class CacheListener:
    """Listens for other processes' notices on a connection of its own; the app's lifespan starts and stops it.

    `on_change` runs in the listener's thread: with the changed table's name for every notice, and with None
    after every (re)connection, when anything may have changed unheard.
    """

    def __init__(self, engine: Engine, on_change: Callable[[str | None], None], *,
                 reconnect_seconds: float = 2.0) -> None:
        self.engine, self.on_change, self.reconnect_seconds = engine, on_change, reconnect_seconds
        self.listening = threading.Event()
        self._stop = threading.Event()
        # stop() writes a byte here, so the thread waiting for the database's socket wakes at once.
        self._wake_read, self._wake_write = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="cache-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake_write.send(b"x")
        self._thread.join(timeout=10)
        self._wake_read.close()
        self._wake_write.close()

    def _connect(self) -> Any:
        # Not from the engine's pool: the connection stays checked out for the life of the process. It only
        # ever waits to read, so TCP keepalives are what notice a peer that vanished without closing it.
        import psycopg

        args, kwargs = self.engine.dialect.create_connect_args(self.engine.url)
        return psycopg.connect(*args, **{"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
                                         "keepalives_count": 3, **kwargs, "autocommit": True, "connect_timeout": 5})

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with self._connect() as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.on_change(None)  # what changed while nobody listened is unknown: forget it all
                    self.listening.set()
                    log.info("listening for grant and org changes of other instances")
                    while not self._stop.is_set():
                        # What has arrived (or was read with LISTEN's answer), then wait for more or for stop().
                        for notice in connection.notifies(timeout=0):
                            self.on_change(notice.payload)
                        select.select([connection.fileno(), self._wake_read], [], [])
            except (psycopg.Error, OSError) as exc:  # the database is away: the caches' TTLs apply until it is back
                self.listening.clear()
                if self._stop.is_set():
                    break
                log.warning("listening for grant and org changes failed (%s); reconnecting in %s s",
                            type(exc).__name__, self.reconnect_seconds)
                self._stop.wait(self.reconnect_seconds)
        self.listening.clear()
