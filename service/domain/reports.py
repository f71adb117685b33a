"""Rules for a new report (docs/domain.md): times, subject reference, case number, the 'genast' flag."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from service.domain.errors import InvalidInput
from service.domain.personnummer import contains_identity_number

# Clocks differ; a report "noticed" a few minutes in our future is a skewed clock, not a lie.
CLOCK_SKEW = timedelta(minutes=5)


class Channel(StrEnum):
    web_form = "web_form"
    integration = "integration"
    phone = "phone"
    paper = "paper"
    in_person = "in_person"
    # Brought from a previous register by a history import (service/history_import.py); never sent by a client.
    imported = "imported"


def check_times(occurred_at: datetime, noticed_at: datetime, now: datetime) -> None:
    if occurred_at > now + CLOCK_SKEW:
        raise InvalidInput("occurred_at is in the future.", field="occurred_at", reason="in_future")
    if noticed_at > now + CLOCK_SKEW:
        raise InvalidInput("noticed_at is in the future.", field="noticed_at", reason="in_future")
    if noticed_at < occurred_at:
        raise InvalidInput("noticed_at is before occurred_at.", field="noticed_at", reason="before_occurred")


def check_subject(subject_reference: str | None, no_specific_subject: bool) -> None:
    if no_specific_subject and subject_reference is not None:
        raise InvalidInput(
            "Give either subject_reference or no_specific_subject=true, not both.", field="subject_reference",
            reason="both_given")
    if not no_specific_subject and subject_reference is None:
        raise InvalidInput(
            "Give subject_reference (a pseudonymous reference) or no_specific_subject=true.",
            field="subject_reference", reason="missing")
    # A personnummer or samordningsnummer must not be stored as the subject reference, which is a
    # pseudonymous reference by design; however it is written (service/domain/personnummer.py).
    if subject_reference is not None and contains_identity_number(subject_reference):
        raise InvalidInput(
            "subject_reference looks like a personal identity number; use the pseudonymous reference "
            "of the verksamhetssystem instead.",
            field="subject_reference", reason="personnummer")


# The report's free-text fields, as JSON pointers into the submitted body: flagged, not refused, when they
# seem to hold a personnummer (a false flag is cheaper than a refused report about something urgent).
FREE_TEXT_FIELDS = ("/description", "/immediate_actions", "/external_reference")


def possible_identity_numbers(texts: Mapping[str, str | None]) -> list[str]:
    """The pointers (of FREE_TEXT_FIELDS, in that order) whose text seems to hold a personal identity number."""
    return [pointer for pointer in FREE_TEXT_FIELDS if contains_identity_number(texts.get(pointer) or "")]


def is_late_report(noticed_at: datetime, received_at: datetime, late_after: timedelta) -> bool:
    """Policy flag for SoL 27:2 "genast": the report reached us long after the event was noticed."""
    return received_at - noticed_at > late_after


def local_date(moment: datetime, time_zone: str) -> date:
    return moment.astimezone(ZoneInfo(time_zone)).date()


def case_number_prefix(administration_code: str) -> str:
    return administration_code.upper()


def case_number(administration_code: str, year: int, sequence: int) -> str:
    """Human-readable number per förvaltning and year, e.g. SOC-2026-00001 (at least five digits)."""
    return f"{case_number_prefix(administration_code)}-{year}-{sequence:05d}"
