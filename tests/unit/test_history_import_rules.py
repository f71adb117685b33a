"""The rules of one imported report (service/domain/history_import.py): no database, a fixed 'now'."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

from service.domain.assessment import LexSarahSeverity, ReportType, TypeFinding
from service.domain.deadlines import DeadlineKind, Policy, open_deadlines
from service.domain.history_import import (
    ImportedAssessment,
    ImportedNotification,
    ImportedReport,
    ImportedStatus,
    case_status,
    check_row,
    facts,
    fingerprint,
)
from service.domain.lifecycle import CaseStatus
from service.domain.notifications import Authority

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
RECEIVED = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
SERIOUS = TypeFinding(ReportType.lex_sarah, lex_sarah_severity=LexSarahSeverity.serious_impropriety)
ROW = ImportedReport(
    source="treserva", previous_case_number="T-1", received_at=RECEIVED, occurred_at=RECEIVED - timedelta(days=1),
    noticed_at=RECEIVED - timedelta(hours=2), unit_codes=["SOC-ALD-1"], category="care",
    status=ImportedStatus.closed, closed_at=RECEIVED + timedelta(days=30),
    assessment=ImportedAssessment(assessed_at=RECEIVED + timedelta(hours=5), findings=[SERIOUS]),
    notifications=[ImportedNotification(Authority.ivo, sent_at=RECEIVED + timedelta(days=3),
                                        investigation_attached=True)],
    no_specific_subject=True)


def _pointers(row: ImportedReport) -> list[str]:
    return [error.pointer for error in check_row(row, NOW, "Europe/Stockholm")]


def test_a_consistent_closed_case_passes():
    assert _pointers(ROW) == []


def test_every_broken_rule_is_listed_not_only_the_first():
    row = replace(ROW, source="Treserva", noticed_at=ROW.occurred_at - timedelta(hours=1), unit_codes=["A", "A"],
                  closed_at=RECEIVED - timedelta(days=1),
                  assessment=ImportedAssessment(assessed_at=NOW + timedelta(days=1),
                                                findings=[TypeFinding(ReportType.lex_sarah)]))
    assert _pointers(row) == ["/source", "/noticed_at", "/units", "/assessment/types/0/lex_sarah_severity",
                              "/assessment/assessed_at", "/closed_at", "/closed_at"]


def test_closed_needs_its_time_and_assessment_and_open_has_no_closing_time():
    assert _pointers(replace(ROW, closed_at=None, assessment=None)) == ["/closed_at", "/assessment"]
    assert _pointers(replace(ROW, status=ImportedStatus.open)) == ["/closed_at"]
    assert _pointers(replace(ROW, status=ImportedStatus.open, closed_at=None, assessment=None,
                             notifications=[])) == []


def test_a_notification_once_per_authority_and_a_decision_day_after_it_was_sent():
    sent = ROW.notifications[0]
    row = replace(ROW, notifications=[sent, replace(sent, authority_decision_on=date(2025, 3, 1))])
    assert _pointers(row) == ["/notifications/1/authority", "/notifications/1/authority_decision_on",
                              "/notifications/1/authority_decision_on"]


def test_a_personnummer_as_subject_reference_is_refused():
    assert _pointers(replace(ROW, no_specific_subject=False, subject_reference="121212-1212")) == [
        "/subject_reference"]


def test_the_fingerprint_ignores_how_a_row_is_written_and_sees_what_it_says():
    elsewhere = timezone(timedelta(hours=2))
    rewritten = replace(ROW, received_at=RECEIVED.astimezone(elsewhere), unit_codes=["SOC-ALD-1"])
    assert fingerprint(rewritten) == fingerprint(ROW)
    assert fingerprint(replace(ROW, category="safety")) != fingerprint(ROW)
    assert fingerprint(replace(ROW, description="x")) != fingerprint(ROW)
    two = replace(ROW, unit_codes=["B", "A"])
    assert fingerprint(two) == fingerprint(replace(ROW, unit_codes=["A", "B"]))


def test_closed_stays_closed_without_deadlines_and_open_continues_with_those_its_history_implies():
    assert case_status(ROW) is CaseStatus.closed
    assert open_deadlines(facts(ROW), Policy()) == []
    unassessed = replace(ROW, status=ImportedStatus.open, closed_at=None, assessment=None, notifications=[])
    assert case_status(unassessed) is CaseStatus.reported
    assert [d.kind for d in open_deadlines(facts(unassessed), Policy())] == [DeadlineKind.first_assessment]
    serious_open = replace(ROW, status=ImportedStatus.open, closed_at=None, notifications=[])
    assert case_status(serious_open) is CaseStatus.assessed
    kinds = [d.kind for d in open_deadlines(facts(serious_open), Policy())]
    assert kinds == [DeadlineKind.ivo_notification, DeadlineKind.ivo_notification_escalation]


def test_a_report_may_come_in_by_every_channel_but_the_history_imports_own() -> None:
    from service.api.reports import IntakeChannel
    from service.domain.reports import Channel

    assert {channel.value for channel in IntakeChannel} == {channel.value for channel in Channel} - {"imported"}
