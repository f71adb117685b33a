"""Statutory notifications to IVO (lex Sarah) and IMY (GDPR art. 33), and their supplements."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from service.domain.assessment import IncidentRisk, TypeFinding, is_serious_lex_sarah, notifiable_incident_risk
from service.domain.deadlines import IMY_HOURS
from service.domain.errors import Conflict, InvalidInput


class Authority(StrEnum):
    ivo = "ivo"
    imy = "imy"


class SendChannel(StrEnum):
    """IVO and IMY take notifications through their e-services or by post, never by e-mail or fax."""

    e_service = "e_service"
    post = "post"


class SupplementKind(StrEnum):
    investigation = "investigation"  # the completed utredning, when it was not attached
    other = "other"


class DataSubjectExemption(StrEnum):
    """GDPR art. 34(3): when the data subjects need not be told of a high-risk breach."""

    unintelligible_data = "unintelligible_data"  # (a) e.g. encrypted
    risk_no_longer_likely = "risk_no_longer_likely"  # (b) later measures
    disproportionate_effort = "disproportionate_effort"  # (c) public communication instead


def check_may_notify(authority: Authority, findings: list[TypeFinding], already: set[Authority]) -> None:
    if authority in already:
        raise Conflict(f"The case already has an {authority.upper()} notification; add a supplement to it instead.",
                       field="authority")
    if authority is Authority.ivo and not is_serious_lex_sarah(findings):
        raise Conflict("An IVO notification needs a current assessment of serious lex Sarah "
                       "(serious_impropriety or serious_tangible_risk).", field="authority")
    if authority is Authority.imy and notifiable_incident_risk(findings) is None:
        raise Conflict("An IMY notification needs a current assessment of a personal-data incident with "
                       "risk or high_risk.", field="authority")


def check_not_sent(sent_at: datetime | None) -> None:
    if sent_at is not None:
        raise Conflict("A sent notification is frozen; record additions as supplements.")


def imy_is_late(aware_at: datetime, sent_at: datetime) -> bool:
    return sent_at - aware_at > timedelta(hours=IMY_HOURS)


def check_send(authority: Authority, *, sent_at: datetime, now: datetime, aware_at: datetime | None,
               delay_reason: str | None, occurred_at: datetime, received_at: datetime,
               drafted_at: datetime) -> None:
    """When a notification can have been sent, and whether an IMY notification needs the reason for a delay.

    `sent_at` lies between the latest of (the event, the report's receipt, the draft's creation and, for
    IMY, the awareness) and now (a few minutes' tolerance for clock skew): nobody sends what was not yet
    written. `aware_at` is the case's one awareness time (assessment.awareness_time), not a form field,
    so the 72 hours cannot be moved by editing the draft.
    """
    if sent_at > now + timedelta(minutes=5):
        raise InvalidInput("sent_at is in the future.", field="sent_at")
    if sent_at < occurred_at:
        raise InvalidInput("sent_at is before the event happened.", field="sent_at")
    if sent_at < received_at:
        raise InvalidInput("sent_at is before the report was received.", field="sent_at")
    if sent_at < drafted_at:
        raise InvalidInput("sent_at is before the notification was drafted.", field="sent_at")
    if authority is Authority.imy:
        if aware_at is None:
            raise InvalidInput("The IMY notification needs aware_at.", field="aware_at")
        if sent_at < aware_at:
            raise InvalidInput("sent_at is before the organisation became aware of the incident.", field="sent_at")
        if imy_is_late(aware_at, sent_at) and not (delay_reason and delay_reason.strip()):
            raise InvalidInput("Sent more than 72 hours after awareness: GDPR art. 33(1) requires the reasons "
                               "for the delay.", field="delay_reason")


def check_form_awareness(fields: dict[str, object], case_aware_at: datetime | None) -> None:
    """The IMY form shows the case's awareness time but does not set it: the assessment does.

    Giving aware_at equal to the case's is harmless (a form sent back as it was shown); any other value
    is refused, so that the draft cannot hold a second, different awareness time.
    """
    if "aware_at" in fields and fields["aware_at"] != case_aware_at:
        raise InvalidInput("aware_at is the case's awareness time, recorded by the assessment "
                           "(incident_aware_at); re-assess to move it earlier.", field="aware_at")


# ---- the forms ---------------------------------------------------------------------------------------


class IvoKind(StrEnum):
    """The tick box on "ANMÄLAN – lex Sarah": what the notification concerns."""

    serious_impropriety = "serious_impropriety"  # ett allvarligt missförhållande
    serious_tangible_risk = "serious_tangible_risk"  # en påtaglig risk för ett allvarligt missförhållande


COMMON_FIELDS = ("sender_reference", "occurred_at")
IVO_FIELDS = (*COMMON_FIELDS, "kind", "operator", "unit", "what_happened", "where", "investigation_attached")
IMY_FIELDS = (*COMMON_FIELDS, "nature", "data_subject_categories", "data_subjects_approx", "record_categories",
              "records_approx", "likely_consequences", "measures", "aware_at", "ended_at", "contact", "controller")
FORM_FIELDS: dict[Authority, tuple[str, ...]] = {Authority.ivo: IVO_FIELDS, Authority.imy: IMY_FIELDS}

# What must be filled in before sending. IMY takes a notification in phases (art. 33(4)): within 72 hours
# "even without all the details", the rest as supplements; so IMY asks less up front than IVO's form.
REQUIRED_TO_SEND: dict[Authority, tuple[str, ...]] = {
    Authority.ivo: ("sender_reference", "kind", "operator.name", "operator.organisation_number", "unit.name",
                    "unit.address", "what_happened", "where", "occurred_at"),
    Authority.imy: ("nature", "aware_at", "contact.name"),
}


def check_form_fields(authority: Authority, names: set[str] | list[str]) -> None:
    """A field of the other authority's form is an error, not silently stored."""
    allowed = FORM_FIELDS[authority]
    for name in sorted(names):
        if name not in allowed:
            raise InvalidInput(f"{name} is not a field of the {authority.upper()} notification.", field=name)


def default_ivo_kind(findings: list[TypeFinding]) -> IvoKind | None:
    """The kind the current assessment implies: its serious lex Sarah severity."""
    for finding in findings:
        if finding.lex_sarah_severity is not None and finding.lex_sarah_severity.value in IvoKind.__members__:
            return IvoKind(finding.lex_sarah_severity.value)
    return None


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def missing_for_sending(authority: Authority, form: dict[str, object]) -> list[str]:
    """The required fields still empty, as dotted names ("operator.name")."""
    missing = []
    for name in REQUIRED_TO_SEND[authority]:
        head, _, tail = name.partition(".")
        value = form.get(head)
        if tail:
            value = value.get(tail) if isinstance(value, dict) else None
        if not _filled(value):
            missing.append(name)
    return missing


class IncompleteNotification(Conflict):
    def __init__(self, authority: Authority, missing: list[str]) -> None:
        self.missing = missing
        super().__init__(f"The {authority.upper()} notification cannot be sent before these are filled in: "
                         f"{', '.join(missing)}.", field=missing[0])

    def extensions(self) -> dict[str, object]:
        return {"missing": self.missing}


def check_complete(authority: Authority, form: dict[str, object]) -> None:
    missing = missing_for_sending(authority, form)
    if missing:
        raise IncompleteNotification(authority, missing)


def check_form_times(form: dict[str, object], now: datetime) -> None:
    """Times on the form are in the past, and in order: occurred ≤ aware, occurred ≤ ended."""
    times = {name: form.get(name) for name in ("occurred_at", "aware_at", "ended_at")}
    for name, value in times.items():
        if isinstance(value, datetime) and value > now:
            raise InvalidInput(f"{name} is in the future.", field=name)
    occurred = times["occurred_at"]
    if not isinstance(occurred, datetime):
        return
    for name in ("aware_at", "ended_at"):
        value = times[name]
        if isinstance(value, datetime) and value < occurred:
            raise InvalidInput(f"{name} is before occurred_at.", field=name)


def valid_organisation_number(number: str) -> bool:
    """A Swedish organisationsnummer, NNNNNN-NNNN, whose last digit is the Luhn check digit."""
    digits = number.replace("-", "")
    if len(digits) != 10 or not digits.isdigit() or len(number) != 11 or number[6] != "-":
        return False
    total = 0
    for index, char in enumerate(digits):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def check_organisation_number(number: str | None, field: str) -> None:
    if number is not None and not valid_organisation_number(number):
        raise InvalidInput("Not a valid organisationsnummer (NNNNNN-NNNN with a correct check digit).",
                           field=field)


def imy_deadline(aware_at: datetime) -> datetime:
    return aware_at + timedelta(hours=IMY_HOURS)


def check_investigation_ready(investigation_decided_at: datetime | None, field: str) -> None:
    """Only a completed investigation (closed by a decision) goes to IVO (Socialstyrelsen: "när den har
    färdigställts"); otherwise the two-month rule would be met by something that is not the investigation."""
    if investigation_decided_at is None:
        raise Conflict("The investigation has no decision yet; only a completed investigation can be sent to IVO.",
                       field=field)


# ---- after sending -----------------------------------------------------------------------------------


def check_sent(sent_at: datetime | None, what: str) -> None:
    if sent_at is None:
        raise Conflict(f"The notification is still a draft: {what} needs a sent notification.")


def check_supplement(authority: Authority, kind: SupplementKind, *, notification_sent_at: datetime | None,
                     sent_at: datetime, now: datetime, investigation_decided_at: datetime | None = None) -> None:
    check_sent(notification_sent_at, "a supplement")
    assert notification_sent_at is not None
    if kind is SupplementKind.investigation and authority is not Authority.ivo:
        raise InvalidInput("Only an IVO notification takes the investigation as a supplement.", field="kind")
    if sent_at > now + timedelta(minutes=5):
        raise InvalidInput("sent_at is in the future.", field="sent_at")
    if sent_at < notification_sent_at:
        raise InvalidInput("A supplement cannot be sent before the notification it adds to.", field="sent_at")
    if kind is SupplementKind.investigation:
        check_investigation_ready(investigation_decided_at, "kind")
        assert investigation_decided_at is not None
        if sent_at < investigation_decided_at:
            raise InvalidInput("The investigation cannot have been sent before it was decided.", field="sent_at")


def check_authority_response(*, notification_sent_at: datetime | None, reference: str | None,
                             decision: str | None, decision_at: date | None, has_decision: bool,
                             now: datetime, time_zone: str) -> None:
    """The authority's reference and/or decision, recorded on a sent notification; a date needs a decision.

    `decision_at` is a calendar day in `time_zone`: after the notification was sent, not after today.
    """
    check_sent(notification_sent_at, "the authority's response")
    assert notification_sent_at is not None
    if reference is None and decision is None and decision_at is None:
        raise InvalidInput("Give authority_reference, authority_decision or both.", field="authority_reference")
    if decision_at is None:
        return
    if decision is None and not has_decision:
        raise InvalidInput("authority_decision_at belongs to an authority_decision.", field="authority_decision_at")
    zone = ZoneInfo(time_zone)
    if decision_at > now.astimezone(zone).date():
        raise InvalidInput("authority_decision_at is in the future.", field="authority_decision_at")
    if decision_at < notification_sent_at.astimezone(zone).date():
        raise InvalidInput("authority_decision_at is before the notification was sent.",
                           field="authority_decision_at")


def check_data_subject_communication(findings: list[TypeFinding], *, informed_at: datetime | None,
                                     method: str | None, exemption: DataSubjectExemption | None,
                                     justification: str | None, now: datetime) -> None:
    """GDPR art. 34: a high-risk breach is told to the data subjects, or the art. 34(3) exemption is recorded."""
    if notifiable_incident_risk(findings) is not IncidentRisk.high_risk:
        raise Conflict("Data-subject communication belongs to a personal-data incident assessed as high_risk.")
    if informed_at is not None and exemption is not None:
        raise InvalidInput("Either the data subjects were informed or an exemption applies, not both.",
                           field="exemption")
    if informed_at is None and exemption is None:
        raise InvalidInput("Give informed_at and method, or exemption and justification.", field="informed_at")
    if informed_at is not None:
        if not method:
            raise InvalidInput("Say how the data subjects were informed.", field="method")
        if informed_at > now + timedelta(minutes=5):
            raise InvalidInput("informed_at is in the future.", field="informed_at")
    elif not justification or not justification.strip():
        raise InvalidInput("An art. 34(3) exemption needs its justification.", field="justification")
