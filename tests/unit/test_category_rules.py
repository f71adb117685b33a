"""The category rules without a database (service/domain/categories.py)."""

from __future__ import annotations

from datetime import date

import pytest

from service.domain.categories import (
    NOT_STATED,
    Category,
    check_category,
    check_new_code,
    check_retire,
    check_valid_from,
    seed_rows,
)
from service.domain.errors import Conflict, InvalidInput

FALLS = Category(id=1, administration_id=1, code="falls", label_sv="Fall", label_en="Falls",
                 valid_from=date(2024, 1, 1), valid_to=date(2025, 12, 31))
CARE = Category(id=2, administration_id=1, code="care", label_sv="Omvårdnad", label_en="Care",
                valid_from=date(2024, 1, 1), valid_to=None)


def test_a_category_is_valid_from_its_first_to_its_last_day_both_included():
    assert check_category([FALLS, CARE], "falls", date(2024, 1, 1)) == "falls"
    assert check_category([FALLS, CARE], "falls", date(2025, 12, 31)) == "falls"
    for day in (date(2023, 12, 31), date(2026, 1, 1)):
        with pytest.raises(InvalidInput) as refused:
            check_category([FALLS, CARE], "falls", day)
        assert refused.value.field == "category" and refused.value.reason == "retired_category"


def test_no_category_is_not_stated_and_an_unknown_one_names_those_in_use():
    assert check_category([], None, date(2026, 1, 1)) == NOT_STATED
    assert check_category([FALLS], NOT_STATED, date(2026, 1, 1)) == NOT_STATED
    with pytest.raises(InvalidInput) as refused:
        check_category([FALLS, CARE], "Falls", date(2026, 1, 1))  # codes are exact
    assert refused.value.reason == "unknown_category" and "care" in refused.value.detail
    assert "falls" not in refused.value.detail  # retired: not offered


def test_new_codes_are_ascii_and_not_the_reserved_one():
    check_new_code("hygiene.2026-a")
    for code in ("läkemedel", "a b", "-dash-first", "x" * 33, "Not_Stated"):
        with pytest.raises(InvalidInput):
            check_new_code(code)


def test_validity_cannot_leave_out_a_report_that_has_the_category():
    check_retire(date(2024, 1, 1), date(2025, 6, 1), last_used=date(2025, 6, 1))
    with pytest.raises(Conflict):
        check_retire(date(2024, 1, 1), date(2025, 5, 31), last_used=date(2025, 6, 1))
    with pytest.raises(InvalidInput):
        check_retire(date(2024, 1, 1), date(2023, 12, 31), last_used=None)
    check_valid_from(date(2020, 1, 1), None, first_used=date(2024, 2, 1))
    with pytest.raises(Conflict):
        check_valid_from(date(2024, 2, 2), None, first_used=date(2024, 2, 1))


def test_the_seed_takes_the_configured_codes_with_english_labels_for_the_defaults():
    assert seed_rows({"medication": "Läkemedel", "falls": "Fall", "not_stated": "Ej angivet"}) == [
        ("medication", "Läkemedel", "Medication"), ("falls", "Fall", "Fall")]
