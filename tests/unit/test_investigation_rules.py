"""The investigation and action rules without a database: kind, required topics, corrections, root causes,
and when an action can be done or evaluated."""

from __future__ import annotations

from datetime import date

import pytest

from service.domain.actions import ActionKind, check_done, check_evaluation, check_new_action
from service.domain.assessment import (
    ComplaintKind,
    ComplaintSubmitter,
    IncidentRisk,
    LexSarahSeverity,
    ReportType,
    TypeFinding,
)
from service.domain.errors import Conflict, InvalidInput
from service.domain.investigation import (
    EntryRef,
    IncompleteInvestigation,
    InvestigationKind,
    Topic,
    check_correction,
    check_decision,
    check_documented_on,
    check_root_causes,
    choose_kind,
    corrected_by,
    decision_kind,
    missing_topics,
    required_kind,
)

FULL, LIGHT = InvestigationKind.full, InvestigationKind.light
SARAH = TypeFinding(ReportType.lex_sarah, lex_sarah_severity=LexSarahSeverity.impropriety)
INCIDENT = TypeFinding(ReportType.personal_data_incident, incident_risk=IncidentRisk.no_risk)
OTHER = TypeFinding(ReportType.other_deviation)
COMPLAINT = TypeFinding(ReportType.complaint, complaint_kind=ComplaintKind.complaint,
                        complaint_submitter=ComplaintSubmitter.relative)
CAUSES = {"missing_routine": "Rutin saknas", "staffing": "Bemanning/vakanser"}
TODAY = date(2026, 3, 10)


# ---- the kind ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("findings", "kind"), [
    ([SARAH], FULL), ([INCIDENT], FULL), ([OTHER, INCIDENT], FULL), ([COMPLAINT, SARAH], FULL),
    ([OTHER], LIGHT), ([COMPLAINT], LIGHT), ([OTHER, COMPLAINT], LIGHT),
])
def test_lex_sarah_and_personal_data_incidents_require_a_full_investigation(findings, kind):
    assert required_kind(findings) is kind
    assert choose_kind(None, findings) is kind


@pytest.mark.parametrize("findings", [[SARAH], [OTHER, INCIDENT]])
def test_a_light_investigation_is_refused_where_a_full_one_is_required(findings):
    with pytest.raises(Conflict) as refused:
        choose_kind(LIGHT, findings)
    assert refused.value.field == "kind"
    assert "full" in refused.value.detail


def test_a_full_investigation_is_always_allowed_and_light_where_enough():
    assert choose_kind(FULL, [OTHER]) is FULL
    assert choose_kind(LIGHT, [COMPLAINT]) is LIGHT


def test_a_reassessment_to_lex_sarah_makes_an_open_light_investigation_full_for_the_decision():
    assert decision_kind(LIGHT, [SARAH]) is FULL
    assert decision_kind(LIGHT, [OTHER]) is LIGHT
    assert decision_kind(FULL, [OTHER]) is FULL  # never downgraded


# ---- what the decision needs -------------------------------------------------------------------------

def test_a_full_investigation_needs_the_six_items_of_sosfs_2011_5_in_order():
    assert missing_topics(FULL, []) == [Topic.what_happened, Topic.how_noticed, Topic.when_happened,
                                        Topic.causes, Topic.earlier_events, Topic.recurrence_risk]
    present = {Topic.what_happened, Topic.causes, Topic.actions_taken, Topic.other_findings}
    assert missing_topics(FULL, present) == [Topic.how_noticed, Topic.when_happened, Topic.earlier_events,
                                             Topic.recurrence_risk]


def test_a_light_investigation_needs_what_happened_and_causes():
    assert missing_topics(LIGHT, []) == [Topic.what_happened, Topic.causes]
    assert missing_topics(LIGHT, [Topic.causes]) == [Topic.what_happened]
    assert missing_topics(LIGHT, [Topic.what_happened, Topic.causes]) == []


def test_the_decision_is_refused_naming_the_missing_topics():
    with pytest.raises(IncompleteInvestigation) as refused:
        check_decision(FULL, [Topic.what_happened, Topic.how_noticed, Topic.when_happened, Topic.causes],
                       ["staffing"], CAUSES)
    assert isinstance(refused.value, Conflict)
    assert refused.value.extensions() == {"missing_topics": ["earlier_events", "recurrence_risk"]}
    assert "earlier_events" in refused.value.detail and "recurrence_risk" in refused.value.detail


def test_the_decision_passes_when_every_required_topic_has_an_entry():
    check_decision(FULL, set(Topic), ["missing_routine", "staffing"], CAUSES)
    check_decision(LIGHT, [Topic.what_happened, Topic.causes], [], CAUSES)


def test_root_causes_are_known_codes_given_once():
    check_root_causes(["staffing", "missing_routine"], CAUSES)
    with pytest.raises(InvalidInput) as unknown:
        check_root_causes(["staffing", "bad_luck"], CAUSES)
    assert unknown.value.field == "/root_causes/1" and "bad_luck" not in unknown.value.detail  # named, not echoed
    with pytest.raises(InvalidInput) as twice:
        check_root_causes(["staffing", "missing_routine", "staffing"], CAUSES)
    assert twice.value.field == "/root_causes/2"


def test_an_unknown_root_cause_is_reported_before_missing_topics():
    with pytest.raises(InvalidInput) as refused:
        check_decision(FULL, [], ["bad_luck"], CAUSES)
    assert refused.value.field == "/root_causes/0"


# ---- entries and corrections -------------------------------------------------------------------------

def test_an_entry_cannot_be_documented_in_the_future():
    check_documented_on(TODAY, TODAY)
    check_documented_on(date(2026, 3, 1), TODAY)
    with pytest.raises(InvalidInput) as refused:
        check_documented_on(date(2026, 3, 11), TODAY)
    assert refused.value.field == "documented_on"


def test_a_correction_points_at_an_entry_of_the_same_investigation_and_keeps_its_topic():
    earlier = EntryRef(id=4, investigation_id=1, topic=Topic.causes)
    check_correction(earlier, 1, Topic.causes)
    with pytest.raises(InvalidInput) as other_topic:
        check_correction(earlier, 1, Topic.what_happened)
    assert other_topic.value.field == "topic" and "causes" in other_topic.value.detail
    with pytest.raises(InvalidInput) as other_investigation:
        check_correction(earlier, 2, Topic.causes)
    assert other_investigation.value.field == "corrects_entry_id"
    with pytest.raises(InvalidInput) as missing:
        check_correction(None, 1, Topic.causes)
    assert missing.value.field == "corrects_entry_id"


def test_corrected_entries_list_the_entries_that_correct_them():
    assert corrected_by([(3, 1), (1, None), (2, None), (5, 1), (4, 3)]) == {1: [3, 5], 2: [], 3: [4], 4: [], 5: []}


# ---- åtgärder ----------------------------------------------------------------------------------------

OCCURRED = date(2026, 3, 9)


def test_an_immediate_action_may_be_recorded_as_done_between_the_event_and_today():
    check_new_action(ActionKind.immediate, None, OCCURRED, TODAY, OCCURRED)
    check_new_action(ActionKind.immediate, None, TODAY, TODAY, OCCURRED)
    for done, why in ((date(2026, 3, 11), "future"), (date(2026, 3, 8), "before the event")):
        with pytest.raises(InvalidInput) as refused:
            check_new_action(ActionKind.immediate, None, done, TODAY, OCCURRED)
        assert refused.value.field == "done_date" and why in refused.value.detail


def test_a_planned_action_is_not_done_at_creation_and_not_due_in_the_past():
    check_new_action(ActionKind.planned, date(2026, 4, 1), None, TODAY, OCCURRED)
    check_new_action(ActionKind.planned, TODAY, None, TODAY, OCCURRED)
    check_new_action(ActionKind.planned, None, None, TODAY, OCCURRED)
    with pytest.raises(InvalidInput) as done:
        check_new_action(ActionKind.planned, None, TODAY, TODAY, OCCURRED)
    assert done.value.field == "done_date"
    with pytest.raises(InvalidInput) as past:
        check_new_action(ActionKind.planned, date(2026, 3, 9), None, TODAY, OCCURRED)
    assert past.value.field == "due_date"


def test_an_action_is_done_once_between_its_creation_and_today():
    created = date(2026, 3, 5)
    check_done(None, created, created, TODAY)
    check_done(None, TODAY, created, TODAY)
    with pytest.raises(InvalidInput) as early:
        check_done(None, date(2026, 3, 4), created, TODAY)
    assert early.value.field == "done_date"
    with pytest.raises(InvalidInput) as future:
        check_done(None, date(2026, 3, 11), created, TODAY)
    assert future.value.field == "done_date"
    with pytest.raises(Conflict):
        check_done(date(2026, 3, 6), TODAY, created, TODAY)


def test_only_a_done_action_is_evaluated():
    check_evaluation(date(2026, 3, 6))
    with pytest.raises(Conflict):
        check_evaluation(None)
