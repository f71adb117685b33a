"""Rules of the organisation tree: förvaltning → avdelning → enhet."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from service.domain.errors import Conflict, InvalidInput


class OrgKind(StrEnum):
    administration = "administration"  # förvaltning
    department = "department"  # avdelning
    unit = "unit"  # enhet


# The kind a parent must have, per kind; a förvaltning is a root.
PARENT_KIND: dict[OrgKind, OrgKind | None] = {
    OrgKind.administration: None,
    OrgKind.department: OrgKind.administration,
    OrgKind.unit: OrgKind.department,
}

SWEDISH_KIND = {
    OrgKind.administration: "förvaltning",
    OrgKind.department: "avdelning",
    OrgKind.unit: "enhet",
}

# ASCII only: a code goes into case numbers, file names and URLs, and is unique regardless of case in the
# database (lower(code)), where neither SQLite nor every PostgreSQL locale folds å, ä and ö.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
CODE_RULE = ("A code is 1-32 characters: ASCII letters A-Z (either case; not å, ä or ö), digits 0-9, '_', '.' "
             "or '-', starting with a letter or digit.")


@dataclass(frozen=True)
class Placement:
    """Where a unit stands: its kind, validity and the path of ids from the root to it."""

    id: int
    kind: OrgKind
    path: str
    valid_from: date
    valid_to: date | None

    def is_active_on(self, day: date) -> bool:
        return active_on(self.valid_from, self.valid_to, day)


def active_on(valid_from: date, valid_to: date | None, day: date) -> bool:
    """A unit is active from valid_from through valid_to, both inclusive; no valid_to: still open."""
    return valid_from <= day and (valid_to is None or day <= valid_to)


def path_for(parent_path: str | None, unit_id: int) -> str:
    """Materialised path "/1/5/12/": a subtree is every path that starts with its root's path."""
    return f"{parent_path or '/'}{unit_id}/"


def check_parent(kind: OrgKind, parent: Placement | None, *, field: str = "parent_id") -> None:
    expected = PARENT_KIND[kind]
    if expected is None:
        if parent is not None:
            raise InvalidInput("A förvaltning (administration) has no parent.", field=field)
        return
    if parent is None:
        raise InvalidInput(f"A {SWEDISH_KIND[kind]} ({kind}) needs a parent of kind {expected}.", field=field)
    if parent.kind != expected:
        raise InvalidInput(
            f"A {SWEDISH_KIND[kind]} ({kind}) must be placed under a {expected}, not a {parent.kind}.",
            field=field,
        )


def check_move(unit: Placement, new_parent: Placement, *, field: str = "parent_id") -> None:
    if new_parent.path.startswith(unit.path):
        raise Conflict("A unit cannot be moved into its own subtree.", field=field)
    check_parent(unit.kind, new_parent, field=field)


def check_validity(valid_from: date, valid_to: date | None, *, field: str = "valid_to") -> None:
    if valid_to is not None and valid_to < valid_from:
        raise InvalidInput("valid_to is before valid_from.", field=field)


def check_code(code: str, *, field: str = "code") -> None:
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidInput(CODE_RULE, field=field)
