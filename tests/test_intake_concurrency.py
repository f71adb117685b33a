"""Simultaneous submissions: case numbers stay unique and gapless, an external reference is stored once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, func, select

from service.caches import OrgSnapshot
from service.config import Settings
from service.demo import load_demo_organisation
from service.domain.access import Grant, Principal, Role
from service.models import Report
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


def _submit_many(engine, references: list[str | None]) -> list[str]:
    start = threading.Barrier(len(references))

    def one(reference: str | None) -> str:
        with Session(engine, expire_on_commit=False) as session:
            start.wait()
            stored = submit_report(session, CLIENT, _new(reference), NOW, SETTINGS, OrgSnapshot.load(session))
            session.commit()
            return stored.report.case_number

    with ThreadPoolExecutor(max_workers=len(references)) as pool:
        return list(pool.map(one, references))


@pytest.fixture
def organisation(db):
    with Session(db) as session:
        load_demo_organisation(session, NOW)
        session.commit()
    return db


def test_simultaneous_reports_get_unique_consecutive_case_numbers(organisation):
    numbers = _submit_many(organisation, [None] * 12)
    assert sorted(numbers) == [f"SOC-2026-{n:05d}" for n in range(1, 13)]


def test_simultaneous_retries_of_one_external_reference_store_one_report(organisation):
    numbers = _submit_many(organisation, ["TRE-1"] * 8)
    assert len(set(numbers)) == 1
    with Session(organisation) as session:
        assert session.exec(select(func.count()).select_from(Report)).one() == 1
