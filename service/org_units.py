"""Use cases for the organisation tree: load, check with the domain, write with history. No commits here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select as sa_select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service.categories import follow_earlier_first_day, seed_administration
from service.config import DEFAULT_CATEGORIES
from service.domain.access import EVERYWHERE, Permission, Principal
from service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.domain.org import (
    OrgKind,
    Placement,
    active_on,
    check_code,
    check_move,
    check_parent,
    check_validity,
    path_for,
)
from service.domain.org_import import ExistingUnit, ImportPlacement, ImportRow, plan_import
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


def create_unit(session: Session, principal: Principal, new: NewUnit, now: datetime, *,
                category_seed: Mapping[str, str] = DEFAULT_CATEGORIES) -> OrgUnit:
    """A new unit; a new förvaltning comes with the report categories of `category_seed` (AVV_REPORT_CATEGORIES)."""
    check_code(new.code)
    check_validity(new.valid_from, new.valid_to)
    parent = get_unit_for_input(session, new.parent_id, field="parent_id") if new.parent_id is not None else None
    require_manage(principal, parent.path if parent else EVERYWHERE)
    check_parent(new.kind, placement_of(parent) if parent else None)
    if parent is not None and not placement_of(parent).is_active_on(new.valid_from):
        raise InvalidInput("The parent is not active on valid_from.", field="parent_id")
    _refuse_duplicate_code(session, new.code)
    return _insert(session, new, parent, now, code_field="code", category_seed=category_seed)


def get_unit_for_input(session: Session, unit_id: int, *, field: str) -> OrgUnit:
    """A unit named in a request body: unknown is bad input (422), not a missing resource (404)."""
    unit = session.get(OrgUnit, unit_id)
    if unit is None:
        raise InvalidInput("No org unit has this id.", field=field)
    return unit


def _refuse_duplicate_code(session: Session, code: str) -> None:
    if session.exec(select(OrgUnit.id).where(func.lower(OrgUnit.code) == code.lower())).first() is not None:
        raise Conflict("An org unit with this code (regardless of case) exists already.", field="code")


DUPLICATE_CODE = "An org unit with this code (regardless of case) exists already."


def _insert(session: Session, new: NewUnit, parent: OrgUnit | None, now: datetime, *, code_field: str,
            category_seed: Mapping[str, str], history: list[OrgUnitPlacement] | None = None) -> OrgUnit:
    """The unit under `parent` (where it stands today), with its `history` of placements (default: one,
    under `parent` all along)."""
    unit = OrgUnit(code=new.code, name=new.name, kind=new.kind.value, parent_id=parent.id if parent else None,
                   valid_from=new.valid_from, valid_to=new.valid_to, created_at=now, updated_at=now)
    session.add(unit)
    try:
        session.flush()  # assigns the id the path is made of
    except IntegrityError:
        # The code was checked, but another request stored the same code (or one differing only in case)
        # since: the database's unique index refused this one. The request's transaction is rolled back.
        raise Conflict(DUPLICATE_CODE, field=code_field) from None
    unit.path = path_for(parent.path if parent else None, unit.id or 0)
    if history is None:
        history = [OrgUnitPlacement(unit_id=unit.id or 0, parent_id=unit.parent_id, name=unit.name,
                                    valid_from=unit.valid_from, valid_to=unit.valid_to)]
    for placement in history:
        placement.unit_id = unit.id or 0
        session.add(placement)
    session.flush()
    if new.kind == OrgKind.administration:
        seed_administration(session, unit, category_seed, now)
    return unit


def rename_unit(session: Session, principal: Principal, unit_id: int, name: str, effective: date,
                now: datetime, today: date) -> OrgUnit:
    """The new name from `effective`; one dated after `today` is stored and shows from that day."""
    unit = get_unit(session, unit_id)
    require_manage(principal, unit.path)
    latest = _latest_placement(session, unit)
    if name != latest.name:
        _new_placement(session, unit, effective, parent_id=latest.parent_id, name=name)
        unit.updated_at = now
        apply_due_placements(session, today)
    session.flush()
    return unit


def move_unit(session: Session, principal: Principal, unit_id: int, parent_id: int, effective: date,
              now: datetime, today: date) -> OrgUnit:
    """Under the new parent from `effective`, with its subtree. Access follows the tree as it stands today:
    a move dated after `today` is stored, and the unit's path changes on that day (apply_due_placements)."""
    unit = get_unit(session, unit_id)
    require_manage(principal, unit.path)
    parent = get_unit_for_input(session, parent_id, field="parent_id")
    require_manage(principal, parent.path)
    check_move(placement_of(unit), placement_of(parent))
    if not placement_of(parent).is_active_on(effective):
        raise InvalidInput("The new parent is not active on effective_date.", field="parent_id")
    latest = _latest_placement(session, unit)
    if parent.id == latest.parent_id:
        return unit
    _new_placement(session, unit, effective, parent_id=parent.id, name=latest.name)
    unit.updated_at = now
    apply_due_placements(session, today)
    session.flush()
    return unit


def apply_due_placements(session: Session, today: date) -> bool:
    """Bring each unit's current name, parent and path (what access and scoping read) to the placement in
    effect `today`: changes dated in the future are stored as placements and applied here on their day.
    True if anything changed. Idempotent: any number of requests or instances may run it."""
    placement, unit_table = OrgUnitPlacement, OrgUnit
    due = session.execute(
        select(placement.unit_id, placement.parent_id, placement.name)
        .join(unit_table, col(unit_table.id) == col(placement.unit_id))
        .where(col(placement.valid_from) <= today,
               (col(placement.valid_to).is_(None)) | (col(placement.valid_to) >= today),
               col(placement.parent_id).is_distinct_from(col(unit_table.parent_id))
               | (col(placement.name) != col(unit_table.name)))
        .order_by(col(placement.unit_id))
    ).all()
    for unit_id, parent_id, name in due:
        # Paths are read afresh for each unit: an earlier one in this loop may have moved its ancestors.
        old_path, old_parent_id = session.execute(
            select(OrgUnit.path, OrgUnit.parent_id).where(OrgUnit.id == unit_id)).one()
        session.execute(update(OrgUnit).where(col(OrgUnit.id) == unit_id).values(name=name, parent_id=parent_id)
                        .execution_options(synchronize_session=False))
        if parent_id != old_parent_id:
            parent_path = session.execute(select(OrgUnit.path).where(OrgUnit.id == parent_id)).scalar_one() \
                if parent_id is not None else None
            _rewrite_paths(session, old_path, path_for(parent_path, unit_id))
    if due:
        for loaded in list(session.identity_map.values()):
            if isinstance(loaded, OrgUnit):
                session.expire(loaded, ["name", "parent_id", "path"])
    return bool(due)


def _rewrite_paths(session: Session, old_path: str, new_path: str) -> None:
    """The unit at `old_path` and its whole subtree now start with `new_path`."""
    session.execute(
        update(OrgUnit)
        .where(col(OrgUnit.path).startswith(old_path, autoescape=True))
        .values(path=new_path + func.substr(OrgUnit.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )


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
    latest = _latest_placement(session, unit)
    latest.valid_to = valid_to
    session.add(latest)
    session.flush()
    return unit


def _latest_placement(session: Session, unit: OrgUnit) -> OrgUnitPlacement:
    """The unit's last placement: the one in effect today, or a change dated in the future."""
    placement = session.exec(
        select(OrgUnitPlacement).where(OrgUnitPlacement.unit_id == unit.id)
        .order_by(col(OrgUnitPlacement.valid_from).desc(), col(OrgUnitPlacement.id).desc())
    ).first()
    assert placement is not None, "every unit is created with a placement"
    return placement


def _new_placement(session: Session, unit: OrgUnit, effective: date, *, parent_id: int | None, name: str) -> None:
    """End the latest placement the day before `effective` and start one under `parent_id` named `name`."""
    latest = _latest_placement(session, unit)
    if effective < latest.valid_from:
        raise InvalidInput("effective_date is before the unit's latest change.", field="effective_date")
    if effective == latest.valid_from:
        latest.parent_id, latest.name = parent_id, name
        session.add(latest)
        session.flush()
        return
    latest.valid_to = effective - timedelta(days=1)
    session.add(latest)
    session.add(OrgUnitPlacement(unit_id=unit.id or 0, parent_id=parent_id, name=name,
                                 valid_from=effective, valid_to=unit.valid_to))
    session.flush()


@dataclass(frozen=True)
class ImportResult:
    created: list[OrgUnit]
    extended: list[OrgUnit]
    unchanged: list[str]


def import_units(session: Session, principal: Principal, rows: list[ImportRow], now: datetime,
                 today: date, *, category_seed: Mapping[str, str] = DEFAULT_CATEGORIES) -> ImportResult:
    """All or nothing: the plan is checked whole before the first row is written."""
    units_by_code = {unit.code: unit for unit in session.exec(select(OrgUnit)).all()}
    code_by_id = {unit.id: code for code, unit in units_by_code.items()}
    histories: dict[int, list[ImportPlacement]] = {}
    for placement in session.exec(select(OrgUnitPlacement).order_by(
            col(OrgUnitPlacement.unit_id), col(OrgUnitPlacement.valid_from), col(OrgUnitPlacement.id))).all():
        histories.setdefault(placement.unit_id, []).append(ImportPlacement(
            parent_code=code_by_id.get(placement.parent_id) if placement.parent_id else None,
            name=placement.name, valid_from=placement.valid_from, valid_to=placement.valid_to))
    existing = {
        code: ExistingUnit(code=code, name=unit.name, kind=OrgKind(unit.kind),
                           parent_code=code_by_id.get(unit.parent_id) if unit.parent_id else None,
                           valid_from=unit.valid_from, valid_to=unit.valid_to,
                           placements=tuple(histories.get(unit.id or 0, ())))
        for code, unit in units_by_code.items()
    }
    folded = {code.lower(): code for code in existing}
    for index, row in enumerate(rows):
        if row.code not in existing and row.code.lower() in folded:
            raise Conflict("A stored org unit has this code in other case; codes are unique regardless of case.",
                           field=f"/units/{index}/code")
    plan = plan_import(rows, existing)
    for code in plan.unchanged:  # loading what is already there is still an org change: the same right is needed
        require_manage(principal, units_by_code[code].path)
    index_of = {row.code: index for index, row in enumerate(rows)}

    def require_manage_parents(row: ImportRow) -> None:
        """Saying a unit stood under a parent, at any time, needs the right to change the org there."""
        for placement in row.history():
            parent = units_by_code.get(placement.parent_code) if placement.parent_code else None
            require_manage(principal, parent.path if parent else EVERYWHERE)

    created: list[OrgUnit] = []
    for row in plan.to_create:
        require_manage_parents(row)
        current = _placement_in_effect(row.history(), today)
        parent = units_by_code.get(current.parent_code) if current.parent_code else None
        unit = _insert(session, NewUnit(code=row.code, name=current.name, kind=row.kind,
                                        parent_id=parent.id if parent else None,
                                        valid_from=row.valid_from, valid_to=row.valid_to), parent, now,
                       code_field=f"/units/{index_of[row.code]}/code", category_seed=category_seed,
                       history=_stored_history(row, units_by_code))
        units_by_code[unit.code] = unit
        created.append(unit)
    extended: list[OrgUnit] = []
    for row in plan.to_extend:
        unit = units_by_code[row.code]
        require_manage(principal, unit.path)
        require_manage_parents(row)
        # The file agrees with every stored day (plan_import), so its placements replace the stored ones whole.
        session.execute(delete(OrgUnitPlacement).where(col(OrgUnitPlacement.unit_id) == unit.id))
        session.add_all(_stored_history(row, units_by_code, unit_id=unit.id or 0))
        if unit.kind == OrgKind.administration and row.valid_from < unit.valid_from:
            follow_earlier_first_day(session, unit, row.valid_from, now)
        unit.valid_from, unit.updated_at = row.valid_from, now
        session.add(unit)
        extended.append(unit)
    session.flush()
    # A unit that was not yet valid may now have a placement in effect today: make it the current one.
    apply_due_placements(session, today)
    return ImportResult(created=created, extended=extended, unchanged=plan.unchanged)


def _placement_in_effect(history: tuple[ImportPlacement, ...], today: date) -> ImportPlacement:
    """Where a new unit stands today; before its first day its first placement, after its last day its last
    (so a closed unit's reports stay readable under where it ended)."""
    for placement in history:
        if active_on(placement.valid_from, placement.valid_to, today):
            return placement
    return history[0] if today < history[0].valid_from else history[-1]


def _stored_history(row: ImportRow, units_by_code: dict[str, OrgUnit], *, unit_id: int = 0
                    ) -> list[OrgUnitPlacement]:
    return [OrgUnitPlacement(unit_id=unit_id,
                             parent_id=units_by_code[p.parent_code].id if p.parent_code else None,
                             name=p.name, valid_from=p.valid_from, valid_to=p.valid_to)
            for p in row.history()]


# ---- the org as every request reads it (cached per process: service/caches.py, service/api/deps.py) ----


@dataclass(frozen=True)
class UnitInfo:
    id: int
    code: str
    name: str
    kind: str
    path: str
    valid_from: date
    valid_to: date | None

    def is_active_on(self, day: date) -> bool:
        return active_on(self.valid_from, self.valid_to, day)


@dataclass(frozen=True)
class OrgSnapshot:
    by_id: dict[int, UnitInfo]
    by_code: dict[str, UnitInfo]

    @classmethod
    def load(cls, session: Session) -> OrgSnapshot:
        rows = session.execute(sa_select(col(OrgUnit.id), col(OrgUnit.code), col(OrgUnit.name), col(OrgUnit.kind),
                                         col(OrgUnit.path), col(OrgUnit.valid_from), col(OrgUnit.valid_to))).all()
        units = [UnitInfo(*row) for row in rows]
        return cls(by_id={unit.id: unit for unit in units}, by_code={unit.code: unit for unit in units})
