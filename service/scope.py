"""The secrecy boundary: every "which rows may this principal see" statement, and nothing else.

Case content is secret. Every read is scoped in its query to what the caller may see, and the
conditions that do the scoping live here, so that there is one place to read (and to review) who
sees what. A scope (service.domain.access.Scope) is a set of org subtrees, by path; the conditions
below turn it into SQL. Routers hold none of these: they call use cases, which start from these.

- reports_within: reports with at least one enhet in the scope (case reads, steps, links, deadlines);
- readable_by: what a report read starts from (case scope, or the caller's own submissions);
- audit_records_within: what an auditor sees of the access log;
- log_reviews_visible_to: which recorded log reviews an auditor sees;
- grants_manageable_by, may_manage_grant: which role grants an admin sees, gives and takes back;
- statistics_unit_id, may_read_statistics: which org subtree statistics are for, and whether the caller
  may read aggregates for it;
- categories_visible_to, administration_ids_of, may_manage_categories: whose report categories a caller
  lists (those of the förvaltningar where they hold any role), and who changes them.
"""

from __future__ import annotations

from sqlalchemy import BindParameter, ColumnElement, exists, false, or_, true
from sqlmodel import col, select

from service.domain.access import EVERYWHERE, Permission, Principal, Scope
from service.domain.errors import InvalidInput
from service.models import AuditRecord, LogReview, OrgUnit, Report, ReportCategory, ReportUnit


def _under(path_column: str, roots: frozenset[str] | set[str]) -> ColumnElement[bool]:
    """The org path (a model's path column, which a type checker sees as its value) lies in one of the subtrees."""
    return or_(*(col(path_column).startswith(root, autoescape=True) for root in sorted(roots)))


def reports_within(scope: Scope, *, probe_per_report: bool = False) -> ColumnElement[bool]:
    """Reports with at least one enhet inside one of the scope's subtrees.

    `probe_per_report`: look up each candidate report's enheter by its key, never first collect every report
    in the scope. For a condition the planner cannot turn into a join (one OR-ed with others), PostgreSQL
    otherwise hashes the whole scope's (report, enhet) pairs up front, however few rows the query then
    wants: at 100 000 reports a page of 50 of the newest took ~300 ms that way (bench/README.md, "Reads").
    OFFSET 0 is the usual way to keep a subquery as it is written; SQLite probes per row either way.
    """
    if scope.is_empty:
        return false()
    enheter = select(col(ReportUnit.report_id)).join(OrgUnit, col(OrgUnit.id) == col(ReportUnit.unit_id)).where(
        col(ReportUnit.report_id) == col(Report.id), _under(OrgUnit.path, scope.roots),
    )
    if probe_per_report:
        enheter = enheter.offset(0)
    # Correlated to the report only: its own enheter, also where the outer query joins enheter of its own.
    return exists(enheter.correlate(Report))


def readable_by(case_scope: Scope, subject: str | BindParameter[str]) -> ColumnElement[bool]:
    """The one filter every report read starts from: the caller's case scope (their read_case scope), or
    their own submissions. The subject may be a bind parameter, so that a statement built once per scope
    serves every caller with that scope (service/reports.py get_report)."""
    return or_(
        reports_within(case_scope, probe_per_report=True),
        col(Report.reporter_subject) == subject,
        col(Report.submitted_by) == subject,
    )


def readable_cases(principal: Principal) -> ColumnElement[bool]:
    """Cases the caller handles: the case scope alone (a reporter's own submission is not a case to them)."""
    return reports_within(principal.scope(Permission.read_case))


def audit_records_within(scope: Scope) -> ColumnElement[bool]:
    """Access records an auditor with this scope sees: on '*' every record; on a unit, those about reports
    that concern an enhet in its subtree, and none about no report (grants, the log itself)."""
    if EVERYWHERE in scope.roots:
        return true()
    return exists().where(
        col(ReportUnit.report_id) == col(AuditRecord.report_id),
        col(OrgUnit.id) == col(ReportUnit.unit_id),
        _under(OrgUnit.path, scope.roots),
    )


def log_reviews_visible_to(principal: Principal, scope: Scope) -> ColumnElement[bool]:
    """Log reviews: an auditor on '*' sees all, others their own."""
    if EVERYWHERE in scope.roots:
        return true()
    return col(LogReview.reviewer_subject) == principal.subject


def grants_manageable_by(principal: Principal) -> ColumnElement[bool]:
    """Grants on units (joined as OrgUnit, outer) inside the caller's manage_grants subtrees; all on '*'."""
    roots = principal.scope(Permission.manage_grants).roots
    if EVERYWHERE in roots:
        return true()
    return _under(OrgUnit.path, roots)


def may_manage_grant(principal: Principal, unit_path: str | None) -> bool:
    """A grant on this unit (None: on every förvaltning) is the caller's to give or take back."""
    return principal.may(Permission.manage_grants, unit_path or EVERYWHERE)


def statistics_unit_id(principal: Principal, unit_id: int | None) -> int:
    """The org unit statistics are asked for: the one named, or the caller's only statistics subtree."""
    if unit_id is not None:
        return unit_id
    roots = [root for root in principal.scope(Permission.read_statistics).roots if root != "/"]
    if len(roots) != 1:
        raise InvalidInput("Name the org unit (unit_id) the statistics are for.", field="unit_id")
    return int(roots[0].strip("/").split("/")[-1])


def may_read_statistics(principal: Principal, root: OrgUnit) -> bool:
    """Aggregates for a subtree: only inside the caller's statistics scope."""
    return principal.scope(Permission.read_statistics).covers(root.path)


def administration_ids_of(principal: Principal) -> set[int] | None:
    """The förvaltningar (by id) where the caller holds any role; None: every förvaltning (a grant on '*')."""
    ids: set[int] = set()
    for grant in principal.grants:
        if grant.unit_path == EVERYWHERE:
            return None
        ids.add(int(grant.unit_path.strip("/").split("/")[0]))
    return ids


def categories_visible_to(principal: Principal) -> ColumnElement[bool]:
    """Report categories are reference data, not secret; a caller lists those of their own förvaltningar."""
    ids = administration_ids_of(principal)
    if ids is None:
        return true()
    return col(ReportCategory.administration_id).in_(sorted(ids)) if ids else false()


def may_manage_categories(principal: Principal, administration: OrgUnit) -> bool:
    """A förvaltning's categories are its whole list: changed only with manage_org on the förvaltning itself."""
    return principal.may(Permission.manage_org, administration.path)
