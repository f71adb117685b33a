"""Statutory notifications to IVO (lex Sarah) and IMY (GDPR art. 33), and their supplements."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from service.domain.assessment import TypeFinding, is_serious_lex_sarah, notifiable_incident_risk
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
               delay_reason: str | None) -> None:
    if sent_at > now + timedelta(minutes=5):
        raise InvalidInput("sent_at is in the future.", field="sent_at")
    if authority is Authority.imy:
        if aware_at is None:
            raise InvalidInput("The IMY notification needs aware_at.", field="aware_at")
        if imy_is_late(aware_at, sent_at) and not delay_reason:
            raise InvalidInput("Sent more than 72 hours after awareness: GDPR art. 33(1) requires the reasons "
                               "for the delay.", field="delay_reason")
