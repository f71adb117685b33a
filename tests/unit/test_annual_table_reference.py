"""The annual table's definition (annual_table_reference in service/domain/statistics.py) on hand-made cases.

The first is the made-up example that tests/api/test_statistics.py loads through the API: the definition and
the example must agree. tests/api/test_counting_reference.py checks the SQL against the definition.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from service.domain.statistics import (
    Period,
    PlacementFact,
    ReferenceTable,
    ReportFact,
    annual_table_reference,
)

YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))
COLUMNS = ["not_a_deviation", "lex_sarah", "personal_data_incident", "complaint", "other_deviation", "total"]
SINCE = date(2020, 1, 1)
EXAMPLE_PLACEMENTS = [PlacementFact("A1", "A", SINCE), PlacementFact("A2", "A", SINCE), PlacementFact("B1", "B", SINCE)]
DAY = date(2026, 3, 10)


def _report(units: set[str], types: set[str], **facts: Any) -> ReportFact:
    return ReportFact(received_on=facts.pop("received_on", DAY), units=frozenset(units), types=frozenset(types),
                      **facts)


EXAMPLE_REPORTS = [
    _report({"A1"}, {"lex_sarah"}, lex_sarah_severity="impropriety"),
    _report({"A1", "A2"}, {"other_deviation"}),
    _report({"A2"}, {"lex_sarah", "personal_data_incident"}, lex_sarah_severity="impropriety"),
    _report({"A2", "B1"}, {"other_deviation"}),
    _report({"B1"}, {"not_a_deviation"}),
]


def _table(reference: ReferenceTable) -> dict[str, list[int]]:
    return {row.code or "Totalt": [row.counts[key] for key in COLUMNS] for row in reference.rows}


def test_the_example_comes_out_as_tests_api_test_statistics_expects():
    table = annual_table_reference(["A", "B"], EXAMPLE_PLACEMENTS, EXAMPLE_REPORTS, YEAR)
    assert [(row.level, row.code, row.department) for row in table.rows] == [
        ("department", "A", None), ("unit", "A1", "A"), ("unit", "A2", "A"),
        ("department", "B", None), ("unit", "B1", "B"), ("total", None, None)]
    assert _table(table) == {
        "A": [0, 2, 1, 0, 2, 4],
        "A1": [0, 1, 0, 0, 1, 2],
        "A2": [0, 1, 1, 0, 2, 3],
        "B": [1, 0, 0, 0, 1, 2],
        "B1": [1, 0, 0, 0, 1, 2],
        "Totalt": [1, 2, 1, 0, 2, 5],
    }
    assert all(row.counts["unassessed"] == 0 for row in table.rows)
    shares = {share.key: share for share in table.shares}
    assert (shares["lex_sarah_of_deviations"].numerator, shares["lex_sarah_of_deviations"].denominator) == (2, 4)
    assert shares["lex_sarah_of_deviations"].percent == 50.0
    assert shares["ivo_notified_of_lex_sarah"].numerator == 0
    assert (shares["imy_notified_of_incidents"].numerator, shares["imy_notified_of_incidents"].denominator) == (0, 1)


def test_the_example_for_one_avdelning_and_for_one_enhet():
    """As test_statistics_need_the_statistics_grant_for_that_subtree reads B's table through the API."""
    only_b = annual_table_reference(["A", "B"], EXAMPLE_PLACEMENTS, EXAMPLE_REPORTS, YEAR, scope="B")
    assert _table(only_b) == {"B": [1, 0, 0, 0, 1, 2], "B1": [1, 0, 0, 0, 1, 2], "Totalt": [1, 0, 0, 0, 1, 2]}
    only_a2 = annual_table_reference(["A", "B"], EXAMPLE_PLACEMENTS, EXAMPLE_REPORTS, YEAR, scope="A2")
    assert _table(only_a2) == {"A2": [0, 1, 1, 0, 2, 3], "Totalt": [0, 1, 1, 0, 2, 3]}


def test_other_years_and_unassessed_reports():
    reports = [*EXAMPLE_REPORTS, _report({"B1"}, set())]
    assert _table(annual_table_reference(["A", "B"], EXAMPLE_PLACEMENTS, reports,
                                         Period(date(2025, 1, 1), date(2025, 12, 31))))["Totalt"] == [0] * 6
    total = annual_table_reference(["A", "B"], EXAMPLE_PLACEMENTS, reports, YEAR).rows[-1].counts
    assert total["total"] == 6 and total["unassessed"] == 1


def test_an_enhet_counts_under_the_avdelning_it_stood_under_on_the_day_received():
    """A2 moves from A to B on 1 July: its reports before stay with A, those from that day count for B, and A2
    has a row under each avdelning."""
    placements = [PlacementFact("A1", "A", SINCE), PlacementFact("A2", "A", SINCE, date(2026, 6, 30)),
                  PlacementFact("A2", "B", date(2026, 7, 1)), PlacementFact("B1", "B", SINCE)]
    reports = [_report({"A2"}, {"other_deviation"}, received_on=date(2026, 6, 30)),
               _report({"A2", "A1"}, {"complaint"}, received_on=date(2026, 7, 1)),
               _report({"A2", "B1"}, {"complaint"}, received_on=date(2026, 7, 2))]
    table = annual_table_reference(["A", "B"], placements, reports, YEAR)
    totals = {(row.level, row.code, row.department): row.counts["total"] for row in table.rows}
    assert totals == {("department", "A", None): 2, ("unit", "A1", "A"): 1, ("unit", "A2", "A"): 1,
                      ("department", "B", None): 2, ("unit", "A2", "B"): 2, ("unit", "B1", "B"): 1,
                      ("total", None, None): 3}
    assert list(totals)[3:5] == [("department", "B", None), ("unit", "A2", "B")]  # enheter in code order
    first_half = annual_table_reference(["A", "B"], placements, reports, Period(date(2026, 1, 1), date(2026, 6, 30)))
    assert [(row.code, row.department) for row in first_half.rows] == [
        ("A", None), ("A1", "A"), ("A2", "A"), ("B", None), ("B1", "B"), (None, None)]
    a2 = annual_table_reference(["A", "B"], placements, reports, YEAR, scope="A2")
    assert [(row.code, row.department, row.counts["total"]) for row in a2.rows] == [
        ("A2", "A", 1), ("A2", "B", 2), (None, None, 3)]


def test_shares_count_sent_notifications_of_reports_that_have_the_type_now():
    reports = [
        _report({"A1"}, {"lex_sarah"}, lex_sarah_severity="serious_impropriety", notified_ivo=True),
        _report({"A1"}, {"lex_sarah", "personal_data_incident"}, lex_sarah_severity="tangible_risk",
                notified_imy=True),
        _report({"A1"}, {"other_deviation"}, notified_ivo=True),  # re-assessed after the notification
        _report({"B1"}, {"personal_data_incident"}),
        _report({"B1"}, {"not_a_deviation"}),
        _report({"B1"}, set()),
    ]
    counts = annual_table_reference(["A", "B"], EXAMPLE_PLACEMENTS, reports, YEAR).share_counts
    assert (counts.deviations, counts.lex_sarah, counts.personal_data_incident) == (4, 2, 2)
    assert (counts.lex_sarah_serious, counts.lex_sarah_notified_ivo, counts.incident_notified_imy) == (1, 1, 1)


def test_an_enhet_that_stood_nowhere_on_the_day_places_the_report_nowhere():
    placements = [*EXAMPLE_PLACEMENTS, PlacementFact("A3", "A", date(2026, 5, 1))]
    reports = [_report({"A3"}, {"complaint"}, received_on=date(2026, 4, 30)),
               _report({"A3", "B1"}, {"complaint"}, received_on=date(2026, 4, 30))]
    table = annual_table_reference(["A", "B"], placements, reports, YEAR)
    assert {row.code: row.counts["total"] for row in table.rows} == {"A": 0, "A1": 0, "A2": 0, "A3": 0, "B": 1,
                                                                     "B1": 1, None: 1}
