"""Module-scoped fixtures for the authorization matrix: one app, one set of callers, one world of cases.

The matrix sends some two thousand requests; building the cases again for each would take minutes,
so the database is filled once per test module (through the API, as the people who handle cases
would) and emptied at the module's end. The tests of the module must therefore leave the world as
they found it, which tests/authz/matrix.py arranges by aiming writes at harmless targets.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette nudges towards httpx2 (see tests/api/conftest.py)
    from fastapi.testclient import TestClient

from service.config import Settings
from service.demo import DEMO_ORGANISATION, ensure_grant
from service.domain.access import Role
from service.main import create_app
from service.models import ReportCategory, RoleGrant
from service.tokens import DevKey, StaticKeySource, TokenVerifier
from tests.authz.matrix import GRANT_UNIT, RELATIONS, ROLES
from tests.bodies import CONTACT, CONTROLLER, OPERATOR, UNIT, report_body, send_order
from tests.conftest import TEST_AUDIENCE, TEST_ISSUER, FakeClock, _truncate_all

REPORTS = "/api/v1/reports"
CASE_WORD = "zebrafink"  # in the closed case's text, and in no other report's

FULL_TOPICS = ("what_happened", "how_noticed", "when_happened", "causes", "earlier_events", "recurrence_risk")


class People:
    """Signed-in callers: grants stored in the database, tokens minted with the test key."""

    def __init__(self, engine: Engine, dev_key: DevKey, clock: FakeClock) -> None:
        self.engine, self.dev_key, self.clock = engine, dev_key, clock

    def token_headers(self, subject: str, name: str | None = None) -> dict[str, str]:
        token = self.dev_key.mint({"sub": subject, "name": name or subject},
                                  issuer=TEST_ISSUER, audience=TEST_AUDIENCE, lifetime_seconds=4 * 3600)
        return {"Authorization": f"Bearer {token}"}

    def grant(self, subject: str, role: Role | str, unit: str) -> int:
        with Session(self.engine) as session:
            ensure_grant(session, subject, Role(role), unit, self.clock(), granted_by="test")
            session.commit()
            grant_id = session.exec(select(RoleGrant.id).where(col(RoleGrant.subject) == subject,
                                                               col(RoleGrant.role) == Role(role).value)).first()
            assert grant_id is not None
            return grant_id

    def headers(self, role: Role | str, unit: str | None, subject: str, name: str | None = None) -> dict[str, str]:
        """`unit` None: a valid token and no grant at all."""
        if unit is not None:
            self.grant(subject, role, unit)
        return self.token_headers(subject, name)


def _category_id(engine: Engine, code: str) -> int:
    with Session(engine) as session:
        category_id = session.exec(select(col(ReportCategory.id)).where(col(ReportCategory.code) == code)).one()
    assert category_id is not None
    return category_id


@dataclass
class World:
    """What the matrix acts on (tests/authz/matrix.py TARGETS)."""

    units: dict[str, int]
    closed_case: str
    closed_case_number: str
    open_case: str
    ivo_notification: int
    imy_notification: int
    action: int
    grant: int
    category: int  # SOC's 'medication'
    callers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def case_clock() -> FakeClock:
    return FakeClock()  # 2026-03-10 09:00 UTC, and it stays there for the whole module


@pytest.fixture(scope="module")
def module_db(engine: Engine) -> Iterator[Engine]:
    _truncate_all(engine)
    yield engine
    _truncate_all(engine)


@pytest.fixture(scope="module")
def api(module_db: Engine, database_url: str, dev_key: DevKey, case_clock: FakeClock) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, oidc_issuer=TEST_ISSUER, oidc_audience=TEST_AUDIENCE,
                        dev_key_path=Path("/nonexistent"), cursor_secret="test-cursor-secret",
                        grant_cache_seconds=0, audit_seal_seconds=0)
    verifier = TokenVerifier(StaticKeySource(dev_key.public_jwks()), issuer=TEST_ISSUER, audience=TEST_AUDIENCE)
    app = create_app(settings, engine=module_db, clock=case_clock, token_verifier=verifier)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def people(module_db: Engine, dev_key: DevKey, case_clock: FakeClock) -> People:
    return People(module_db, dev_key, case_clock)


def _ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def world(api: TestClient, people: People) -> World:
    admin = people.headers(Role.admin, "*", subject="admin")
    rows = [{"code": code, "name": name, "kind": kind.value, "parent_code": parent, "valid_from": "2020-01-01"}
            for code, name, kind, parent in DEMO_ORGANISATION]
    units = {unit["code"]: unit["id"]
             for unit in _ok(api.post("/api/v1/org-units/import", json={"units": rows}, headers=admin))["created"]}

    someone = people.headers(Role.reporter, "SOC-ALD-1", subject="someone-else", name="Sigrid Someone")
    ivar = people.headers(Role.investigator, "SOC", subject="ivar", name="Ivar Isaksson")
    disa = people.headers(Role.decision_maker, "SOC", subject="disa", name="Disa Delegat")
    dana = people.headers(Role.dpo, "SOC", subject="dana", name="Dana Dataskydd")

    # The closed case: a secrecy breach, lex Sarah and a personal-data incident, handled to the end.
    receipt = _ok(api.post(REPORTS, headers=someone, json=report_body(
        category="confidentiality", description=f"Journalanteckningar skickades till fel mottagare ({CASE_WORD}).")),
        201)
    case = f"{REPORTS}/{receipt['id']}"
    _ok(api.post(f"{case}/assessments", headers=ivar, json={
        "types": [{"type": "lex_sarah", "lex_sarah_severity": "serious_tangible_risk"},
                  {"type": "personal_data_incident", "incident_risk": "high_risk"}],
        "justification": "Bedömd enligt nämndens rutin."}), 201)
    imy = _ok(api.post(f"{case}/notifications", headers=dana, json={
        "authority": "imy", "contact": CONTACT, "controller": CONTROLLER, "data_subject_categories": "Brukare",
        "data_subjects_approx": 1, "record_categories": "Journalanteckningar", "records_approx": 3,
        "likely_consequences": "Obehörig kan ha tagit del av uppgifter om hälsa.",
        "measures": "Mottagaren har ombetts radera e-posten."}), 201)
    assert imy["missing_for_sending"] == [], imy
    _ok(api.post(f"{case}/notifications/{imy['id']}/send", headers=dana, json=send_order("Dana Dataskydd")))
    _ok(api.post(f"{case}/data-subject-communication", headers=dana,
                 json={"informed_at": "2026-03-10T08:00:00Z", "method": "Brev till brukaren"}))
    _ok(api.post(f"{case}/investigation", headers=ivar, json={}), 201)
    for topic in FULL_TOPICS:
        _ok(api.post(f"{case}/investigation/entries", headers=ivar, json={
            "topic": topic, "documented_on": "2026-03-10", "source": "Samtal med personal", "nature": "fact",
            "author_name": "Ivar Isaksson", "author_title": "Kvalitetsutvecklare", "text": f"Om {topic}."}), 201)
    _ok(api.post(f"{case}/investigation/decision", headers=ivar, json={
        "decision": "Rutinen för utskick ses över.", "decided_by_name": "Ingrid Ek",
        "decided_by_title": "Verksamhetschef", "root_causes": ["routine_not_followed"]}))
    ivo = _ok(api.post(f"{case}/notifications", headers=disa, json={
        "authority": "ivo", "operator": OPERATOR, "unit": UNIT, "investigation_attached": True}), 201)
    _ok(api.post(f"{case}/notifications/{ivo['id']}/send", headers=disa, json=send_order("Disa Delegat")))
    action = _ok(api.post(f"{case}/actions", headers=ivar, json={
        "kind": "planned", "description": "Gå igenom rutinen för utskick på arbetsplatsträff.",
        "owner_name": "Maja Månsson", "due_date": "2026-03-31"}), 201)
    _ok(api.post(f"{case}/actions/{action['id']}/done", headers=ivar, json={}))
    _ok(api.post(f"{case}/actions/{action['id']}/evaluation", headers=ivar,
                 json={"effect_evaluation": "Inga fler felskick sedan genomgången."}))
    _ok(api.post(f"{case}/follow-ups", headers=ivar, json={"summary": "Åtgärden har haft effekt."}), 201)
    closed = _ok(api.post(f"{case}/close", headers=disa, json={"note": "Båda anmälningarna är gjorda."}))
    assert closed["status"] == "closed", closed

    # The open case: assessed as a serious lex Sarah case, so that its IVO deadline runs.
    opened = _ok(api.post(REPORTS, headers=someone, json=report_body()), 201)
    assessed = _ok(api.post(f"{REPORTS}/{opened['id']}/assessments", headers=ivar, json={
        "types": [{"type": "lex_sarah", "lex_sarah_severity": "serious_impropriety"}],
        "justification": "Allvarligt missförhållande."}), 201)
    assert assessed["status"] == "assessed" and assessed["deadlines"], assessed

    world = World(units=units, closed_case=receipt["id"], closed_case_number=receipt["case_number"],
                  open_case=opened["id"], ivo_notification=ivo["id"], imy_notification=imy["id"],
                  action=action["id"], grant=people.grant("matrix-revokee", Role.reporter, "SOC-ALD-1"),
                  category=_category_id(people.engine, "medication"))
    for role in ROLES:
        for relation in RELATIONS:
            world.callers[role, relation] = people.headers(role, GRANT_UNIT[relation], subject=f"{role}@{relation}",
                                                           name=f"{role.replace('_', ' ').title()} ({relation})")
    return world


def random_id() -> str:
    return str(uuid.uuid4())
