"""Registering later a report that reached the organisation earlier (on paper, by phone, in person).

The service then stores two moments: when the report was really received (`received_at`, what the case
number's year, the statistics, the "genast" flag and every deadline count from) and when it was registered
here (`registered_at`, the server's clock). Only those who handle cases on the report's enheter may say
when a report was received; integration clients only where a setting allows it, and people who merely
report never, as their reports are received the moment they send them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.domain.access import Permission, Principal
from service.domain.errors import Forbidden, InvalidInput
from service.domain.reports import CLOCK_SKEW, Channel

# The ways a report reaches the organisation without passing through the service itself.
LATE_CHANNELS = frozenset({Channel.paper, Channel.phone, Channel.in_person})


@dataclass(frozen=True)
class LateRegistrationPolicy:
    window_days: int = 90  # how far back a receipt may lie (AVV_LATE_REGISTRATION_DAYS)
    by_clients: bool = False  # integration clients may register later too (AVV_LATE_REGISTRATION_BY_CLIENTS)


def check_received(received_at: datetime, received_by: str | None, channel: Channel | None,
                   occurred_at: datetime, noticed_at: datetime, now: datetime,
                   policy: LateRegistrationPolicy) -> None:
    """The stated receipt is believable: by a channel outside the service, named receiver, not in the
    future, not before the event was noticed (nor happened), and within the policy's window."""
    if channel not in LATE_CHANNELS:
        raise InvalidInput(
            "A report registered later must say how it reached you: channel paper, phone or in_person.",
            field="channel", reason="not_a_late_channel")
    if received_by is None:
        raise InvalidInput("Name who received the report (received_by).", field="received_by", reason="missing")
    if received_at > now + CLOCK_SKEW:
        raise InvalidInput("received_at is in the future.", field="received_at", reason="in_future")
    if received_at < occurred_at:
        raise InvalidInput("received_at is before occurred_at.", field="received_at", reason="before_occurred")
    if received_at < noticed_at:
        raise InvalidInput("received_at is before noticed_at.", field="received_at", reason="before_noticed")
    if received_at < now - timedelta(days=policy.window_days):
        raise InvalidInput(
            f"received_at lies more than {policy.window_days} days back; older reports cannot be registered "
            "as received then.", field="received_at", reason="outside_window")


def check_may_register_late(principal: Principal, unit_paths: Iterable[str], policy: LateRegistrationPolicy) -> None:
    """Who may state a receipt time: a handler of cases on every enhet of the report, or an integration
    client where the policy allows it (it already has to be allowed to submit for the enheter)."""
    if principal.is_integration:
        if not policy.by_clients:
            raise Forbidden("Integration clients may not register reports as received earlier.",
                            field="received_at", reason="not_permitted")
        return
    if not all(principal.may(Permission.register_late_report, path) for path in unit_paths):
        raise Forbidden("Only those who handle cases on the report's enheter may register a report "
                        "as received earlier.", field="received_at", reason="not_permitted")
