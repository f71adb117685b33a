"""Reference data that forms and integrations need: root causes (report categories: service/api/categories.py)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from service.api.deps import CommittingRoute, PrincipalDep, SettingsDep

router = APIRouter(route_class=CommittingRoute, tags=["reference data"])


class RootCause(BaseModel):
    code: str
    label_sv: str


@router.get("/root-causes", summary="Root causes an investigation can record (configurable)")
def root_causes(settings: SettingsDep, principal: PrincipalDep) -> list[RootCause]:
    return [RootCause(code=code, label_sv=label) for code, label in settings.root_causes.items()]
