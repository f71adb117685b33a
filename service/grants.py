"""Builds the principal of a request from token claims and the grants the service stores."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

from sqlmodel import Session, col, select

from service.domain.access import EVERYWHERE, Grant, Principal, Role
from service.models import OrgUnit, RoleGrant
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
