"""Pure rules for registering a report later (service/domain/late_registration.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.access import EVERYWHERE, Grant, Principal, Role
from service.domain.errors import Forbidden, InvalidInput
from service.domain.late_registration import LateRegistrationPolicy, check_may_register_late, check_received
from service.domain.reports import CLOCK_SKEW, Channel

NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
POLICY = LateRegistrationPolicy(window_days=90)
OCCURRED, NOTICED = NOW - 30 * DAY, NOW - 30 * DAY + timedelta(minutes=30)
ENHET = "/1/5/12/"


def _check(received_at: datetime, *, channel: Channel | None = Channel.paper, received_by: str | None = "Rut",
           policy: LateRegistrationPolicy = POLICY) -> None:
    check_received(received_at, received_by, channel, OCCURRED, NOTICED, NOW, policy)


@pytest.mark.parametrize("received_at", [NOTICED, NOW - DAY, NOW, NOW + CLOCK_SKEW])
@pytest.mark.parametrize("channel", [Channel.paper, Channel.phone, Channel.in_person])
def test_a_believable_receipt_passes(received_at, channel):
    _check(received_at, channel=channel)


def test_the_window_edge_itself():
    long_ago = NOW - 90 * DAY
    check_received(long_ago, "Rut", Channel.paper, long_ago, long_ago, NOW, POLICY)
    with pytest.raises(InvalidInput) as refused:
        earlier = long_ago - timedelta(seconds=1)
        check_received(earlier, "Rut", Channel.paper, earlier, earlier, NOW, POLICY)
    assert (refused.value.field, refused.value.reason) == ("received_at", "outside_window")


@pytest.mark.parametrize(
    ("received_at", "reason"),
    [
        (NOW + CLOCK_SKEW + timedelta(seconds=1), "in_future"),
        (NOTICED - timedelta(seconds=1), "before_noticed"),
        (OCCURRED - timedelta(seconds=1), "before_occurred"),
    ],
)
def test_an_unbelievable_receipt_is_refused_naming_received_at(received_at, reason):
    with pytest.raises(InvalidInput) as refused:
        _check(received_at)
    assert (refused.value.field, refused.value.reason) == ("received_at", reason)


@pytest.mark.parametrize("channel", [None, Channel.web_form, Channel.integration])
def test_only_channels_outside_the_service(channel):
    with pytest.raises(InvalidInput) as refused:
        _check(NOW - DAY, channel=channel)
    assert refused.value.field == "channel"


def test_the_receiver_must_be_named():
    with pytest.raises(InvalidInput) as refused:
        _check(NOW - DAY, received_by=None)
    assert refused.value.field == "received_by"


def _principal(role: Role, path: str = "/1/") -> Principal:
    return Principal(subject="s", display_name="S", grants=(Grant(role, path),))


@pytest.mark.parametrize("role", [Role.unit_manager, Role.investigator, Role.decision_maker, Role.dpo])
def test_handlers_of_the_enheter_may(role):
    check_may_register_late(_principal(role), [ENHET], POLICY)


@pytest.mark.parametrize("role", [Role.reporter, Role.statistics, Role.auditor, Role.admin])
def test_others_may_not(role):
    with pytest.raises(Forbidden) as refused:
        check_may_register_late(_principal(role, EVERYWHERE), [ENHET], POLICY)
    assert refused.value.field == "received_at"


def test_every_enhet_of_the_report_must_be_the_handlers():
    handler = _principal(Role.unit_manager, ENHET)
    check_may_register_late(handler, [ENHET], POLICY)
    with pytest.raises(Forbidden):
        check_may_register_late(handler, [ENHET, "/1/5/13/"], POLICY)


def test_integration_clients_only_when_the_policy_allows():
    client = _principal(Role.integration)
    with pytest.raises(Forbidden):
        check_may_register_late(client, [ENHET], POLICY)
    check_may_register_late(client, [ENHET], LateRegistrationPolicy(by_clients=True))
