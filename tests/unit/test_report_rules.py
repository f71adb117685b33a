"""Pure rules for a new report (service/domain/reports.py): times, subject reference, flags, numbering."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st
from stdnum import luhn

from service.domain.errors import InvalidInput
from service.domain.personnummer import contains_identity_number, is_identity_number
from service.domain.reports import (
    CLOCK_SKEW,
    case_number,
    check_subject,
    check_times,
    is_late_report,
    local_date,
    possible_identity_numbers,
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
    ["19121212-1212", "121212-1212", "191212121212", "121212+1212", "1212121212", "klient 19121212-1212 bor",
     # written to get past a simpler check: spaces, other dashes, groups
     "121212 1212", "121212\u20131212", "12121212 1212", "19 12 12 12-1212", "121212\u20141212",
     "121212\u22121212", "121212\u20111212", "121212\u00a01212", "19121212\u202f1212", "121212 - 1212",
     "121212\u200b1212", "\uff11\uff12\uff11\uff12\uff11\uff12-\uff11\uff12\uff11\uff12",
     # samordningsnummer: the day plus 60
     "121272-1219", "19121272-1219", "701063-2391", "701063 2391"],
)
def test_check_subject_refuses_personnummer(reference):
    with pytest.raises(InvalidInput) as err:
        check_subject(reference, False)
    assert err.value.field == "subject_reference"


@pytest.mark.parametrize(
    "reference",
    ["Treserva-88123", "klient 42", "2026-03-10", "LC-2026-000123", "a1b2c3",
     "121212-1213", "121272-1217",  # wrong check digit
     "121312-1212", "121232-1214", "121292-1214",  # no such month or day, with or without the 60
     "070-123 45 67", "08-123 456 78"],  # phone numbers
)
def test_check_subject_accepts_pseudonymous_references(reference):
    check_subject(reference, False)


def test_the_refusal_names_the_field_and_never_the_number():
    with pytest.raises(InvalidInput) as err:
        check_subject("klient 121212 1212", False)
    assert err.value.field == "subject_reference" and "1212" not in str(err.value)


# --- personal identity numbers in free text --------------------------------------------------------

@pytest.mark.parametrize("digits, valid", [
    ("1212121212", True), ("191212121212", True), ("1212121213", False),
    ("7010632391", True), ("197010632391", True),  # samordningsnummer 1970-10-03
    ("1212721219", True), ("1213121212", False), ("0002290005", True),
    ("070123456", False), ("12121212121", False), ("abcdefghij", False),
])
def test_identity_numbers_need_a_real_date_and_the_luhn_check_digit(digits, valid):
    assert is_identity_number(digits) is valid


def test_free_text_flags_possible_numbers_by_pointer_never_the_number():
    flags = possible_identity_numbers({
        "/description": "Brukaren (personnr 19\u00a012 12 12\u20131212) fick fel medicin.",
        "/immediate_actions": "Ringde anhörig på 070-123 45 67 och 08-123 456 78.",
        "/external_reference": "701063-2391",
    })
    assert flags == ["/description", "/external_reference"]
    assert possible_identity_numbers({"/description": "Inget nummer här, 2026-03-10 kl 12:12.",
                                      "/external_reference": None}) == []


@given(st.integers(min_value=0, max_value=99_999_999))
def test_a_phone_number_written_the_swedish_way_never_flags(number):
    digits = f"07{number:08d}"
    assert not contains_identity_number(f"Ring {digits[:3]}-{digits[3:6]} {digits[6:8]} {digits[8:]}.")


@given(st.dates(min_value=date(1890, 1, 1), max_value=date(2030, 12, 31)), st.integers(0, 999),
       st.booleans(), st.sampled_from(["-", "\u2013", " ", "\u00a0", "", "+"]))
def test_every_valid_number_is_found_however_it_is_written(born, serial, coordination, separator):
    day = born.day + (60 if coordination else 0)
    body = f"{born.year % 100:02d}{born.month:02d}{day:02d}{serial:03d}"
    number = body + str(luhn.calc_check_digit(body))
    assert is_identity_number(number)
    assert contains_identity_number(f"Se {number[:6]}{separator}{number[6:]} i journalen")
    assert contains_identity_number(f"Se {born.year // 100}{number[:6]}{separator}{number[6:]}.")


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
