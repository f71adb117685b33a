"""The notification as a printable HTML page, in Swedish, to copy field by field into IVO's or IMY's
e-service (or to print and post). Every value from the case is HTML-escaped; times are local time.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from service.domain.notifications import Authority, imy_deadline, imy_is_late
from service.models import (
    DataSubjectCommunication,
    Investigation,
    InvestigationEntry,
    Notification,
    NotificationSupplement,
)


@dataclass(frozen=True)
class DocumentData:
    case_number: str
    authority: Authority
    notification: Notification
    form: dict[str, Any]
    supplements: list[NotificationSupplement]
    missing: list[str]
    units: list[tuple[str, str]]  # (code, name) of the enheter the case concerns
    generated_at: datetime
    time_zone: str
    incident_risk: str | None = None
    investigation: Investigation | None = None
    entries: list[InvestigationEntry] = field(default_factory=list)
    data_subjects: DataSubjectCommunication | None = None
    aware_at: datetime | None = None  # IMY: the case's one awareness time, which the 72 hours count from


TITLES = {Authority.ivo: "Anmälan – lex Sarah", Authority.imy: "Anmälan av personuppgiftsincident"}
SUBTITLES = {
    Authority.ivo: "Till Inspektionen för vård och omsorg (IVO): allvarligt missförhållande eller påtaglig risk "
                   "för ett allvarligt missförhållande (SoL 27 kap. 6 §, LSS 24 f §).",
    Authority.imy: "Till Integritetsskyddsmyndigheten (IMY) enligt artikel 33 i dataskyddsförordningen (GDPR).",
}
IVO_KINDS = {"serious_impropriety": "Ett allvarligt missförhållande",
             "serious_tangible_risk": "En påtaglig risk för ett allvarligt missförhållande"}
CHANNELS = {"e_service": "Myndighetens e-tjänst", "post": "Post"}
SUPPLEMENT_KINDS = {"investigation": "Utredning", "other": "Övrig komplettering"}
RISKS = {"risk": "Risk", "high_risk": "Hög risk", "no_risk": "Ingen risk"}
EXEMPTIONS = {
    "unintelligible_data": "Uppgifterna är oläsliga för obehöriga, t.ex. krypterade (art. 34.3 a)",
    "risk_no_longer_likely": "Vidtagna åtgärder gör att den höga risken inte längre är sannolik (art. 34.3 b)",
    "disproportionate_effort": "Oproportionerligt stor ansträngning; offentlig information i stället (art. 34.3 c)",
}
NATURES = {"fact": "Fakta", "assessment": "Bedömning"}
# service/domain/investigation.py Topic (SOSFS 2011:5 5 kap.); an identifier not listed is shown as it is.
TOPICS = {"what_happened": "Vad som hänt och konsekvenser för den enskilde",
          "how_noticed": "När och hur det uppmärksammades", "when_happened": "När det inträffade",
          "causes": "Orsaker", "earlier_events": "Tidigare liknande händelser",
          "recurrence_risk": "Risk för upprepning", "actions_taken": "Vidtagna åtgärder",
          "actions_planned": "Planerade åtgärder", "other_findings": "Övriga iakttagelser"}
EMPTY = "–"

CSS = """
  :root { color-scheme: light; }
  body { font-family: "Segoe UI", Arial, sans-serif; font-size: 11pt; line-height: 1.4; color: #000;
         max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }
  h1 { font-size: 18pt; margin: 0 0 .2rem; }
  h2 { font-size: 13pt; margin: 1.4rem 0 .4rem; border-bottom: 1px solid #888; padding-bottom: .15rem; }
  p.lead { margin: 0 0 1rem; color: #333; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: .3rem .4rem; border: 1px solid #bbb; }
  th { width: 32%; font-weight: 600; background: #f3f3f3; }
  table.list th { width: auto; }
  .text { white-space: pre-wrap; }
  .draft { border: 2px solid #b00; color: #b00; padding: .4rem .6rem; font-weight: 600; margin: .8rem 0; }
  .note { font-size: 9pt; color: #444; margin-top: 2rem; }
  @page { size: A4; margin: 18mm 16mm; }
  @media print {
    body { margin: 0; max-width: none; font-size: 10pt; }
    h2 { break-after: avoid; }
    tr, .draft { break-inside: avoid; }
    a { color: inherit; text-decoration: none; }
  }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


class _Page:
    def __init__(self, time_zone: str) -> None:
        self.zone = ZoneInfo(time_zone)
        self.parts: list[str] = []

    def when(self, value: datetime | None) -> str | None:
        return value.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if value else None

    def day(self, value: date | None) -> str | None:
        return value.isoformat() if value else None

    def raw(self, markup: str) -> None:
        self.parts.append(markup)

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{_e(text)}</h2>")

    def rows(self, rows: Iterable[tuple[str, object]]) -> None:
        cells = []
        for label, value in rows:
            shown = EMPTY if value is None or value == "" else _e(value)
            cells.append(f'<tr><th scope="row">{_e(label)}</th><td class="text">{shown}</td></tr>')
        self.parts.append("<table>" + "".join(cells) + "</table>")

    def table(self, headers: list[str], rows: list[list[object]]) -> None:
        head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
        body = "".join(
            "<tr>" + "".join(f'<td class="text">{EMPTY if v is None or v == "" else _e(v)}</td>' for v in row)
            + "</tr>" for row in rows)
        self.parts.append(f'<table class="list"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def _yes_no(value: object) -> str:
    return "Ja" if value else "Nej"


def _part(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def render(data: DocumentData) -> str:
    page = _Page(data.time_zone)
    n, form = data.notification, data.form
    title = TITLES[data.authority]
    page.raw(f"<h1>{_e(title)}</h1><p class=\"lead\">{_e(SUBTITLES[data.authority])}</p>")
    if n.sent_at is None:
        missing = f" Saknas före sändning: {', '.join(data.missing)}." if data.missing else ""
        page.raw(f'<div class="draft">UTKAST – inte skickad.{_e(missing)}</div>')
    page.heading("Ärende")
    page.rows([
        ("Ärendenummer", data.case_number),
        ("Avsändarens diarienummer" if data.authority is Authority.ivo else "Vår referens",
         form.get("sender_reference")),
        ("Berörda enheter", "\n".join(f"{name} ({code})" for code, name in data.units)),
    ])
    if data.authority is Authority.ivo:
        _ivo(page, data)
    else:
        _imy(page, data)
    _sending(page, data)
    generated = page.when(data.generated_at)
    page.raw(f'<p class="note">Utskrivet {_e(generated)} (svensk tid; alla tider i dokumentet är svensk tid). '
             "Dokumentet innehåller uppgifter som kan omfattas av sekretess enligt 26 kap. 1 § OSL. "
             "Skicka aldrig anmälan med e-post eller fax.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)} – {_e(data.case_number)}</title><style>{CSS}</style></head>"
            "<body>" + "\n".join(page.parts) + "</body></html>\n")


def _ivo(page: _Page, data: DocumentData) -> None:
    form = data.form
    operator, unit = form.get("operator"), form.get("unit")
    page.heading("Anmälan avser")
    page.rows([("Typ", IVO_KINDS.get(form.get("kind") or "", form.get("kind")))])
    page.heading("Anmälan görs av (verksamhetsansvarig)")
    page.rows([
        ("Namn", _part(operator, "name")),
        ("Organisationsnummer", _part(operator, "organisation_number")),
        ("Kontaktuppgifter", _part(operator, "contact")),
    ])
    page.heading("Verksamhet där missförhållandet inträffat")
    page.rows([("Verksamhetens namn", _part(unit, "name")), ("Adress", _part(unit, "address"))])
    page.heading("Vad har hänt, var och när")
    page.rows([
        ("Var", form.get("where")),
        ("När", page.when(form.get("occurred_at"))),
        ("Beskrivning av vad som har hänt", form.get("what_happened")),
    ])
    page.heading("Utredning")
    page.rows([("Utredningen bifogas", _yes_no(form.get("investigation_attached")))])
    if form.get("investigation_attached"):
        _investigation(page, data)


def _investigation(page: _Page, data: DocumentData) -> None:
    investigation = data.investigation
    if investigation is None:
        page.rows([("Utredning", "Ingen utredning är registrerad i ärendet.")])
        return
    decided_by = ", ".join(x for x in (investigation.decided_by_name, investigation.decided_by_title) if x)
    page.rows([
        ("Utredningen inleddes", page.when(investigation.started_at)),
        ("Beslut/ställningstagande", investigation.decision),
        ("Beslutsdatum", page.when(investigation.decided_at)),
        ("Beslutat av", decided_by),
    ])
    if data.entries:
        page.raw("<h2>Utredningens anteckningar (SOSFS 2011:5)</h2>")
        page.table(
            ["Nr", "Datum", "Avser", "Källa", "Fakta/bedömning", "Dokumenterat av", "Anteckning"],
            [[entry.id if entry.corrects_entry_id is None else f"{entry.id} (rättar {entry.corrects_entry_id})",
              page.day(entry.documented_on), TOPICS.get(entry.topic, entry.topic), entry.source,
              NATURES.get(entry.nature, entry.nature),
              f"{entry.author_name}, {entry.author_title}", entry.text] for entry in data.entries],
        )


def _imy(page: _Page, data: DocumentData) -> None:
    form, n = data.form, data.notification
    controller, contact = form.get("controller"), form.get("contact")
    page.heading("Personuppgiftsansvarig")
    page.rows([
        ("Namn", _part(controller, "name")),
        ("Organisationsnummer", _part(controller, "organisation_number")),
        ("Postadress", _part(controller, "address")),
    ])
    page.heading("Kontaktperson (dataskyddsombud eller annan kontaktpunkt)")
    page.rows([("Namn", _part(contact, "name")), ("E-post", _part(contact, "email")),
               ("Telefon", _part(contact, "phone"))])
    stated = form.get("aware_at")
    aware_at = data.aware_at or stated
    page.heading("Tidpunkter")
    times: list[tuple[str, object]] = [
        ("När inträffade incidenten?", page.when(form.get("occurred_at"))),
        ("När fick ni kännedom om incidenten?", page.when(stated)),
        ("När upphörde incidenten?", page.when(form.get("ended_at"))),
        ("72 timmar efter kännedom", page.when(imy_deadline(aware_at)) if aware_at else None),
    ]
    if n.sent_at is not None and aware_at is not None:
        late = imy_is_late(aware_at, n.sent_at)
        times.append(("Anmäld inom 72 timmar", "Nej" if late else "Ja"))
        if late or n.delay_reason:
            times.append(("Skäl till förseningen", n.delay_reason))
    page.rows(times)
    page.heading("Incidenten")
    page.rows([
        ("Vad har hänt (incidentens art)", form.get("nature")),
        ("Vilka grupper tillhör de registrerade?", form.get("data_subject_categories")),
        ("Ungefärligt antal registrerade", form.get("data_subjects_approx")),
        ("Vilken sorts personuppgifter har drabbats?", form.get("record_categories")),
        ("Ungefärligt antal personuppgiftsposter", form.get("records_approx")),
        ("Vad kan bli konsekvenserna?", form.get("likely_consequences")),
        ("Bedömd risk för de registrerade", RISKS.get(data.incident_risk or "", data.incident_risk)),
        ("Hur har ni agerat efter incidenten? (vidtagna och planerade åtgärder)", form.get("measures")),
    ])
    page.heading("Information till de registrerade (artikel 34)")
    dsc = data.data_subjects
    if dsc is None:
        page.rows([("Status", "Inte registrerat i ärendet")])
    elif dsc.exemption:
        page.rows([("Varför informeras de registrerade inte?", EXEMPTIONS.get(dsc.exemption, dsc.exemption)),
                   ("Motivering", dsc.justification)])
    else:
        page.rows([("När informerade ni de registrerade?", page.when(dsc.informed_at)),
                   ("Hur", dsc.method), ("Kommentar", dsc.justification or None)])


def _sending(page: _Page, data: DocumentData) -> None:
    n = data.notification
    page.heading("Beslut och sändning")
    page.rows([
        ("Beslutsfattare", n.decision_maker_name),
        ("Delegation", n.delegation_reference),
        ("Skickad", page.when(n.sent_at)),
        ("Sätt", CHANNELS.get(n.channel or "", n.channel)),
        ("Registrerad av", n.sent_by_name),
    ])
    if data.supplements:
        page.heading("Kompletteringar")
        page.table(["Skickad", "Sätt", "Slag", "Innehåll"],
                   [[page.when(s.sent_at), CHANNELS.get(s.channel, s.channel), SUPPLEMENT_KINDS.get(s.kind, s.kind),
                     s.content] for s in data.supplements])
    if n.authority_reference or n.authority_decision:
        name = "IVO" if data.authority is Authority.ivo else "IMY"
        page.heading(f"{name}:s svar")
        page.rows([(f"{name}:s diarienummer", n.authority_reference), (f"{name}:s beslut", n.authority_decision),
                   ("Beslutsdatum", page.day(n.authority_decision_at))])
