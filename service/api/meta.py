"""Reference data that forms and integrations need: report categories, root causes."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.deps import PrincipalDep, SettingsDep

router = APIRouter(tags=["reference data"])


class Category(BaseModel):
    code: str
    label_sv: str


class RootCause(BaseModel):
    code: str
    label_sv: str


@router.get("/report-categories", summary="Categories a report can have (configurable)")
def report_categories(settings: SettingsDep, principal: PrincipalDep) -> list[Category]:
    return [Category(code=code, label_sv=label) for code, label in settings.report_categories.items()]


@router.get("/root-causes", summary="Root causes an investigation can record (configurable)")
def root_causes(settings: SettingsDep, principal: PrincipalDep) -> list[RootCause]:
    return [RootCause(code=code, label_sv=label) for code, label in settings.root_causes.items()]
