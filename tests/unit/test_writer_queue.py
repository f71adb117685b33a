"""The SQLite writer queue: arrival order, direct hand-over, and no lock left behind by a failed or closed
transaction (service/db.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from service.db import ReaderWrote, WalCheckpointer, WriterQueue, make_engine, reading
from service.metrics import app_registry


def test_waiters_get_the_lock_in_the_order_they_asked():
    queue = WriterQueue(timeout=10)
    first = object()
    queue.acquire(first)
    order: list[str] = []
    asked = [threading.Event() for _ in range(5)]
    threads = []

    def writer(n: int) -> None:
        me = object()  # the queue knows its owners by identity, as it knows connections
        asked[n].set()
        queue.acquire(me)
        order.append(f"w{n}")
        queue.release(me)

    for n in range(5):  # each starts only once the one before it is waiting in the queue
        thread = threading.Thread(target=writer, args=(n,))
        thread.start()
        asked[n].wait()
        while len(queue._waiting) < n + 1:
            threading.Event().wait(0.001)
        threads.append(thread)
    queue.release(first)
    for thread in threads:
        thread.join(5)
    assert order == ["w0", "w1", "w2", "w3", "w4"]


def test_release_by_someone_else_changes_nothing_and_a_wait_times_out():
    queue = WriterQueue(timeout=0.05)
    holder, late = object(), object()
    queue.acquire(holder)
    queue.release(object())
    with pytest.raises(TimeoutError):
        queue.acquire(late)
    queue.release(holder)
    queue.acquire(late)  # the timed-out waiter left the queue: the lock is free for the next one


def test_a_failed_transaction_and_a_closed_connection_free_the_queue(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}", pool_size=2)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    with pytest.raises(ZeroDivisionError), engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        raise ZeroDivisionError
    holder = engine.connect()
    holder.begin()
    holder.execute(text("INSERT INTO t VALUES (2)"))
    holder.invalidate()  # gone mid-transaction, without a rollback call
    done = threading.Event()

    def other_writer() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (3)"))
        done.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    thread.join(10)
    assert done.is_set()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM t")).scalars().all() == [3]
    holder.close()
    engine.dispose()


def test_a_reader_neither_waits_for_a_writer_nor_sees_its_uncommitted_rows_and_may_not_write(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}", pool_size=3)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
    writer = engine.connect()
    writer.begin()  # holds the one write lock, and the queue, until it commits
    writer.execute(text("INSERT INTO t VALUES (2)"))
    seen: list[int] = []

    def read() -> None:
        with reading(engine).begin() as connection:
            seen.append(connection.execute(text("SELECT count(*) FROM t")).scalar_one())

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(5)  # a reader queued behind the writer would wait here until the writer's commit
    assert not reader.is_alive() and seen == [1]
    writer.commit()
    writer.close()
    with reading(engine).begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
        with pytest.raises(ReaderWrote):  # a deferred transaction that writes could fail at once under load
            connection.execute(text("INSERT INTO t VALUES (3)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    engine.dispose()


def test_with_background_checkpoints_commits_leave_the_log_to_the_checkpointer(tmp_path):
    # SQLite's own checkpoint runs inside the commit that fills the log past 1000 pages, while every other
    # writer waits in the queue; the server's engine leaves it to a thread of its own.
    path = tmp_path / "c.db"
    engine = make_engine(f"sqlite:///{path}", sqlite_background_checkpoints=True)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER, filler TEXT)"))
    for start in range(0, 3000, 100):  # ~1500 pages of log, past SQLite's automatic checkpoint
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (:n, :filler)"),
                               [{"n": n, "filler": "x" * 2000} for n in range(start, start + 100)])
    checkpointer = WalCheckpointer(engine)
    in_log, copied = checkpointer.checkpoint()
    assert in_log > 1000  # every commit's pages were still in the log: no commit checkpointed
    assert copied == in_log  # no reader held an old snapshot: all of it is in the database file now
    engine.dispose()
    with make_engine(f"sqlite:///{path}").connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 3000


def test_the_metrics_show_the_log_that_a_reader_keeps_out_of_the_database_file(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}", sqlite_background_checkpoints=True)
    checkpointer = WalCheckpointer(engine)
    registry = app_registry(engine, lambda: datetime.now(UTC), cache_seconds=0, wal_checkpointer=lambda: checkpointer)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER, filler TEXT)"))
    assert registry.get_sample_value("avv_sqlite_wal_pages") is None  # no pass yet: nothing to tell

    def write_rows() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (:n, :filler)"),
                               [{"n": n, "filler": "x" * 2000} for n in range(50)])

    with reading(engine).connect() as reader, reader.begin():
        reader.execute(text("SELECT count(*) FROM t")).scalar_one()  # a snapshot from before the rows
        write_rows()
        checkpointer.checkpoint()
        held = registry.get_sample_value("avv_sqlite_wal_pages_behind")
        assert held is not None and held > 0
        assert registry.get_sample_value("avv_sqlite_wal_pages") >= held
    checkpointer.checkpoint()  # the reader is gone: all of it is copied
    assert registry.get_sample_value("avv_sqlite_wal_pages_behind") == 0
    engine.dispose()


def test_database_errors_do_not_list_the_statements_values(engine):
    """An error logged with its traceback (a 500) must not write the values it was sent into the logs.
    (PostgreSQL's own DETAIL of a NOT NULL violation still shows the failing row in the error's text: the log
    leaves that text out, tests/unit/test_log_database_errors.py and tests/test_instances.py.)"""
    secret = "Brukaren X föll i badrummet"
    with pytest.raises(Exception) as info, engine.begin() as connection:
        connection.execute(text("INSERT INTO report (id, description) VALUES (:id, :description)"),
                           {"id": None, "description": secret})
    assert "hidden due to hide_parameters" in str(info.value)
    if engine.dialect.name == "sqlite":
        assert secret not in str(info.value)
