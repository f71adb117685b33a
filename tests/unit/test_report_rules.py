"""Pure rules for a new report (service/domain/reports.py): times, subject reference, flags, numbering."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from service.domain.errors import InvalidInput
from service.domain.reports import (
    CLOCK_SKEW,
    case_number,
    check_subject,
    check_times,
    is_late_report,
    local_date,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)


# --- check_times ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "occurred, noticed",
    [
        (NOW - HOUR, NOW - HOUR),  # noticed at the moment it happened
        (NOW - 48 * HOUR, NOW),
        (NOW + CLOCK_SKEW, NOW + CLOCK_SKEW),  # at the edge of the skew allowance
        (NOW - HOUR, NOW + 4 * timedelta(minutes=1)),
    ],
)
def test_check_times_accepts(occurred, noticed):
    check_times(occurred, noticed, NOW)


@pytest.mark.parametrize(
    "occurred, noticed, field",
    [
        (NOW + CLOCK_SKEW + SECOND, NOW + CLOCK_SKEW + SECOND, "occurred_at"),
        (NOW + 24 * HOUR, NOW + 25 * HOUR, "occurred_at"),
        (NOW - HOUR, NOW + CLOCK_SKEW + SECOND, "noticed_at"),
        (NOW - HOUR, NOW - HOUR - SECOND, "noticed_at"),  # noticed before it happened
    ],
    ids=["occurred-just-beyond-skew", "occurred-tomorrow", "noticed-beyond-skew", "noticed-before-occurred"],
)
def test_check_times_refuses(occurred, noticed, field):
    with pytest.raises(InvalidInput) as err:
        check_times(occurred, noticed, NOW)
    assert err.value.field == field


def test_check_times_compares_instants_not_wall_clocks():
    # NOW is 12:00 UTC = 13:00 in Stockholm (UTC+1 in March): 13:03 there is 3 minutes ahead (accepted),
    # 13:30 there is 30 minutes ahead (refused).
    sthlm = ZoneInfo("Europe/Stockholm")
    check_times(NOW - HOUR, datetime(2026, 3, 10, 13, 3, tzinfo=sthlm), NOW)
    with pytest.raises(InvalidInput):
        check_times(NOW - HOUR, datetime(2026, 3, 10, 13, 30, tzinfo=sthlm), NOW)


# --- check_subject -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "reference, none_flag",
    [("Treserva-88123", True), (None, False)],
    ids=["both", "neither"],
)
def test_check_subject_needs_exactly_one(reference, none_flag):
    with pytest.raises(InvalidInput) as err:
        check_subject(reference, none_flag)
    assert err.value.field == "subject_reference"


def test_check_subject_no_specific_person():
    check_subject(None, True)


@pytest.mark.parametrize(
    "reference",
    ["19121212-1212", "121212-1212", "191212121212", "121212+1212", "1212121212", "klient 19121212-1212 bor"],
)
def test_check_subject_refuses_personnummer(reference):
    with pytest.raises(InvalidInput) as err:
        check_subject(reference, False)
    assert err.value.field == "subject_reference"


@pytest.mark.parametrize(
    "reference",
    ["Treserva-88123", "klient 42", "2026-03-10", "LC-2026-000123", "a1b2c3"],
)
def test_check_subject_accepts_pseudonymous_references(reference):
    check_subject(reference, False)


# --- is_late_report ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "delay, late",
    [(timedelta(0), False), (24 * HOUR - SECOND, False), (24 * HOUR, False), (24 * HOUR + SECOND, True)],
)
def test_is_late_report_boundary(delay, late):
    assert is_late_report(NOW, NOW + delay, 24 * HOUR) is late


# --- case_number ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "prefix, year, seq, expected",
    [
        ("AVV", 2026, 42, "AVV-2026-00042"),
        ("avv", 2026, 1, "AVV-2026-00001"),
        ("AVV", 2026, 99999, "AVV-2026-99999"),
        ("AVV", 2026, 123456, "AVV-2026-123456"),  # more than 5 digits passes through, not truncated
    ],
)
def test_case_number(prefix, year, seq, expected):
    assert case_number(prefix, year, seq) == expected


# --- local_date ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "moment, expected",
    [
        (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), date(2027, 1, 1)),  # winter, UTC+1
        (datetime(2026, 12, 31, 22, 59, tzinfo=UTC), date(2026, 12, 31)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), date(2027, 1, 1)),
        (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), date(2026, 7, 1)),  # summer, UTC+2
        (datetime(2026, 6, 30, 21, 59, tzinfo=UTC), date(2026, 6, 30)),
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), date(2026, 3, 29)),  # night of the switch to summer time
    ],
)
def test_local_date_stockholm(moment, expected):
    assert local_date(moment, "Europe/Stockholm") == expected
