"""Fixtures shared by all tests: a migrated database (SQLite or PostgreSQL), an app with a fake clock, tokens.

AVV_TEST_DATABASE_URL picks the backend: `sqlite` (default) makes a temporary file; a PostgreSQL URL
names a server where a throwaway database is created for the run (scripts/test provisions one).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlmodel import SQLModel

from service.db import install_session_listeners, make_engine
from service.migrate import upgrade
from service.tokens import DevKey, load_or_create_dev_key
from tests.logcheck import LeakCatcher
from tests.oidc import OidcProvider

TEST_ISSUER = "urn:avvikelser:test"
TEST_AUDIENCE = "avvikelser-test"


def _backend_url() -> str:
    return os.environ.get("AVV_TEST_DATABASE_URL", "sqlite")


def pytest_report_header() -> str:
    url = _backend_url()
    return f"database: {'SQLite (temporary file)' if url == 'sqlite' else make_url(url).render_as_string()}"


_LEAKS = LeakCatcher()


def pytest_configure(config: pytest.Config) -> None:
    """Every log record of the run goes through tests/logcheck.py; the service's loggers at every level."""
    logging.getLogger().addHandler(_LEAKS)
    logging.getLogger("service").addHandler(_LEAKS)  # also once service/logs.py stops it propagating
    logging.getLogger("service").setLevel(logging.DEBUG)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    _LEAKS.current_test = item.nodeid
    try:
        return (yield)
    finally:
        _LEAKS.current_test = "(between tests)"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole run's log must hold no case content and no token: else the run fails, naming each record."""
    if _LEAKS.leaks:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _LEAKS.leaks:
        terminalreporter.section("log check: case content or tokens in the log", red=True)
        for leak in _LEAKS.leaks[:50]:
            terminalreporter.line(leak)
        terminalreporter.line(f"{len(_LEAKS.leaks)} record(s) of {_LEAKS.seen} leak")
    else:
        terminalreporter.line(f"log check: {_LEAKS.seen} log records, none holds case content or a token")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _backend_url() == "sqlite":
        skip = pytest.mark.skip(reason="needs PostgreSQL (runs in the PostgreSQL pass of scripts/test)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def server_url() -> str:
    return _backend_url()


@pytest.fixture(scope="session")
def fresh_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """A factory of empty databases on the chosen backend, dropped at the end of the run."""
    url = _backend_url()
    created: list[str] = []
    admin: Engine | None = None
    if url != "sqlite":
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:  # fail, don't skip, when the server is not there
            connection.execute(text("SELECT 1"))

    def make() -> str:
        if url == "sqlite":
            return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        name = f"avv_test_{uuid.uuid4().hex[:12]}"
        assert admin is not None
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return make_url(url).set(database=name).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect() as connection:
            for name in created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(fresh_database) -> str:
    url = fresh_database()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    install_session_listeners()  # as the app factory does: tests use sessions without the app too
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _truncate_all(engine: Engine) -> None:
    tables = [table.name for table in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # audit_record refuses TRUNCATE (migration 0007). The tests connect as a superuser, who may
            # set session_replication_role: under "replica" ordinary triggers do not fire, for this
            # transaction only. The application's role may not set it, so this is no way around the
            # trigger for the service; tests/unit/test_audit_chain.py checks that the trigger holds.
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def db(engine: Engine) -> Iterator[Engine]:
    """The migrated database, emptied after the test (the code under test commits for real)."""
    yield engine
    _truncate_all(engine)


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 10, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def dev_key(tmp_path_factory: pytest.TempPathFactory) -> DevKey:
    return load_or_create_dev_key(Path(tmp_path_factory.mktemp("keys")) / "test-key.pem")


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    """A real OpenID provider on loopback (tests/oidc.py), one for the whole run."""
    provider = OidcProvider.start()
    yield provider
    provider.stop()
