"""The rules behind the statistics: periods, labels, the percentile definition and its SQL on this database."""

from __future__ import annotations

import random
import statistics as py_statistics
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import BigInteger, DateTime, String, cast, column, literal, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.sql.sqltypes import UTCDateTime

from service.config import DEFAULT_CATEGORIES, DEFAULT_ROOT_CAUSES
from service.domain.assessment import ComplaintKind, ComplaintSubmitter, LexSarahSeverity, ReportType
from service.domain.categories import DEFAULT_LABELS_EN
from service.domain.deadlines import DeadlineKind
from service.domain.errors import InvalidInput
from service.domain.lifecycle import CaseStatus
from service.domain.statistics import (
    COMPLAINT_KIND_LABELS,
    COMPLAINT_SUBMITTER_LABELS,
    DEADLINE_LABELS,
    DIMENSION_LABELS,
    MEDIAN,
    P90,
    ROOT_CAUSE_LABELS_EN,
    SEVERITY_LABELS,
    STATUS_LABELS,
    TYPE_LABELS,
    Dimension,
    Period,
    check_dimensions,
    coded_members,
    hours,
    percentile,
    percentile_positions,
    period_members,
    period_values,
    quarter_of,
    tertial_of,
    unknown_member,
)
from service.statistics import duration_seconds, percentiles

YEAR = Period(date(2026, 1, 1), date(2026, 12, 31))


# ---- periods -----------------------------------------------------------------------------------------

def test_quarters_and_tertials_of_each_month():
    assert [quarter_of(month) for month in range(1, 13)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert [tertial_of(month) for month in range(1, 13)] == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]


def test_a_year_has_4_quarters_3_tertials_and_12_months_in_order():
    keys = {dimension: [member.key for _, member in period_members(dimension, YEAR)]
            for dimension in (Dimension.period_year, Dimension.period_quarter, Dimension.period_tertial,
                              Dimension.period_month)}
    assert keys[Dimension.period_year] == ["2026"]
    assert keys[Dimension.period_quarter] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert keys[Dimension.period_tertial] == ["2026-T1", "2026-T2", "2026-T3"]
    assert keys[Dimension.period_month] == [f"2026-{month:02d}" for month in range(1, 13)]


def test_a_period_across_new_year_lists_every_period_it_touches():
    winter = Period(date(2025, 11, 15), date(2026, 2, 10))
    assert [m.key for _, m in period_members(Dimension.period_month, winter)] == [
        "2025-11", "2025-12", "2026-01", "2026-02"]
    assert [m.key for _, m in period_members(Dimension.period_tertial, winter)] == ["2025-T3", "2026-T1"]
    assert [m.key for _, m in period_members(Dimension.period_year, winter)] == ["2025", "2026"]


def test_period_values_are_the_integers_the_sql_groups_by():
    assert period_values(Dimension.period_year, date(2026, 5, 1)) == (2026,)
    assert period_values(Dimension.period_quarter, date(2026, 5, 1)) == (2026, 2)
    assert period_values(Dimension.period_tertial, date(2026, 5, 1)) == (2026, 2)
    assert period_values(Dimension.period_month, date(2026, 5, 1)) == (2026, 5)
    values, member = period_members(Dimension.period_month, YEAR)[4]
    assert values == (2026, 5) and (member.label_sv, member.label_en) == ("maj 2026", "May 2026")


# ---- labels ------------------------------------------------------------------------------------------

def test_every_dimension_and_every_coded_value_has_swedish_and_english_labels():
    assert set(DIMENSION_LABELS) == set(Dimension)
    assert set(TYPE_LABELS) == {t.value for t in ReportType}
    assert set(SEVERITY_LABELS) == {s.value for s in LexSarahSeverity}
    assert set(COMPLAINT_KIND_LABELS) == {k.value for k in ComplaintKind}
    assert set(COMPLAINT_SUBMITTER_LABELS) == {s.value for s in ComplaintSubmitter}
    assert set(STATUS_LABELS) == {s.value for s in CaseStatus}
    assert set(DEADLINE_LABELS) == {k.value for k in DeadlineKind}
    assert set(DEFAULT_LABELS_EN) == set(DEFAULT_CATEGORIES)
    assert set(ROOT_CAUSE_LABELS_EN) == set(DEFAULT_ROOT_CAUSES)
    for labels in (DIMENSION_LABELS, TYPE_LABELS, SEVERITY_LABELS, COMPLAINT_KIND_LABELS, STATUS_LABELS):
        assert all(sv and en for sv, en in labels.values())


def test_configured_root_causes_keep_their_order_and_swedish_label():
    causes = coded_members(Dimension.root_cause, {"falls": "Fall", **DEFAULT_ROOT_CAUSES})
    assert [(m.key, m.label_sv, m.label_en) for m in causes[:2]] == [
        ("falls", "Fall", "Fall"), ("missing_routine", DEFAULT_ROOT_CAUSES["missing_routine"], "No routine")]
    assert [m.key for m in coded_members(Dimension.notified_ivo, {})] == ["yes", "no"]


def test_reports_without_a_value_and_codes_no_longer_configured():
    assert unknown_member(Dimension.type, None).key == "unassessed"
    assert unknown_member(Dimension.lex_sarah_severity, None).label_sv == "Ej lex Sarah"
    assert unknown_member(Dimension.root_cause, None).key == "none"
    retired = unknown_member(Dimension.category, "retired_code")
    assert (retired.key, retired.label_sv, retired.label_en) == ("retired_code",) * 3


def test_rows_and_columns_must_differ():
    check_dimensions(Dimension.department, Dimension.type)
    check_dimensions(Dimension.department, None)
    with pytest.raises(InvalidInput) as refused:
        check_dimensions(Dimension.type, Dimension.type)
    assert refused.value.field == "columns"


# ---- the percentile ----------------------------------------------------------------------------------

def test_percentile_positions_in_integers():
    assert percentile_positions(1, MEDIAN) == (1, 2, 0)
    assert percentile_positions(4, MEDIAN) == (2, 1, 1)  # halfway between the 2nd and 3rd
    assert percentile_positions(5, MEDIAN) == (3, 2, 0)
    assert percentile_positions(5, P90) == (4, 4, 6)  # rank 4.6
    assert percentile_positions(11, P90) == (10, 10, 0)  # exactly the 10th
    with pytest.raises(ValueError):
        percentile_positions(0, MEDIAN)


def test_percentile_is_linear_interpolation_between_closest_ranks():
    assert percentile([3600, 7200, 14400, 36000, 1800], P90) == pytest.approx(7.6 * 3600)
    assert percentile([1, 3, 5, 7], MEDIAN) == 4
    assert percentile([10], P90) == 10
    rng = random.Random(5)
    for _ in range(200):
        values = [rng.randint(0, 10**6) for _ in range(rng.randint(1, 40))]
        assert percentile(values, MEDIAN) == py_statistics.median(values)
        ordered, h = sorted(values), (len(values) - 1) * 0.9
        low = int(h)
        expected = ordered[low] + (h - low) * (ordered[min(low + 1, len(values) - 1)] - ordered[low])
        assert percentile(values, P90) == pytest.approx(expected)
        # statistics.quantiles(method="inclusive") is the same definition
        if len(values) > 1:
            assert percentile(values, P90) == pytest.approx(py_statistics.quantiles(values, n=10,
                                                                                   method="inclusive")[8])


def test_hours_from_scaled_seconds():
    assert hours(None, 2) is None
    assert hours(2 * 5400, 2) == 1.5
    assert hours(10 * 3600 * 7 + 6 * 3600, 10) == 7.6


def test_the_sql_percentiles_agree_with_the_definition_on_this_database(engine):
    """The same integers on SQLite and PostgreSQL: whichever of them this run uses."""
    rng = random.Random(11)
    lists = {f"m{index}": [rng.randint(0, 10**7) for _ in range(rng.randint(1, 25))] for index in range(8)}
    lists["ties"] = [5, 5, 5, 9, 9]
    lists["one"] = [42]
    rows = [select(literal(key, String).label("measure"), cast(literal(value), BigInteger).label("seconds"))
            for key, values in lists.items() for value in values]
    with engine.connect() as connection:
        found = {row.measure: (int(row.n), int(row.median), int(row.p90))
                 for row in connection.execute(percentiles(union_all(*rows).subquery("durations")))}
    assert found == {key: (len(values), round(2 * percentile(values, MEDIAN)), round(10 * percentile(values, P90)))
                     for key, values in lists.items()}


def test_durations_are_whole_seconds_on_this_database(engine):
    start = datetime(2026, 3, 10, 9, 0, 0, 900000, tzinfo=UTC)
    end = datetime(2026, 3, 12, 10, 30, 15, 100000, tzinfo=UTC)
    expression = duration_seconds(literal(start, UTCDateTime()), literal(end, UTCDateTime()))
    with engine.connect() as connection:
        assert connection.execute(select(expression)).scalar_one() == 2 * 86400 + 3600 + 1800 + 15


def test_the_dialect_difference_is_one_helper():
    expression = duration_seconds(column("a", DateTime()), column("b", DateTime()))
    assert "STRFTIME('%s', b)" in str(expression.compile(dialect=sqlite.dialect()))
    assert "FLOOR(EXTRACT(EPOCH FROM b))" in str(expression.compile(dialect=postgresql.dialect()))
