"""What the statistics mean (docs/statistics.md): columns, labels, periods, shares, small-count suppression.

Counting itself happens in SQL (service/statistics.py); this module names and shapes the figures, and says in
plain Python what the annual table counts (annual_table_reference: the definition the SQL is tested against).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TypeVar

from service.domain.assessment import SERIOUS
from service.domain.errors import InvalidInput
from service.domain.time_range import FIRST_YEAR, LAST_YEAR


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
            if not FIRST_YEAR <= chosen <= LAST_YEAR:
                raise InvalidInput(f"year must be from {FIRST_YEAR} through {LAST_YEAR}.", field="year")
            return cls(date(chosen, 1, 1), date(chosen, 12, 31))
        if start is None or end is None:
            raise InvalidInput("Give both from and to.", field="from" if start is None else "to")
        if end < start:
            raise InvalidInput("to is before from.", field="to")
        if (end - start).days > 366 * 20:
            raise InvalidInput("The period is longer than twenty years.", field="to")
        return cls(start, end)


MAX_TREND_YEARS = 10


def trend_years(from_year: int | None, to_year: int | None, this_year: int) -> list[int]:
    """The calendar years of a trend, oldest first: from_year through to_year (default: this year), at most
    MAX_TREND_YEARS of them; without from_year, the five years up to to_year."""
    last = this_year if to_year is None else to_year
    first = last - 4 if from_year is None else from_year
    for field, year in (("from_year", first), ("to_year", last)):
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidInput(f"{field} must be from {FIRST_YEAR} through {LAST_YEAR}.", field=field)
    if last < first:
        raise InvalidInput("to_year is before from_year.", field="to_year")
    if last - first + 1 > MAX_TREND_YEARS:
        raise InvalidInput(f"A trend covers at most {MAX_TREND_YEARS} years.", field="from_year")
    return list(range(first, last + 1))


@dataclass(frozen=True)
class Share:
    key: str
    label_sv: str
    label_en: str
    numerator: int
    denominator: int
    numerator_of: str = ""  # the measures behind it (ShareCounts' fields), for suppression
    denominator_of: str = ""

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


_SHARES: tuple[tuple[str, str, str, str, str], ...] = (
    ("lex_sarah_of_deviations", "Andel lex Sarah av avvikelserna", "Lex Sarah share of deviations",
     "lex_sarah", "deviations"),
    ("personal_data_incident_of_deviations", "Andel personuppgiftsincidenter av avvikelserna",
     "Personal data incident share of deviations", "personal_data_incident", "deviations"),
    ("complaint_of_deviations", "Andel synpunkter och klagomål av avvikelserna",
     "Complaint share of deviations", "complaint", "deviations"),
    ("other_deviation_of_deviations", "Andel övriga avvikelser av avvikelserna",
     "Other deviation share of deviations", "other_deviation", "deviations"),
    ("serious_of_lex_sarah", "Andel allvarliga av lex Sarah", "Serious share of lex Sarah",
     "lex_sarah_serious", "lex_sarah"),
    ("ivo_notified_of_lex_sarah", "Andel anmälda till IVO av lex Sarah", "Notified to IVO share of lex Sarah",
     "lex_sarah_notified_ivo", "lex_sarah"),
    ("imy_notified_of_incidents", "Andel anmälda till IMY av personuppgiftsincidenterna",
     "Notified to IMY share of personal data incidents", "incident_notified_imy", "personal_data_incident"),
)


def shares(counts: ShareCounts) -> list[Share]:
    return [Share(key, sv, en, getattr(counts, numerator), getattr(counts, denominator), numerator, denominator)
            for key, sv, en, numerator, denominator in _SHARES]


# The shares' measures that are not cells of the annual table's total row; they are suppressed with it.
SHARE_ROW = "shares"
SHARE_ONLY_MEASURES = ("deviations", "lex_sarah_serious", "lex_sarah_notified_ivo", "incident_notified_imy")


def share_cell(measure: str, total_row: CellId) -> tuple[CellId, str]:
    """Where a share's numerator or denominator sits among the annual table's cells."""
    return (SHARE_ROW, measure) if measure in SHARE_ONLY_MEASURES else (total_row, measure)


def share_groups(total_row: CellId) -> list[tuple[tuple[CellId, str], ...]]:
    """How the shares' deviations relate to the total row: the deviations are about the sum of lex Sarah,
    incidents, complaints and other deviations, and the total about deviations + not a deviation + unassessed.
    (The serious and notified counts are parts of a cell whose other part is not shown: no relation to guard.)"""
    deviations = (SHARE_ROW, "deviations")
    return [
        (deviations, *((total_row, key) for key in ("lex_sarah", "personal_data_incident", "complaint",
                                                    "other_deviation"))),
        ((total_row, "total"), (total_row, "not_a_deviation"), (total_row, "unassessed"), deviations),
    ]


# ---- the annual table, defined ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacementFact:
    """Enhet `unit` stood under avdelning `department` from `valid_from` through `valid_to` (both days included;
    None: still does). An enhet's placements do not overlap; a reorganisation ends one and starts the next."""

    unit: str
    department: str
    valid_from: date
    valid_to: date | None = None

    def holds_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, period: Period) -> bool:
        return self.valid_from <= period.end and (self.valid_to is None or period.start <= self.valid_to)


@dataclass(frozen=True)
class ReportFact:
    """What the annual table needs to know about one report."""

    received_on: date  # the day (Swedish time) the service received it
    units: frozenset[str]  # the enheter it concerns (at least one)
    types: frozenset[str] = frozenset()  # its current types (TYPE_COLUMNS keys); empty: not yet assessed
    lex_sarah_severity: str | None = None  # with the lex_sarah type: LexSarahSeverity's value
    notified_ivo: bool = False  # a notification to IVO has been sent (a draft does not count)
    notified_imy: bool = False  # a notification to IMY has been sent


@dataclass(frozen=True)
class ReferenceRow:
    level: str  # department, unit or total
    code: str | None  # the avdelning's or enhet's code; None for the total
    department: str | None  # for an enhet: the avdelning it stood under, whose row it is printed under
    counts: dict[str, int]  # TABLE_COLUMNS key -> distinct reports


@dataclass(frozen=True)
class ReferenceTable:
    rows: list[ReferenceRow]
    share_counts: ShareCounts
    shares: list[Share]


def annual_table_reference(departments: Iterable[str], placements: Iterable[PlacementFact],
                           reports: Iterable[ReportFact], period: Period, scope: str | None = None) -> ReferenceTable:
    """The annual table (the kvalitetsberättelse's table of reports per avdelning, enhet and type), defined.

    This is what GET /api/v1/statistics/annual-table means, before suppression. The service computes it in SQL
    (service/statistics.py, annual_counts); tests/api/test_counting_reference.py generates organisations,
    reorganisations and reports and checks the SQL against this function on SQLite and PostgreSQL. Written to be
    read, not to be fast.

    Input: the avdelningar of one förvaltning (`departments`, codes), where each enhet stood over time
    (`placements`), the reports, the period (whole days, both included) and the part of the organisation asked
    for (`scope`: None for the whole förvaltning, an avdelning's code, or an enhet's code).

    1. **Which reports.** Those received (`received_on`) in the period.
    2. **Where a report stands.** Each of its enheter is placed under the avdelning it stood under *on the day
       the report was received*: later reorganisations do not move it. This gives the report's places, pairs
       (enhet, avdelning). An enhet that stood nowhere that day (not yet created) gives no place.
    3. **Scope.** The whole förvaltning takes every place; an avdelning the places under it; an enhet its own
       places (under whichever avdelning). A report with no place in the scope is not in the table.
    4. **Rows.** For the förvaltning or an avdelning: each avdelning of the scope in code order, and under it
       each enhet that stood under it on at least one day of the period, in code order, so that an enhet moved
       during the period has a row under each avdelning (with the reports placed under that one). For an enhet:
       a row for each avdelning it stood under during the period, in the order it stood there. Then the total
       row. Rows without reports are listed, with zeros.
    5. **A row's reports**, each counted once however many of its enheter or types fall in the row: an enhet
       row (enhet E under avdelning A) has the reports with the place (E, A); an avdelning row those with a
       place under A; the total row those with a place in the scope. A row is therefore not the sum of the rows
       under it: a report concerning two enheter of A counts under each, and once for A.
    6. **Columns.** A type column (`not_a_deviation`, `lex_sarah`, `personal_data_incident`, `complaint`,
       `other_deviation`) counts the row's reports that have that type now; a report with two types counts in
       both, so the type columns may add up to more than Totalt. `unassessed` counts those without any type
       yet; `total` counts all the row's reports.
    7. **Shares**, of the total row's reports: `deviations` are those with a type other than
       `not_a_deviation` (the shares' denominator for the type shares); of the lex Sarah reports, those of a
       serious severity (SERIOUS) and those notified to IVO; of the personal-data incidents, those notified to
       IMY. "Notified" means a notification to that authority has been sent; a lex Sarah report notified to
       IVO but later re-assessed as something else is not counted there. Each share is numerator and
       denominator (`shares`, with the percentage).
    """
    departments = sorted(set(departments))
    placements = list(placements)
    in_period = [report for report in reports if period.start <= report.received_on <= period.end]

    def places(report: ReportFact) -> set[tuple[str, str]]:
        return {(p.unit, p.department) for p in placements
                if p.unit in report.units and p.holds_on(report.received_on)}

    shown_departments = departments if scope is None else [scope] if scope in departments else []

    def in_scope(place: tuple[str, str]) -> bool:
        unit, department = place
        return department in shown_departments if shown_departments else unit == scope

    placed = [(report, {place for place in places(report) if in_scope(place)}) for report in in_period]
    placed = [(report, where) for report, where in placed if where]

    def counts(reports_of_row: list[ReportFact]) -> dict[str, int]:
        row = {column.key: sum(column.key in report.types for report in reports_of_row) for column in TYPE_COLUMNS}
        row[UNASSESSED.key] = sum(not report.types for report in reports_of_row)
        row[TOTAL.key] = len(reports_of_row)
        return row

    def unit_row(unit: str, department: str) -> ReferenceRow:
        return ReferenceRow("unit", unit, department,
                            counts([report for report, where in placed if (unit, department) in where]))

    def first_day_under(unit: str, department: str) -> date:
        return min(p.valid_from for p in placements
                   if p.unit == unit and p.department == department and p.overlaps(period))

    rows: list[ReferenceRow] = []
    if shown_departments:
        for department in shown_departments:
            rows.append(ReferenceRow("department", department, None,
                                     counts([report for report, where in placed
                                             if any(d == department for _, d in where)])))
            enheter = sorted({p.unit for p in placements if p.department == department and p.overlaps(period)})
            rows += [unit_row(unit, department) for unit in enheter]
    elif scope is not None:  # an enhet's own table (with no scope and no avdelningar there is nothing to show)
        stood_under = {p.department for p in placements if p.unit == scope and p.overlaps(period)}
        rows += [unit_row(scope, department)
                 for department in sorted(stood_under, key=lambda d: first_day_under(scope, d))]
    everything = [report for report, _ in placed]
    rows.append(ReferenceRow("total", None, None, counts(everything)))

    def having(condition: Callable[[ReportFact], bool]) -> int:
        return sum(1 for report in everything if condition(report))

    total = rows[-1].counts
    share_counts = ShareCounts(
        deviations=having(lambda report: bool(report.types - {"not_a_deviation"})),
        lex_sarah=total["lex_sarah"], personal_data_incident=total["personal_data_incident"],
        complaint=total["complaint"], other_deviation=total["other_deviation"],
        lex_sarah_serious=having(lambda report: "lex_sarah" in report.types
                                 and report.lex_sarah_severity in SERIOUS),
        lex_sarah_notified_ivo=having(lambda report: "lex_sarah" in report.types and report.notified_ivo),
        incident_notified_imy=having(lambda report: "personal_data_incident" in report.types
                                     and report.notified_imy),
    )
    return ReferenceTable(rows=rows, share_counts=share_counts, shares=shares(share_counts))


# ---- small-count suppression ----------------------------------------------------------------------------
#
# Every statistics answer hides the counts from 1 to N−1 (primary suppression), N being the caller's
# suppress_below or, by default and at the least, the setting AVV_STATISTICS_MIN_SUPPRESS_BELOW. Rows and
# columns of a table are related: a parent row is about the sum of its children (exactly, when every report
# concerns one enhet) and the Totalt column about the sum of the type columns. A hidden cell that is the only
# hidden one among such related cells would be given away by subtracting the others, so another cell of the
# group is hidden too (complementary suppression), until no group has exactly one hidden cell.
# docs/statistics.md, "Small counts".

CellId = Hashable  # a cell of a table: (row, column)
# The same, where a function hands back the cells it was given: a table's own row, column and cell keys.
RowKey = TypeVar("RowKey", bound=Hashable)
ColumnKey = TypeVar("ColumnKey", bound=Hashable)
Cell = TypeVar("Cell", bound=Hashable)


def suppression_threshold(requested: int | None, minimum: int) -> int | None:
    """The N of "hide 1..N−1" for one answer: the caller's, which may not be below the configured minimum.

    None when nothing is hidden (a minimum of 1, set by the operator, with nothing requested).
    """
    if requested is not None and requested < minimum:
        raise InvalidInput(f"suppress_below may not be lower than {minimum}, the minimum this service "
                           "is configured with.", field="suppress_below")
    threshold = minimum if requested is None else requested
    return threshold if threshold > 1 else None


# How CSV and XLSX show every suppressed cell, whether small itself or hidden with a small one (the same mark,
# so that a reader cannot tell which is which): "..", as SCB marks a figure that cannot be shown ("–" means
# zero there).
SUPPRESSED_MARK = ".."


def suppression_note(threshold: int, sv: bool) -> str:
    if sv:
        return (f"\"{SUPPRESSED_MARK}\" = dolt: antal från 1 till {threshold - 1}, och tal som döljs med dem så att "
                "de inte kan räknas fram ur de andra talen i raden eller kolumnen.")
    return (f"\"{SUPPRESSED_MARK}\" = suppressed: counts from 1 to {threshold - 1}, and figures hidden with them "
            "so that they cannot be worked out from the other figures in the row or column.")


def is_small(count: int, threshold: int | None) -> bool:
    """Counts from 1 to threshold−1 are hidden; zero is shown (it does not point at anyone)."""
    return threshold is not None and 0 < count < threshold


def table_groups(rows: Sequence[RowKey], columns: Sequence[ColumnKey],
                 children: Mapping[RowKey, Sequence[RowKey]]) -> list[tuple[tuple[RowKey, ColumnKey], ...]]:
    """The groups of related cells of a table whose cells are (row, column): each row across all its columns
    (the total column is about the sum of the others), and in each column each parent row with its children
    (an avdelning with its enheter, Totalt with the avdelningar)."""
    groups = [tuple((row, column) for column in columns) for row in rows]
    for parent, kids in children.items():
        if kids:
            groups += [((parent, column), *((kid, column) for kid in kids)) for column in columns]
    return [group for group in groups if len(group) > 1]


def suppressed_cells(values: Mapping[Cell, int], groups: Iterable[Sequence[Cell]],
                     threshold: int | None) -> set[Cell]:
    """The cells to hide: the small ones, and enough others that none is the only hidden one in a group.

    Where a group has exactly one hidden cell, one more of its shown cells is hidden: a non-zero one if it has
    any; among those, one that leaves the fewest other groups with a single hidden cell (so that the hiding
    spreads as little as possible), then the smallest, then the first. This is repeated over all groups until
    none changes. Pure and deterministic: the same table always hides the same cells.
    """
    hidden = {cell for cell, value in values.items() if is_small(value, threshold)}
    if not hidden:
        return hidden
    related = [tuple(group) for group in groups if len(group) > 1]
    groups_of: dict[Cell, list[tuple[Cell, ...]]] = {}
    for group in related:
        for cell in group:
            groups_of.setdefault(cell, []).append(group)

    def hidden_in(group: tuple[Cell, ...]) -> int:
        return sum(cell in hidden for cell in group)

    changed = True
    while changed:
        changed = False
        for group in related:
            if hidden_in(group) != 1:
                continue
            shown = [(values[cell] == 0, sum(hidden_in(other) == 0 for other in groups_of[cell]),
                      values[cell], index, cell)
                     for index, cell in enumerate(group) if cell not in hidden]
            if shown:
                hidden.add(min(shown)[-1])
                changed = True
    return hidden


# ---- cross-tabulations --------------------------------------------------------------------------------


class Dimension(StrEnum):
    """What a cross-tabulation can count reports by (docs/statistics.md, cross-tab)."""

    period_year = "period_year"
    period_quarter = "period_quarter"
    period_tertial = "period_tertial"
    period_month = "period_month"
    department = "department"
    unit = "unit"
    type = "type"
    lex_sarah_severity = "lex_sarah_severity"
    category = "category"
    complaint_kind = "complaint_kind"
    complaint_submitter = "complaint_submitter"
    root_cause = "root_cause"
    status = "status"
    notified_ivo = "notified_ivo"
    notified_imy = "notified_imy"


PERIOD_DIMENSIONS = frozenset({Dimension.period_year, Dimension.period_quarter, Dimension.period_tertial,
                               Dimension.period_month})
ORG_DIMENSIONS = frozenset({Dimension.department, Dimension.unit})

DIMENSION_LABELS: dict[Dimension, tuple[str, str]] = {
    Dimension.period_year: ("År", "Year"),
    Dimension.period_quarter: ("Kvartal", "Quarter"),
    Dimension.period_tertial: ("Tertial", "Tertial (four months)"),
    Dimension.period_month: ("Månad", "Month"),
    Dimension.department: ("Avdelning", "Department"),
    Dimension.unit: ("Enhet", "Unit"),
    Dimension.type: ("Typ", "Type"),
    Dimension.lex_sarah_severity: ("Lex Sarah: bedömning", "Lex Sarah: severity"),
    Dimension.category: ("Kategori", "Category"),
    Dimension.complaint_kind: ("Typ av synpunkt", "Kind of complaint"),
    Dimension.complaint_submitter: ("Vem som lämnat synpunkten", "Submitted by"),
    Dimension.root_cause: ("Grundorsak", "Root cause"),
    Dimension.status: ("Status", "Status"),
    Dimension.notified_ivo: ("Anmäld till IVO", "Notified to IVO"),
    Dimension.notified_imy: ("Anmäld till IMY", "Notified to IMY"),
}

# Labels for the values of each coded dimension, in the order a table lists them.
TYPE_LABELS: dict[str, tuple[str, str]] = {column.key: (column.label_sv, column.label_en) for column in TYPE_COLUMNS}
SEVERITY_LABELS: dict[str, tuple[str, str]] = {
    "no_impropriety": ("Inget missförhållande", "No impropriety"),
    "impropriety": ("Missförhållande", "Impropriety"),
    "tangible_risk": ("Påtaglig risk för missförhållande", "Tangible risk of impropriety"),
    "serious_impropriety": ("Allvarligt missförhållande", "Serious impropriety"),
    "serious_tangible_risk": ("Påtaglig risk för allvarligt missförhållande", "Tangible risk of serious impropriety"),
}
COMPLAINT_KIND_LABELS: dict[str, tuple[str, str]] = {
    "praise": ("Beröm", "Praise"),
    "complaint": ("Klagomål", "Complaint"),
    "suggestion": ("Förslag", "Suggestion"),
    "question": ("Fråga", "Question"),
    "other": ("Övrigt", "Other"),
    "not_stated": ("Ej angivet", "Not stated"),
}
COMPLAINT_SUBMITTER_LABELS: dict[str, tuple[str, str]] = {
    "client": ("Brukare/klient", "Client"),
    "relative": ("Närstående", "Relative"),
    "staff": ("Personal", "Staff"),
    "other": ("Övriga", "Other"),
    "not_stated": ("Ej angivet", "Not stated"),
}
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "reported": ("Inkommen", "Reported"),
    "assessed": ("Bedömd", "Assessed"),
    "investigating": ("Under utredning", "Being investigated"),
    "investigated": ("Utredd", "Investigated"),
    "followed_up": ("Uppföljd", "Followed up"),
    "closed": ("Avslutad", "Closed"),
}
YES_NO_LABELS: dict[str, tuple[str, str]] = {"yes": ("Ja", "Yes"), "no": ("Nej", "No")}
# Root causes are configured with Swedish labels (settings); English for the defaults. Categories are each
# förvaltning's own list with both labels (service/domain/categories.py), not a coded dimension here.
ROOT_CAUSE_LABELS_EN: dict[str, str] = {
    "missing_routine": "No routine", "deficient_routine": "Deficient routine",
    "routine_not_known": "Routine not known", "routine_not_followed": "Routine not followed",
    "staffing": "Staffing/vacancies", "competence": "Competence", "communication": "Communication",
    "it_system": "IT system", "premises_equipment": "Premises/equipment", "other": "Other",
}

MONTHS_SV = ("januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober",
             "november", "december")
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
             "November", "December")


@dataclass(frozen=True)
class Member:
    """One value of a dimension: a row or a column of a cross-tabulation."""

    key: str
    label_sv: str
    label_en: str
    unit_id: int | None = None  # the org unit, for department and unit


# Where a report has no value for a dimension (not assessed, not lex Sarah, no root cause recorded).
NONE_MEMBERS: dict[Dimension, Member] = {
    Dimension.type: Member(UNASSESSED.key, UNASSESSED.label_sv, UNASSESSED.label_en),
    Dimension.lex_sarah_severity: Member("none", "Ej lex Sarah", "Not lex Sarah"),
    Dimension.complaint_kind: Member("none", "Ej synpunkt eller klagomål", "Not a complaint"),
    Dimension.complaint_submitter: Member("none", "Ej synpunkt eller klagomål", "Not a complaint"),
    Dimension.root_cause: Member("none", "Ingen grundorsak angiven", "No root cause recorded"),
}


def period_member(dimension: Dimension, year: int, part: int | None = None) -> Member:
    """A period value from the integers SQL groups by: the year, and the quarter/tertial/month in it."""
    if dimension is Dimension.period_year:
        return Member(f"{year}", f"{year}", f"{year}")
    assert part is not None
    if dimension is Dimension.period_quarter:
        return Member(f"{year}-Q{part}", f"Kvartal {part} {year}", f"Q{part} {year}")
    if dimension is Dimension.period_tertial:
        first, last = 4 * part - 3, 4 * part
        return Member(f"{year}-T{part}",
                      f"Tertial {part} {year} ({MONTHS_SV[first - 1][:3]}–{MONTHS_SV[last - 1][:3]})",
                      f"Tertial {part} {year} ({MONTHS_EN[first - 1][:3]}–{MONTHS_EN[last - 1][:3]})")
    if dimension is Dimension.period_month:
        return Member(f"{year}-{part:02d}", f"{MONTHS_SV[part - 1]} {year}", f"{MONTHS_EN[part - 1]} {year}")
    raise ValueError(f"{dimension} is not a period")


def quarter_of(month: int) -> int:
    return (month + 2) // 3


def tertial_of(month: int) -> int:
    """Jan–Apr 1, May–Aug 2, Sep–Dec 3: the same integer arithmetic as the SQL."""
    return (month + 3) // 4


def period_values(dimension: Dimension, day: date) -> tuple[int, ...]:
    """The values a report received on `day` has for a period dimension (what the SQL computes)."""
    if dimension is Dimension.period_year:
        return (day.year,)
    part = {Dimension.period_quarter: quarter_of, Dimension.period_tertial: tertial_of,
            Dimension.period_month: lambda month: month}[dimension](day.month)
    return (day.year, part)


def period_members(dimension: Dimension, period: Period) -> list[tuple[tuple[int, ...], Member]]:
    """Every period the requested period touches, in order, zero counts included."""
    seen: list[tuple[int, ...]] = []
    year, month = period.start.year, period.start.month
    while (year, month) <= (period.end.year, period.end.month):
        values = period_values(dimension, date(year, month, 1))
        if values not in seen:
            seen.append(values)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [(values, period_member(dimension, *values)) for values in seen]


def coded_members(dimension: Dimension, root_causes: dict[str, str]) -> list[Member]:
    """The known values of a coded dimension in table order (zero counts included). Not categories: those are
    each förvaltning's list, read from the database (service/statistics.py category_members)."""
    if dimension is Dimension.root_cause:
        return [Member(code, label, ROOT_CAUSE_LABELS_EN.get(code, label)) for code, label in root_causes.items()]
    table = {Dimension.type: TYPE_LABELS, Dimension.lex_sarah_severity: SEVERITY_LABELS,
             Dimension.complaint_kind: COMPLAINT_KIND_LABELS, Dimension.complaint_submitter: COMPLAINT_SUBMITTER_LABELS,
             Dimension.status: STATUS_LABELS, Dimension.notified_ivo: YES_NO_LABELS,
             Dimension.notified_imy: YES_NO_LABELS}[dimension]
    return [Member(code, sv, en) for code, (sv, en) in table.items()]


def unknown_member(dimension: Dimension, code: str | None) -> Member:
    """A value the configuration no longer lists (kept, labelled by its code), or the dimension's none value."""
    if code is None:
        return NONE_MEMBERS.get(dimension, Member("none", "Uppgift saknas", "Not recorded"))
    return Member(code, code, code)


def check_dimensions(rows: Dimension, columns: Dimension | None) -> None:
    if columns is not None and columns is rows:
        raise InvalidInput("Rows and columns must be different dimensions.", field="columns")


CROSSTAB_NOTE_SV = (
    "Tabellen räknar unika rapporter. En rapport räknas i varje cell den hör till: en rapport med två typer "
    "räknas under båda typerna, en rapport som gäller flera enheter under varje enhet och en rapport med flera "
    "grundorsaker under varje orsak. Cellerna kan därför summera till mer än radens och kolumnens total, och "
    "totalerna (även Totalt) är egna räkningar av unika rapporter, inte summor.")
CROSSTAB_NOTE_EN = (
    "The table counts distinct reports. A report counts in every cell it belongs to: a report with two types "
    "counts under both types, a report concerning several units under each unit, and a report with several root "
    "causes under each cause. Cells may therefore add up to more than their row or column total, and the totals "
    "(Total included) are their own counts of distinct reports, not sums.")


# ---- lead times -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeadTime:
    key: str
    label_sv: str
    label_en: str


LEAD_TIMES: tuple[LeadTime, ...] = (
    LeadTime("noticed_to_reported", "Upptäckt → rapporterad", "Noticed → reported"),
    LeadTime("reported_to_assessed", "Rapporterad → bedömd", "Reported → assessed"),
    LeadTime("assessed_to_notified_ivo", "Bedömd → anmäld till IVO", "Assessed → notified to IVO"),
    LeadTime("assessed_to_notified_imy", "Bedömd → anmäld till IMY", "Assessed → notified to IMY"),
    LeadTime("reported_to_closed", "Rapporterad → avslutad", "Reported → closed"),
)

# Percentiles as fractions a/b, so that the SQL can locate them with integer arithmetic.
MEDIAN = (1, 2)
P90 = (9, 10)


def percentile_positions(n: int, fraction: tuple[int, int]) -> tuple[int, int, int]:
    """Linear interpolation between closest ranks (as PostgreSQL's percentile_cont, Excel's PERCENTILE.INC).

    For n sorted values x_1..x_n and p = a/b, h = (n - 1)·p; the percentile is x_(⌊h⌋+1) + (h - ⌊h⌋)·(x_(⌊h⌋+2) -
    x_(⌊h⌋+1)). Returned as (rank of the lower value, its weight, weight of the next value), in units of 1/b, so
    that b·percentile = weight_lo·x_lo + weight_hi·x_hi exactly in integers. The SQL does the same arithmetic.
    """
    a, b = fraction
    if n < 1:
        raise ValueError("no values")
    whole, remainder = divmod((n - 1) * a, b)
    return whole + 1, b - remainder, remainder


def percentile(values: list[int], fraction: tuple[int, int]) -> float:
    """The reference definition, for tests and documentation; the service computes it in SQL."""
    ordered = sorted(values)
    rank, weight_lo, weight_hi = percentile_positions(len(ordered), fraction)
    upper = ordered[rank] if weight_hi else 0
    return (weight_lo * ordered[rank - 1] + weight_hi * upper) / fraction[1]


def hours(scaled_seconds: int | None, scale: int) -> float | None:
    """Seconds times `scale` (as the SQL returns them) to hours, two decimals."""
    return None if scaled_seconds is None else round(scaled_seconds / scale / 3600, 2)


# ---- open and overdue ---------------------------------------------------------------------------------

DEADLINE_LABELS: dict[str, tuple[str, str]] = {
    "first_assessment": ("Första bedömning (genast)", "First assessment (without delay)"),
    "imy_notification": ("Anmälan till IMY (72 timmar)", "IMY notification (72 hours)"),
    "ivo_notification": ("Anmälan till IVO (påminnelse)", "IVO notification (warning)"),
    "ivo_notification_escalation": ("Anmälan till IVO (eskalering)", "IVO notification (escalation)"),
    "ivo_investigation": ("Utredning till IVO (2 månader)", "Investigation to IVO (2 months)"),
    "investigation": ("Utredning (genast)", "Investigation (without delay)"),
    "action": ("Åtgärd", "Action"),
}
OPEN_COLUMNS: tuple[Column, ...] = (
    Column("open", "Öppna ärenden", "Open cases"),
    Column("overdue", "Med passerad tidsfrist", "With an overdue deadline"),
    *(Column(f"overdue_{kind}", f"Passerad: {sv}", f"Overdue: {en}") for kind, (sv, en) in DEADLINE_LABELS.items()),
)
OPEN_NOTE_SV = (
    "Öppna ärenden: inkomna senast vid tidpunkten och inte avslutade då. Passerade tidsfrister räknas bland dem, "
    "som unika ärenden per slag av frist. Endast nu öppna tidsfrister finns sparade, så för en tidpunkt i det "
    "förflutna räknas de frister som är sparade i dag; frister som redan har uppfyllts räknas inte.")
OPEN_NOTE_EN = (
    "Open cases: received at or before the moment and not closed then. Overdue deadlines are counted among them, "
    "as distinct cases per kind of deadline. Only currently open deadlines are stored, so for a past moment the "
    "deadlines stored today are used; deadlines already met are not counted.")
