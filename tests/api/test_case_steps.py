"""Every case step goes through one construct (service/cases.py case_step), with its permission from one table.

A timeline record or a status change written any other way fails at flush; these tests write one the old way.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from service.domain.access import ROLE_PERMISSIONS, Permission
from service.domain.lifecycle import STEPS, TRANSITIONS, CaseChange, Step
from service.models import CaseEvent, Report
from tests.bodies import report_body

ROOT = Path(__file__).resolve().parents[2]


def test_the_step_table_names_one_step_and_one_permission_for_every_change():
    assert set(STEPS) == set(CaseChange)
    assert {step for step, _ in STEPS.values()} == set(Step) == {step for _, step in TRANSITIONS}
    held = set().union(*ROLE_PERMISSIONS.values())
    assert all(permission in held and permission is not Permission.read_case for _, permission in STEPS.values())


def test_no_module_but_the_construct_writes_a_timeline_record_or_a_status():
    for path in sorted((ROOT / "service").rglob("*.py")):
        if path.name == "cases.py" and path.parent.name == "service":
            continue
        text = path.read_text()
        assert not re.search(r"(?<!class )CaseEvent\(", text), path
        assert not re.search(r"\b(report|case|row)\.status\s*=[^=]", text), path


@pytest.fixture
def case_id(client, staff) -> uuid.UUID:
    response = client.post("/api/v1/reports", json=report_body(), headers=staff)
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def test_a_timeline_record_written_the_old_way_fails(db, case_id):
    with Session(db) as session:
        session.add(CaseEvent(report_id=case_id, at=datetime.now(UTC), actor_subject="x", actor_name="X",
                              kind="assess", detail="{}"))
        with pytest.raises(RuntimeError, match="outside case_step"):
            session.flush()


def test_a_status_changed_the_old_way_fails(db, case_id):
    with Session(db) as session:
        report = session.exec(select(Report).where(Report.id == case_id)).one()
        report.status = "closed"
        session.add(report)
        with pytest.raises(RuntimeError, match="outside case_step"):
            session.commit()
    with Session(db) as session:
        assert session.exec(select(Report.status).where(Report.id == case_id)).one() == "reported"
