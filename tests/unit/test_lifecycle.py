"""The lifecycle table, the closing rules and the deadline rules, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from service.domain.assessment import (
    ComplaintKind,
    ComplaintSubmitter,
    IncidentRisk,
    LexSarahSeverity,
    ReportType,
    TypeFinding,
    awareness_time,
    check_findings,
    incident_awareness,
)
from service.domain.case_facts import CaseFacts, SentNotification
from service.domain.closing import ActionsStillOpen, CannotClose, check_can_close, check_can_follow_up, closing_blockers
from service.domain.deadlines import DeadlineKind, Policy, add_months, first_assessment_deadline, open_deadlines
from service.domain.errors import Conflict, InvalidInput
from service.domain.lifecycle import TRANSITIONS, CaseStatus, InvalidTransition, Step, allowed_steps, apply

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
SERIOUS = TypeFinding(ReportType.lex_sarah, lex_sarah_severity=LexSarahSeverity.serious_impropriety)
MINOR_SARAH = TypeFinding(ReportType.lex_sarah, lex_sarah_severity=LexSarahSeverity.impropriety)
HIGH_RISK = TypeFinding(ReportType.personal_data_incident, incident_risk=IncidentRisk.high_risk)
OTHER = TypeFinding(ReportType.other_deviation)
NOT_A_DEVIATION = TypeFinding(ReportType.not_a_deviation)


# ---- the table ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", list(CaseStatus))
@pytest.mark.parametrize("step", list(Step))
def test_every_step_either_leads_somewhere_or_is_refused_naming_the_possible_ones(status, step):
    if (status, step) in TRANSITIONS:
        assert apply(status, step) is TRANSITIONS[(status, step)]
    else:
        with pytest.raises(InvalidTransition) as refused:
            apply(status, step)
        assert refused.value.allowed == allowed_steps(status)
        assert step not in refused.value.allowed


def test_the_main_line():
    status = CaseStatus.reported
    for step in (Step.assess, Step.start_investigation, Step.decide_investigation, Step.follow_up, Step.close):
        status = apply(status, step)
    assert status is CaseStatus.closed
    assert apply(status, Step.reopen) is CaseStatus.assessed


def test_a_closed_case_takes_only_reopening_and_the_authoritys_answer():
    assert set(allowed_steps(CaseStatus.closed)) == {Step.reopen, Step.record_authority_response}


def test_notification_is_possible_from_assessment_on_but_not_before():
    assert Step.notify not in allowed_steps(CaseStatus.reported)
    for status in (CaseStatus.assessed, CaseStatus.investigating, CaseStatus.investigated, CaseStatus.followed_up):
        assert apply(status, Step.notify) is status


# ---- types --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("findings", "field"),
    [
        ([], "types"),
        ([NOT_A_DEVIATION, OTHER], "types"),
        ([OTHER, OTHER], "types"),
        ([TypeFinding(ReportType.lex_sarah)], "/types/0/lex_sarah_severity"),
        ([OTHER, TypeFinding(ReportType.personal_data_incident)], "/types/1/incident_risk"),
        ([TypeFinding(ReportType.complaint, complaint_kind=ComplaintKind.praise)], "/types/0/complaint_submitter"),
        ([TypeFinding(ReportType.other_deviation, incident_risk=IncidentRisk.risk)], "/types/0/incident_risk"),
    ],
)
def test_bad_findings_are_refused_naming_the_field(findings, field):
    with pytest.raises(InvalidInput) as refused:
        check_findings(findings)
    assert refused.value.field == field


def test_a_secrecy_breach_can_be_both_lex_sarah_and_an_incident():
    check_findings([SERIOUS, HIGH_RISK])
    check_findings([TypeFinding(ReportType.complaint, complaint_kind=ComplaintKind.complaint,
                                complaint_submitter=ComplaintSubmitter.relative)])


# ---- closing ------------------------------------------------------------------------------------------

def _facts(**overrides) -> CaseFacts:
    base: dict[str, Any] = dict(status=CaseStatus.followed_up, findings=[OTHER], followed_up=True)
    base.update(overrides)
    return CaseFacts(**base)


def test_a_followed_up_minor_deviation_closes():
    check_can_close(_facts())


def test_not_a_deviation_closes_without_anything_else():
    assert closing_blockers(CaseFacts(status=CaseStatus.assessed, findings=[NOT_A_DEVIATION])) == []


@pytest.mark.parametrize(
    ("overrides", "blocker"),
    [
        ({"followed_up": False}, "follow-up"),
        ({"open_action_due_dates": {7: None}}, "action(s) are not done"),
        ({"findings": [MINOR_SARAH]}, "investigation closed by a decision"),
        ({"findings": [SERIOUS], "investigation_decided_at": T0}, "sent IVO notification"),
        ({"findings": [SERIOUS], "investigation_decided_at": T0, "ivo": SentNotification(sent_at=T0)},
         "investigation must be sent to IVO"),
        ({"findings": [HIGH_RISK]}, "sent IMY notification"),
        ({"findings": [HIGH_RISK], "imy": SentNotification(sent_at=T0)}, "data subjects"),
    ],
)
def test_closing_is_refused_with_the_reason(overrides, blocker):
    with pytest.raises(CannotClose) as refused:
        check_can_close(_facts(**overrides))
    assert any(blocker in reason for reason in refused.value.blockers)


def test_a_serious_case_with_everything_done_closes():
    check_can_close(_facts(findings=[SERIOUS, HIGH_RISK], investigation_decided_at=T0,
                           ivo=SentNotification(sent_at=T0, investigation_supplement_at=T0 + timedelta(days=20)),
                           imy=SentNotification(sent_at=T0), data_subjects_handled=True))


# ---- deadlines ----------------------------------------------------------------------------------------

def _kinds(facts: CaseFacts) -> dict[DeadlineKind, datetime]:
    return {deadline.kind: deadline.due_at for deadline in open_deadlines(facts, Policy())}


def test_imy_deadline_is_72_clock_hours_after_awareness_weekend_included():
    friday_evening = datetime(2026, 3, 13, 17, 0, tzinfo=UTC)
    due = _kinds(_facts(status=CaseStatus.assessed, findings=[HIGH_RISK], incident_aware_at=friday_evening))
    assert due[DeadlineKind.imy_notification] == datetime(2026, 3, 16, 17, 0, tzinfo=UTC)
    sent = _kinds(_facts(status=CaseStatus.assessed, findings=[HIGH_RISK], incident_aware_at=friday_evening,
                         imy=SentNotification(sent_at=friday_evening)))
    assert DeadlineKind.imy_notification not in sent


def test_ivo_warning_and_escalation_then_the_two_month_investigation_rule():
    judged = _facts(status=CaseStatus.investigating, findings=[SERIOUS], judged_serious_at=T0)
    assert _kinds(judged)[DeadlineKind.ivo_notification] == T0 + timedelta(days=7)
    assert _kinds(judged)[DeadlineKind.ivo_notification_escalation] == T0 + timedelta(days=14)
    sent_on = datetime(2026, 12, 31, 10, 0, tzinfo=UTC)
    notified = _facts(status=CaseStatus.investigating, findings=[SERIOUS], judged_serious_at=T0,
                      ivo=SentNotification(sent_at=sent_on))
    assert _kinds(notified) == {DeadlineKind.ivo_investigation: datetime(2027, 2, 28, 10, 0, tzinfo=UTC)}
    attached = _facts(status=CaseStatus.investigated, findings=[SERIOUS], judged_serious_at=T0,
                      ivo=SentNotification(sent_at=sent_on, investigation_attached=True))
    assert _kinds(attached) == {}


def test_open_investigation_and_actions_and_nothing_once_closed():
    facts = _facts(status=CaseStatus.investigating, investigation_started_at=T0,
                   open_action_due_dates={3: date(2026, 4, 1), 4: None})
    deadlines = open_deadlines(facts, Policy(investigation_days=30))
    assert [(d.kind, d.action_id) for d in deadlines] == [(DeadlineKind.action, 3), (DeadlineKind.investigation, None)]
    assert deadlines[0].due_at == datetime(2026, 4, 1, 22, 0, tzinfo=UTC)  # midnight after, Swedish summer time
    assert open_deadlines(_facts(status=CaseStatus.closed, findings=[HIGH_RISK], incident_aware_at=T0), Policy()) == []


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [(datetime(2026, 1, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
     (datetime(2026, 11, 15, tzinfo=UTC), 2, datetime(2027, 1, 15, tzinfo=UTC)),
     (datetime(2028, 12, 31, tzinfo=UTC), 2, datetime(2029, 2, 28, tzinfo=UTC))],
)
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected


# ---- the first assessment ----------------------------------------------------------------------------

def test_a_report_nobody_has_assessed_is_due_for_its_first_assessment():
    reported = CaseFacts(status=CaseStatus.reported, received_at=T0)
    assert _kinds(reported) == {DeadlineKind.first_assessment: T0 + timedelta(hours=24)}
    assert open_deadlines(reported, Policy(first_assessment_hours=8))[0].due_at == T0 + timedelta(hours=8)
    assert first_assessment_deadline(T0, Policy()).due_at == T0 + timedelta(hours=24)
    assessed = CaseFacts(status=CaseStatus.assessed, findings=[OTHER], received_at=T0, first_assessed_at=T0)
    assert DeadlineKind.first_assessment not in _kinds(assessed)


# ---- the duties of a sent notification survive a re-assessment ----------------------------------------

SENT_IVO = SentNotification(sent_at=T0)


@pytest.mark.parametrize("now_assessed_as", [[MINOR_SARAH], [OTHER], [NOT_A_DEVIATION]])
def test_a_sent_ivo_notification_keeps_its_two_month_rule_after_a_downgrade(now_assessed_as):
    facts = _facts(status=CaseStatus.investigated, findings=now_assessed_as, judged_serious_at=T0,
                   investigation_decided_at=T0, ivo=SENT_IVO)
    # 10 March 10:00 Swedish winter time → 10 May 10:00 Swedish summer time
    assert _kinds(facts) == {DeadlineKind.ivo_investigation: datetime(2026, 5, 10, 8, 0, tzinfo=UTC)}
    assert "the investigation must be sent to IVO as a supplement" in closing_blockers(facts)
    with pytest.raises(CannotClose):
        check_can_close(facts)
    met = _facts(status=CaseStatus.investigated, findings=now_assessed_as, judged_serious_at=T0,
                 investigation_decided_at=T0, ivo=SentNotification(sent_at=T0, investigation_supplement_at=T0))
    assert _kinds(met) == {} and "the investigation must be sent to IVO as a supplement" not in closing_blockers(met)


def test_a_downgrade_before_sending_lifts_the_duty_to_notify_ivo():
    facts = _facts(status=CaseStatus.assessed, findings=[MINOR_SARAH], judged_serious_at=T0,
                   investigation_decided_at=T0)
    assert _kinds(facts) == {} and closing_blockers(facts) == []


# ---- the follow-up checks that the actions had effect ------------------------------------------------

def test_a_follow_up_is_refused_while_actions_are_open_naming_them():
    with pytest.raises(ActionsStillOpen) as refused:
        check_can_follow_up(_facts(status=CaseStatus.investigated, followed_up=False,
                                   open_action_due_dates={9: None, 4: date(2026, 4, 1)}))
    assert isinstance(refused.value, Conflict)
    assert refused.value.extensions() == {"open_actions": [4, 9]}
    assert "4, 9" in refused.value.detail
    check_can_follow_up(_facts(status=CaseStatus.investigated, followed_up=False))


# ---- the one awareness time of an incident -------------------------------------------------------------

def test_the_awareness_time_is_the_earliest_recorded():
    assert awareness_time([]) is None and awareness_time([None]) is None
    assert awareness_time([T0, None, T0 - timedelta(hours=5), T0 + timedelta(days=1)]) == T0 - timedelta(hours=5)


def _aware(given, current, now=T0 + timedelta(days=5)):
    return incident_awareness(given=given, current=current, noticed_at=T0, occurred_at=T0 - timedelta(hours=2),
                              now=now)


def test_an_assessment_may_move_the_awareness_time_earlier_never_later():
    assert _aware(None, None) == T0  # the first time, by default: when the report says it was noticed
    assert _aware(None, T0 + timedelta(hours=3)) == T0 + timedelta(hours=3)  # kept, not reset to noticed_at
    assert _aware(T0 - timedelta(hours=1), T0) == T0 - timedelta(hours=1)
    assert _aware(T0, T0) == T0
    for later in (T0 + timedelta(seconds=1), T0 + timedelta(hours=100)):
        with pytest.raises(InvalidInput) as refused:
            _aware(later, T0)
        assert refused.value.field == "incident_aware_at"


@pytest.mark.parametrize("given", [T0 + timedelta(days=5, seconds=1), T0 - timedelta(hours=2, seconds=1)])
def test_the_awareness_time_is_not_in_the_future_nor_before_the_event(given):
    with pytest.raises(InvalidInput) as refused:
        _aware(given, None)
    assert refused.value.field == "incident_aware_at"
