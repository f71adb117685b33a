"""File formats a spreadsheet user notices, and the years of a trend: pure rules, no database."""

from __future__ import annotations

import pytest

from service.api.exports import SHEET_NAME_LIMIT, csv_number, sheet_name
from service.domain.errors import InvalidInput
from service.domain.statistics import MAX_TREND_YEARS, trend_years


@pytest.mark.parametrize(("value", "semicolon", "comma"), [
    (12, "12", "12"), (0, "0", "0"), (2.25, "2,25", "2.25"), (7.6, "7,6", "7.6"), (3.0, "3,0", "3.0"),
    (0.00001, "0,00001", "0.00001"), (1234567.5, "1234567,5", "1234567.5"),
])
def test_numbers_in_csv_follow_the_separator(value, semicolon, comma):
    assert csv_number(value, decimal_comma=True) == semicolon
    assert csv_number(value, decimal_comma=False) == comma


def test_sheet_names_fit_and_are_never_cut_mid_word():
    long = "Rapporter per vem som lämnat synpunkten × lex sarah: bedömning, Socialförvaltningen"
    name = sheet_name(long)
    assert len(name) <= SHEET_NAME_LIMIT and long.replace(":", " ").startswith(name)
    assert all(word in long.replace(":", " ").split() for word in name.split())
    assert sheet_name("Årstabeller 2024–2026") == "Årstabeller 2024–2026"
    assert sheet_name("Kvartal [1/2]?") == "Kvartal 1 2"
    assert len(sheet_name("Ett" + "x" * 40)) == SHEET_NAME_LIMIT  # one word too long: cut, nothing else fits


def test_trend_years():
    assert trend_years(None, None, 2026) == [2022, 2023, 2024, 2025, 2026]
    assert trend_years(2019, 2023, 2026) == [2019, 2020, 2021, 2022, 2023]
    assert trend_years(None, 2020, 2026) == [2016, 2017, 2018, 2019, 2020]
    assert len(trend_years(2017, 2026, 2026)) == MAX_TREND_YEARS
    with pytest.raises(InvalidInput) as too_many:
        trend_years(2016, 2026, 2026)
    assert too_many.value.field == "from_year"
    with pytest.raises(InvalidInput) as backwards:
        trend_years(2024, 2023, 2026)
    assert backwards.value.field == "to_year"
    with pytest.raises(InvalidInput) as too_early:
        trend_years(None, 1901, 2026)  # from 1897
    assert too_early.value.field == "from_year"
