"""Report categories as data: per förvaltning, valid over time, with Swedish and English labels.

A category is the area a report is about (bemötande, läkemedel, ...). Each förvaltning has its own list,
which admins change through the API; nothing is ever deleted. A code keeps its meaning for good: it can be
relabelled and retired (a `valid_to`), never removed or given to something else, so that old reports and
old years' statistics still say what they said.

A report stores the code valid for its förvaltning on the day it was received. A report without a
category (a synpunkt, or an old register that never recorded one) stores `not_stated`, a reserved code
no admin can create, which the statistics show as its own value ("Ej angivet"), never folded into "other".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from service.domain.errors import Conflict, InvalidInput
from service.domain.org import CODE_PATTERN, CODE_RULE, active_on, check_validity

NOT_STATED = "not_stated"
NOT_STATED_LABELS = ("Ej angivet", "Not stated")

# English labels of the codes the service has always shipped with (service/config.py DEFAULT_CATEGORIES);
# a förvaltning's own codes get their English label from the admin, or the Swedish one.
DEFAULT_LABELS_EN: dict[str, str] = {
    "treatment": "Treatment of people", "documentation": "Documentation",
    "communication": "Communication/information", "case_handling": "Case handling", "care": "Care",
    "medication": "Medication", "it_support": "IT support", "safety": "Safety",
    "confidentiality": "Confidentiality", "other": "Other",
}


@dataclass(frozen=True)
class Category:
    id: int
    administration_id: int
    code: str
    label_sv: str
    label_en: str
    valid_from: date
    valid_to: date | None  # the last day it may be given (inclusive); None: still in use

    def is_valid_on(self, day: date) -> bool:
        return active_on(self.valid_from, self.valid_to, day)

    def overlaps(self, start: date, end: date) -> bool:
        return self.valid_from <= end and (self.valid_to is None or self.valid_to >= start)


def check_new_code(code: str, *, field: str = "code") -> None:
    """A new code: ASCII like an org unit's code, and never the reserved not_stated (in any letter case)."""
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidInput(CODE_RULE, field=field, reason="bad_code")
    if code.lower() == NOT_STATED:
        raise InvalidInput("not_stated is reserved for reports without a category.", field=field,
                           reason="reserved_code")


def check_category(categories: Iterable[Category], code: str | None, on_day: date) -> str:
    """The code a report of this förvaltning, received on `on_day`, stores for the category it was given.

    No category (or not_stated itself) is not_stated. Any other code must be one of the förvaltning's
    categories and valid on that day: a retired one is refused for new reports, though old ones keep it.
    """
    if code is None or code == NOT_STATED:
        return NOT_STATED
    known = list(categories)
    for category in known:
        if category.code == code:
            if category.is_valid_on(on_day):
                return code
            raise InvalidInput("This category is not in use on the day the report is received (retired, or "
                               "not yet valid).", field="category", reason="retired_category")
    valid = [category.code for category in known if category.is_valid_on(on_day)]
    raise InvalidInput(f"Unknown category; use one of: {', '.join(valid)} (or leave it out).", field="category",
                       reason="unknown_category")


def check_valid_from(valid_from: date, valid_to: date | None, first_used: date | None, *,
                     field: str = "valid_to") -> None:
    """A category's first day: not after its last, nor after the first report that has it was received.
    `field`: which of the two the request set (a new category sets both; a change its first day)."""
    check_validity(valid_from, valid_to, field=field)
    if first_used is not None and valid_from > first_used:
        raise Conflict("Reports received before this day have the category; valid_from cannot be later than "
                       "the first of them.", field="valid_from", reason="in_use")


def check_retire(valid_from: date, valid_to: date, last_used: date | None) -> None:
    """Retiring from `valid_to` (its last day): not before it began, nor before a report that has it."""
    check_validity(valid_from, valid_to)
    if last_used is not None and valid_to < last_used:
        raise Conflict("Reports received after this day have the category; retire it from the day the last "
                       "of them was received or later.", field="valid_to", reason="in_use")


def seed_rows(configured: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(code, Swedish label, English label) for a new förvaltning's list, from the configured code → label."""
    return [(code, label, DEFAULT_LABELS_EN.get(code, label)) for code, label in configured.items()
            if code.lower() != NOT_STATED]
