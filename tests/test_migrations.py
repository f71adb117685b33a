"""The schema is Alembic's alone: upgrade from empty, no drift from the models, and a way back down."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from service.db import make_engine
from service.migrate import alembic_config, downgrade, upgrade


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_check_downgrade_upgrade(fresh_database):
    url = fresh_database()
    upgrade(url)
    assert {"org_unit", "report", "report_unit", "role_grant", "case_event"} <= _tables(url)
    command.check(alembic_config(url))  # raises if the models and the migrated schema differ
    downgrade(url, "base")
    assert _tables(url) == set()
    upgrade(url)
    command.check(alembic_config(url))


def test_constraints_follow_the_naming_convention(database_url):
    engine = make_engine(database_url)
    try:
        inspector = inspect(engine)
        assert inspector.get_pk_constraint("report")["name"] == "pk_report"
        foreign_keys = {fk["name"] for fk in inspector.get_foreign_keys("report_unit")}
        assert foreign_keys == {"fk_report_unit_report_id_report", "fk_report_unit_unit_id_org_unit"}
    finally:
        engine.dispose()
