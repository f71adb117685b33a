"""The report form: what a person types, turned into the API's request body, checked by the API's own rules.

There is one validation. The form's text is turned into the body `POST /api/v1/reports` takes (local date
and time become ISO 8601 with the offset), validated by the same request model (`ReportCreate`) and the
same domain rules the intake use case applies; their errors, named by JSON pointer and code, become Swedish
messages at the form's fields through the one table below (MESSAGES). The only checks of the form's own
are those of its own formats: a date and a time of day typed as text.

The rules run here before the use case so that every mistake shows at once; the use case runs them again
when the report is stored (it is the authority; a rule it breaks then is shown the same way).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from service import reports as core_reports
from service.api.reports import ReportCreate
from service.categories import CategoryBook, check_category
from service.config import Settings
from service.domain.access import Principal
from service.domain.errors import DomainError, Forbidden
from service.domain.reports import Channel, check_subject, check_times, local_date
from service.org_units import OrgSnapshot

# The form's fields in page order (the error summary lists them in this order), with the id of the element
# an error links to.
FIELDS: dict[str, str] = {
    "enhet": "enhet",
    "intraffat": "intraffat-datum",
    "upptackt": "upptackt-datum",
    "beskrivning": "beskrivning",
    "atgarder": "atgarder",
    "person": "person-referens-val",
    "kategori": "kategori",  # the template sets the first radio's id to this
    "formular": "beskrivning",
}

# What the form posts; anything else is ignored.
INPUTS = ("enhet", "intraffat_datum", "intraffat_tid", "upptackt_datum", "upptackt_tid", "beskrivning",
          "atgarder", "person", "person_referens", "kategori", "formular_id")

# The body's fields (JSON pointers' first segment) and the form field each is typed in.
_FIELD_OF = {
    "units": "enhet", "occurred_at": "intraffat", "noticed_at": "upptackt", "description": "beskrivning",
    "immediate_actions": "atgarder", "subject_reference": "person", "no_specific_subject": "person",
    "category": "kategori", "external_reference": "formular",
}

# (form field, code) → the message shown at the field. Codes are pydantic's error types, the domain
# rules' reasons, and the form's own (bad_date, bad_time, nul). "*" is the field's message for any other.
MESSAGES: dict[tuple[str, str], str] = {
    ("enhet", "missing"): "Välj den enhet där det hände.",
    ("enhet", "too_short"): "Välj den enhet där det hände.",
    ("enhet", "unknown_unit"): "Enheten finns inte. Välj en enhet i listan.",
    ("enhet", "not_a_unit"): "Det där är inte en enhet. Välj en enhet i listan.",
    ("enhet", "inactive_unit"): "Enheten fanns inte den dag det hände. Kontrollera datumet eller välj en annan enhet.",
    ("enhet", "not_permitted"): "Du kan inte rapportera för den enheten. Välj en av enheterna i listan.",
    ("enhet", "*"): "Välj en enhet i listan.",
    ("intraffat", "missing"): "Ange datum och klockslag när det hände.",
    ("intraffat", "bad_date"): "Skriv datumet när det hände som ÅÅÅÅ-MM-DD, till exempel 2026-11-23.",
    ("intraffat", "bad_time"): "Skriv klockslaget när det hände som TT:MM, till exempel 07:40.",
    ("intraffat", "in_future"): "Tidpunkten när det hände kan inte vara senare än nu.",
    ("intraffat", "*"): "Ange datum och klockslag när det hände.",
    ("upptackt", "missing"): "Ange datum och klockslag när det upptäcktes.",
    ("upptackt", "bad_date"): "Skriv datumet när det upptäcktes som ÅÅÅÅ-MM-DD, till exempel 2026-11-23.",
    ("upptackt", "bad_time"): "Skriv klockslaget när det upptäcktes som TT:MM, till exempel 08:05.",
    ("upptackt", "in_future"): "Tidpunkten när det upptäcktes kan inte vara senare än nu.",
    ("upptackt", "before_occurred"): "Det kan inte ha upptäckts innan det hände. Kontrollera datum och klockslag.",
    ("upptackt", "*"): "Ange datum och klockslag när det upptäcktes.",
    ("beskrivning", "string_too_long"): "Beskrivningen får vara högst 20 000 tecken.",
    ("beskrivning", "nul"): "Beskrivningen innehåller ett tecken som inte kan sparas. Ta bort det och försök igen.",
    ("beskrivning", "*"): "Beskriv vad som hände.",
    ("atgarder", "string_too_long"): "Texten om åtgärder får vara högst 10 000 tecken.",
    ("atgarder", "*"): "Texten om åtgärder innehåller ett tecken som inte kan sparas. Ta bort det och försök igen.",
    ("person", "missing"): "Ange den berörda personens referens, eller välj att ingen särskild person berörs.",
    ("person", "both_given"): "Välj antingen en referens eller att ingen särskild person berörs, inte båda.",
    ("person", "personnummer"): "Skriv inte personnummer. Ange personens referens (pseudonym) från "
                                "verksamhetssystemet, till exempel klient-id.",
    ("person", "string_too_long"): "Referensen får vara högst 100 tecken.",
    ("person", "*"): "Ange den berörda personens referens, eller välj att ingen särskild person berörs.",
    ("kategori", "retired_category"): "Den sortens händelse finns inte längre i listan. Välj en annan.",
    ("kategori", "*"): "Välj vilken sorts händelse det gäller.",
    ("formular", "reused_reference"): "Det här formuläret har redan skickats med annat innehåll. "
                                      "Börja om med ett nytt formulär.",
    ("formular", "*"): "Formuläret kunde inte skickas. Börja om med ett nytt formulär.",
}

_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$|^\s*(\d{4})(\d{2})(\d{2})\s*$")
_FORM_ID = re.compile(r"^[0-9a-f]{32}$")
_TIME = re.compile(r"^\s*(\d{1,2})[:.]?(\d{2})\s*$")


@dataclass
class FormResult:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)  # form field → message, in page order
    body: ReportCreate | None = None
    refused: bool = False  # an enhet outside the caller's grants: the page records the refusal as intake does

    def add(self, form_field: str, code: str) -> None:
        if form_field not in self.errors:  # the first error of a field is the one to fix first
            self.errors[form_field] = MESSAGES.get((form_field, code)) or MESSAGES[(form_field, "*")]

    def ordered(self) -> dict[str, str]:
        return {name: self.errors[name] for name in FIELDS if name in self.errors}


def read(data: dict[str, str]) -> dict[str, str]:
    return {name: data.get(name, "") for name in INPUTS}


def defaults(now: datetime, time_zone: str, form_id: str) -> dict[str, str]:
    local = now.astimezone(ZoneInfo(time_zone))
    day, clock = local.strftime("%Y-%m-%d"), local.strftime("%H:%M")
    return {**dict.fromkeys(INPUTS, ""), "intraffat_datum": day, "intraffat_tid": clock,
            "upptackt_datum": day, "upptackt_tid": clock, "formular_id": form_id}


def _parse_date(text: str) -> date | None:
    match = _DATE.match(text)
    if not match:
        return None
    year, month, day = (int(part) for part in (match.group(1, 2, 3) if match.group(1) else match.group(4, 5, 6)))
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _parse_time(text: str) -> time | None:
    match = _TIME.match(text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def _moment(result: FormResult, form_field: str, time_zone: str) -> str | None:
    """Local date and time as typed → ISO 8601 with the offset of that moment in the service's time zone."""
    day_text, time_text = result.values[f"{form_field}_datum"], result.values[f"{form_field}_tid"]
    if not day_text.strip() and not time_text.strip():
        result.add(form_field, "missing")
        return None
    day, clock = _parse_date(day_text), _parse_time(time_text)
    if day is None:
        result.add(form_field, "bad_date")
    elif clock is None:
        result.add(form_field, "bad_time")
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, ZoneInfo(time_zone)).isoformat()


def _body(result: FormResult, time_zone: str) -> dict[str, Any]:
    values = result.values
    body: dict[str, Any] = {
        "units": [values["enhet"]] if values["enhet"] else [],
        "description": values["beskrivning"],
        "immediate_actions": values["atgarder"],
        "category": values["kategori"] or None,
        "channel": Channel.web_form.value,
    }
    if _FORM_ID.match(values["formular_id"]):
        # Sending the same form twice (a double tap, a retry on a bad connection) gives the first receipt.
        body["external_reference"] = f"webbformular:{values['formular_id']}"
    # Both as chosen and typed: "no specific person" with a reference typed is the domain's both_given error,
    # never a reference silently dropped.
    if values["person"] == "ingen":
        body["no_specific_subject"] = True
    if values["person_referens"].strip():
        body["subject_reference"] = values["person_referens"].strip()
    for name, form_field in (("occurred_at", "intraffat"), ("noticed_at", "upptackt")):
        moment = _moment(result, form_field, time_zone)
        if moment is not None:
            body[name] = moment
    return body


def _field_of(pointer: str | tuple[Any, ...] | None) -> str:
    if pointer is None:
        return "formular"
    first = str(pointer[0]) if isinstance(pointer, tuple) else pointer.strip("/").split("/")[0]
    return _FIELD_OF.get(first, "formular")


def add_domain_error(result: FormResult, error: DomainError) -> None:
    result.add(_field_of(error.field), error.reason or "*")
    result.refused = result.refused or isinstance(error, Forbidden)


def check(values: dict[str, str], *, principal: Principal, org: OrgSnapshot, categories: CategoryBook,
          settings: Settings, now: datetime) -> FormResult:
    """Every mistake in the form at once: the request model's, then each domain rule whose input is valid.

    The API lets a report leave its category out (not stated: a synpunkt need not have one); a deviation
    reported on the form should have one, so the form requires it.
    """
    result = FormResult(values=values)
    if not values["kategori"]:
        result.add("kategori", "missing")
    body = _body(result, settings.time_zone)
    try:
        result.body = ReportCreate.model_validate(body)
    except ValidationError as exc:
        for error in exc.errors():
            code = error["type"]
            if code == "value_error" and "NUL" in str(error.get("msg", "")):
                code = "nul"
            result.add(_field_of(tuple(error["loc"])), code)
    valid = {name: value for name, value in body.items() if _FIELD_OF.get(name) not in result.errors}
    occurred = _aware(valid.get("occurred_at"))
    noticed = _aware(valid.get("noticed_at"))
    rules = [
        lambda: check_times(occurred, noticed, now) if occurred and noticed else None,
        lambda: check_subject(valid.get("subject_reference"), bool(valid.get("no_specific_subject")))
        if "person" not in result.errors else None,
        lambda: _check_category(org, categories, valid, local_date(now, settings.time_zone))
        if valid.get("category") and valid.get("units") else None,
        lambda: core_reports.units_for_report(org, principal, valid["units"], occurred, settings)
        if valid.get("units") and occurred else None,
    ]
    for rule in rules:
        try:
            rule()
        except DomainError as exc:
            add_domain_error(result, exc)
    if result.errors:
        result.body = None
    return result


def _check_category(org: OrgSnapshot, categories: CategoryBook, valid: dict[str, Any], today: date) -> None:
    """The category against the list of the first enhet's förvaltning, as intake will check it (an unknown
    enhet is the enhet's own error)."""
    unit = org.by_code.get(valid["units"][0])
    if unit is not None:
        administration_id = int(unit.path.split("/")[1])
        check_category(None, administration_id, valid["category"], today, book=categories)


def _aware(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
