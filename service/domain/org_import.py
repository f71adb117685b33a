"""Checks a whole organisation file before anything is written: duplicates, unknown parents, cycles, kinds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.domain.errors import Conflict, InvalidInput
from service.domain.org import PARENT_KIND, OrgKind, check_code, check_validity


@dataclass(frozen=True)
class ImportRow:
    code: str
    name: str
    kind: OrgKind
    parent_code: str | None
    valid_from: date
    valid_to: date | None = None


@dataclass(frozen=True)
class ExistingUnit:
    code: str
    name: str
    kind: OrgKind
    parent_code: str | None
    valid_from: date
    valid_to: date | None


def plan_import(rows: list[ImportRow], existing: dict[str, ExistingUnit]) -> tuple[list[ImportRow], list[str]]:
    """Return (rows to create, parents before children; codes already present unchanged).

    A row whose code exists must describe that unit exactly as stored: a load is repeatable, but it
    never silently renames, moves or re-dates a unit (the admin endpoints do that, with history).
    """
    by_code: dict[str, tuple[int, ImportRow]] = {}
    for index, row in enumerate(rows):
        pointer = f"/units/{index}"
        check_code(row.code, field=f"{pointer}/code")
        check_validity(row.valid_from, row.valid_to, field=f"{pointer}/valid_to")
        if row.code in by_code:
            raise Conflict(f"This code appears twice in the file (also at /units/{by_code[row.code][0]}/code).",
                           field=f"{pointer}/code")
        by_code[row.code] = (index, row)

    kinds = {code: unit.kind for code, unit in existing.items()}
    kinds.update({code: row.kind for code, (_, row) in by_code.items()})
    for index, row in by_code.values():
        pointer = f"/units/{index}/parent_code"
        expected = PARENT_KIND[row.kind]
        if expected is None:
            if row.parent_code is not None:
                raise InvalidInput("A förvaltning (administration) has no parent.", field=pointer)
            continue
        if row.parent_code is None:
            raise InvalidInput(f"A {row.kind} needs a parent of kind {expected}.", field=pointer)
        if row.parent_code not in kinds:
            raise InvalidInput("No unit in the file or stored has this parent code.", field=pointer)
        if kinds[row.parent_code] != expected:
            raise InvalidInput(
                f"A {row.kind} must be placed under a {expected}, not a {kinds[row.parent_code]}.", field=pointer
            )

    unchanged: list[str] = []
    to_create: dict[str, tuple[int, ImportRow]] = {}
    for code, (index, row) in by_code.items():
        stored = existing.get(code)
        if stored is None:
            to_create[code] = (index, row)
        elif (stored.name, stored.kind, stored.parent_code, stored.valid_from, stored.valid_to) == (
            row.name, row.kind, row.parent_code, row.valid_from, row.valid_to
        ):
            unchanged.append(code)
        else:
            raise Conflict(
                "A unit with this code already exists with other data; rename, move or close it instead.",
                field=f"/units/{index}/code",
            )

    return _parents_first(to_create), unchanged


def _parents_first(rows: dict[str, tuple[int, ImportRow]]) -> list[ImportRow]:
    ordered: list[ImportRow] = []
    placed: set[str] = set()
    for code in rows:
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in rows and current not in placed:
            if current in chain:
                index = rows[current][0]
                raise Conflict("The parent links in the file form a cycle.", field=f"/units/{index}/parent_code")
            chain.append(current)
            current = rows[current][1].parent_code
        for pending in reversed(chain):
            ordered.append(rows[pending][1])
            placed.add(pending)
    return ordered
