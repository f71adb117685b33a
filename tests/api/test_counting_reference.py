"""The annual table's SQL checked against its definition, on generated organisations, reorganisations and reports.

annual_table_reference (service/domain/statistics.py) says in plain Python what each cell and share counts; the
service counts in SQL (service/statistics.py). Hypothesis builds a förvaltning of 1-3 avdelningar with 1-4
enheter each (some created during the year), moves enheter between avdelningar from days around the year, and
stores 0-25 reports concerning 1-3 enheter with 1-3 types (or not_a_deviation alone, or none yet), received on
days across the year and just outside it, some with a notification to IVO or IMY, sent or still a draft. Every
cell and share of GET /api/v1/statistics/annual-table, for the förvaltning, each avdelning and one enhet, must
equal the definition's. Suppression is off (minimum 1) so that the figures are exact.

The organisation goes through the API (import and moves, so the placements are the service's own); the reports
are written directly, as the rows intake and assessment store for what the statistics read: report,
report_unit and report_type (each with the report's received_on), and notification. Runs on SQLite and on
PostgreSQL (the suite's two passes), derandomized (`derandomize=True`, no example database), so that CI sees
the same examples every time; each example starts from emptied tables.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from sqlalchemy import insert

from service.domain.access import Role
from service.domain.assessment import LexSarahSeverity
from service.domain.statistics import (
    TABLE_COLUMNS,
    Period,
    PlacementFact,
    ReferenceTable,
    ReportFact,
    annual_table_reference,
)
from service.models import Notification, Report, ReportType, ReportUnit, table_of
from tests.conftest import _truncate_all

pytestmark = pytest.mark.exact_figures  # small counts read exactly: suppression off (conftest.py)

URL = "/api/v1/statistics/annual-table"
YEAR = 2026
SINCE = date(2020, 1, 1)
SWEDEN = ZoneInfo("Europe/Stockholm")
KEYS = [column.key for column in TABLE_COLUMNS]
DEVIATION_TYPES = ["lex_sarah", "personal_data_incident", "complaint", "other_deviation"]
# Days around the year: the whole of it, and a few weeks either side.
FIRST_DAY, LAST_DAY = date(YEAR - 1, 12, 1), date(YEAR + 1, 1, 31)



# ---- what hypothesis generates ---------------------------------------------------------------------------


@dataclass
class Scenario:
    departments: list[str]
    starts: dict[str, date]  # enhet -> the day it was created, under its first avdelning
    homes: dict[str, str]  # enhet -> its first avdelning
    moves: list[tuple[str, str, date]]  # (enhet, new avdelning, from day), in the order they are made
    reports: list[ReportFact]
    drafts: list[tuple[int, str]]  # (report index, authority): notifications not sent
    period: Period
    enhet_scope: str  # the enhet whose own table is checked too

    def describe(self) -> str:
        """Short enough to read in a failure: the organisation, the moves, the reports, the period."""
        def day(value: date) -> str:
            return value.isoformat()
        lines = [f"period {day(self.period.start)}..{day(self.period.end)}; avdelningar {self.departments}",
                 "enheter " + ", ".join(f"{unit} in {self.homes[unit]} from {day(start)}"
                                        for unit, start in self.starts.items()),
                 "moves " + ", ".join(f"{unit} to {to} from {day(when)}" for unit, to, when in self.moves)]
        lines += [f"report {index}: {day(r.received_on)} {sorted(r.units)} {sorted(r.types)} {r.lex_sarah_severity}"
                  f"{' ivo' if r.notified_ivo else ''}{' imy' if r.notified_imy else ''}"
                  for index, r in enumerate(self.reports)]
        lines += [f"draft {authority} on report {index}" for index, authority in self.drafts]
        return "\n".join(lines)

    def placements(self) -> list[PlacementFact]:
        """Where each enhet stood: its first avdelning from its start, each move ending the one before."""
        result = []
        for unit, start in self.starts.items():
            stays = [(self.homes[unit], start)] + [(to, day) for moved, to, day in self.moves if moved == unit]
            for index, (department, since) in enumerate(stays):
                until = stays[index + 1][1] - timedelta(days=1) if index + 1 < len(stays) else None
                result.append(PlacementFact(unit, department, since, until))
        return result


def _days_around(edges: list[date]) -> st.SearchStrategy[date]:
    return st.one_of(st.dates(FIRST_DAY, LAST_DAY), st.sampled_from(edges))


@st.composite
def scenarios(draw) -> Scenario:
    departments = ["A", "B", "C"][:draw(st.integers(1, 3))]
    starts: dict[str, date] = {}
    homes: dict[str, str] = {}
    for department in departments:
        for number in range(1, draw(st.integers(1, 4)) + 1):
            unit = f"{department}{number}"
            homes[unit] = department
            # Most enheter stand all along; some are created during (or around) the year.
            starts[unit] = draw(st.one_of(st.just(SINCE), st.just(SINCE), st.just(SINCE),
                                          st.dates(FIRST_DAY, LAST_DAY)))
    units = sorted(starts)
    moves: list[tuple[str, str, date]] = []
    if len(departments) > 1:
        latest = {unit: (homes[unit], starts[unit]) for unit in units}
        for _ in range(draw(st.integers(0, 4))):
            unit = draw(st.sampled_from(units))
            earliest = max(latest[unit][1] + timedelta(days=1), FIRST_DAY)
            if earliest > LAST_DAY:
                continue
            # As the API takes them: each after the enhet's latest change, to another avdelning.
            to = draw(st.sampled_from([d for d in departments if d != latest[unit][0]]))
            day = draw(st.dates(earliest, LAST_DAY))
            moves.append((unit, to, day))
            latest[unit] = (to, day)
    edges = [date(YEAR - 1, 12, 31), date(YEAR, 1, 1), date(YEAR, 12, 31), date(YEAR + 1, 1, 1)]
    # The days on which an enhet changes (moved, or created), and the days before: reports concerning that
    # enhet on exactly those days are where placement by day received can go wrong.
    changes = [(unit, day) for unit, _, day in moves] + [(unit, start) for unit, start in starts.items()
                                                           if start != SINCE]
    changes += [(unit, day - timedelta(days=1)) for unit, day in changes]
    edges += [day for _, day in changes]
    reports: list[ReportFact] = []
    drafts: list[tuple[int, str]] = []
    for index in range(draw(st.integers(0, 25))):
        received_on = draw(_days_around(edges))
        concerned = draw(st.lists(st.sampled_from(units), min_size=1, max_size=3, unique=True))
        if changes and draw(st.booleans()):
            unit, received_on = draw(st.sampled_from(changes))
            concerned = [unit, *(other for other in concerned if other != unit)][:3]
        kind = draw(st.sampled_from(["unassessed", "not_a_deviation", "deviations", "deviations", "deviations"]))
        types = (frozenset() if kind == "unassessed" else frozenset({"not_a_deviation"}) if kind == "not_a_deviation"
                 else frozenset(draw(st.sets(st.sampled_from(DEVIATION_TYPES), min_size=1, max_size=3))))
        severity = draw(st.sampled_from(list(LexSarahSeverity))).value if "lex_sarah" in types else None
        # Any report may carry a notification: one made while it was lex Sarah or an incident stays when a
        # re-assessment changes its types. Sent or a draft (which does not count).
        ivo = draw(st.sampled_from([None, None, "draft", "sent", "sent"]))
        imy = draw(st.sampled_from([None, None, "draft", "sent"]))
        drafts += [(index, authority) for authority, state in (("ivo", ivo), ("imy", imy)) if state == "draft"]
        reports.append(ReportFact(
            received_on=received_on, units=frozenset(concerned),
            types=types, lex_sarah_severity=severity, notified_ivo=ivo == "sent", notified_imy=imy == "sent"))
    if draw(st.booleans()):
        period = Period(date(YEAR, 1, 1), date(YEAR, 12, 31))
    else:
        first, last = sorted([draw(_days_around(edges)), draw(_days_around(edges))])
        period = Period(first, last)
    return Scenario(departments, starts, homes, moves, reports, drafts, period, draw(st.sampled_from(units)))


# ---- loading it -------------------------------------------------------------------------------------------


def _load_organisation(client, admin, scenario: Scenario) -> dict[str, int]:
    rows = [{"code": "F", "name": "Förvaltningen", "kind": "administration", "valid_from": SINCE.isoformat()}]
    rows += [{"code": d, "name": f"Avdelning {d}", "kind": "department", "parent_code": "F",
              "valid_from": SINCE.isoformat()} for d in scenario.departments]
    rows += [{"code": unit, "name": f"Enhet {unit}", "kind": "unit", "parent_code": scenario.homes[unit],
              "valid_from": start.isoformat()} for unit, start in scenario.starts.items()]
    response = client.post("/api/v1/org-units/import", json={"units": rows}, headers=admin)
    assert response.status_code == 200, response.text
    ids = {unit["code"]: unit["id"] for unit in response.json()["created"]}
    for unit, to, day in scenario.moves:
        moved = client.post(f"/api/v1/org-units/{ids[unit]}/move", headers=admin,
                            json={"parent_id": ids[to], "effective_date": day.isoformat()})
        assert moved.status_code == 200, moved.text
    return ids


def _load_reports(engine, scenario: Scenario, ids: dict[str, int]) -> None:
    """The rows intake, assessment and notification store, for what the statistics read."""
    reports, pairs, types, notifications = [], [], [], []
    drafts = set(scenario.drafts)
    for index, fact in enumerate(scenario.reports):
        report_id = uuid.uuid4()
        received_at = datetime.combine(fact.received_on, time(12, 0), SWEDEN).astimezone(UTC)
        assessed_at = received_at + timedelta(hours=2) if fact.types else None
        serious = fact.lex_sarah_severity in ("serious_impropriety", "serious_tangible_risk")
        reports.append({
            "id": report_id, "case_number": f"F-{fact.received_on.year}-{index + 1:05d}",
            "administration_id": ids["F"], "status": "assessed" if fact.types else "reported",
            "category": "other", "channel": "web_form", "occurred_at": received_at - timedelta(days=1),
            "noticed_at": received_at - timedelta(hours=1), "received_at": received_at, "registered_at": received_at,
            "received_on": fact.received_on, "description": "Genererad", "immediate_actions": "Inga",
            "subject_reference": None, "no_specific_subject": True, "reporter_subject": "rita",
            "reporter_name": "Rita", "reporter_title": None, "submitted_by": "rita", "external_reference": None,
            "payload_sha256": "0" * 64, "reported_late": False, "search_text": "genererad",
            "first_assessed_at": assessed_at, "judged_serious_at": assessed_at if serious else None,
            "closed_at": None})
        pairs += [{"report_id": report_id, "unit_id": ids[unit], "received_on": fact.received_on}
                  for unit in sorted(fact.units)]
        types += [{"report_id": report_id, "type": kind, "received_on": fact.received_on,
                   "lex_sarah_severity": fact.lex_sarah_severity if kind == "lex_sarah" else None,
                   "incident_risk": "no_risk" if kind == "personal_data_incident" else None,
                   "complaint_kind": "complaint" if kind == "complaint" else None,
                   "complaint_submitter": "relative" if kind == "complaint" else None}
                  for kind in sorted(fact.types)]
        for authority, sent in (("ivo", fact.notified_ivo), ("imy", fact.notified_imy)):
            if sent or (index, authority) in drafts:
                created = received_at + timedelta(hours=3)
                notifications.append({
                    "report_id": report_id, "authority": authority, "created_at": created, "content": "{}",
                    "investigation_attached": False, "sent_at": created + timedelta(hours=1) if sent else None,
                    "channel": "e_service" if sent else None, "sent_by_name": "Disa" if sent else None})
    with engine.begin() as connection:
        for model, rows in ((Report, reports), (ReportUnit, pairs), (ReportType, types),
                            (Notification, notifications)):
            if rows:
                connection.execute(insert(table_of(model)), rows)


# ---- comparing --------------------------------------------------------------------------------------------


def _answer(client, headers, unit_id: int, period: Period) -> tuple[list, list]:
    """The table's rows (level, code, avdelning id, counts) and shares (key, numerator, denominator, percent)."""
    response = client.get(URL, headers=headers, params={"unit_id": unit_id, "from": period.start.isoformat(),
                                                        "to": period.end.isoformat()})
    assert response.status_code == 200, response.text
    table = response.json()
    assert table["suppressed_below"] is None
    rows = [(row["level"], row["code"], row["department_id"], row["counts"]) for row in table["rows"]]
    shares = [(share["key"], share["numerator"], share["denominator"], share["percent"])
              for share in table["shares"]]
    return rows, shares


def _expected(reference: ReferenceTable) -> tuple[list, list]:
    rows = [(row.level, row.code, row.department, {key: row.counts[key] for key in KEYS}) for row in reference.rows]
    shares = [(share.key, share.numerator, share.denominator, share.percent) for share in reference.shares]
    return rows, shares


def _check_every_scope(client, reader, ids: dict[str, int], scenario: Scenario) -> None:
    """The service's table for the förvaltning, each avdelning and an enhet is the definition's, cell for cell."""
    code_of = {unit_id: code for code, unit_id in ids.items()}
    placements = scenario.placements()
    for scope in [None, *scenario.departments, scenario.enhet_scope]:
        rows, shares = _answer(client, reader, ids[scope or "F"], scenario.period)
        rows = [(level, code, code_of.get(department, department), counts)
                for level, code, department, counts in rows]
        expected = _expected(annual_table_reference(scenario.departments, placements, scenario.reports,
                                                    scenario.period, scope))
        if (rows, shares) != expected:
            differing = [(got, wanted) for got, wanted in zip([*rows, *shares], [*expected[0], *expected[1]],
                                                              strict=False) if got != wanted]
            pytest.fail(f"scope {scope or 'F'}: rows {len(rows)} vs {len(expected[0])}; first difference "
                        f"(SQL, definition): {differing[:1]}\n{scenario.describe()}")


@hypothesis_settings(max_examples=30, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
def test_every_cell_and_share_is_what_the_definition_says(client, db, users, scenario):
    _truncate_all(db)
    admin = users.headers(Role.admin, "*", subject="admin")
    ids = _load_organisation(client, admin, scenario)
    reader = users.headers(Role.statistics, "F", subject="stina")
    _load_reports(db, scenario, ids)
    _check_every_scope(client, reader, ids, scenario)


# ---- the same, for reports brought in by a history import -----------------------------------------------


def _importable(scenario: Scenario) -> Scenario:
    """The scenario's reports as a history import can bring them: each concerning only enheter that stood on
    the day it was received (the import refuses others), and no drafts (only sent notifications are history)."""
    reports = []
    for fact in scenario.reports:
        standing = frozenset(unit for unit in fact.units if scenario.starts[unit] <= fact.received_on)
        if standing:
            reports.append(replace(fact, units=standing))
    return replace(scenario, reports=reports, drafts=[])


def _import_row(index: int, fact: ReportFact) -> dict:
    """One report of the history file: assessed and closed when it has types, open and unassessed when not."""
    received_at = datetime.combine(fact.received_on, time(12, 0), SWEDEN)
    row: dict = {"source": "generated", "previous_case_number": f"G-{index}", "received_at": received_at.isoformat(),
                 "occurred_at": (received_at - timedelta(days=1)).isoformat(),
                 "noticed_at": (received_at - timedelta(hours=1)).isoformat(),
                 "units": sorted(fact.units), "category": "other", "no_specific_subject": True,
                 "status": "closed" if fact.types else "open"}
    if fact.types:
        row["assessment"] = {"assessed_at": (received_at + timedelta(hours=2)).isoformat(), "types": [
            {"type": kind, **({"lex_sarah_severity": fact.lex_sarah_severity} if kind == "lex_sarah" else {}),
             **({"incident_risk": "no_risk"} if kind == "personal_data_incident" else {}),
             **({"complaint_kind": "complaint", "complaint_submitter": "not_stated"} if kind == "complaint" else {})}
            for kind in sorted(fact.types)]}
        row["closed_at"] = (received_at + timedelta(days=3)).isoformat()
    row["notifications"] = [{"authority": authority, "sent_at": (received_at + timedelta(hours=4)).isoformat()}
                            for authority, sent in (("ivo", fact.notified_ivo), ("imy", fact.notified_imy)) if sent]
    return row


@hypothesis_settings(max_examples=15, deadline=None, derandomize=True, database=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
def test_imported_reports_count_as_the_definition_says(client, db, users, clock, scenario):
    """Statistics of past years come out of imported reports exactly as out of live ones."""
    _truncate_all(db)
    clock.now = datetime(YEAR + 1, 3, 1, 12, 0, tzinfo=UTC)  # the whole generated history lies in the past
    scenario = _importable(scenario)
    admin = users.headers(Role.admin, "*", subject="admin")
    ids = _load_organisation(client, admin, scenario)
    reader = users.headers(Role.statistics, "F", subject="stina")
    if scenario.reports:
        imported = client.post("/api/v1/imports/reports", headers=admin,
                               json={"reports": [_import_row(index, fact)
                                                 for index, fact in enumerate(scenario.reports)]})
        assert imported.status_code == 200, imported.text
        assert imported.json()["new"] == len(scenario.reports)
    _check_every_scope(client, reader, ids, scenario)
