"""The one range of dates and times the service accepts, in request bodies and query parameters alike.

Years 1900 through 2199: wide enough for reports imported from earlier systems, decades back, and for
any deadline or plan ahead; narrow enough that every date arithmetic the service does (a deadline months
after a moment, a moment moved to UTC or to Swedish time, a period of twenty years) stays far inside what
Python and both databases can represent. Outside it, a value is a typo or an attack, and is refused
naming the field (422), never a 500.
"""

from __future__ import annotations

from datetime import date, datetime

FIRST_YEAR = 1900
LAST_YEAR = 2199
FIRST_DAY = date(FIRST_YEAR, 1, 1)
LAST_DAY = date(LAST_YEAR, 12, 31)

OUT_OF_RANGE = f"must be a date from {FIRST_DAY.isoformat()} through {LAST_DAY.isoformat()}"


def day_in_range(day: date) -> bool:
    """A day (or the local day of a moment, as written with its offset) within FIRST_DAY..LAST_DAY."""
    if isinstance(day, datetime):
        day = day.date()
    return FIRST_DAY <= day <= LAST_DAY
