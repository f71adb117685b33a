"""/api/v1/org-units: the organisation tree (read by everyone signed in, changed by admins)."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from service import org_units as core_org_units
from service.api.deps import ClockDep, PrincipalDep, SessionDep, SettingsDep, org_changed
from service.api.openapi_bodies import request_body
from service.api.problems import ProblemException, problem_responses
from service.api.types import Day, Input, Name, RowId
from service.domain import org as org_rules
from service.domain.org import OrgKind
from service.domain.org_import import ImportRow
from service.domain.reports import local_date
from service.models import OrgUnit

router = APIRouter(prefix="/org-units", tags=["organisation"])

IMPORT_MEDIA_TYPES = frozenset({"application/json", "text/csv"})
MAX_IMPORT_ROWS = 5000


class OrgUnitRead(BaseModel):
    id: int
    code: str
    name: str
    kind: OrgKind
    parent_id: int | None
    valid_from: date
    valid_to: date | None
    active: bool = Field(description="Active today (valid_from ≤ today ≤ valid_to).")


class OrgUnitCreate(Input):
    code: str = Field(min_length=1, max_length=32, json_schema_extra={"pattern": org_rules.CODE_PATTERN.pattern},
                      description=f"Unique regardless of case, e.g. 'SOC' or 'SOC-ALD-1'. {org_rules.CODE_RULE}")
    name: Name
    kind: OrgKind
    parent_id: RowId | None = Field(default=None, description="Required except for a förvaltning.")
    valid_from: Day | None = Field(default=None, description="Defaults to today.")
    valid_to: Day | None = None


class OrgUnitRename(Input):
    name: Name
    effective_date: Day | None = Field(default=None, description=(
        "First day of the new name; default today. A later day is stored and takes effect on that day."))


class OrgUnitMove(Input):
    parent_id: RowId
    effective_date: Day | None = Field(default=None, description=(
        "First day under the new parent; default today. A later day is stored and takes effect on that day: "
        "until then access follows the unit's current place."))


class OrgUnitClose(Input):
    valid_to: Day = Field(description="Last day the unit is active.")


class ImportUnit(Input):
    code: str = Field(min_length=1, max_length=32, json_schema_extra={"pattern": org_rules.CODE_PATTERN.pattern},
                      description=org_rules.CODE_RULE)
    name: Name
    kind: OrgKind
    parent_code: str | None = Field(default=None, max_length=32)
    valid_from: Day | None = None
    valid_to: Day | None = None


class OrgImport(Input):
    units: list[ImportUnit] = Field(min_length=1, max_length=MAX_IMPORT_ROWS)


class OrgImportResult(BaseModel):
    created: list[OrgUnitRead]
    unchanged: list[str] = Field(description="Codes already present with exactly the same data.")


def _read(unit: OrgUnit, today: date) -> OrgUnitRead:
    return OrgUnitRead(
        id=unit.id or 0, code=unit.code, name=unit.name, kind=OrgKind(unit.kind), parent_id=unit.parent_id,
        valid_from=unit.valid_from, valid_to=unit.valid_to,
        active=org_rules.active_on(unit.valid_from, unit.valid_to, today),
    )


_WRITE_STATUSES = (403, 409, 422)
_WRITE_ERRORS = problem_responses(*_WRITE_STATUSES)


@router.get("", summary="List org units, parents before children")
def list_units(
    session: SessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    under: Annotated[RowId | None, Query(description="Only this unit and its subtree.")] = None,
    active_on: Annotated[Day | None, Query(description="Only units active on this day.")] = None,
) -> list[OrgUnitRead]:
    today = local_date(clock(), settings.time_zone)
    if under is not None:
        core_org_units.get_unit(session, under)
    return [_read(unit, today) for unit in core_org_units.list_units(session, active_on=active_on, under=under)]


@router.get("/{unit_id}", summary="One org unit", responses=problem_responses(404))
def get_unit(unit_id: RowId, session: SessionDep, principal: PrincipalDep, clock: ClockDep,
             settings: SettingsDep) -> OrgUnitRead:
    return _read(core_org_units.get_unit(session, unit_id), local_date(clock(), settings.time_zone))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an org unit", responses=_WRITE_ERRORS)
def create_unit(body: OrgUnitCreate, response: Response, request: Request, session: SessionDep,
                principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> OrgUnitRead:
    now = clock()
    today = local_date(now, settings.time_zone)
    unit = core_org_units.create_unit(session, principal, core_org_units.NewUnit(
        code=body.code, name=body.name, kind=body.kind, parent_id=body.parent_id,
        valid_from=body.valid_from or today, valid_to=body.valid_to), now)
    org_changed(request)
    response.headers["Location"] = str(request.url_for("get_unit", unit_id=unit.id))
    return _read(unit, today)


@router.patch("/{unit_id}", summary="Rename an org unit (the old name stays in its history)",
              responses=problem_responses(404, *_WRITE_STATUSES))
def rename_unit(unit_id: RowId, body: OrgUnitRename, request: Request, session: SessionDep, principal: PrincipalDep,
                clock: ClockDep, settings: SettingsDep) -> OrgUnitRead:
    now = clock()
    today = local_date(now, settings.time_zone)
    unit = core_org_units.rename_unit(session, principal, unit_id, body.name, body.effective_date or today, now,
                                 today)
    org_changed(request)
    return _read(unit, today)


@router.post("/{unit_id}/move", summary="Move an org unit under another parent (with its subtree)",
             responses=problem_responses(404, *_WRITE_STATUSES))
def move_unit(unit_id: RowId, body: OrgUnitMove, request: Request, session: SessionDep, principal: PrincipalDep,
              clock: ClockDep, settings: SettingsDep) -> OrgUnitRead:
    now = clock()
    today = local_date(now, settings.time_zone)
    unit = core_org_units.move_unit(session, principal, unit_id, body.parent_id, body.effective_date or today, now,
                               today)
    org_changed(request)
    return _read(unit, today)


@router.post("/{unit_id}/close", summary="Close an org unit from a date (its reports keep it)",
             responses=problem_responses(404, *_WRITE_STATUSES))
def close_unit(unit_id: RowId, body: OrgUnitClose, request: Request, session: SessionDep, principal: PrincipalDep,
               clock: ClockDep, settings: SettingsDep) -> OrgUnitRead:
    now = clock()
    unit = core_org_units.close_unit(session, principal, unit_id, body.valid_to, now)
    org_changed(request)
    return _read(unit, local_date(now, settings.time_zone))


async def _import_payload(request: Request) -> OrgImport:
    """The import takes JSON or CSV, so the body is read and parsed here rather than by FastAPI."""
    raw = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProblemException(400, "The body is not UTF-8.", type_="bad-encoding") from None
    try:
        if media_type == "text/csv":
            try:
                rows = _csv_rows(text)
            except csv.Error as exc:
                raise ProblemException(400, f"The CSV cannot be read: {exc}.", type_="bad-csv") from None
            return OrgImport.model_validate({"units": rows})
        return OrgImport.model_validate_json(text)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_input=False)]
        ) from None


def _csv_rows(text: str) -> list[dict[str, str | None]]:
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [
        {key.strip(): (value.strip() or None) if isinstance(value, str) else value
         for key, value in row.items() if key is not None}
        for row in reader
    ]


@router.post(
    "/import", status_code=status.HTTP_200_OK, responses=problem_responses(400, *_WRITE_STATUSES),
    summary="Load a whole organisation in one call, all or nothing",
    description=(
        "JSON `{\"units\": [...]}` or CSV with the header `code,name,kind,parent_code,valid_from,valid_to` "
        "(`,` or `;`). Rows may come in any order. Codes already present with identical data are left "
        "as they are, so a file can be loaded again; a row that contradicts a stored unit is refused."
    ),
    openapi_extra=request_body(OrgImport, other_media={"text/csv": {"schema": {
        "type": "string", "format": "binary",
        "description": "Header `code,name,kind,parent_code,valid_from,valid_to` (`,` or `;`), then one unit a line.",
    }}}),
)
def import_units(payload: Annotated[OrgImport, Depends(_import_payload)], request: Request, session: SessionDep,
                 principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> OrgImportResult:
    now = clock()
    today = local_date(now, settings.time_zone)
    rows = [ImportRow(code=u.code, name=u.name, kind=u.kind, parent_code=u.parent_code,
                      valid_from=u.valid_from or today, valid_to=u.valid_to) for u in payload.units]
    result = core_org_units.import_units(session, principal, rows, now)
    org_changed(request)
    return OrgImportResult(created=[_read(unit, today) for unit in result.created], unchanged=result.unchanged)
