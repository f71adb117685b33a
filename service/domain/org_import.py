"""Checks a whole organisation file before anything is written: duplicates, unknown parents, kinds, histories.

A row is either simple (name and parent_code: the unit stands there through its whole validity) or carries a
history: `placements`, each a parent, a name and the days it held. A history must cover the unit's validity
exactly, one placement a day: no overlaps (a day under two avdelningar would count a report twice) and no
gaps (a day under none would lose it), and each placement's parent must be of the right kind and valid on
every day of the placement. (A simple row is checked as before histories came: kind and parent only.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from service.domain.errors import Conflict, InvalidInput
from service.domain.org import PARENT_KIND, SWEDISH_KIND, OrgKind, check_code, check_validity


@dataclass(frozen=True)
class ImportPlacement:
    """Where a unit stood, under which name, from valid_from through valid_to (None: still does)."""

    parent_code: str | None
    name: str
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True)
class ImportRow:
    code: str
    name: str | None
    kind: OrgKind
    parent_code: str | None
    valid_from: date
    valid_to: date | None = None
    placements: tuple[ImportPlacement, ...] | None = None  # None: a simple row

    def history(self) -> tuple[ImportPlacement, ...]:
        """The placements, in order of their days; a simple row stands under one parent all along."""
        if self.placements is None:
            return (ImportPlacement(self.parent_code, self.name or "", self.valid_from, self.valid_to),)
        return tuple(sorted(self.placements, key=lambda placement: placement.valid_from))


@dataclass(frozen=True)
class ExistingUnit:
    code: str
    name: str
    kind: OrgKind
    parent_code: str | None
    valid_from: date
    valid_to: date | None
    placements: tuple[ImportPlacement, ...] = ()  # its stored history, in order; empty: one placement

    def history(self) -> tuple[ImportPlacement, ...]:
        if not self.placements:
            return (ImportPlacement(self.parent_code, self.name, self.valid_from, self.valid_to),)
        return self.placements


@dataclass(frozen=True)
class ImportPlan:
    to_create: list[ImportRow]  # parents before children
    to_extend: list[ImportRow]  # stored units whose history the file carries further back
    unchanged: list[str]  # codes stored exactly as the file has them


_KIND_ORDER = {OrgKind.administration: 0, OrgKind.department: 1, OrgKind.unit: 2}


def plan_import(rows: list[ImportRow], existing: dict[str, ExistingUnit]) -> ImportPlan:
    """What loading `rows` writes, or the first rule the file breaks.

    A row whose code exists must describe that unit as stored: a load is repeatable, but it never silently
    renames, moves or re-dates a unit (the admin endpoints do that, with history). A simple row must match
    the unit's current name, parent and validity. A row with a history must agree with the stored history
    on every day the stored unit is valid; it may only add days before the stored valid_from (the years
    before the unit was loaded), and then replaces the stored placements with its own.
    """
    by_code: dict[str, tuple[int, ImportRow]] = {}
    for index, row in enumerate(rows):
        pointer = f"/units/{index}"
        check_code(row.code, field=f"{pointer}/code")
        check_validity(row.valid_from, row.valid_to, field=f"{pointer}/valid_to")
        _check_row_shape(row, pointer)
        if row.code in by_code:
            raise Conflict(f"This code appears twice in the file (also at /units/{by_code[row.code][0]}/code).",
                           field=f"{pointer}/code")
        by_code[row.code] = (index, row)

    unchanged: list[str] = []
    to_create: list[ImportRow] = []
    to_extend: list[ImportRow] = []
    for code, (index, row) in by_code.items():
        stored = existing.get(code)
        if stored is None:
            to_create.append(row)
        elif _same_as_stored(row, stored):
            unchanged.append(code)
        elif row.placements is not None and _extends(row, stored):
            to_extend.append(row)
        elif row.placements is not None:
            raise Conflict(
                "This history contradicts the unit's stored history: it must agree on every day the stored unit "
                "is valid, and may only add days before it.", field=f"/units/{index}/code")
        else:
            raise Conflict(
                "A unit with this code already exists with other data; rename, move or close it instead.",
                field=f"/units/{index}/code",
            )

    kinds = {code: unit.kind for code, unit in existing.items()}
    kinds.update({code: row.kind for code, (_, row) in by_code.items()})
    validity = {code: (unit.valid_from, unit.valid_to) for code, unit in existing.items()}
    validity.update({code: (row.valid_from, row.valid_to) for code, (_, row) in by_code.items()})
    for code, (index, row) in by_code.items():
        if code in unchanged:
            continue  # stored as it is: nothing is written, so nothing new is checked
        _check_parents(row, f"/units/{index}", kinds, validity)

    to_create.sort(key=lambda row: _KIND_ORDER[row.kind])  # every parent is one level up: parents first
    return ImportPlan(to_create=to_create, to_extend=to_extend, unchanged=unchanged)


def _check_row_shape(row: ImportRow, pointer: str) -> None:
    """A simple row has a name; a history has its placements in a row, covering the unit's validity."""
    if row.placements is None:
        if row.name is None:
            raise InvalidInput("A name is required (or placements, each with its name).", field=f"{pointer}/name")
        return
    if row.name is not None:
        raise InvalidInput("Leave out name when placements are given: each placement has its own.",
                           field=f"{pointer}/name")
    if row.parent_code is not None:
        raise InvalidInput("Leave out parent_code when placements are given: each placement has its own.",
                           field=f"{pointer}/parent_code")
    if not row.placements:
        raise InvalidInput("A history needs at least one placement.", field=f"{pointer}/placements")
    position = {id(placement): index for index, placement in enumerate(row.placements)}

    def at(placement: ImportPlacement) -> str:
        return f"{pointer}/placements/{position[id(placement)]}"

    for placement in row.placements:
        check_validity(placement.valid_from, placement.valid_to, field=f"{at(placement)}/valid_to")
    ordered = row.history()
    if ordered[0].valid_from != row.valid_from:
        raise InvalidInput("The first placement must start on the unit's valid_from.",
                           field=f"{at(ordered[0])}/valid_from")
    for earlier, later in pairwise(ordered):
        if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
            raise InvalidInput(f"This placement overlaps the one at {at(earlier)}: a unit stands in one place a day.",
                               field=f"{at(later)}/valid_from")
        if later.valid_from != earlier.valid_to + timedelta(days=1):
            raise InvalidInput(f"This placement must start the day after the one at {at(earlier)} ends: "
                               "a unit stands somewhere every day it is valid.", field=f"{at(later)}/valid_from")
    if ordered[-1].valid_to != row.valid_to:
        raise InvalidInput("The last placement must end on the unit's valid_to (both left out while it is open).",
                           field=f"{at(ordered[-1])}/valid_to")


def _check_parents(row: ImportRow, pointer: str, kinds: dict[str, OrgKind],
                   validity: dict[str, tuple[date, date | None]]) -> None:
    """Each placement's parent: of the kind one level up, known, and valid on every day of the placement."""
    expected = PARENT_KIND[row.kind]
    placements = row.placements if row.placements is not None else row.history()
    for index, placement in enumerate(placements):
        field = f"{pointer}/placements/{index}/parent_code" if row.placements is not None else f"{pointer}/parent_code"
        parent_code = placement.parent_code
        if expected is None:
            if parent_code is not None:
                raise InvalidInput("A förvaltning (administration) has no parent.", field=field)
            continue
        if parent_code is None:
            raise InvalidInput(f"A {row.kind} needs a parent of kind {expected}.", field=field)
        if parent_code not in kinds:
            raise InvalidInput("No unit in the file or stored has this parent code.", field=field)
        if kinds[parent_code] != expected:
            raise InvalidInput(f"A {row.kind} must be placed under a {expected}, not a {kinds[parent_code]}.",
                               field=field)
        if row.placements is None:
            continue  # a simple row is checked as it always was; its parent's dates were never compared
        parent_from, parent_to = validity[parent_code]
        ends_in_time = parent_to is None or (placement.valid_to is not None and placement.valid_to <= parent_to)
        if placement.valid_from < parent_from or not ends_in_time:
            raise InvalidInput(f"The parent {SWEDISH_KIND[expected]} is not valid on every day of this placement.",
                               field=field)


def _same_as_stored(row: ImportRow, stored: ExistingUnit) -> bool:
    if row.kind != stored.kind or (row.valid_from, row.valid_to) != (stored.valid_from, stored.valid_to):
        return False
    if row.placements is None:  # a simple row is compared with the unit as it stands today
        return (row.name, row.parent_code) == (stored.name, stored.parent_code)
    return row.history() == stored.history()


def _extends(row: ImportRow, stored: ExistingUnit) -> bool:
    """The row's history says what the stored one says on each of its days, and may start earlier."""
    if row.kind != stored.kind or row.valid_to != stored.valid_to or row.valid_from > stored.valid_from:
        return False
    return _merged(_from_day(row.history(), stored.valid_from)) == _merged(stored.history())


def _from_day(history: tuple[ImportPlacement, ...], first_day: date) -> list[ImportPlacement]:
    return [ImportPlacement(p.parent_code, p.name, max(p.valid_from, first_day), p.valid_to)
            for p in history if p.valid_to is None or p.valid_to >= first_day]


def _merged(history: tuple[ImportPlacement, ...] | list[ImportPlacement]) -> list[tuple[str | None, str, date,
                                                                                        date | None]]:
    """Adjacent placements with the same parent and name as one: where a history is split says nothing."""
    merged: list[tuple[str | None, str, date, date | None]] = []
    for p in history:
        if merged and merged[-1][:2] == (p.parent_code, p.name):
            merged[-1] = (*merged[-1][:3], p.valid_to)
        else:
            merged.append((p.parent_code, p.name, p.valid_from, p.valid_to))
    return merged
