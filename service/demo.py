"""A demo organisation and demo users, for trying the service on the embedded database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime

from sqlmodel import Session, col, select

from service.config import DEFAULT_CATEGORIES
from service.domain.access import EVERYWHERE, Grant, Principal, Role
from service.domain.org import OrgKind
from service.domain.org_import import ImportRow
from service.models import OrgUnit, RoleGrant
from service.org_units import import_units

DEMO_FROM = date(2020, 1, 1)

DEMO_ORGANISATION: list[tuple[str, str, OrgKind, str | None]] = [
    ("SOC", "Socialförvaltningen", OrgKind.administration, None),
    ("SOC-ALD", "Äldreomsorg", OrgKind.department, "SOC"),
    ("SOC-ALD-1", "Hemtjänst Centrum", OrgKind.unit, "SOC-ALD"),
    ("SOC-ALD-2", "Hemtjänst Norr", OrgKind.unit, "SOC-ALD"),
    ("SOC-ALD-3", "Särskilt boende Björken", OrgKind.unit, "SOC-ALD"),
    ("SOC-ALD-4", "Korttidsboende Linden", OrgKind.unit, "SOC-ALD"),
    ("SOC-FUN", "Funktionsstöd", OrgKind.department, "SOC"),
    ("SOC-FUN-1", "Gruppbostad Solrosen", OrgKind.unit, "SOC-FUN"),
    ("SOC-FUN-2", "Daglig verksamhet Verkstan", OrgKind.unit, "SOC-FUN"),
    ("SOC-FUN-3", "Personlig assistans", OrgKind.unit, "SOC-FUN"),
    ("SOC-FUN-4", "Boendestöd", OrgKind.unit, "SOC-FUN"),
    ("SOC-IFO", "Individ- och familjeomsorg", OrgKind.department, "SOC"),
    ("SOC-IFO-1", "Barn och unga", OrgKind.unit, "SOC-IFO"),
    ("SOC-IFO-2", "Ekonomiskt bistånd", OrgKind.unit, "SOC-IFO"),
    ("SOC-IFO-3", "Vuxen och beroende", OrgKind.unit, "SOC-IFO"),
    ("SOC-IFO-4", "Familjerätt", OrgKind.unit, "SOC-IFO"),
]

# Where each demo role is granted: the whole förvaltning, one enhet, or everywhere.
DEMO_GRANT_UNIT: dict[Role, str] = {
    Role.reporter: "SOC",
    Role.unit_manager: "SOC-ALD-1",
    Role.investigator: "SOC",
    Role.decision_maker: "SOC",
    Role.dpo: "SOC",
    Role.statistics: "SOC",
    Role.auditor: "*",
    Role.admin: "*",
    Role.integration: "SOC",
}

_SYSTEM = Principal(subject="system:demo", display_name="Demo set-up", grants=(Grant(Role.admin, EVERYWHERE),))


def load_demo_organisation(session: Session, now: datetime,
                           category_seed: Mapping[str, str] = DEFAULT_CATEGORIES) -> int:
    """The demo organisation; its förvaltning starts with `category_seed` (AVV_REPORT_CATEGORIES) as any new one."""
    rows = [ImportRow(code=code, name=name, kind=kind, parent_code=parent, valid_from=DEMO_FROM)
            for code, name, kind, parent in DEMO_ORGANISATION]
    # The demo units have one placement each, from a day long past: which calendar day `now` falls on is moot.
    return len(import_units(session, _SYSTEM, rows, now, now.date(), category_seed=category_seed).created)


def ensure_grant(session: Session, subject: str, role: Role, unit_code: str, now: datetime, *,
                 granted_by: str) -> None:
    """Store the grant unless the subject already holds that role on that unit ("*": everywhere)."""
    unit_id = None
    if unit_code != "*":
        unit_id = session.exec(select(OrgUnit.id).where(OrgUnit.code == unit_code)).first()
        if unit_id is None:
            raise ValueError(f"no org unit with code {unit_code!r}")
    held = session.exec(select(RoleGrant.id).where(
        RoleGrant.subject == subject, RoleGrant.role == role.value, col(RoleGrant.revoked_at).is_(None),
        col(RoleGrant.org_unit_id).is_(None) if unit_id is None else RoleGrant.org_unit_id == unit_id,
    )).first()
    if held is None:
        session.add(RoleGrant(subject=subject, role=role.value, org_unit_id=unit_id, granted_by=granted_by,
                              granted_at=now))
        session.flush()
