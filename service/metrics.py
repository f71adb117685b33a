"""Prometheus metrics (README, "Running it in production"): requests, the database pool, the access log's
sealing, overdue deadlines, SQLite's write-ahead log. Counts and durations only: no label ever holds an id, a
subject or case content.

Served on a port of its own (AVV_METRICS_PORT), never by the API's listener. The figures that need the
database are read at scrape time, one query each, under a short statement timeout, and kept for
`cache_seconds` so that several scrapers cost one round of queries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text
from sqlmodel import col

from service.db import WalCheckpointer
from service.models import AuditRecord, CaseDeadline

log = logging.getLogger("service.metrics")

# Process-wide, shared by every app in the process (one per process in production).
HTTP_DURATION = Histogram(
    "avv_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by operation (path template) and status.",
    ["method", "route", "status"],
    registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UNMATCHED_ROUTE = "unmatched"  # a path no operation has: one label, whatever was sent

_STATEMENT_TIMEOUT_MS = 2000


def _read_database(engine: Engine, now: datetime) -> tuple[int, float, dict[str, int]]:
    """(access-log records not yet sealed, age in seconds of the oldest of them, overdue deadlines by kind)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"SET LOCAL statement_timeout = {_STATEMENT_TIMEOUT_MS}"))
        # Through the models' columns, so times are bound and read as the application stores them.
        unsealed, oldest = connection.execute(
            select(func.count(), func.min(col(AuditRecord.at))).where(col(AuditRecord.chain_seq).is_(None))).one()
        overdue: dict[str, int] = dict(connection.execute(
            select(col(CaseDeadline.kind), func.count()).where(col(CaseDeadline.due_at) < now)
            .group_by(col(CaseDeadline.kind))).all())
        connection.rollback()
    lag = 0.0
    if oldest is not None:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        lag = max(0.0, (now - oldest).total_seconds())
    return int(unsealed), lag, {str(kind): int(count) for kind, count in overdue.items()}


class DatabaseCollector(Collector):
    """Pool use from the engine and SQLite's log from its checkpointer (no I/O); unsealed records, seal lag and
    overdue deadlines from the database."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], cache_seconds: float = 5.0,
                 wal_checkpointer: Callable[[], WalCheckpointer | None] | None = None) -> None:
        self.engine, self.clock, self.cache_seconds = engine, clock, cache_seconds
        self.wal_checkpointer = wal_checkpointer
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._cached: tuple[int, float, dict[str, int]] | None = None

    def _database(self) -> tuple[int, float, dict[str, int]] | None:
        with self._lock:
            if self._read_at is None or time.monotonic() - self._read_at >= self.cache_seconds:
                try:
                    self._cached = _read_database(self.engine, self.clock())
                except Exception as exc:  # noqa: BLE001 - a scrape while the database is away says so, and no more
                    log.warning("metrics: database unavailable (%s)", type(exc).__name__)
                    self._cached = None
                self._read_at = time.monotonic()
            return self._cached

    def collect(self) -> Iterator[Metric]:
        pool = self.engine.pool
        for name, doc, attribute in (
            ("avv_db_pool_size", "Connections the pool keeps open.", "size"),
            ("avv_db_pool_checked_out", "Connections in use by requests now.", "checkedout"),
            ("avv_db_pool_overflow", "Connections opened beyond the pool's size now.", "overflow"),
        ):
            method = getattr(pool, attribute, None)
            if callable(method):
                yield GaugeMetricFamily(name, doc, value=max(0, int(method())))
        yield from self._write_ahead_log()
        read = self._database()
        yield GaugeMetricFamily("avv_db_up", "1 if the last scrape could read the database, else 0.",
                                value=0 if read is None else 1)
        if read is None:
            return
        unsealed, lag, overdue = read
        yield GaugeMetricFamily("avv_audit_unsealed_records",
                                "Access-log records waiting to be sealed into the hash chain.", value=unsealed)
        yield GaugeMetricFamily("avv_audit_seal_lag_seconds",
                                "Age of the oldest access-log record not yet sealed (0 when none waits).", value=lag)
        family = GaugeMetricFamily("avv_deadlines_overdue", "Open case deadlines past due, by kind.", labels=["kind"])
        for kind, count in sorted(overdue.items()):
            family.add_metric([kind], count)
        yield family

    def _write_ahead_log(self) -> Iterator[Metric]:
        """SQLite: the log as the background checkpointer last found it (no I/O here). Pages it could not copy
        are ones a reader still needed; a log that keeps growing means some reader never lets go."""
        checkpointer = self.wal_checkpointer() if self.wal_checkpointer is not None else None
        found = checkpointer.last_pass if checkpointer is not None else None
        if found is None or found[0] < 0:  # no pass yet, or the database is not in WAL mode
            return
        in_log, copied = found
        yield GaugeMetricFamily("avv_sqlite_wal_pages",
                                "Pages in SQLite's write-ahead log at the last background checkpoint.", value=in_log)
        yield GaugeMetricFamily("avv_sqlite_wal_pages_behind", "Of those, pages not copied into the database file "
                                "at that checkpoint because a reader still needed them.", value=max(0, in_log - copied))


def app_registry(engine: Engine, clock: Callable[[], datetime], cache_seconds: float = 5.0, *,
                 wal_checkpointer: Callable[[], WalCheckpointer | None] | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HTTP_DURATION)
    registry.register(DatabaseCollector(engine, clock, cache_seconds, wal_checkpointer))
    return registry
