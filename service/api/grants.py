"""/api/v1/grants: who holds which role where; given and taken back by admins, every change logged (R-F6).

An admin manages grants on units inside the subtrees where they hold manage_grants; grants on '*'
(every förvaltning) only an admin on '*'. Nobody grants a role to themselves: an admin, who sees no
case content, could otherwise give themselves a role that does. Grants are never deleted, only
revoked, so the list shows who could do what at any past moment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, or_, true
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from service import audit
from service.api.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep, after_commit
from service.api.pagination import decode_id_cursor, encode_id_cursor
from service.api.problems import problem_responses
from service.api.types import BoundedText, Input, RowId
from service.config import Settings
from service.domain.access import EVERYWHERE, Permission, Principal, Role
from service.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.models import OrgUnit, RoleGrant

router = APIRouter(prefix="/grants", tags=["access"])

EVERY_UNIT = "*"


class GrantCreate(Input):
    subject: str = Field(min_length=1, max_length=255, description="The person's or client's id (token `sub`).")
    role: Role
    unit_code: str = Field(min_length=1, max_length=32, description="Org unit code, or '*' for every förvaltning.")
    reference: BoundedText(200, min_length=1) | None = Field(  # type: ignore[valid-type]
        default=None, description="Reference to the behovs- och riskanalys the grant rests on.")


class GrantRead(BaseModel):
    id: int
    subject: str
    role: str
    unit_id: int | None = Field(description="Null for a grant on every förvaltning.")
    unit_code: str = Field(description="'*' for a grant on every förvaltning.")
    reference: str | None
    granted_at: datetime
    granted_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    active: bool


class GrantPage(BaseModel):
    items: list[GrantRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def _read(grant: RoleGrant, unit_code: str | None) -> GrantRead:
    assert grant.id is not None
    return GrantRead(id=grant.id, subject=grant.subject, role=grant.role, unit_id=grant.org_unit_id,
                     unit_code=unit_code or EVERY_UNIT, reference=grant.reference, granted_at=grant.granted_at,
                     granted_by=grant.granted_by, revoked_at=grant.revoked_at, revoked_by=grant.revoked_by,
                     active=grant.revoked_at is None)


def _refuse(session: Session, principal: Principal, action: str, reason: str, told: str | None = None) -> NoReturn:
    """The access log keeps the whole reason; the caller is told `told`, which repeats none of their input."""
    audit.record(session, principal, action, outcome=audit.DENIED, detail=reason)
    raise Forbidden(told or reason)


_OUTSIDE = "You may not manage grants on this unit."


def _may_manage(principal: Principal, unit_path: str | None) -> bool:
    return principal.may(Permission.manage_grants, unit_path or EVERYWHERE)


def _manageable(principal: Principal) -> ColumnElement[bool]:
    roots = principal.scope(Permission.manage_grants).roots
    if EVERYWHERE in roots:
        return true()
    return or_(*(col(OrgUnit.path).startswith(root, autoescape=True) for root in sorted(roots)))


def _changed(request: Request) -> None:
    """Once the change is committed this process sees it at once; other instances within AVV_GRANT_CACHE_SECONDS."""
    after_commit(request, request.app.state.grant_cache.clear)


@router.get("", summary="Grants, active and revoked, on units the caller administers", responses=problem_responses(403))
def list_grants(
    session: SessionDep, principal: PrincipalDep, settings: SettingsDep,
    subject: Annotated[str | None, Query(max_length=255, description="Only this subject's grants.")] = None,
    unit_id: Annotated[RowId | None, Query(description="Only grants on this unit or inside its subtree.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size; capped by the server's maximum.")] = None,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
) -> GrantPage:
    if principal.scope(Permission.manage_grants).is_empty:
        _refuse(session, principal, "list_grants", "no manage_grants role")
    secret = settings.cursor_secret.get_secret_value()
    page_size = min(limit or settings.default_page_size, settings.max_page_size)
    query = (select(RoleGrant, OrgUnit.code).join(OrgUnit, col(OrgUnit.id) == col(RoleGrant.org_unit_id), isouter=True)
             .where(_manageable(principal)))
    if subject is not None:
        query = query.where(RoleGrant.subject == subject)
    if unit_id is not None:
        root = session.get(OrgUnit, unit_id)
        if root is None:
            raise InvalidInput("No org unit has this id.", field="unit_id")
        query = query.where(col(OrgUnit.path).startswith(root.path, autoescape=True))
    if cursor:
        query = query.where(col(RoleGrant.id) > decode_id_cursor(secret, cursor))
    rows = session.exec(query.order_by(col(RoleGrant.id)).limit(page_size + 1)).all()
    more = len(rows) > page_size
    items = [_read(grant, code) for grant, code in rows[:page_size]]
    audit.record(session, principal, "list_grants", detail=f"{len(items)} grants")
    return GrantPage(items=items, next_cursor=encode_id_cursor(secret, items[-1].id) if more else None)


def _check_grants_are_stored_here(settings: Settings) -> None:
    # A grant written where none is read would look like access given (or taken away) and do nothing.
    if settings.grant_source == "token":
        raise Conflict("Roles come from the identity provider's tokens in this deployment (AVV_GRANT_SOURCE=token); "
                       "a grant stored here would have no effect. Change the role in the identity provider.")


@router.post("", status_code=status.HTTP_201_CREATED, summary="Grant a role on a unit (or '*')",
             responses=problem_responses(403, 409))
def grant_role(body: GrantCreate, request: Request, response: Response, session: SessionDep,
               principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> GrantRead:
    unit = None
    if body.unit_code != EVERY_UNIT:
        unit = session.exec(select(OrgUnit).where(OrgUnit.code == body.unit_code)).first()
        if unit is None:
            raise InvalidInput("No org unit has this code.", field="unit_code")
    where = f"{body.role.value} on {body.unit_code}"
    if not _may_manage(principal, unit.path if unit else None):
        _refuse(session, principal, "grant_role", f"{where}: outside the caller's manage_grants scope", _OUTSIDE)
    if body.subject == principal.subject:
        _refuse(session, principal, "grant_role", f"{where}: to oneself", "Nobody grants a role to themselves.")
    _check_grants_are_stored_here(settings)
    _refuse_held(session, body.subject, body.role, unit)
    grant = RoleGrant(subject=body.subject, role=body.role.value, org_unit_id=unit.id if unit else None,
                      granted_by=principal.subject, granted_at=clock(), reference=body.reference)
    session.add(grant)
    try:
        session.flush()
    except IntegrityError:
        # An identical grant was stored by a request running at the same time; the unique index on active
        # grants refused this one. Nothing of this request is kept; answer as if it had come second.
        session.rollback()
        _refuse_held(session, body.subject, body.role, unit)
        raise Conflict("The subject already holds this role there.", field="role") from None
    audit.record(session, principal, "grant_role",
                 detail=f"grant {grant.id}: {where}; reference: {body.reference or 'none'}")
    _changed(request)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{grant.id}"
    return _read(grant, unit.code if unit else None)


def _refuse_held(session: Session, subject: str, role: Role, unit: OrgUnit | None) -> None:
    held = session.exec(select(RoleGrant.id).where(
        RoleGrant.subject == subject, RoleGrant.role == role.value, col(RoleGrant.revoked_at).is_(None),
        col(RoleGrant.org_unit_id).is_(None) if unit is None else RoleGrant.org_unit_id == unit.id)).first()
    if held is not None:
        raise Conflict(f"The subject already holds this role there (grant {held}).", field="role")


@router.post("/{grant_id}/revoke", summary="Revoke a grant; it stays listed as revoked",
             responses=problem_responses(403, 404, 409))
def revoke_role(grant_id: RowId, request: Request, session: SessionDep, principal: PrincipalDep,
                clock: ClockDep, settings: SettingsDep) -> GrantRead:
    row = session.exec(select(RoleGrant, OrgUnit.code, OrgUnit.path)
                       .join(OrgUnit, col(OrgUnit.id) == col(RoleGrant.org_unit_id), isouter=True)
                       .where(RoleGrant.id == grant_id)).first()
    if row is None:
        raise NotFound("No such grant.")
    grant, code, path = row
    where = f"grant {grant_id}: {grant.role} on {code or EVERY_UNIT}"
    if not _may_manage(principal, path):
        _refuse(session, principal, "revoke_role", f"{where}: outside the caller's manage_grants scope", _OUTSIDE)
    _check_grants_are_stored_here(settings)
    if grant.revoked_at is not None:
        raise Conflict("The grant is already revoked.")
    grant.revoked_at, grant.revoked_by = clock(), principal.subject
    session.add(grant)
    audit.record(session, principal, "revoke_role", detail=where)
    _changed(request)
    return _read(grant, code)
