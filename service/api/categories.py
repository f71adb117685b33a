"""/api/v1/report-categories: each förvaltning's report categories, read by everyone signed in, changed by admins.

The rules (codes never reused, reserved not_stated, retiring not before the last report that has it) are in
service/domain/categories.py, the use cases in service/categories.py; this router maps HTTP to them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field

from service import categories as core_categories
from service.api.deps import (
    ClockDep,
    CommittingRoute,
    PrincipalDep,
    ReadingSessionDep,
    SessionDep,
    SettingsDep,
    categories_changed,
)
from service.api.problems import problem_responses
from service.api.types import Day, Input, Name, RowId
from service.domain import org as org_rules
from service.domain.reports import local_date

router = APIRouter(route_class=CommittingRoute, prefix="/report-categories", tags=["reference data"])


class Category(BaseModel):
    id: int
    code: str = Field(examples=["medication"])
    label_sv: str = Field(examples=["Läkemedel"])
    label_en: str = Field(examples=["Medication"])
    valid_from: date
    valid_to: date | None = Field(description="The last day it may be given to a report; null: still in use.")
    administration_id: int = Field(description="The förvaltning whose category it is.")
    administration_code: str = Field(examples=["SOC"])


class CategoryCreate(Input):
    administration_id: RowId = Field(description="The förvaltning (org unit of kind administration).")
    code: str = Field(min_length=1, max_length=32, json_schema_extra={"pattern": org_rules.CODE_PATTERN.pattern},
                      description="Unique in the förvaltning regardless of case, never reused; `not_stated` is "
                                  f"reserved. {org_rules.CODE_RULE}")
    label_sv: Name
    label_en: Name | None = Field(default=None, description="Defaults to the Swedish label.")
    valid_from: Day | None = Field(default=None, description="Defaults to today; earlier for reports of the past.")
    valid_to: Day | None = Field(default=None, description="A category of the past (for imports): its last day.")


class CategoryChange(Input):
    label_sv: Name | None = None
    label_en: Name | None = None
    valid_from: Day | None = Field(default=None, description=(
        "A new first day: not after the first report that has the category (earlier, to take in reports of "
        "the past)."))


class CategoryRetire(Input):
    valid_to: Day = Field(description="The last day the category may be given; reports received later are "
                                      "refused it, earlier ones keep it. Not before the last report that has it.")


def _read(view: core_categories.CategoryView) -> Category:
    category = view.category
    return Category(id=category.id, code=category.code, label_sv=category.label_sv, label_en=category.label_en,
                    valid_from=category.valid_from, valid_to=category.valid_to,
                    administration_id=category.administration_id, administration_code=view.administration_code)


_WRITE_ERRORS = problem_responses(403, 409, 422)


@router.get("", summary="Categories a report can have, per förvaltning (of the caller's förvaltningar)")
def report_categories(
    session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    administration_id: Annotated[RowId | None, Query(description="Only this förvaltning's.")] = None,
    on: Annotated[Day | None, Query(description="Those valid on this day (default today).")] = None,
    include_retired: Annotated[bool, Query(description="Every category, retired and not yet valid ones too.")] = False,
) -> list[Category]:
    day = on or local_date(clock(), settings.time_zone)
    listed = core_categories.list_categories(session, principal, administration_id=administration_id, on=day,
                                             include_retired=include_retired)
    return [_read(view) for view in listed]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a category for a förvaltning (admin)",
             responses=_WRITE_ERRORS)
def create_category(body: CategoryCreate, request: Request, response: Response, session: SessionDep,
                    principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> Category:
    now = clock()
    view = core_categories.create_category(session, principal, core_categories.NewCategory(
        administration_id=body.administration_id, code=body.code, label_sv=body.label_sv, label_en=body.label_en,
        valid_from=body.valid_from or local_date(now, settings.time_zone), valid_to=body.valid_to), now)
    categories_changed(request)
    response.headers["Location"] = f"{request.url.path.rstrip('/')}/{view.category.id}"
    return _read(view)


@router.patch("/{category_id}", summary="Relabel a category, or let it begin earlier (admin)",
              responses=problem_responses(404, 403, 409, 422))
def change_category(category_id: RowId, body: CategoryChange, request: Request, session: SessionDep,
                    principal: PrincipalDep, clock: ClockDep) -> Category:
    view = core_categories.change_category(session, principal, category_id, core_categories.CategoryChange(
        label_sv=body.label_sv, label_en=body.label_en, valid_from=body.valid_from), clock())
    categories_changed(request)
    return _read(view)


@router.post("/{category_id}/retire", summary="Retire a category from a day; old reports keep it (admin)",
             responses=problem_responses(404, 403, 409, 422))
def retire_category(category_id: RowId, body: CategoryRetire, request: Request, session: SessionDep,
                    principal: PrincipalDep, clock: ClockDep) -> Category:
    view = core_categories.retire_category(session, principal, category_id, body.valid_to, clock())
    categories_changed(request)
    return _read(view)
