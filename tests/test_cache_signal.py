"""The notice that grants or the org tree changed (service/cache_signal.py): sent on commit and only then,
heard by a listener on a connection of its own, which reconnects when that connection is lost."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from service.cache_signal import CHANNEL, CacheListener
from service.demo import ensure_grant, load_demo_organisation
from service.domain.access import Role
from service.models import RoleGrant

pytestmark = pytest.mark.postgres
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
DEADLINE_SECONDS = 10  # a bound on waiting for the listener's thread, not a pause


class Heard:
    """What the listener passed on: a table's name per notice, None per (re)connection."""

    def __init__(self) -> None:
        self.calls: list[str | None] = []
        self._changed = threading.Condition()

    def __call__(self, table: str | None) -> None:
        with self._changed:
            self.calls.append(table)
            self._changed.notify_all()

    def until(self, last: str | None, count: int = 1) -> list[str | None]:
        """Everything heard, once `last` has been heard `count` times."""
        with self._changed:
            assert self._changed.wait_for(lambda: self.calls.count(last) >= count, timeout=DEADLINE_SECONDS), self.calls
            return list(self.calls)


def _end_marker(engine) -> None:
    """A notice of its own, sent last: notices arrive in commit order, so all before it have been heard."""
    with engine.begin() as connection:
        connection.exec_driver_sql(f"NOTIFY {CHANNEL}, 'end'")


@pytest.fixture
def heard(db):
    heard = Heard()
    listener = CacheListener(db, heard, reconnect_seconds=0.05)
    listener.start()
    heard.until(None)  # connected
    yield heard
    listener.stop()


def _grant(engine, subject: str) -> None:
    with Session(engine) as session:
        ensure_grant(session, subject, Role.auditor, "*", NOW, granted_by="test")
        session.commit()


def test_a_committed_grant_change_is_heard_and_a_rolled_back_one_is_not(db, heard):
    with Session(db) as session:
        ensure_grant(session, "rolled-back", Role.auditor, "*", NOW, granted_by="test")
        session.flush()  # the notice is sent with the INSERT, and dropped with the transaction
        session.rollback()
    _grant(db, "nina")
    with Session(db) as session:  # a revocation: an UPDATE of the row
        grant = session.exec(select(RoleGrant).where(RoleGrant.subject == "nina")).one()
        grant.revoked_at, grant.revoked_by = NOW, "test"
        session.commit()
    _end_marker(db)
    assert heard.until("end") == [None, "role_grant", "role_grant", "end"]


def test_an_org_change_is_heard(db, heard):
    with Session(db) as session:
        load_demo_organisation(session, NOW)
        session.commit()
    _end_marker(db)
    # A new förvaltning comes with its report categories, which other instances cache too.
    assert heard.until("end") == [None, "org_unit", "org_unit_placement", "report_category", "end"]


def test_the_listener_reconnects_and_says_anything_may_have_changed(db, heard):
    with db.connect() as connection:
        ended = connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query = :listen"), {"listen": f"LISTEN {CHANNEL}"}).scalars().all()
    assert ended == [True]
    heard.until(None, count=2)  # connected again; its owner clears its caches
    _grant(db, "nina")
    _end_marker(db)
    assert heard.until("end") == [None, None, "role_grant", "end"]
