"""An app on the test database with a fake clock, and signed-in users with stored grants."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nudges towards httpx2, which is not on PyPI's stable track yet
    from fastapi.testclient import TestClient

from service.config import Settings
from service.demo import DEMO_ORGANISATION, ensure_grant
from service.domain.access import Role
from service.main import create_app
from service.tokens import DevKey, StaticKeySource, TokenVerifier
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER, FakeClock


@pytest.fixture
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    """The service's settings for a test. A module marked `exact_figures` reads small counts in the statistics
    exactly: small-count suppression (a publishing rule, on at 5 by default and tested in test_suppression.py)
    is off there, a minimum of 1."""
    settings = Settings(database_url=database_url, oidc_issuer=TEST_ISSUER, oidc_audience=TEST_AUDIENCE,
                        dev_key_path=Path("/nonexistent"), cursor_secret="test-cursor-secret",
                        grant_cache_seconds=0,  # Users.grant writes grants straight into the database
                        audit_seal_seconds=0)  # tests seal the audit log themselves
    if request.node.get_closest_marker("exact_figures"):
        settings = settings.model_copy(update={"statistics_min_suppress_below": 1})
    return settings


@pytest.fixture
def client(settings: Settings, db: Engine, clock: FakeClock, dev_key: DevKey) -> Iterator[TestClient]:
    verifier = TokenVerifier(StaticKeySource(dev_key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    app = create_app(settings, engine=db, clock=clock, token_verifier=verifier)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


class Users:
    """Makes signed-in users: `users.headers(Role.investigator, "SOC")` stores the grant and mints a token."""

    def __init__(self, engine: Engine, dev_key: DevKey, clock: FakeClock) -> None:
        self.engine, self.dev_key, self.clock = engine, dev_key, clock

    # Tokens carry real time: python-jose checks exp against the real clock, not the case clock.
    def token(self, subject: str, name: str | None = None, **extra_claims: Any) -> str:
        return self.dev_key.mint({"sub": subject, "name": name or subject.title(), **extra_claims},
                                 issuer=TEST_ISSUER, audience=TEST_AUDIENCE)

    def grant(self, subject: str, role: Role, unit: str) -> None:
        with Session(self.engine) as session:
            ensure_grant(session, subject, role, unit, self.clock(), granted_by="test")
            session.commit()

    def headers(self, role: Role, unit: str = "*", subject: str | None = None,
                name: str | None = None) -> dict[str, str]:
        subject = subject or f"{role.value}@{unit}"
        self.grant(subject, role, unit)
        return {"Authorization": f"Bearer {self.token(subject, name)}"}


@pytest.fixture
def users(db: Engine, dev_key: DevKey, clock: FakeClock) -> Users:
    return Users(db, dev_key, clock)


@pytest.fixture
def admin(users: Users) -> dict[str, str]:
    return users.headers(Role.admin, "*", subject="admin")


@pytest.fixture
def org(client: TestClient, admin: dict[str, str]) -> dict[str, int]:
    """The demo organisation (SOC with three avdelningar of four enheter each), loaded through the API."""
    rows = [{"code": code, "name": name, "kind": kind.value, "parent_code": parent, "valid_from": "2020-01-01"}
            for code, name, kind, parent in DEMO_ORGANISATION]
    response = client.post("/api/v1/org-units/import", json={"units": rows}, headers=admin)
    assert response.status_code == 200, response.text
    return {unit["code"]: unit["id"] for unit in response.json()["created"]}


# ---- the people who handle cases: the same names in every module's timelines --------------------------
# A module that needs someone else under one of these names defines its own fixture, which wins
# (tests/api/test_http_errors.py has its own `investigator`).

def _person(role: Role, unit: str, subject: str, name: str):
    """A fixture: the headers of one signed-in person, whose grant is stored with the demo organisation loaded."""

    def person(users: Users, org: dict[str, int]) -> dict[str, str]:
        return users.headers(role, unit, subject=subject, name=name)

    person.__doc__ = f"{name}: {role.value} on {unit}, subject {subject!r}."  # shown by `pytest --fixtures`
    return pytest.fixture(person)


staff = _person(Role.reporter, "SOC", "anna", "Anna Andersson")
manager = _person(Role.unit_manager, "SOC-ALD-1", "maja", "Maja Månsson")  # of Hemtjänst Centrum and nothing else
investigator = _person(Role.investigator, "SOC", "ivar", "Ivar Isaksson")
decision_maker = _person(Role.decision_maker, "SOC", "disa", "Disa Delegat")
dpo = _person(Role.dpo, "SOC", "dana", "Dana Dataskydd")
