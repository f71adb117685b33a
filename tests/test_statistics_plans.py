"""Statistics are planned for the period and subtree asked for, however often a connection has run them."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session

from service.demo import load_demo_organisation
from service.domain.access import Grant, Principal, Role
from service.domain.statistics import Period
from service.statistics import annual_counts, statistics_root


@pytest.mark.postgres
def test_repeated_statistics_never_run_on_a_generic_plan(db):
    """psycopg prepares a statement a connection has run five times, and PostgreSQL may then plan it once
    for every parameter: for the annual table at a million reports that plan took 2 s instead of 0.45 s."""
    with Session(db) as session:
        load_demo_organisation(session, datetime(2026, 3, 10, tzinfo=UTC))
        session.commit()
    statistician = Principal(subject="s", display_name="S", grants=(Grant(Role.statistics, "/"),))
    with db.connect() as connection, Session(bind=connection) as session:
        for _ in range(15):
            root = statistics_root(session, statistician, 1)
            annual_counts(session, root, Period(date(2026, 1, 1), date(2026, 12, 31)))
            session.commit()
        prepared, generic = session.execute(text(
            "SELECT count(*), coalesce(sum(generic_plans), 0) FROM pg_prepared_statements "
            "WHERE statement LIKE '%facts%'")).one()  # the annual table's statement (its CTE is "facts")
    assert prepared == 1  # it was prepared, so the plan cache was in play
    assert generic == 0
