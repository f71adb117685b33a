"""/api/v1/imports/reports: the history of a previous register, as JSON, NDJSON or CSV (docs/history-import.md).

The body is read as a stream, not whole: NDJSON and CSV are parsed a line at a time while the use case
checks and writes the rows in batches, in a worker thread that pulls the next chunk of the body from the
event loop when it needs one. JSON, one document, is for small files (AVV_MAX_BODY_BYTES).
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, overload

import anyio.from_thread
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from starlette.concurrency import run_in_threadpool

from service import history_import as core_history_import
from service.api.deps import ClockDep, CommittingRoute, OrgDep, PrincipalDep, SessionDep, SettingsDep
from service.api.openapi_bodies import request_body
from service.api.problems import ProblemException, problem_responses
from service.api.types import Day, Input, NonBlankText10k, NonBlankText64, NonBlankText100, Text10k, Text20k, Timestamp
from service.domain import history_import as rules
from service.domain.assessment import (
    ComplaintKind,
    ComplaintSubmitter,
    IncidentRisk,
    LexSarahSeverity,
    ReportType,
    TypeFinding,
)
from service.domain.history_import import ImportedStatus, RowError
from service.domain.notifications import Authority

router = APIRouter(route_class=CommittingRoute, prefix="/imports", tags=["history import"])

JSON, NDJSON, CSV = "application/json", "application/x-ndjson", "text/csv"
IMPORT_MEDIA_TYPES = frozenset({JSON, NDJSON, CSV})
# What separates the values of a multi-valued CSV cell (units, types).
CSV_LIST_SEPARATOR = "|"


# ---- one row, as the JSON and NDJSON bodies give it -----------------------------------------------------


@overload
def _utc(moment: datetime) -> datetime: ...
@overload
def _utc(moment: None) -> None: ...
def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


class _RowInput(BaseModel):
    """As Input (service/api/types.py), but a row's text is checked for NUL once, after the row is read,
    rather than field by field: a file holds many rows, and this is what its parsing costs most."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class ImportedTypeIn(_RowInput):
    type: ReportType
    lex_sarah_severity: LexSarahSeverity | None = None
    incident_risk: IncidentRisk | None = None
    complaint_kind: ComplaintKind | None = Field(default=None, description="`not_stated` when not recorded.")
    complaint_submitter: ComplaintSubmitter | None = Field(default=None, description="`not_stated` when not recorded.")


class ImportedAssessmentIn(_RowInput):
    assessed_at: Timestamp = Field(description="When the case was (first) assessed in the previous register.")
    types: list[ImportedTypeIn] = Field(min_length=1, max_length=5)
    incident_aware_at: Timestamp | None = Field(default=None, description=(
        "Personal-data incidents: when the organisation became aware; default noticed_at."))


class ImportedNotificationIn(_RowInput):
    authority: Authority
    sent_at: Timestamp
    investigation_attached: bool = Field(default=False, description="IVO: the investigation went with it.")
    authority_reference: NonBlankText100 | None = None
    authority_decision: NonBlankText10k | None = None
    authority_decision_on: Day | None = None


class ImportedReportIn(_RowInput):
    source: str = Field(min_length=1, max_length=32, description=(
        "The previous system, lower case: treserva, procapita, lifecare, stratsys, excel, …"))
    previous_case_number: NonBlankText64 = Field(
        description="The case number in the previous system; unique per source.")
    received_at: Timestamp
    occurred_at: Timestamp
    noticed_at: Timestamp
    units: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=20, description="Codes of the enheter, valid on the day received.")
    category: str = Field(min_length=1, max_length=64, description="A report category, or `not_stated`.")
    status: ImportedStatus
    closed_at: Timestamp | None = Field(default=None, description="Closed cases only.")
    assessment: ImportedAssessmentIn | None = Field(default=None, description="Required for closed cases.")
    notifications: list[ImportedNotificationIn] = Field(default_factory=list, max_length=2)
    description: Text20k = ""
    immediate_actions: Text10k = ""
    subject_reference: NonBlankText100 | None = None
    no_specific_subject: bool = False

    @model_validator(mode="after")
    def _no_nul(self) -> ImportedReportIn:
        texts = [self.source, self.previous_case_number, self.category, self.description, self.immediate_actions,
                 self.subject_reference or "", *self.units]
        texts += [text or "" for n in self.notifications for text in (n.authority_reference, n.authority_decision)]
        if any("\x00" in text for text in texts):
            raise ValueError("text must not contain NUL characters")
        return self

    def to_domain(self) -> rules.ImportedReport:
        """The row for the use case, its times in UTC: every later step compares, hashes and stores them, and
        the parser's fixed-offset zones are slow to ask for their offset."""
        assessment = self.assessment
        return rules.ImportedReport(
            source=self.source, previous_case_number=self.previous_case_number, received_at=_utc(self.received_at),
            occurred_at=_utc(self.occurred_at), noticed_at=_utc(self.noticed_at), unit_codes=list(self.units),
            category=self.category, status=self.status, closed_at=_utc(self.closed_at),
            assessment=None if assessment is None else rules.ImportedAssessment(
                assessed_at=_utc(assessment.assessed_at), incident_aware_at=_utc(assessment.incident_aware_at),
                findings=[TypeFinding(type=t.type, lex_sarah_severity=t.lex_sarah_severity,
                                      incident_risk=t.incident_risk, complaint_kind=t.complaint_kind,
                                      complaint_submitter=t.complaint_submitter) for t in assessment.types]),
            notifications=[rules.ImportedNotification(
                authority=n.authority, sent_at=_utc(n.sent_at), investigation_attached=n.investigation_attached,
                authority_reference=n.authority_reference, authority_decision=n.authority_decision,
                authority_decision_on=n.authority_decision_on) for n in self.notifications],
            description=self.description, immediate_actions=self.immediate_actions,
            subject_reference=self.subject_reference, no_specific_subject=self.no_specific_subject,
        )


class HistoryImport(Input):
    reports: list[ImportedReportIn] = Field(description="One object per case.")


class ImportError_(BaseModel):  # noqa: N801 - the schema's name; ImportError is a builtin
    """As the problem documents' `errors` (service/api/problems.py FieldError): a pointer into the body."""

    pointer: str = Field(examples=["/reports/17/units/0"])
    location: str = "body"
    name: str | None = Field(default=None, examples=["reports.17.units.0"])
    detail: str
    code: str


class ImportSummaryOut(BaseModel):
    dry_run: bool
    stored: bool = Field(description="True when the file's new cases were stored (no errors, not a dry run).")
    imported_at: datetime
    rows: int
    new: int
    unchanged: int = Field(description="Rows already stored from an earlier import with the same contents.")
    refused: int
    errors: list[ImportError_]
    errors_truncated: bool = Field(description=f"More than {rules.MAX_ERRORS} errors: the rest was not read.")
    possible_personal_identity_numbers: list[str] = Field(description=(
        "Pointers to free text that seems to hold a personnummer (imported all the same; check and edit it)."))


def _summary(summary: core_history_import.ImportSummary) -> ImportSummaryOut:
    return ImportSummaryOut(
        dry_run=summary.dry_run, stored=summary.stored, imported_at=summary.imported_at, rows=summary.rows,
        new=summary.new, unchanged=summary.unchanged, refused=summary.refused,
        errors=[ImportError_(pointer=e.pointer, name=".".join(e.pointer[1:].split("/")), detail=e.detail, code=e.code)
                for e in summary.errors],
        errors_truncated=summary.errors_truncated,
        possible_personal_identity_numbers=summary.possible_personal_identity_numbers)


# ---- parsing, a row at a time ---------------------------------------------------------------------------


class _BodyTooLarge(Exception):
    pass


class _Unreadable(Exception):
    def __init__(self, detail: str, type_: str) -> None:
        super().__init__(detail)
        self.detail, self.type_ = detail, type_


def _pointer(location: tuple[Any, ...]) -> str:
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def _row(value: Any) -> core_history_import.ParsedRow:
    """One row as the use case takes it: the domain's report, or why it could not be read."""
    if not isinstance(value, dict):
        return [RowError("", "Each report is a JSON object.", "not_an_object")]
    try:
        return ImportedReportIn.model_validate(value).to_domain()
    except ValidationError as exc:
        return [RowError(_pointer(error["loc"]), error["msg"], error["type"])
                for error in exc.errors(include_input=False, include_url=False)]


def _chunks(stream: AsyncIterator[bytes], limit: int) -> Iterator[bytes]:
    """The request body's chunks, pulled from the event loop by the worker thread as it needs them."""
    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    size = 0
    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        if chunk:
            yield chunk


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 text lines (an optional BOM dropped), each with its line end, decoded as the chunks arrive."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    rest = ""
    try:
        for chunk in chunks:
            text = rest + decoder.decode(chunk)
            lines = text.splitlines(keepends=True)
            rest = lines.pop() if lines and not lines[-1].endswith(("\n", "\r")) else ""
            yield from lines
        rest += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _Unreadable("The body is not UTF-8.", "bad-encoding") from None
    if rest:
        yield rest


def ndjson_rows(lines: Iterable[str]) -> Iterator[core_history_import.ParsedRow]:
    """One report per non-blank line; a line that is not JSON is that row's error."""
    for line in lines:
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            yield [RowError("", "This line is not a JSON object.", "bad_json")]
            continue
        yield _row(value)


CSV_COLUMNS = (
    "source", "previous_case_number", "received_at", "occurred_at", "noticed_at", "units", "category", "status",
    "closed_at", "assessed_at", "types", "lex_sarah_severity", "incident_risk", "complaint_kind",
    "complaint_submitter", "incident_aware_at",
    *(f"{authority}_{part}" for authority in ("ivo", "imy")
      for part in ("sent_at", "investigation_attached", "reference", "decision", "decision_on")),
    "description", "immediate_actions", "subject_reference", "no_specific_subject",
)
_DETAIL_OF = {"lex_sarah_severity": "lex_sarah", "incident_risk": "personal_data_incident",
              "complaint_kind": "complaint", "complaint_submitter": "complaint"}
_TRUE, _FALSE = {"true", "1", "ja", "yes"}, {"false", "0", "nej", "no"}


def _flag(value: str) -> bool | str:
    folded = value.strip().lower()
    return True if folded in _TRUE else False if folded in _FALSE else value


def csv_row_as_json(cells: dict[str, str]) -> dict[str, Any]:
    """A CSV row in the JSON shape, so that both are checked alike and errors point at the same places."""
    given = {key: value for key, value in cells.items() if value is not None and value.strip() != ""}
    row: dict[str, Any] = {key: given[key] for key in ("source", "previous_case_number", "received_at",
                                                        "occurred_at", "noticed_at", "category", "status",
                                                        "closed_at", "description", "immediate_actions",
                                                        "subject_reference") if key in given}
    if "units" in given:
        row["units"] = [code.strip() for code in given["units"].split(CSV_LIST_SEPARATOR)]
    if "no_specific_subject" in given:
        row["no_specific_subject"] = _flag(given["no_specific_subject"])
    if "types" in given or "assessed_at" in given:
        types = [{"type": name.strip()} for name in given.get("types", "").split(CSV_LIST_SEPARATOR) if name.strip()]
        for detail, owner in _DETAIL_OF.items():
            if detail in given:
                # On the type it belongs to; else on the first, where the check says it does not apply.
                target = next((t for t in types if t["type"] == owner), types[0] if types else None)
                if target is not None:
                    target[detail] = given[detail]
        assessment: dict[str, Any] = {"types": types}
        for key in ("assessed_at", "incident_aware_at"):
            if key in given:
                assessment[key] = given[key]
        row["assessment"] = assessment
    notifications = []
    for authority in ("ivo", "imy"):
        if f"{authority}_sent_at" not in given:
            continue
        notification: dict[str, Any] = {"authority": authority, "sent_at": given[f"{authority}_sent_at"]}
        for part, key in (("investigation_attached", "investigation_attached"), ("reference", "authority_reference"),
                          ("decision", "authority_decision"), ("decision_on", "authority_decision_on")):
            value = given.get(f"{authority}_{part}")
            if value is not None:
                notification[key] = _flag(value) if part == "investigation_attached" else value
        notifications.append(notification)
    if notifications:
        row["notifications"] = notifications
    return row


def csv_rows(lines: Iterable[str]) -> Iterator[core_history_import.ParsedRow]:
    """A header naming the columns (any order, `,` or `;`), then one report per record."""
    lines = iter(lines)
    header_line = next(lines, "")
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    header = [name.strip() for name in next(csv.reader([header_line], delimiter=delimiter), [])]
    unknown = [index for index, name in enumerate(header) if name not in CSV_COLUMNS]
    if unknown or len(set(header)) != len(header):
        raise _Unreadable(f"The CSV header has unknown or repeated columns (positions "
                          f"{', '.join(str(i + 1) for i in unknown) or 'repeated'}); see docs/history-import.md.",
                          "bad-csv")
    try:
        for record in csv.reader(lines, delimiter=delimiter):
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                yield [RowError("", f"The record has {len(record)} cells; the header has {len(header)}.",
                                "bad_csv_record")]
                continue
            yield _row(csv_row_as_json(dict(zip(header, record, strict=True))))
    except csv.Error:
        raise _Unreadable("The CSV cannot be read (an unclosed quote?).", "bad-csv") from None


def json_rows(raw: bytes) -> Iterator[core_history_import.ParsedRow]:
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        raise _Unreadable("The body is not a JSON document.", "bad-json") from None
    if not isinstance(document, dict) or set(document) != {"reports"} or not isinstance(document["reports"], list):
        raise _Unreadable('The body is {"reports": [...]}.', "bad-json")
    for value in document["reports"]:
        yield _row(value)


# ---- the endpoint ---------------------------------------------------------------------------------------


@router.post(
    "/reports", summary="Import reports from a previous register, all or nothing",
    responses={**problem_responses(400, 403, 413, 422)},
    description=(
        "JSON `{\"reports\": [...]}` for small files, NDJSON (one report a line) or CSV (header row, `,` or `;`, "
        "`|` between the values of `units` and `types`) for large ones. Every row is checked; with any error "
        "nothing is stored (422 listing each as a JSON pointer, `/reports/17/units/0`). `dry_run=true` checks "
        "and counts without storing. A case already imported with the same contents is counted as unchanged; "
        "one with other contents is refused. Admins only. Fields: docs/history-import.md."
    ),
    openapi_extra=request_body(HistoryImport, other_media={
        NDJSON: {"schema": {"type": "string", "format": "binary",
                            "description": "One report object (as in `reports`) per line."}},
        CSV: {"schema": {"type": "string", "format": "binary",
                         "description": f"Header with any of: {', '.join(CSV_COLUMNS)}; then one report a record."}},
    }),
)
async def import_reports(
    request: Request, session: SessionDep, principal: PrincipalDep, clock: ClockDep, settings: SettingsDep,
    org: OrgDep,
    dry_run: Annotated[bool, Query(description="Check and count only; nothing is stored.")] = False,
) -> ImportSummaryOut:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    await run_in_threadpool(core_history_import.require_importer, session, principal)
    stream = request.stream()

    def run() -> core_history_import.ImportSummary:
        if media_type == JSON:
            raw = b"".join(_chunks(stream, settings.max_body_bytes))
            rows: Iterable[core_history_import.ParsedRow] = json_rows(raw)
        else:
            lines = _lines(_chunks(stream, settings.max_import_bytes))
            rows = csv_rows(lines) if media_type == CSV else ndjson_rows(lines)
        return core_history_import.import_reports(session, principal, rows, clock(), settings, org, dry_run=dry_run)

    try:
        summary = await run_in_threadpool(run)
    except _BodyTooLarge:
        limit = settings.max_body_bytes if media_type == JSON else settings.max_import_bytes
        raise ProblemException(413, f"The body is larger than {limit} bytes"
                               + ("; send large files as NDJSON or CSV." if media_type == JSON else "."),
                               type_="body-too-large") from None
    except _Unreadable as unreadable:
        raise ProblemException(400, unreadable.detail, type_=unreadable.type_) from None
    result = _summary(summary)
    if summary.errors and not dry_run:
        raise ProblemException(422, f"{summary.refused} of {summary.rows} rows are refused; nothing was stored.",
                               type_="import-refused", **result.model_dump(mode="json"))
    return result
