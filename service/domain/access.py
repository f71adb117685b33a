"""Who may do what, where: roles granted on org units apply to the unit's whole subtree (docs/domain.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property


class Role(StrEnum):
    reporter = "reporter"
    unit_manager = "unit_manager"
    investigator = "investigator"
    decision_maker = "decision_maker"
    dpo = "dpo"
    statistics = "statistics"
    auditor = "auditor"
    admin = "admin"
    integration = "integration"


class Permission(StrEnum):
    submit_report = "submit_report"
    read_case = "read_case"  # case content: description, assessment, investigation, timeline
    read_reporter_identity = "read_reporter_identity"
    # State when a report reached the organisation outside the service (paper, phone, in person)
    register_late_report = "register_late_report"
    assess = "assess"
    investigate = "investigate"
    manage_actions = "manage_actions"
    draft_notification = "draft_notification"
    send_ivo_notification = "send_ivo_notification"  # decide and send, on delegation
    send_imy_notification = "send_imy_notification"
    follow_up = "follow_up"
    close_case = "close_case"
    reopen_case = "reopen_case"
    read_statistics = "read_statistics"
    read_audit_log = "read_audit_log"
    manage_org = "manage_org"
    manage_grants = "manage_grants"


_P = Permission
_HANDLING = frozenset({_P.submit_report, _P.read_case, _P.read_reporter_identity, _P.read_statistics,
                       _P.register_late_report})
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.reporter: frozenset({_P.submit_report}),
    Role.unit_manager: _HANDLING | {_P.assess, _P.investigate, _P.manage_actions, _P.follow_up, _P.close_case},
    Role.investigator: _HANDLING | {_P.assess, _P.investigate, _P.manage_actions, _P.draft_notification,
                                    _P.follow_up, _P.close_case, _P.reopen_case},
    Role.decision_maker: _HANDLING | {_P.draft_notification, _P.send_ivo_notification, _P.send_imy_notification,
                                      _P.close_case, _P.reopen_case},
    Role.dpo: _HANDLING | {_P.draft_notification, _P.send_imy_notification},
    Role.statistics: frozenset({_P.read_statistics}),
    Role.auditor: frozenset({_P.read_audit_log}),
    Role.admin: frozenset({_P.manage_org, _P.manage_grants}),
    Role.integration: frozenset({_P.submit_report}),
}

EVERYWHERE = "/"  # the path of a grant that covers every förvaltning


@dataclass(frozen=True)
class Grant:
    role: Role
    unit_path: str  # materialised path of the unit the grant is on, or EVERYWHERE


@dataclass(frozen=True)
class Principal:
    subject: str
    display_name: str
    grants: tuple[Grant, ...]

    @cached_property
    def is_integration(self) -> bool:
        return any(grant.role is Role.integration for grant in self.grants)

    def scope(self, permission: Permission) -> Scope:
        paths = {grant.unit_path for grant in self.grants if permission in ROLE_PERMISSIONS[grant.role]}
        return Scope.of(paths)

    def may(self, permission: Permission, unit_path: str) -> bool:
        return self.scope(permission).covers(unit_path)

    def roles_for(self, unit_path: str) -> frozenset[Role]:
        return frozenset(grant.role for grant in self.grants if unit_path.startswith(grant.unit_path))


@dataclass(frozen=True)
class Scope:
    """The subtrees (by root path) where a permission holds; no root lies inside another."""

    roots: frozenset[str]

    @classmethod
    def of(cls, paths: set[str]) -> Scope:
        roots = {p for p in paths if not any(p != other and p.startswith(other) for other in paths)}
        return cls(frozenset(roots))

    @property
    def is_empty(self) -> bool:
        return not self.roots

    def covers(self, unit_path: str) -> bool:
        return unit_path.startswith(tuple(self.roots))  # one call, not a generator: listings ask per report
