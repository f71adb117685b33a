"""Who may do what, where (service/domain/access.py): grants on a unit cover its subtree, by path prefix."""

from __future__ import annotations

import pytest

from service.domain.access import (
    EVERYWHERE,
    ROLE_PERMISSIONS,
    Grant,
    Permission,
    Principal,
    Role,
    Scope,
)

P = Permission


def principal(*grants: tuple[Role, str]) -> Principal:
    return Principal("sub-1", "Anna Andersson", tuple(Grant(role, path) for role, path in grants))


# --- Scope ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "paths, roots",
    [
        ({"/1/", "/1/5/", "/1/5/12/", "/2/"}, {"/1/", "/2/"}),
        ({"/1/5/12/", "/1/5/"}, {"/1/5/"}),
        ({"/1/", "/10/"}, {"/1/", "/10/"}),  # "/10/" is not inside "/1/"
        ({EVERYWHERE, "/1/", "/3/4/"}, {EVERYWHERE}),
        (set(), set()),
    ],
)
def test_scope_of_drops_nested_roots(paths, roots):
    assert Scope.of(paths).roots == frozenset(roots)


@pytest.mark.parametrize(
    "roots, path, covered",
    [
        ({"/1/"}, "/1/", True),
        ({"/1/"}, "/1/5/12/", True),
        ({"/1/"}, "/10/", False),
        ({"/1/"}, "/10/5/", False),
        ({"/1/5/"}, "/1/", False),  # a grant on a department does not reach up to its förvaltning
        ({"/1/5/"}, "/1/5/12/", True),  # ... but covers its units
        ({"/1/5/"}, "/1/6/13/", False),  # ... and not a sibling department's units
        ({"/1/5/"}, "/1/50/", False),
        ({EVERYWHERE}, "/7/8/9/", True),
        (set(), "/1/", False),
    ],
)
def test_scope_covers_by_whole_path_segments(roots, path, covered):
    assert Scope.of(roots).covers(path) is covered


def test_scope_is_empty():
    assert Scope.of(set()).is_empty
    assert not Scope.of({"/1/"}).is_empty


# --- Principal.scope and may ---------------------------------------------------------------------

def test_scope_collects_only_grants_whose_role_has_the_permission():
    p = principal((Role.reporter, "/1/5/"), (Role.investigator, "/2/"), (Role.statistics, EVERYWHERE))
    assert p.scope(P.submit_report).roots == {"/1/5/", "/2/"}
    assert p.scope(P.read_case).roots == {"/2/"}
    assert p.scope(P.read_statistics).roots == {EVERYWHERE}
    assert p.scope(P.manage_org).is_empty


def test_statistics_role_never_reads_case_content():
    p = principal((Role.statistics, EVERYWHERE))
    assert p.scope(P.read_case).is_empty
    assert p.may(P.read_statistics, "/1/5/12/")
    assert not p.may(P.read_reporter_identity, "/1/5/12/")


def test_admin_manages_org_but_reads_no_case_and_submits_nothing():
    p = principal((Role.admin, EVERYWHERE))
    assert p.scope(P.read_case).is_empty
    assert p.scope(P.submit_report).is_empty
    assert p.may(P.manage_org, "/1/") and p.may(P.manage_grants, "/1/5/")


def test_reporter_submits_in_subtree_but_never_reads_case():
    p = principal((Role.reporter, "/1/5/"))
    assert p.may(P.submit_report, "/1/5/12/")
    assert not p.may(P.submit_report, "/1/6/13/")
    assert p.scope(P.read_case).is_empty
    assert not p.may(P.read_reporter_identity, "/1/5/12/")


def test_unit_manager_reads_cases_of_own_department_only():
    p = principal((Role.unit_manager, "/1/5/"))
    assert p.may(P.read_case, "/1/5/12/")
    assert not p.may(P.read_case, "/1/6/13/")
    assert not p.may(P.read_case, "/1/")


def test_no_grants_means_no_scope():
    p = principal()
    assert all(p.scope(perm).is_empty for perm in Permission)
    assert not p.is_integration


# --- is_integration, roles_for -------------------------------------------------------------------

@pytest.mark.parametrize(
    "grants, expected",
    [
        (((Role.integration, EVERYWHERE),), True),
        (((Role.reporter, "/1/"), (Role.integration, "/1/")), True),
        (((Role.reporter, "/1/"), (Role.admin, EVERYWHERE)), False),
    ],
)
def test_is_integration(grants, expected):
    assert principal(*grants).is_integration is expected


def test_roles_for_collects_roles_from_ancestors_only():
    p = principal(
        (Role.reporter, "/1/5/"),
        (Role.investigator, "/1/"),
        (Role.auditor, EVERYWHERE),
        (Role.unit_manager, "/1/6/"),  # sibling department
        (Role.dpo, "/10/"),  # prefix-looking but different förvaltning
    )
    assert p.roles_for("/1/5/12/") == {Role.reporter, Role.investigator, Role.auditor}
    assert p.roles_for("/1/") == {Role.investigator, Role.auditor}
    assert p.roles_for("/2/") == {Role.auditor}


# --- the role table ------------------------------------------------------------------------------

@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_a_permission_entry(role):
    assert role in ROLE_PERMISSIONS
    assert ROLE_PERMISSIONS[role], f"{role} grants nothing"
    principal((role, "/1/")).scope(P.read_case)  # must not raise KeyError


CASE_READERS = {Role.unit_manager, Role.investigator, Role.decision_maker, Role.dpo}


@pytest.mark.parametrize("role", list(Role))
def test_only_case_handling_roles_read_case_content_and_reporter_identity(role):
    # docs/domain.md: statistics aggregates only, admin no case content; the reporter's name is shown only to
    # roles that handle the case (§6).
    perms = ROLE_PERMISSIONS[role]
    assert (P.read_case in perms) is (role in CASE_READERS)
    assert (P.read_reporter_identity in perms) is (role in CASE_READERS)
