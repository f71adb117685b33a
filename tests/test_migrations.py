"""The schema is Alembic's alone: upgrade from empty, no drift from the models, and a way back down."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

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


# A förvaltning, as every revision's org_unit table takes it.
_SOC = ("INSERT INTO org_unit (id, code, name, kind, path, valid_from, created_at, updated_at) "
        "VALUES (1, 'SOC', 'Soc', 'administration', '/1/', '2020-01-01', :t, :t)")


def test_received_on_is_backfilled_in_swedish_time_and_copied_for_statistics(fresh_database):
    url = fresh_database()
    upgrade(url, "0002")
    engine = make_engine(url)
    report_id = ("0d5a1a3f6c2b4e0f9a8b7c6d5e4f3a2b" if engine.dialect.name == "sqlite"
                 else "0d5a1a3f-6c2b-4e0f-9a8b-7c6d5e4f3a2b")
    try:
        with engine.begin() as connection:
            connection.execute(text(_SOC), {"t": "2026-01-01 00:00:00"})
            connection.execute(text(
                "INSERT INTO report (id, case_number, administration_id, status, category, channel, occurred_at, "
                "noticed_at, received_at, description, immediate_actions, no_specific_subject, reporter_subject, "
                "reporter_name, submitted_by, payload_sha256, reported_late, search_text) VALUES "
                "(:id, 'SOC-2027-00001', 1, 'reported', 'other', 'web_form', :t, :t, :t, 'x', '', :f, 's', 'n', "
                "'s', 'h', :f, 'x')"),
                {"id": report_id, "t": "2026-12-31 23:30:00+00:00", "f": False})
            connection.execute(text("INSERT INTO report_unit (report_id, unit_id) VALUES (:id, 1)"), {"id": report_id})
            connection.execute(text("INSERT INTO report_type (report_id, type) VALUES (:id, 'complaint')"),
                               {"id": report_id})
        upgrade(url)
        with engine.connect() as connection:
            for table in ("report", "report_unit", "report_type"):
                received_on = connection.execute(text(f"SELECT received_on FROM {table}")).scalar_one()
                assert str(received_on) == "2027-01-01", table
    finally:
        engine.dispose()


def _at_0005_with(url: str, statements: list[str]):
    upgrade(url, "0005")
    engine = make_engine(url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), {"t": "2026-01-01 00:00:00+00:00"})
    return engine


def _grant(grant_id: int, subject: str, role: str, unit: str, revoked: bool = False) -> str:
    revoked_at, revoked_by = (":t", "'olle'") if revoked else ("NULL", "NULL")
    return ("INSERT INTO role_grant (id, subject, role, org_unit_id, granted_by, granted_at, revoked_by, revoked_at) "
            f"VALUES ({grant_id}, '{subject}', '{role}', {unit}, 'admin', :t, {revoked_by}, {revoked_at})")


def test_0006_revokes_duplicate_active_grants_keeping_the_oldest_and_then_refuses_new_ones(fresh_database):
    url = fresh_database()
    engine = _at_0005_with(url, [
        _SOC,
        _grant(1, "nina", "investigator", "1"), _grant(2, "nina", "investigator", "1"),
        _grant(3, "nina", "investigator", "1", revoked=True), _grant(4, "nina", "investigator", "1"),
        _grant(5, "nina", "auditor", "NULL"), _grant(6, "nina", "auditor", "NULL"),
        _grant(7, "olle", "investigator", "1"), _grant(8, "nina", "reporter", "1"),
    ])
    try:
        upgrade(url)
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, revoked_by, revoked_at IS NULL FROM role_grant ORDER BY id")).all()
        assert [(grant_id, by) for grant_id, by, _ in rows] == [
            (1, None), (2, "system:migration-0006"), (3, "olle"), (4, "system:migration-0006"),
            (5, None), (6, "system:migration-0006"), (7, None), (8, None)]
        assert [grant_id for grant_id, _, active in rows if active] == [1, 5, 7, 8]
        for duplicate in (_grant(9, "nina", "investigator", "1"), _grant(9, "nina", "auditor", "NULL")):
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(text(duplicate), {"t": "2026-02-01 00:00:00+00:00"})
        with engine.begin() as connection:  # a revoked grant may be given again
            connection.execute(text(_grant(9, "nina", "investigator", "1", revoked=True)), {"t": "2026-02-01"})
            connection.execute(text("UPDATE role_grant SET revoked_at = :t WHERE id = 1"), {"t": "2026-02-01"})
            connection.execute(text(_grant(10, "nina", "investigator", "1")), {"t": "2026-02-01"})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(_SOC.replace("(1, 'SOC'", "(2, 'soc'").replace("'/1/'", "'/2/'")),
                               {"t": "2026-02-01"})
        downgrade(url, "0005")
        upgrade(url)
    finally:
        engine.dispose()


def test_0006_stops_and_names_codes_that_differ_only_in_case(fresh_database):
    url = fresh_database()
    engine = _at_0005_with(url, [_SOC, _SOC.replace("(1, 'SOC'", "(2, 'soc'").replace("'/1/'", "'/2/'")])
    try:
        with pytest.raises(RuntimeError, match="SOC, soc"):
            upgrade(url)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0005"
    finally:
        engine.dispose()


def test_unassessed_reports_get_their_first_assessment_deadline(fresh_database):
    """0008 backfills the deadline intake now stores: received_at + 24 hours, for reports not yet assessed."""
    from sqlalchemy import text

    url = fresh_database()
    upgrade(url, "0005")
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    waiting, assessed = (("1d5a1a3f6c2b4e0f9a8b7c6d5e4f3a2b", "2d5a1a3f6c2b4e0f9a8b7c6d5e4f3a2b") if sqlite else
                         ("1d5a1a3f-6c2b-4e0f-9a8b-7c6d5e4f3a2b", "2d5a1a3f-6c2b-4e0f-9a8b-7c6d5e4f3a2b"))
    try:
        with engine.begin() as connection:
            connection.execute(text(_SOC), {"t": "2026-01-01 00:00:00"})
            for report_id, number, status, first in ((waiting, 1, "reported", None),
                                                     (assessed, 2, "assessed", "2026-03-10 10:00:00+00:00")):
                connection.execute(text(
                    "INSERT INTO report (id, case_number, administration_id, status, category, channel, occurred_at, "
                    "noticed_at, received_at, received_on, description, immediate_actions, no_specific_subject, "
                    "reporter_subject, reporter_name, submitted_by, payload_sha256, reported_late, search_text, "
                    "first_assessed_at) VALUES (:id, :number, 1, :status, 'other', 'web_form', :t, :t, :t, "
                    "'2026-03-10', 'x', '', :f, 's', 'n', 's', 'h', :f, 'x', :first)"),
                    {"id": report_id, "number": f"SOC-2026-0000{number}", "status": status, "first": first,
                     "t": "2026-03-10 09:00:00+00:00", "f": False})
        upgrade(url)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT report_id, kind, due_at FROM case_deadline")).all()
        assert len(rows) == 1
        assert str(rows[0][0]).replace("-", "") == waiting.replace("-", "") and rows[0][1] == "first_assessment"
        assert str(rows[0][2]).startswith("2026-03-11 09:00:00")
        downgrade(url, "0005")
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM case_deadline")).scalar_one() == 0
    finally:
        engine.dispose()


def test_reports_stored_before_0010_were_registered_when_received(fresh_database):
    url = fresh_database()
    upgrade(url, "0009")
    engine = make_engine(url)
    report_id = ("3d5a1a3f6c2b4e0f9a8b7c6d5e4f3a2b" if engine.dialect.name == "sqlite"
                 else "3d5a1a3f-6c2b-4e0f-9a8b-7c6d5e4f3a2b")
    try:
        with engine.begin() as connection:
            connection.execute(text(_SOC), {"t": "2026-01-01 00:00:00"})
            connection.execute(text(
                "INSERT INTO report (id, case_number, administration_id, status, category, channel, occurred_at, "
                "noticed_at, received_at, received_on, description, immediate_actions, no_specific_subject, "
                "reporter_subject, reporter_name, submitted_by, payload_sha256, reported_late, search_text) "
                "VALUES (:id, 'SOC-2026-00001', 1, 'reported', 'other', 'web_form', :t, :t, :t, '2026-03-10', "
                "'x', '', :f, 's', 'n', 's', 'h', :f, 'x')"),
                {"id": report_id, "t": "2026-03-10 09:00:00+00:00", "f": False})
        upgrade(url)
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT received_at, registered_at, registered_by, received_by FROM report")).one()
        assert row[0] == row[1] and row[2] is None and row[3] is None
        downgrade(url, "0009")
        assert "registered_at" not in {column["name"] for column in inspect(engine).get_columns("report")}
    finally:
        engine.dispose()


def test_0011_seeds_every_forvaltning_with_the_configured_categories_and_keeps_codes_its_reports_have(
        fresh_database, monkeypatch):
    """Existing reports keep their categories: the list is valid from the first report (earlier than the
    förvaltning's own first day here), and a code the list no longer holds becomes a retired category."""
    url = fresh_database()
    upgrade(url, "0009")
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    monkeypatch.delenv("AVV_REPORT_CATEGORIES", raising=False)
    try:
        with engine.begin() as connection:
            connection.execute(text(_SOC), {"t": "2026-01-01 00:00:00"})
            for number, category, day in ((1, "medication", "2019-03-01"), (2, "falls", "2024-05-02"),
                                          (3, "falls", "2024-09-30")):
                report_id = f"{number}d5a1a3f6c2b4e0f9a8b7c6d5e4f3a2b"
                connection.execute(text(
                    "INSERT INTO report (id, case_number, administration_id, status, category, channel, occurred_at, "
                    "noticed_at, received_at, received_on, description, immediate_actions, no_specific_subject, "
                    "reporter_subject, reporter_name, submitted_by, payload_sha256, reported_late, search_text) "
                    "VALUES (:id, :number, 1, 'reported', :category, 'web_form', :t, :t, :t, :day, 'x', '', :f, 's', "
                    "'n', 's', 'h', :f, 'x')"),
                    {"id": report_id if sqlite else str(uuid.UUID(report_id)), "number": f"SOC-2026-0000{number}",
                     "category": category, "day": day, "t": f"{day} 09:00:00+00:00", "f": False})
        upgrade(url)
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT administration_id, code, label_sv, label_en, valid_from, valid_to FROM report_category "
                "ORDER BY id")).all()
        seeded = {code: (str(valid_from), valid_to and str(valid_to), label_sv, label_en)
                  for _, code, label_sv, label_en, valid_from, valid_to in rows}
        assert len(seeded) == 11 and {row[0] for row in rows} == {1}
        assert seeded["medication"] == ("2019-03-01", None, "Läkemedel", "Medication")
        assert seeded["falls"] == ("2024-05-02", "2024-09-30", "falls", "falls")
        downgrade(url, "0009")
        assert "report_category" not in _tables(url)
    finally:
        engine.dispose()
