"""Swedish personal identity numbers (personnummer and samordningsnummer) in text.

A report's subject reference is pseudonymous by design, so a personnummer there is refused; in free text
it is flagged, not refused (README, "Reports"). One function answers both: `contains_identity_number`.

What counts as one: 10 digits (YYMMDDNNNN) or 12 (YYYYMMDDNNNN) whose last digit is the Luhn check digit
of the last ten and whose date part is a real date (any year: `12121212-1212` counts too), where a
samordningsnummer's day is
the birth day plus 60. The digits may be written in groups separated by spaces (any kind, the no-break
space included), dashes (hyphen, en and em dash, minus sign, non-breaking hyphen, ...), `+` or invisible
formatting characters, as long as the groups break only between the date's two-digit parts and before the
last four: `121212-1212`, `121212 1212`, `12121212 1212`, `19 12 12 12-1212`. A phone number such as
`070-123 45 67` breaks inside a date part and is not one. A real date and a valid check digit are enough:
one ten-digit number in ten passes by chance, and a false flag is better than a missed personnummer.
"""

from __future__ import annotations

import re
import unicodedata

from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer

# Dashes (Unicode category Pd), minus signs, and invisible characters someone may put between the digits.
_DASHES = ("\\-\u058a\u05be\u1400\u1806\u2010-\u2015\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d\u301c\u3030\u30a0"
           "\ufe31\ufe32\ufe58\ufe63\uff0d\u2212\u207b\u208b\u2043")
_INVISIBLE = "\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff"
_SEPARATOR = f"[\\s{_DASHES}{_INVISIBLE}+]"
# Groups of digits, with up to three separator characters between them ("121212 – 1212").
_RUN = re.compile(rf"(?<!\d)\d+(?:{_SEPARATOR}{{1,3}}\d+)*(?!\d)")
_DIGITS = re.compile(r"\d+")
# Where a group may end inside a candidate: between the date's two-digit parts, and before the last four.
_BREAKS = {10: frozenset({2, 4, 6}), 12: frozenset({2, 4, 6, 8})}


def is_identity_number(digits: str) -> bool:
    """Ten or twelve ASCII digits: a personnummer or samordningsnummer with a real date and check digit."""
    if len(digits) not in (10, 12) or not digits.isascii() or not digits.isdigit():
        return False
    if not luhn.is_valid(digits[-10:]):
        return False
    day_at = len(digits) - 6
    day = int(digits[day_at:day_at + 2])
    if day > 60:  # a samordningsnummer: python-stdnum knows personnummer only, so ask it for the birth day
        digits = f"{digits[:day_at]}{day - 60:02d}{digits[day_at + 2:]}"
    try:
        personnummer.get_birth_date(digits)
    except (ValidationError, ValueError):
        return False
    return True


def contains_identity_number(text: str) -> bool:
    """Whether the text holds something that is, or may well be, a personnummer or samordningsnummer."""
    if not text:
        return False
    normal = unicodedata.normalize("NFKC", text)  # full-width digits and compatibility spaces and dashes
    return any(_run_holds_one(run.group()) for run in _RUN.finditer(normal))


def _run_holds_one(run: str) -> bool:
    groups = ["".join(str(unicodedata.digit(c)) for c in group) for group in _DIGITS.findall(run)]
    for start in range(len(groups)):
        digits, breaks = "", []
        for group in groups[start:]:
            if digits:
                breaks.append(len(digits))
            digits += group
            if len(digits) > 12:
                break
            if len(digits) in _BREAKS and set(breaks) <= _BREAKS[len(digits)] and is_identity_number(digits):
                return True
    return False
