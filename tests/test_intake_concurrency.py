"""Simultaneous submissions: case numbers stay unique and gapless, an external reference is stored once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, func, select, update

from service.config import Settings
from service.demo import load_demo_organisation
from service.domain.access import Grant, Principal, Role
from service.models import Report
from service.org_units import OrgSnapshot
from service.reports import NewReport, Reporter, fingerprint, submit_report

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
SETTINGS = Settings(database_url="sqlite://")
CLIENT = Principal(subject="client:treserva", display_name="Treserva", grants=(Grant(Role.integration, "/"),))


def _new(external_reference: str | None) -> NewReport:
    body = {"units": ["SOC-ALD-1"], "description": "Samtidig rapport", "ref": external_reference}
    return NewReport(
        unit_codes=["SOC-ALD-1"], occurred_at=NOW, noticed_at=NOW, description="Samtidig rapport",
        immediate_actions="", subject_reference=None, no_specific_subject=True, category="other",
        channel=None, external_reference=external_reference, reporter=Reporter(subject="u1", name="Bo Berg"),
        fingerprint=fingerprint(body),
    )


def _submit_many(engine, references: list[str | None], *, request_already_reading: bool) -> list[str]:
    """`request_already_reading`: the request's session has read before the intake (its transaction is
    open, so PostgreSQL cannot run the intake in autocommit); otherwise the intake opens it."""
    start = threading.Barrier(len(references))
    with Session(engine) as session:
        org = OrgSnapshot.load(session)

    def one(reference: str | None) -> str:
        with Session(engine, expire_on_commit=False) as session:
            if request_already_reading:
                session.exec(select(func.count()).select_from(Report)).one()
            start.wait()
            stored = submit_report(session, CLIENT, _new(reference), NOW, SETTINGS, org)
            session.commit()
            return stored.report.case_number

    with ThreadPoolExecutor(max_workers=len(references)) as pool:
        return list(pool.map(one, references))


# On SQLite every transaction takes the one write lock when it begins, so a request that has read holds
# it and the others wait for it: the "reading" case there would only test the barrier.
both_paths = pytest.mark.parametrize("request_already_reading", [
    False, pytest.param(True, marks=pytest.mark.postgres)], ids=["fresh", "reading"])


@pytest.fixture
def organisation(db):
    with Session(db) as session:
        load_demo_organisation(session, NOW)
        session.commit()
    return db


@both_paths
def test_simultaneous_reports_get_unique_consecutive_case_numbers(organisation, request_already_reading):
    numbers = _submit_many(organisation, [None] * 12, request_already_reading=request_already_reading)
    assert sorted(numbers) == [f"SOC-2026-{n:05d}" for n in range(1, 13)]


@both_paths
def test_simultaneous_retries_of_one_external_reference_store_one_report(organisation, request_already_reading):
    numbers = _submit_many(organisation, ["TRE-1"] * 8, request_already_reading=request_already_reading)
    assert len(set(numbers)) == 1
    with Session(organisation) as session:
        assert session.exec(select(func.count()).select_from(Report)).one() == 1


def test_the_next_request_on_an_intake_connection_is_transactional_again(organisation):
    """On PostgreSQL intake runs in autocommit; the pooled connection must not keep that for its next user."""
    engine = organisation
    with Session(engine) as session:
        org = OrgSnapshot.load(session)
    for _ in range(3):  # more intakes than the pool's idle connections would need to reuse one
        with Session(engine, expire_on_commit=False) as session:
            submit_report(session, CLIENT, _new(None), NOW, SETTINGS, org)
            session.commit()
    for _ in range(3):
        with Session(engine) as session:
            session.exec(update(Report).values(status="closed"))
            session.rollback()
    with Session(engine) as session:
        assert set(session.exec(select(Report.status)).all()) == {"reported"}
