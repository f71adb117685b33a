"""The staff's pages: the report form, its receipt, My reports, the accessibility statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service import audit as core_audit, reports as core_reports
from service.api.deps import CategoriesDep, ClockDep, OrgDep, SessionDep, SettingsDep
from service.api.pagination import decode_cursor, encode_cursor
from service.api.problems import ProblemException
from service.api.reports import new_report
from service.categories import CategoryBook
from service.domain.access import Permission, Principal
from service.domain.errors import DomainError, InvalidInput, NotFound
from service.domain.org import OrgKind
from service.domain.reports import local_date
from service.org_units import OrgSnapshot, UnitInfo
from service.web import report_form
from service.web.render import pages
from service.web.session import BrowserSessionDep, FormDep, WebPrincipalDep, WebRefusal

router = APIRouter(include_in_schema=False)

MY_REPORTS_PAGE = 25


@dataclass(frozen=True)
class UnitChoice:
    code: str
    name: str
    group: str  # the avdelning's name, or "Dina enheter"


def unit_choices(org: OrgSnapshot, principal: Principal, day: date, recent: list[int]) -> list[UnitChoice]:
    """The enheter the caller may report for that are active on `day`: their own first (those their grants
    name at avdelning or enhet level, and those of their latest reports), then the rest by avdelning."""
    allowed = [unit for unit in org.by_id.values()
               if unit.kind == OrgKind.unit and unit.is_active_on(day)
               and principal.may(Permission.submit_report, unit.path)]
    # A grant on an avdelning ("/1/2/") or an enhet ("/1/2/3/") names where the person works.
    narrow = [grant.unit_path for grant in principal.grants if grant.unit_path.count("/") >= 3]
    own_ids = set(recent) | {unit.id for unit in allowed if any(unit.path.startswith(path) for path in narrow)}

    def department(unit: UnitInfo) -> str:
        parent_id = int(unit.path.strip("/").split("/")[-2]) if unit.path.count("/") >= 3 else None
        parent = org.by_id.get(parent_id) if parent_id is not None else None
        return parent.name if parent else "Övriga enheter"

    own = sorted((unit for unit in allowed if unit.id in own_ids), key=lambda unit: unit.name.casefold())
    rest = sorted((unit for unit in allowed if unit.id not in own_ids),
                  key=lambda unit: (department(unit).casefold(), unit.name.casefold()))
    return ([UnitChoice(unit.code, unit.name, "Dina enheter") for unit in own]
            + [UnitChoice(unit.code, unit.name, department(unit)) for unit in rest])


def category_choices(book: CategoryBook, org: OrgSnapshot, choices: list[UnitChoice], day: date) -> dict[str, str]:
    """Code → Swedish label of the categories in use `day` in the förvaltningar of the enheter offered (most people
    report for one förvaltning; for several, a code appears once, and the report is checked against its enhet's)."""
    offered: dict[str, str] = {}
    for administration_id in dict.fromkeys(int(org.by_code[choice.code].path.split("/")[1]) for choice in choices):
        for category in book.of(administration_id):
            if category.is_valid_on(day):
                offered.setdefault(category.code, category.label_sv)
    return offered


def _grouped(choices: list[UnitChoice]) -> list[tuple[str, list[UnitChoice]]]:
    groups: dict[str, list[UnitChoice]] = {}
    for choice in choices:
        groups.setdefault(choice.group, []).append(choice)
    return list(groups.items())


def _form_page(request: Request, *, principal: Principal, org: OrgSnapshot, categories: CategoryBook,
               session: SessionDep, now: datetime, settings: SettingsDep, values: dict[str, str],
               errors: dict[str, str], status: int) -> HTMLResponse:
    day = local_date(now, settings.time_zone)
    choices = unit_choices(org, principal, day, core_reports.recent_unit_ids(session, principal.subject))
    return pages(request).render(
        request, "rapportera.html", status_code=status, values=values, errors=errors,
        error_links=report_form.FIELDS, unit_groups=_grouped(choices),
        categories=category_choices(categories, org, choices, day),
        may_report=bool(choices))


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/rapportera", status_code=303)


@router.get("/rapportera", response_class=HTMLResponse)
def report_page(request: Request, principal: WebPrincipalDep, org: OrgDep, categories: CategoriesDep,
                session: SessionDep, clock: ClockDep, settings: SettingsDep) -> HTMLResponse:
    now = clock()
    values = report_form.defaults(now, settings.time_zone, uuid.uuid4().hex)
    return _form_page(request, principal=principal, org=org, categories=categories, session=session, now=now,
                      settings=settings, values=values, errors={}, status=200)


@router.post("/rapportera", response_class=HTMLResponse)
def submit(request: Request, form: FormDep, principal: WebPrincipalDep, org: OrgDep, categories: CategoriesDep,
           session: SessionDep, clock: ClockDep, settings: SettingsDep) -> Response:
    now = clock()
    result = report_form.check(report_form.read(form), principal=principal, org=org, categories=categories,
                               settings=settings, now=now)
    if result.refused:  # found before the use case ran: logged as the use case logs it
        core_audit.record(session, principal, "submit_report", outcome=core_audit.DENIED, detail="enhet outside grants")
        session.commit()
    if result.body is not None:
        try:
            stored = core_reports.submit_report(session, principal, new_report(result.body), now, settings, org,
                                                categories)
            session.commit()
        except DomainError as exc:  # a rule the use case found (the authority), or a lost race
            session.rollback()  # writes the refusal's access record, nothing else
            report_form.add_domain_error(result, exc)
        else:
            return RedirectResponse(f"/rapportera/kvitto/{stored.report.id}", status_code=303)
    return _form_page(request, principal=principal, org=org, categories=categories, session=session, now=now,
                      settings=settings, values=result.values, errors=result.ordered(), status=422)


@router.get("/rapportera/kvitto/{report_id}", response_class=HTMLResponse)
def receipt(request: Request, report_id: uuid.UUID, principal: WebPrincipalDep, session: SessionDep) -> HTMLResponse:
    try:
        view = core_reports.get_report(session, principal, report_id)
    except NotFound:
        raise WebRefusal(404, "Rapporten finns inte",
                         "Vi hittar ingen rapport med den adressen som du kan se.") from None
    if view.report.reporter_subject != principal.subject:  # a receipt is the reporter's own
        raise WebRefusal(404, "Rapporten finns inte", "Vi hittar ingen rapport med den adressen som du kan se.")
    return pages(request).render(request, "kvitto.html", report=view.report, units=view.units)


@router.get("/mina-rapporter", response_class=HTMLResponse)
def my_reports(request: Request, principal: WebPrincipalDep, session: SessionDep, settings: SettingsDep,
               fran: Annotated[str | None, Query(max_length=512)] = None) -> HTMLResponse:
    secret = settings.cursor_secret.get_secret_value()
    try:
        after = decode_cursor(secret, fran) if fran else None
    except ProblemException:  # a forged or stale link: start from the newest
        after = None
    try:
        page = core_reports.list_reports(session, principal, core_reports.ReportFilter(own_only=True),
                                    limit=MY_REPORTS_PAGE, after=after, time_zone=settings.time_zone)
    except InvalidInput:
        raise WebRefusal(400, "Listan kunde inte visas", "Börja om från Mina rapporter.") from None
    more = encode_cursor(secret, *page.last_key) if page.last_key else None
    return pages(request).render(request, "mina_rapporter.html", items=page.items, more=more)


@router.get("/tillganglighet", response_class=HTMLResponse)
def accessibility(request: Request, current: BrowserSessionDep) -> HTMLResponse:
    return pages(request).render(request, "tillganglighet.html")
