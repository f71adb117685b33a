"""/api/v1/org-units: the organisation tree (read by everyone signed in, changed by admins)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError

from service import org_units as core_org_units
from service.api.deps import (
    ClockDep,
    CommittingRoute,
    PrincipalDep,
    ReadingSessionDep,
    SessionDep,
    SettingsDep,
    org_changed,
)
from service.api.openapi_bodies import request_body
from service.api.problems import ProblemException, problem_responses
from service.api.types import Day, Input, Name, RowId
from service.domain import org as org_rules
from service.domain.errors import DomainError, InvalidInput
from service.domain.org import OrgKind
from service.domain.org_import import ImportPlacement as ImportPlacementRow, ImportRow
from service.domain.reports import local_date
from service.models import OrgUnit

router = APIRouter(route_class=CommittingRoute, prefix="/org-units", tags=["organisation"])

IMPORT_MEDIA_TYPES = frozenset({"application/json", "text/csv"})
MAX_IMPORT_ROWS = 5000
MAX_PLACEMENTS = 200


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


class ImportPlacement(Input):
    parent_code: str | None = Field(default=None, max_length=32,
                                    description="The parent it stood under then; none for a förvaltning.")
    name: Name
    valid_from: Day = Field(description="First day of this placement.")
    valid_to: Day | None = Field(default=None, description="Last day of this placement; none: it still holds.")


class ImportUnit(Input):
    code: str = Field(min_length=1, max_length=32, json_schema_extra={"pattern": org_rules.CODE_PATTERN.pattern},
                      description=org_rules.CODE_RULE)
    name: Name | None = Field(
        default=None, description="Required unless `placements` are given (then left out).")
    kind: OrgKind
    parent_code: str | None = Field(default=None, max_length=32,
                                    description="Left out when `placements` are given.")
    valid_from: Day | None = Field(default=None, description=(
        "Defaults to the first placement's valid_from, or today for a row without placements."))
    valid_to: Day | None = None
    placements: list[ImportPlacement] | None = Field(
        default=None, min_length=1, max_length=MAX_PLACEMENTS, description=(
        "The unit's history: where it stood and under which name, day by day. They must cover its validity "
        "exactly: the first starts on valid_from, each next one the day after the one before ends, the last "
        "ends on valid_to (open when valid_to is). Each parent must be of the kind one level up and valid "
        "on every day of its placement."))


class OrgImport(Input):
    units: list[ImportUnit] = Field(min_length=1, max_length=MAX_IMPORT_ROWS)


class OrgImportResult(BaseModel):
    created: list[OrgUnitRead]
    extended: list[OrgUnitRead] = Field(default_factory=list, description=(
        "Stored units whose history the file carried back before their valid_from (their stored days unchanged)."))
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
    session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    under: Annotated[RowId | None, Query(description="Only this unit and its subtree.")] = None,
    active_on: Annotated[Day | None, Query(description="Only units active on this day.")] = None,
) -> list[OrgUnitRead]:
    today = local_date(clock(), settings.time_zone)
    if under is not None:
        core_org_units.get_unit(session, under)
    return [_read(unit, today) for unit in core_org_units.list_units(session, active_on=active_on, under=under)]


@router.get("/{unit_id}", summary="One org unit", responses=problem_responses(404))
def get_unit(unit_id: RowId, session: ReadingSessionDep, principal: PrincipalDep, clock: ClockDep,
             settings: SettingsDep) -> OrgUnitRead:
    return _read(core_org_units.get_unit(session, unit_id), local_date(clock(), settings.time_zone))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create an org unit", responses=_WRITE_ERRORS)
def create_unit(body: OrgUnitCreate, response: Response, request: Request, session: SessionDep,
                principal: PrincipalDep, clock: ClockDep, settings: SettingsDep) -> OrgUnitRead:
    now = clock()
    today = local_date(now, settings.time_zone)
    unit = core_org_units.create_unit(session, principal, core_org_units.NewUnit(
        code=body.code, name=body.name, kind=body.kind, parent_id=body.parent_id,
        valid_from=body.valid_from or today, valid_to=body.valid_to), now,
        category_seed=settings.report_categories)
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


@dataclass(frozen=True)
class ImportPayload:
    body: OrgImport
    csv_lines: _CsvLines | None = None  # for a CSV body: which line each unit and placement came from


async def _import_payload(request: Request) -> ImportPayload:
    """The import takes JSON or CSV, so the body is read and parsed here rather than by FastAPI."""
    raw = await request.body()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProblemException(400, "The body is not UTF-8.", type_="bad-encoding") from None
    lines: _CsvLines | None = None
    try:
        if media_type == "text/csv":
            try:
                rows = _csv_rows(text)
            except csv.Error as exc:
                raise ProblemException(400, f"The CSV cannot be read: {exc}.", type_="bad-csv") from None
            units, lines = _grouped_csv(rows)
            return ImportPayload(OrgImport.model_validate({"units": units}), lines)
        return ImportPayload(OrgImport.model_validate_json(text))
    except ValidationError as exc:
        raise RequestValidationError([
            {**error, "loc": ("body", *(lines.location(error["loc"]) if lines else error["loc"]))}
            for error in exc.errors(include_input=False)
        ]) from None


def _csv_rows(text: str) -> list[dict[str, str | None]]:
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [
        {key.strip(): (value.strip() or None) if isinstance(value, str) else value
         for key, value in row.items() if key is not None}
        for row in reader
    ]


_CSV_UNIT_KEYS = ("code", "kind", "valid_from", "valid_to")
_CSV_PLACEMENT_KEYS = {"parent_code": "parent_code", "name": "name", "valid_from": "placement_from",
                       "valid_to": "placement_to"}


@dataclass
class _CsvLines:
    """Where each unit (its first line) and each placement (its own line) stood in the CSV, so that an error
    names the line and column (/units/{line}/{column}, lines counted from 0 after the header)."""

    unit_line: list[int]
    placement_line: dict[tuple[int, int], int]

    def location(self, loc: tuple[Any, ...] | list[Any]) -> tuple[Any, ...]:
        if len(loc) < 2 or loc[0] != "units" or not isinstance(loc[1], int):
            return tuple(loc)
        unit = loc[1]
        if len(loc) >= 4 and loc[2] == "placements" and isinstance(loc[3], int):
            line = self.placement_line.get((unit, loc[3]), self.unit_line[unit])
            rest = tuple(loc[4:])
            if rest and rest[0] in _CSV_PLACEMENT_KEYS:
                rest = (_CSV_PLACEMENT_KEYS[rest[0]], *rest[1:])
            return ("units", line, *rest)
        return ("units", self.unit_line[unit], *loc[2:])

    def pointer(self, field: str | None) -> str | None:
        if field is None or not field.startswith("/units/"):
            return field
        parts: list[str | int] = [int(part) if part.isdigit() else part for part in field.split("/")[1:]]
        return "/" + "/".join(str(part) for part in self.location(parts))


def _grouped_csv(rows: list[dict[str, str | None]]) -> tuple[list[dict[str, Any]], _CsvLines]:
    """CSV lines as import units. With a placement_from column, each line that fills it is one placement of
    the unit its code names (name and parent_code are the placement's); the lines of one code are one unit
    and must agree on kind, valid_from and valid_to. A line without placement_from is a simple row."""
    units: list[dict[str, Any]] = []
    lines = _CsvLines(unit_line=[], placement_line={})
    with_history: dict[str | None, int] = {}
    for line, row in enumerate(rows):
        placement_from, placement_to = row.pop("placement_from", None), row.pop("placement_to", None)
        if placement_from is None and placement_to is None:
            units.append(row)
            lines.unit_line.append(line)
            continue
        placement = {"parent_code": row.pop("parent_code", None), "name": row.pop("name", None),
                     "valid_from": placement_from, "valid_to": placement_to}
        index = with_history.get(row.get("code"))
        if index is None:
            with_history[row.get("code")] = len(units)
            lines.placement_line[(len(units), 0)] = line
            units.append({**row, "placements": [placement]})
            lines.unit_line.append(line)
            continue
        unit = units[index]
        for key in _CSV_UNIT_KEYS:
            if unit.get(key) != row.get(key):
                raise InvalidInput(f"Every line of one code must give the same {key}.", field=f"/units/{line}/{key}")
        lines.placement_line[(index, len(unit["placements"]))] = line
        unit["placements"].append(placement)
    return units, lines


@router.post(
    "/import", status_code=status.HTTP_200_OK, responses=problem_responses(400, *_WRITE_STATUSES),
    summary="Load a whole organisation in one call, all or nothing",
    description=(
        "JSON `{\"units\": [...]}` or CSV with the header `code,name,kind,parent_code,valid_from,valid_to` "
        "(`,` or `;`). Rows may come in any order. Codes already present with identical data are left "
        "as they are, so a file can be loaded again; a row that contradicts a stored unit is refused. "
        "A row may carry the unit's history instead of one name and parent: `placements` in JSON; in CSV, "
        "the extra columns `placement_from,placement_to` and one line per placement (see README)."
    ),
    openapi_extra=request_body(OrgImport, other_media={"text/csv": {"schema": {
        "type": "string", "format": "binary",
        "description": ("Header `code,name,kind,parent_code,valid_from,valid_to` (`,` or `;`), then one unit a "
                        "line; with `placement_from,placement_to` added, one placement a line."),
    }}}),
)
def import_units(payload: Annotated[ImportPayload, Depends(_import_payload)], request: Request,
                 session: SessionDep, principal: PrincipalDep, clock: ClockDep,
                 settings: SettingsDep) -> OrgImportResult:
    now = clock()
    today = local_date(now, settings.time_zone)
    rows = [_import_row(unit, today) for unit in payload.body.units]
    try:
        result = core_org_units.import_units(session, principal, rows, now, today,
                                                 category_seed=settings.report_categories)
    except DomainError as exc:
        if payload.csv_lines is not None:
            exc.field = payload.csv_lines.pointer(exc.field)
        raise
    org_changed(request)
    return OrgImportResult(created=[_read(unit, today) for unit in result.created],
                           extended=[_read(unit, today) for unit in result.extended], unchanged=result.unchanged)


def _import_row(unit: ImportUnit, today: date) -> ImportRow:
    placements = None if unit.placements is None else tuple(
        ImportPlacementRow(parent_code=p.parent_code, name=p.name, valid_from=p.valid_from, valid_to=p.valid_to)
        for p in unit.placements)
    valid_from = unit.valid_from or (min(p.valid_from for p in placements) if placements else today)
    return ImportRow(code=unit.code, name=unit.name, kind=unit.kind, parent_code=unit.parent_code,
                     valid_from=valid_from, valid_to=unit.valid_to, placements=placements)
