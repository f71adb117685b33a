"""Role grants: the principal of a request from token claims and stored grants, and grant administration."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, NoReturn

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service import audit
from service.config import Settings
from service.domain.access import EVERYWHERE, Grant, Permission, Principal, Role
from service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.models import OrgUnit, RoleGrant
from service.scope import grants_manageable_by, may_manage_grant
from service.tokens import display_name, is_clean_text

_ROLES = {role.value: role for role in Role}


Source = Literal["service", "token"]


def grants_key(claims: dict[str, Any], source: Source) -> tuple[str, str]:
    """What a principal's grants depend on: the subject, or the token's grants claim."""
    if source == "service":
        return ("service", str(claims["sub"]))
    return ("token", json.dumps(claims.get("grants"), sort_keys=True, default=str))


def load_grants(session: Session, claims: dict[str, Any], source: Source) -> tuple[Grant, ...]:
    if source == "service":
        return tuple(stored_grants(session, str(claims["sub"])))
    return tuple(_claimed_grants(session, claims.get("grants")))


def principal_of(claims: dict[str, Any], grants: tuple[Grant, ...]) -> Principal:
    # service/tokens.py has refused subjects that do not fit the subject columns and cleans the display name.
    return Principal(subject=str(claims["sub"]), display_name=display_name(claims), grants=grants)


def stored_grants(session: Session, subject: str) -> list[Grant]:
    rows = session.exec(
        select(RoleGrant.role, OrgUnit.path)
        .join(OrgUnit, col(RoleGrant.org_unit_id) == col(OrgUnit.id), isouter=True)
        .where(RoleGrant.subject == subject, col(RoleGrant.revoked_at).is_(None))
    ).all()
    return [Grant(_ROLES[role], path or EVERYWHERE) for role, path in rows if role in _ROLES]


def _claimed_grants(session: Session, claim: Any) -> list[Grant]:
    """`grants: [{"role": "investigator", "unit": "<code>" | "*"}]`; anything malformed is ignored."""
    if not isinstance(claim, list):
        return []
    wanted: list[tuple[Role, str]] = []
    for item in claim:
        # A unit no org unit can be named (a NUL, which PostgreSQL refuses in a query) is just unknown.
        if (isinstance(item, dict) and item.get("role") in _ROLES and isinstance(item.get("unit"), str)
                and is_clean_text(item["unit"])):
            wanted.append((_ROLES[item["role"]], item["unit"]))
    paths = _paths_by_code(session, {unit for _, unit in wanted if unit != "*"})
    return [
        Grant(role, EVERYWHERE if unit == "*" else paths[unit])
        for role, unit in wanted
        if unit == "*" or unit in paths
    ]


def _paths_by_code(session: Session, codes: Iterable[str]) -> dict[str, str]:
    codes = list(codes)
    if not codes:
        return {}
    return dict(session.exec(select(OrgUnit.code, OrgUnit.path).where(col(OrgUnit.code).in_(codes))).all())


# ---- administration: who holds which role where (docs/requirements.md L4) ----------------------------
#
# An admin manages grants on units inside the subtrees where they hold manage_grants; grants on '*'
# (every förvaltning) only an admin on '*'. Nobody grants a role to themselves: an admin, who sees no
# case content, could otherwise give themselves a role that does. Grants are never deleted, only
# revoked, so the list shows who could do what at any past moment. Every change is logged.

EVERY_UNIT = "*"
_OUTSIDE = "You may not manage grants on this unit."


@dataclass(frozen=True)
class GrantView:
    grant: RoleGrant
    unit_code: str  # '*' for a grant on every förvaltning


@dataclass(frozen=True)
class GrantPage:
    items: list[GrantView]
    more: bool


def _refuse(session: Session, principal: Principal, action: str, reason: str, told: str | None = None) -> NoReturn:
    """The access log keeps the whole reason; the caller is told `told`, which repeats none of their input."""
    audit.record(session, principal, action, outcome=audit.DENIED, detail=reason)
    raise Forbidden(told or reason)


def list_grants(session: Session, principal: Principal, *, subject: str | None, unit_id: int | None,
                after_id: Callable[[], int] | None, page_size: int) -> GrantPage:
    """Grants, active and revoked, on units the caller administers, in id order.

    `after_id` reads the page cursor (the last id seen); it is called only once the caller may list.
    """
    if principal.scope(Permission.manage_grants).is_empty:
        _refuse(session, principal, "list_grants", "no manage_grants role")
    query = (select(RoleGrant, OrgUnit.code).join(OrgUnit, col(OrgUnit.id) == col(RoleGrant.org_unit_id), isouter=True)
             .where(grants_manageable_by(principal)))
    if subject is not None:
        query = query.where(RoleGrant.subject == subject)
    if unit_id is not None:
        root = session.get(OrgUnit, unit_id)
        if root is None:
            raise InvalidInput("No org unit has this id.", field="unit_id")
        query = query.where(col(OrgUnit.path).startswith(root.path, autoescape=True))
    if after_id is not None:
        query = query.where(col(RoleGrant.id) > after_id())
    rows = session.exec(query.order_by(col(RoleGrant.id)).limit(page_size + 1)).all()
    items = [GrantView(grant, code or EVERY_UNIT) for grant, code in rows[:page_size]]
    audit.record(session, principal, "list_grants", detail=f"{len(items)} grants")
    return GrantPage(items=items, more=len(rows) > page_size)


def check_grants_are_stored_here(settings: Settings) -> None:
    # A grant written where none is read would look like access given (or taken away) and do nothing.
    if settings.grant_source == "token":
        raise Conflict("Roles come from the identity provider's tokens in this deployment (AVV_GRANT_SOURCE=token); "
                       "a grant stored here would have no effect. Change the role in the identity provider.")


def grant_role(session: Session, principal: Principal, subject: str, role: Role, unit_code: str,
               reference: str | None, now: datetime, settings: Settings) -> GrantView:
    """Store a grant of `role` on the unit (or '*') to `subject`, and log it. No commit here."""
    unit = None
    if unit_code != EVERY_UNIT:
        unit = session.exec(select(OrgUnit).where(OrgUnit.code == unit_code)).first()
        if unit is None:
            raise InvalidInput("No org unit has this code.", field="unit_code")
    where = f"{role.value} on {unit_code}"
    if not may_manage_grant(principal, unit.path if unit else None):
        _refuse(session, principal, "grant_role", f"{where}: outside the caller's manage_grants scope", _OUTSIDE)
    if subject == principal.subject:
        _refuse(session, principal, "grant_role", f"{where}: to oneself", "Nobody grants a role to themselves.")
    check_grants_are_stored_here(settings)
    _refuse_held(session, subject, role, unit)
    grant = RoleGrant(subject=subject, role=role.value, org_unit_id=unit.id if unit else None,
                      granted_by=principal.subject, granted_at=now, reference=reference)
    session.add(grant)
    try:
        session.flush()
    except IntegrityError:
        # An identical grant was stored by a request running at the same time; the unique index on active
        # grants refused this one. Nothing of this request is kept; answer as if it had come second.
        session.rollback()
        _refuse_held(session, subject, role, unit)
        raise Conflict("The subject already holds this role there.", field="role") from None
    audit.record(session, principal, "grant_role",
                 detail=f"grant {grant.id}: {where}; reference: {reference or 'none'}")
    return GrantView(grant, unit.code if unit else EVERY_UNIT)


def _refuse_held(session: Session, subject: str, role: Role, unit: OrgUnit | None) -> None:
    held = session.exec(select(RoleGrant.id).where(
        RoleGrant.subject == subject, RoleGrant.role == role.value, col(RoleGrant.revoked_at).is_(None),
        col(RoleGrant.org_unit_id).is_(None) if unit is None else RoleGrant.org_unit_id == unit.id)).first()
    if held is not None:
        raise Conflict(f"The subject already holds this role there (grant {held}).", field="role")


def revoke_role(session: Session, principal: Principal, grant_id: int, now: datetime,
                settings: Settings) -> GrantView:
    """Revoke a grant (it stays, as revoked), and log it. No commit here."""
    row = session.exec(select(RoleGrant, OrgUnit.code, OrgUnit.path)
                       .join(OrgUnit, col(OrgUnit.id) == col(RoleGrant.org_unit_id), isouter=True)
                       .where(RoleGrant.id == grant_id)).first()
    if row is None:
        raise NotFound("No such grant.")
    grant, code, path = row
    where = f"grant {grant_id}: {grant.role} on {code or EVERY_UNIT}"
    if not may_manage_grant(principal, path):
        _refuse(session, principal, "revoke_role", f"{where}: outside the caller's manage_grants scope", _OUTSIDE)
    check_grants_are_stored_here(settings)
    if grant.revoked_at is not None:
        raise Conflict("The grant is already revoked.")
    grant.revoked_at, grant.revoked_by = now, principal.subject
    session.add(grant)
    audit.record(session, principal, "revoke_role", detail=where)
    return GrantView(grant, code or EVERY_UNIT)
