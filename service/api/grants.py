"""/api/v1/grants: who holds which role where; given and taken back by admins, every change logged
(docs/requirements.md L4).

The rules (who may manage which grants, nobody grants to themselves, grants are revoked, never deleted)
are the use cases' in service/grants.py; this router maps HTTP to them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from service import grants as core_grants
from service.api.deps import (
    ClockDep,
    CommittingRoute,
    PrincipalDep,
    ReadingSessionDep,
    SessionDep,
    SettingsDep,
    after_commit,
)
from service.api.pagination import decode_id_cursor, encode_id_cursor
from service.api.problems import problem_responses
from service.api.types import Input, NonBlankText200, RowId
from service.domain.access import Role

router = APIRouter(route_class=CommittingRoute, prefix="/grants", tags=["access"])

EVERY_UNIT = core_grants.EVERY_UNIT


class GrantCreate(Input):
    subject: str = Field(min_length=1, max_length=255, description="The person's or client's id (token `sub`).")
    role: Role
    unit_code: str = Field(min_length=1, max_length=32, description="Org unit code, or '*' for every förvaltning.")
    reference: NonBlankText200 | None = Field(
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


def _read(view: core_grants.GrantView) -> GrantRead:
    grant = view.grant
    assert grant.id is not None
    return GrantRead(id=grant.id, subject=grant.subject, role=grant.role, unit_id=grant.org_unit_id,
                     unit_code=view.unit_code, reference=grant.reference, granted_at=grant.granted_at,
                     granted_by=grant.granted_by, revoked_at=grant.revoked_at, revoked_by=grant.revoked_by,
                     active=grant.revoked_at is None)


def _changed(request: Request) -> None:
    """Once the change is committed this process sees it at once; other instances on PostgreSQL as soon as
    the transaction's notice reaches them (service/cache_signal.py), else within AVV_GRANT_CACHE_SECONDS."""
    after_commit(request, request.app.state.grant_cache.clear)


@router.get("", summary="Grants, active and revoked, on units the caller administers", responses=problem_responses(403))
def list_grants(
    session: ReadingSessionDep, principal: PrincipalDep, settings: SettingsDep,
    subject: Annotated[str | None, Query(max_length=255, description="Only this subject's grants.")] = None,
    unit_id: Annotated[RowId | None, Query(description="Only grants on this unit or inside its subtree.")] = None,
    limit: Annotated[int | None, Query(ge=1, description="Page size; capped by the server's maximum.")] = None,
    cursor: Annotated[str | None, Query(max_length=128)] = None,
) -> GrantPage:
    secret = settings.cursor_secret.get_secret_value()
    page_size = min(limit or settings.default_page_size, settings.max_page_size)
    page = core_grants.list_grants(session, principal, subject=subject, unit_id=unit_id,
                                   after_id=(lambda: decode_id_cursor(secret, cursor)) if cursor else None,
                                   page_size=page_size)
    items = [_read(view) for view in page.items]
    return GrantPage(items=items, next_cursor=encode_id_cursor(secret, items[-1].id) if page.more else None)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Grant a role on a unit (or '*')",
             responses=problem_responses(403, 409))
def grant_role(body: GrantCreate, request: Request, response: Response, session: SessionDep,
               principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> GrantRead:
    view = core_grants.grant_role(session, principal, body.subject, body.role, body.unit_code, body.reference,
                                  clock(), settings)
    _changed(request)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{view.grant.id}"
    return _read(view)


@router.post("/{grant_id}/revoke", summary="Revoke a grant; it stays listed as revoked",
             responses=problem_responses(403, 404, 409))
def revoke_role(grant_id: RowId, request: Request, session: SessionDep, principal: PrincipalDep,
                clock: ClockDep, settings: SettingsDep) -> GrantRead:
    view = core_grants.revoke_role(session, principal, grant_id, clock(), settings)
    _changed(request)
    return _read(view)
