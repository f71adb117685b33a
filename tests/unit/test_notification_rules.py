"""The notification rules without a database: who may be notified, the 72 hours, sending, supplements."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from service.domain.assessment import IncidentRisk, LexSarahSeverity, ReportType, TypeFinding
from service.domain.errors import Conflict, InvalidInput
from service.domain.notifications import (
    Authority,
    DataSubjectExemption,
    IncompleteNotification,
    IvoKind,
    SupplementKind,
    check_authority_response,
    check_complete,
    check_data_subject_communication,
    check_form_awareness,
    check_form_fields,
    check_form_times,
    check_investigation_ready,
    check_may_notify,
    check_not_sent,
    check_send,
    check_supplement,
    default_ivo_kind,
    imy_deadline,
    imy_is_late,
    missing_for_sending,
    valid_organisation_number,
)

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
FRIDAY_EVENING = datetime(2026, 3, 13, 17, 0, tzinfo=UTC)


def send(authority: Authority, *, occurred_at: datetime, **rest) -> None:
    """check_send with the report received and the draft made when the event happened, unless said."""
    check_send(authority, occurred_at=occurred_at, **{"received_at": occurred_at, "drafted_at": occurred_at, **rest})


def sarah(severity: LexSarahSeverity) -> TypeFinding:
    return TypeFinding(ReportType.lex_sarah, lex_sarah_severity=severity)


def incident(risk: IncidentRisk) -> TypeFinding:
    return TypeFinding(ReportType.personal_data_incident, incident_risk=risk)


# ---- who may be notified -----------------------------------------------------------------------------

@pytest.mark.parametrize("severity", [LexSarahSeverity.serious_impropriety, LexSarahSeverity.serious_tangible_risk])
def test_ivo_is_notified_of_serious_lex_sarah(severity):
    check_may_notify(Authority.ivo, [sarah(severity)], set())


@pytest.mark.parametrize("severity", [LexSarahSeverity.no_impropriety, LexSarahSeverity.impropriety,
                                      LexSarahSeverity.tangible_risk])
def test_ivo_needs_serious_severity(severity):
    with pytest.raises(Conflict) as refused:
        check_may_notify(Authority.ivo, [sarah(severity)], set())
    assert refused.value.field == "authority"


def test_ivo_is_not_for_a_personal_data_incident_alone():
    with pytest.raises(Conflict):
        check_may_notify(Authority.ivo, [incident(IncidentRisk.high_risk)], set())


@pytest.mark.parametrize("risk", [IncidentRisk.risk, IncidentRisk.high_risk])
def test_imy_is_notified_of_an_incident_with_risk(risk):
    check_may_notify(Authority.imy, [incident(risk)], set())


@pytest.mark.parametrize("findings", [[incident(IncidentRisk.no_risk)],
                                      [sarah(LexSarahSeverity.serious_impropriety)],
                                      [TypeFinding(ReportType.other_deviation)]])
def test_imy_needs_an_incident_with_risk(findings):
    with pytest.raises(Conflict):
        check_may_notify(Authority.imy, findings, set())


def test_one_notification_per_authority_per_case():
    both = [sarah(LexSarahSeverity.serious_impropriety), incident(IncidentRisk.risk)]
    with pytest.raises(Conflict) as refused:
        check_may_notify(Authority.ivo, both, {Authority.ivo})
    assert "supplement" in refused.value.detail
    check_may_notify(Authority.imy, both, {Authority.ivo})  # the other authority is still open
    with pytest.raises(Conflict):
        check_may_notify(Authority.imy, both, {Authority.ivo, Authority.imy})


def test_the_ivo_kind_defaults_to_the_serious_severity():
    assert default_ivo_kind([sarah(LexSarahSeverity.serious_tangible_risk)]) is IvoKind.serious_tangible_risk
    assert default_ivo_kind([incident(IncidentRisk.risk), sarah(LexSarahSeverity.serious_impropriety)]) \
        is IvoKind.serious_impropriety
    assert default_ivo_kind([sarah(LexSarahSeverity.impropriety)]) is None


# ---- the 72 hours ------------------------------------------------------------------------------------

def test_exactly_72_hours_is_on_time_and_one_second_more_is_late():
    assert not imy_is_late(T0, T0 + timedelta(hours=72))
    assert imy_is_late(T0, T0 + timedelta(hours=72, seconds=1))
    assert imy_deadline(T0) == T0 + timedelta(hours=72)


def test_weekends_count_as_clock_hours():
    assert imy_deadline(FRIDAY_EVENING) == datetime(2026, 3, 16, 17, 0, tzinfo=UTC)  # Monday, same hour
    assert imy_is_late(FRIDAY_EVENING, datetime(2026, 3, 16, 17, 0, 1, tzinfo=UTC))
    assert not imy_is_late(FRIDAY_EVENING, datetime(2026, 3, 16, 16, 59, tzinfo=UTC))


def test_the_hours_do_not_stretch_over_a_daylight_saving_change():
    aware = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Sweden moves the clock forward on 29 March
    assert imy_deadline(aware) - aware == timedelta(hours=72)


def test_a_late_imy_notification_needs_the_reason_for_the_delay():
    late = T0 + timedelta(hours=72, seconds=1)
    with pytest.raises(InvalidInput) as refused:
        send(Authority.imy, occurred_at=T0 - timedelta(days=1), sent_at=late, now=late, aware_at=T0, delay_reason=None)
    assert refused.value.field == "delay_reason"
    send(Authority.imy, occurred_at=T0 - timedelta(days=1), sent_at=late, now=late, aware_at=T0,
         delay_reason="Helg; DSO nåddes först på måndag.")
    on_time = T0 + timedelta(hours=72)
    send(Authority.imy, occurred_at=T0 - timedelta(days=1), sent_at=on_time, now=on_time, aware_at=T0,
         delay_reason=None)


def test_sending_is_never_dated_in_the_future():
    with pytest.raises(InvalidInput) as refused:
        send(Authority.ivo, occurred_at=T0 - timedelta(days=1), sent_at=T0 + timedelta(hours=1), now=T0,
             aware_at=None, delay_reason=None)
    assert refused.value.field == "sent_at"


def test_an_imy_notification_needs_aware_at():
    with pytest.raises(InvalidInput) as refused:
        send(Authority.imy, occurred_at=T0 - timedelta(days=1), sent_at=T0, now=T0, aware_at=None, delay_reason=None)
    assert refused.value.field == "aware_at"


def test_a_sent_notification_is_frozen():
    check_not_sent(None)
    with pytest.raises(Conflict):
        check_not_sent(T0)


# ---- the forms ---------------------------------------------------------------------------------------

def test_fields_of_the_other_authority_are_refused():
    check_form_fields(Authority.ivo, {"operator", "kind", "sender_reference"})
    with pytest.raises(InvalidInput) as refused:
        check_form_fields(Authority.ivo, {"kind", "nature"})
    assert refused.value.field == "nature"
    with pytest.raises(InvalidInput):
        check_form_fields(Authority.imy, {"investigation_attached"})


def test_what_must_be_filled_before_sending():
    form = {"sender_reference": "SOC-2026-00001", "kind": "serious_impropriety",
            "operator": {"name": "Socialnämnden", "organisation_number": None}, "unit": {"name": "Hemtjänst"},
            "what_happened": "  ", "where": "Hemtjänst", "occurred_at": T0}
    assert missing_for_sending(Authority.ivo, form) == ["operator.organisation_number", "unit.address",
                                                       "what_happened"]
    with pytest.raises(IncompleteNotification) as refused:
        check_complete(Authority.ivo, form)
    assert refused.value.extensions() == {"missing": ["operator.organisation_number", "unit.address",
                                                      "what_happened"]}
    assert missing_for_sending(Authority.imy, {"nature": "Fel mottagare", "aware_at": T0,
                                               "contact": {"name": "DSO"}}) == []


def test_times_on_the_form_are_past_and_in_order():
    check_form_times({"occurred_at": T0, "aware_at": T0, "ended_at": T0 + timedelta(hours=1)}, T0 + timedelta(hours=2))
    with pytest.raises(InvalidInput) as refused:
        check_form_times({"occurred_at": T0, "aware_at": T0 - timedelta(minutes=1)}, T0)
    assert refused.value.field == "aware_at"
    with pytest.raises(InvalidInput) as refused:
        check_form_times({"ended_at": T0 + timedelta(days=1)}, T0)
    assert refused.value.field == "ended_at"


@pytest.mark.parametrize(("number", "valid"), [("212000-0142", True), ("212000-0143", False),
                                               ("2120000142", False), ("21200-00142", False), ("abcdef-ghij", False)])
def test_organisation_numbers_carry_a_luhn_check_digit(number, valid):
    assert valid_organisation_number(number) is valid


def test_only_a_decided_investigation_goes_to_ivo():
    check_investigation_ready(T0, "kind")
    with pytest.raises(Conflict) as refused:
        check_investigation_ready(None, "investigation_attached")
    assert refused.value.field == "investigation_attached"


# ---- after sending -----------------------------------------------------------------------------------

def test_supplements_go_to_a_sent_notification_only():
    with pytest.raises(Conflict):
        check_supplement(Authority.ivo, SupplementKind.other, notification_sent_at=None, sent_at=T0, now=T0)
    check_supplement(Authority.ivo, SupplementKind.investigation, notification_sent_at=T0, sent_at=T0, now=T0,
                     investigation_decided_at=T0)


def test_the_investigation_is_a_supplement_to_ivo_only_and_not_before_the_notification():
    with pytest.raises(InvalidInput) as refused:
        check_supplement(Authority.imy, SupplementKind.investigation, notification_sent_at=T0, sent_at=T0, now=T0)
    assert refused.value.field == "kind"
    with pytest.raises(InvalidInput) as refused:
        check_supplement(Authority.ivo, SupplementKind.other, notification_sent_at=T0,
                         sent_at=T0 - timedelta(days=1), now=T0)
    assert refused.value.field == "sent_at"


def response(**overrides):
    args = {"notification_sent_at": T0, "reference": None, "decision": None, "decision_at": None,
            "has_decision": False, "now": T0 + timedelta(days=30), "time_zone": "Europe/Stockholm"}
    return check_authority_response(**{**args, **overrides})


def test_the_authoritys_response_needs_a_sent_notification_and_something_to_record():
    response(reference="IVO 3.5.1-12345/2026")
    with pytest.raises(Conflict):
        response(notification_sent_at=None, reference="IVO 1")
    with pytest.raises(InvalidInput):
        response()


def test_the_decision_date_goes_with_a_decision_between_sending_and_today():
    response(decision="Ärendet avslutas.", decision_at=date(2026, 4, 1))
    response(decision_at=date(2026, 4, 1), has_decision=True)  # dating a decision recorded earlier
    for bad in (dict(decision_at=date(2026, 4, 1)),
                dict(decision="Avslutat", decision_at=date(2026, 5, 1)),
                dict(decision="Avslutat", decision_at=date(2026, 3, 9))):
        with pytest.raises(InvalidInput) as refused:
            response(**bad)
        assert refused.value.field == "authority_decision_at"


# ---- the data subjects -------------------------------------------------------------------------------

def test_data_subject_communication_belongs_to_high_risk():
    for findings in ([incident(IncidentRisk.risk)], [sarah(LexSarahSeverity.serious_impropriety)]):
        with pytest.raises(Conflict):
            check_data_subject_communication(findings, informed_at=T0, method="Brev", exemption=None,
                                             justification=None, now=T0)
    check_data_subject_communication([incident(IncidentRisk.high_risk)], informed_at=T0, method="Brev",
                                     exemption=None, justification=None, now=T0)
    check_data_subject_communication([incident(IncidentRisk.high_risk)], informed_at=None, method=None,
                                     exemption=DataSubjectExemption.unintelligible_data,
                                     justification="Krypterat USB-minne.", now=T0)


@pytest.mark.parametrize(("args", "field"), [
    (dict(informed_at=None, method=None, exemption=None, justification=None), "informed_at"),
    (dict(informed_at=T0, method=None, exemption=None, justification=None), "method"),
    (dict(informed_at=T0 + timedelta(days=1), method="Brev", exemption=None, justification=None), "informed_at"),
    (dict(informed_at=None, method=None, exemption=DataSubjectExemption.disproportionate_effort,
          justification=" "), "justification"),
    (dict(informed_at=T0, method="Brev", exemption=DataSubjectExemption.risk_no_longer_likely,
          justification="x"), "exemption"),
])
def test_data_subject_communication_is_informed_or_exempted_with_reasons(args, field):
    with pytest.raises(InvalidInput) as refused:
        check_data_subject_communication([incident(IncidentRisk.high_risk)], now=T0, **args)
    assert refused.value.field == field


def test_a_notification_is_not_sent_before_the_event_nor_before_awareness():
    with pytest.raises(InvalidInput) as refused:
        send(Authority.ivo, occurred_at=T0, sent_at=T0 - timedelta(hours=1), now=T0, aware_at=None,
             delay_reason=None)
    assert refused.value.field == "sent_at"
    with pytest.raises(InvalidInput):
        send(Authority.imy, occurred_at=T0 - timedelta(days=2), sent_at=T0 - timedelta(hours=1), now=T0,
             aware_at=T0, delay_reason=None)


def test_the_investigation_supplement_needs_a_decision_made_before_it_was_sent():
    with pytest.raises(Conflict):
        check_supplement(Authority.ivo, SupplementKind.investigation, notification_sent_at=T0, sent_at=T0, now=T0)
    with pytest.raises(InvalidInput):
        check_supplement(Authority.ivo, SupplementKind.investigation, notification_sent_at=T0, sent_at=T0, now=T0,
                         investigation_decided_at=T0 + timedelta(minutes=1))


# ---- when sending can have happened, and the one awareness time -----------------------------------------

@pytest.mark.parametrize(("received", "drafted"), [(T0, T0 - timedelta(days=1)), (T0 - timedelta(days=1), T0)])
def test_sending_is_not_dated_before_the_report_was_received_or_the_draft_made(received, drafted):
    """A sent_at in the past is for recording a sending made earlier, not for one that could not yet be made."""
    with pytest.raises(InvalidInput) as refused:
        check_send(Authority.ivo, occurred_at=T0 - timedelta(days=2), received_at=received, drafted_at=drafted,
                   sent_at=T0 - timedelta(minutes=1), now=T0 + timedelta(days=1), aware_at=None, delay_reason=None)
    assert refused.value.field == "sent_at"
    check_send(Authority.ivo, occurred_at=T0 - timedelta(days=2), received_at=received, drafted_at=drafted,
               sent_at=T0, now=T0 + timedelta(days=1), aware_at=None, delay_reason=None)


def test_sending_may_be_a_few_minutes_ahead_for_clock_skew_but_not_more():
    send(Authority.ivo, occurred_at=T0 - timedelta(days=1), sent_at=T0 + timedelta(minutes=5), now=T0,
         aware_at=None, delay_reason=None)
    with pytest.raises(InvalidInput) as refused:
        send(Authority.ivo, occurred_at=T0 - timedelta(days=1), sent_at=T0 + timedelta(minutes=5, seconds=1), now=T0,
             aware_at=None, delay_reason=None)
    assert refused.value.field == "sent_at"


def test_a_backdated_imy_sending_is_still_late_when_it_is_after_the_72_hours():
    drafted = T0 + timedelta(hours=100)
    with pytest.raises(InvalidInput) as refused:
        check_send(Authority.imy, occurred_at=T0, received_at=T0, drafted_at=drafted, aware_at=T0,
                   sent_at=drafted, now=drafted, delay_reason=None)
    assert refused.value.field == "delay_reason"


def test_the_imy_form_shows_the_awareness_time_but_does_not_change_it():
    check_form_awareness({"contact": {"name": "Dana"}}, T0)
    check_form_awareness({"aware_at": T0.astimezone(timezone(timedelta(hours=1)))}, T0)  # the same moment
    for other in (T0 + timedelta(hours=30), T0 - timedelta(hours=1), None):
        with pytest.raises(InvalidInput) as refused:
            check_form_awareness({"aware_at": other}, T0)
        assert refused.value.field == "aware_at"
