"""What the statistics mean (DOMAIN.md §8): columns, labels, periods, shares, small-count suppression.

Counting itself happens in SQL (service/statistics.py); this module names and shapes the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.domain.errors import InvalidInput


@dataclass(frozen=True)
class Column:
    key: str
    label_sv: str
    label_en: str


# The annual table's columns, in the order a kvalitetsberättelse prints them.
TYPE_COLUMNS: tuple[Column, ...] = (
    Column("not_a_deviation", "Ej avvikelse i nämndens verksamhet", "Not a deviation"),
    Column("lex_sarah", "Lex Sarah", "Lex Sarah"),
    Column("personal_data_incident", "Personuppgiftsincident", "Personal data incident"),
    Column("complaint", "Synpunkter och klagomål", "Complaints and suggestions"),
    Column("other_deviation", "Övrig avvikelse", "Other deviation"),
)
UNASSESSED = Column("unassessed", "Ej bedömd", "Not yet assessed")
TOTAL = Column("total", "Totalt", "Total")
TABLE_COLUMNS: tuple[Column, ...] = (*TYPE_COLUMNS, UNASSESSED, TOTAL)

LEVEL_LABELS = {"department": ("Avdelning", "Department"), "unit": ("Enhet", "Unit"), "total": ("Totalt", "Total")}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @classmethod
    def of(cls, year: int | None, start: date | None, end: date | None, today: date) -> Period:
        if year is not None and (start is not None or end is not None):
            raise InvalidInput("Give either year or from/to, not both.", field="year")
        if start is None and end is None:
            chosen = year if year is not None else today.year
            if not 1900 < chosen < 3000:
                raise InvalidInput("year is out of range.", field="year")
            return cls(date(chosen, 1, 1), date(chosen, 12, 31))
        if start is None or end is None:
            raise InvalidInput("Give both from and to.", field="from" if start is None else "to")
        if end < start:
            raise InvalidInput("to is before from.", field="to")
        if (end - start).days > 366 * 20:
            raise InvalidInput("The period is longer than twenty years.", field="to")
        return cls(start, end)


@dataclass(frozen=True)
class Share:
    key: str
    label_sv: str
    label_en: str
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        return round(100 * self.numerator / self.denominator, 1) if self.denominator else None


@dataclass(frozen=True)
class ShareCounts:
    """Distinct report counts behind the shares the report's text cites."""

    deviations: int  # assessed as something other than not_a_deviation
    lex_sarah: int
    personal_data_incident: int
    complaint: int
    other_deviation: int
    lex_sarah_serious: int
    lex_sarah_notified_ivo: int
    incident_notified_imy: int


def shares(counts: ShareCounts) -> list[Share]:
    c = counts
    return [
        Share("lex_sarah_of_deviations", "Andel lex Sarah av avvikelserna", "Lex Sarah share of deviations",
              c.lex_sarah, c.deviations),
        Share("personal_data_incident_of_deviations", "Andel personuppgiftsincidenter av avvikelserna",
              "Personal data incident share of deviations", c.personal_data_incident, c.deviations),
        Share("complaint_of_deviations", "Andel synpunkter och klagomål av avvikelserna",
              "Complaint share of deviations", c.complaint, c.deviations),
        Share("other_deviation_of_deviations", "Andel övriga avvikelser av avvikelserna",
              "Other deviation share of deviations", c.other_deviation, c.deviations),
        Share("serious_of_lex_sarah", "Andel allvarliga av lex Sarah", "Serious share of lex Sarah",
              c.lex_sarah_serious, c.lex_sarah),
        Share("ivo_notified_of_lex_sarah", "Andel anmälda till IVO av lex Sarah", "Notified to IVO share of lex Sarah",
              c.lex_sarah_notified_ivo, c.lex_sarah),
        Share("imy_notified_of_incidents", "Andel anmälda till IMY av personuppgiftsincidenterna",
              "Notified to IMY share of personal data incidents", c.incident_notified_imy, c.personal_data_incident),
    ]


def suppress(count: int, threshold: int | None) -> int | None:
    """Counts from 1 to threshold-1 become None when figures leave the nämnd; zero is not revealing."""
    if threshold is None or count == 0 or count >= threshold:
        return count
    return None
