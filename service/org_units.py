"""Use cases for the organisation tree: load, check with the domain, write with history. No commits here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from service.domain.access import EVERYWHERE, Permission, Principal
from service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.domain.org import (
    OrgKind,
    Placement,
    check_code,
    check_move,
    check_parent,
    check_validity,
    path_for,
)
from service.domain.org_import import ExistingUnit, ImportRow, plan_import
from service.models import OrgUnit, OrgUnitPlacement


def placement_of(unit: OrgUnit) -> Placement:
    return Placement(id=unit.id or 0, kind=OrgKind(unit.kind), path=unit.path,
                     valid_from=unit.valid_from, valid_to=unit.valid_to)


def require_manage(principal: Principal, path: str) -> None:
    if not principal.may(Permission.manage_org, path):
        raise Forbidden("You may not change the organisation here.")


def get_unit(session: Session, unit_id: int) -> OrgUnit:
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise NotFound("No such org unit.")
    return unit


def list_units(session: Session, *, active_on: date | None, under: int | None) -> list[OrgUnit]:
    query = select(OrgUnit).order_by(col(OrgUnit.path))
    if under is not None:
        root = get_unit(session, under)
        query = query.where(col(OrgUnit.path).startswith(root.path, autoescape=True))
    if active_on is not None:
        query = query.where(col(OrgUnit.valid_from) <= active_on).where(
            (col(OrgUnit.valid_to).is_(None)) | (col(OrgUnit.valid_to) >= active_on)
        )
    return list(session.exec(query).all())


@dataclass(frozen=True)
class NewUnit:
    code: str
    name: str
    kind: OrgKind
    parent_id: int | None
    valid_from: date
    valid_to: date | None = None


def create_unit(session: Session, principal: Principal, new: NewUnit, now: datetime) -> OrgUnit:
    check_code(new.code)
    check_validity(new.valid_from, new.valid_to)
    parent = get_unit_for_input(session, new.parent_id, field="parent_id") if new.parent_id is not None else None
    require_manage(principal, parent.path if parent else EVERYWHERE)
    check_parent(new.kind, placement_of(parent) if parent else None)
    if parent is not None and not placement_of(parent).is_active_on(new.valid_from):
        raise InvalidInput("The parent is not active on valid_from.", field="parent_id")
    _refuse_duplicate_code(session, new.code)
    return _insert(session, new, parent, now)


def get_unit_for_input(session: Session, unit_id: int, *, field: str) -> OrgUnit:
    """A unit named in a request body: unknown is bad input (422), not a missing resource (404)."""
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise InvalidInput("No org unit has this id.", field=field)
    return unit


def _refuse_duplicate_code(session: Session, code: str) -> None:
    if session.exec(select(OrgUnit.id).where(func.lower(OrgUnit.code) == code.lower())).first() is not None:
        raise Conflict("An org unit with this code (regardless of case) exists already.", field="code")


def _insert(session: Session, new: NewUnit, parent: OrgUnit | None, now: datetime) -> OrgUnit:
    unit = OrgUnit(code=new.code, name=new.name, kind=new.kind.value, parent_id=parent.id if parent else None,
                   valid_from=new.valid_from, valid_to=new.valid_to, created_at=now, updated_at=now)
    session.add(unit)
    session.flush()  # assigns the id the path is made of
    unit.path = path_for(parent.path if parent else None, unit.id or 0)
    session.add(OrgUnitPlacement(unit_id=unit.id or 0, parent_id=unit.parent_id, name=unit.name,
                                 valid_from=unit.valid_from, valid_to=unit.valid_to))
    session.flush()
    return unit


def rename_unit(session: Session, principal: Principal, unit_id: int, name: str, effective: date,
                now: datetime) -> OrgUnit:
    unit = get_unit(session, unit_id)
    require_manage(principal, unit.path)
    if name != unit.name:
        unit.name = name
        _new_placement(session, unit, effective)
        unit.updated_at = now
    session.flush()
    return unit


def move_unit(session: Session, principal: Principal, unit_id: int, parent_id: int, effective: date,
              now: datetime) -> OrgUnit:
    unit = get_unit(session, unit_id)
    require_manage(principal, unit.path)
    parent = get_unit_for_input(session, parent_id, field="parent_id")
    require_manage(principal, parent.path)
    check_move(placement_of(unit), placement_of(parent))
    if not placement_of(parent).is_active_on(effective):
        raise InvalidInput("The new parent is not active on effective_date.", field="parent_id")
    if parent.id == unit.parent_id:
        return unit
    old_path, new_path = unit.path, path_for(parent.path, unit.id or 0)
    session.exec(
        update(OrgUnit)
        .where(col(OrgUnit.path).startswith(old_path, autoescape=True))
        .values(path=new_path + func.substr(OrgUnit.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )
    session.refresh(unit)
    unit.parent_id = parent.id
    unit.updated_at = now
    _new_placement(session, unit, effective)
    session.flush()
    return unit


def close_unit(session: Session, principal: Principal, unit_id: int, valid_to: date, now: datetime) -> OrgUnit:
    unit = get_unit(session, unit_id)
    require_manage(principal, unit.path)
    check_validity(unit.valid_from, valid_to)
    open_children = session.exec(
        select(OrgUnit.code).where(OrgUnit.parent_id == unit.id).where(
            (col(OrgUnit.valid_to).is_(None)) | (col(OrgUnit.valid_to) > valid_to)
        )
    ).all()
    if open_children:
        raise Conflict(f"Close or move its units first: {', '.join(sorted(open_children))}.", field="valid_to")
    unit.valid_to = valid_to
    unit.updated_at = now
    current = _current_placement(session, unit)
    current.valid_to = valid_to
    session.add(current)
    session.flush()
    return unit


def _current_placement(session: Session, unit: OrgUnit) -> OrgUnitPlacement:
    placement = session.exec(
        select(OrgUnitPlacement).where(OrgUnitPlacement.unit_id == unit.id)
        .order_by(col(OrgUnitPlacement.valid_from).desc(), col(OrgUnitPlacement.id).desc())
    ).first()
    assert placement is not None, "every unit is created with a placement"
    return placement


def _new_placement(session: Session, unit: OrgUnit, effective: date) -> None:
    """End the current placement the day before `effective` and start one with the unit as it is now."""
    current = _current_placement(session, unit)
    if effective < current.valid_from:
        raise InvalidInput("effective_date is before the unit's latest change.", field="effective_date")
    if effective == current.valid_from:
        current.parent_id, current.name = unit.parent_id, unit.name
        session.add(current)
        return
    current.valid_to = effective - timedelta(days=1)
    session.add(current)
    session.add(OrgUnitPlacement(unit_id=unit.id or 0, parent_id=unit.parent_id, name=unit.name,
                                 valid_from=effective, valid_to=unit.valid_to))


@dataclass(frozen=True)
class ImportResult:
    created: list[OrgUnit]
    unchanged: list[str]


def import_units(session: Session, principal: Principal, rows: list[ImportRow], now: datetime) -> ImportResult:
    """All or nothing: the plan is checked whole before the first row is written."""
    units_by_code = {unit.code: unit for unit in session.exec(select(OrgUnit)).all()}
    code_by_id = {unit.id: code for code, unit in units_by_code.items()}
    existing = {
        code: ExistingUnit(code=code, name=unit.name, kind=OrgKind(unit.kind),
                           parent_code=code_by_id.get(unit.parent_id) if unit.parent_id else None,
                           valid_from=unit.valid_from, valid_to=unit.valid_to)
        for code, unit in units_by_code.items()
    }
    folded = {code.lower(): code for code in existing}
    for index, row in enumerate(rows):
        if row.code not in existing and row.code.lower() in folded:
            raise Conflict("A stored org unit has this code in other case; codes are unique regardless of case.",
                           field=f"/units/{index}/code")
    to_create, unchanged = plan_import(rows, existing)
    for code in unchanged:  # loading what is already there is still an org change: the same right is needed
        require_manage(principal, units_by_code[code].path)
    created: list[OrgUnit] = []
    for row in to_create:
        parent = units_by_code.get(row.parent_code) if row.parent_code else None
        require_manage(principal, parent.path if parent else EVERYWHERE)
        unit = _insert(session, NewUnit(code=row.code, name=row.name, kind=row.kind,
                                        parent_id=parent.id if parent else None,
                                        valid_from=row.valid_from, valid_to=row.valid_to), parent, now)
        units_by_code[unit.code] = unit
        created.append(unit)
    return ImportResult(created=created, unchanged=unchanged)
