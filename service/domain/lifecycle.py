"""The case lifecycle as a table: which action is allowed in which status, and where it leads.

rapport → bedömning → utredning → åtgärd → anmälan (IVO/IMY) → uppföljning → avslutad (docs/lifecycle.md).
Åtgärder, notifications and supplements run beside the main line, so those steps keep the status.
The closing rules that depend on the case's contents live in closing.py.
"""

from __future__ import annotations

from enum import StrEnum

from service.domain.access import Permission
from service.domain.errors import Conflict


class CaseStatus(StrEnum):
    reported = "reported"  # rapport received, not yet assessed
    assessed = "assessed"  # bedömning made
    investigating = "investigating"  # utredning open
    investigated = "investigated"  # utredning closed by a decision
    followed_up = "followed_up"  # uppföljning recorded
    closed = "closed"  # avslutad


class Step(StrEnum):
    """What a user does to a case; the table below says when each is possible."""

    assess = "assess"
    start_investigation = "start_investigation"
    add_investigation_entry = "add_investigation_entry"
    decide_investigation = "decide_investigation"
    manage_actions = "manage_actions"  # plan, complete, evaluate åtgärder
    notify = "notify"  # draft and send IVO/IMY notifications and supplements; data-subject communication
    record_authority_response = "record_authority_response"  # the authority's reference and decision
    follow_up = "follow_up"
    close = "close"
    reopen = "reopen"


S, A = CaseStatus, Step
_OPEN_AFTER_ASSESSMENT = (S.assessed, S.investigating, S.investigated, S.followed_up)

TRANSITIONS: dict[tuple[CaseStatus, Step], CaseStatus] = {
    (S.reported, A.assess): S.assessed,
    **{(status, A.assess): status for status in (S.assessed, S.investigating, S.investigated, S.followed_up)},
    (S.assessed, A.start_investigation): S.investigating,
    (S.investigating, A.add_investigation_entry): S.investigating,
    (S.investigating, A.decide_investigation): S.investigated,
    **{(status, A.manage_actions): status for status in _OPEN_AFTER_ASSESSMENT},
    **{(status, A.notify): status for status in _OPEN_AFTER_ASSESSMENT},
    # IVO and IMY answer when they answer, possibly after the case is closed.
    **{(status, A.record_authority_response): status for status in (*_OPEN_AFTER_ASSESSMENT, S.closed)},
    (S.investigated, A.follow_up): S.followed_up,
    (S.followed_up, A.follow_up): S.followed_up,
    (S.followed_up, A.close): S.closed,
    (S.assessed, A.close): S.closed,  # only a report judged not a deviation (closing.py)
    (S.closed, A.reopen): S.assessed,
}


class CaseChange(StrEnum):
    """Every way a user changes a case, one use case each (service/cases.py case_step runs them all)."""

    assess = "assess"
    start_investigation = "start_investigation"
    add_investigation_entry = "add_investigation_entry"
    decide_investigation = "decide_investigation"
    create_action = "create_action"
    mark_action_done = "mark_action_done"
    evaluate_action = "evaluate_action"
    draft_notification = "draft_notification"
    edit_notification = "edit_notification"
    send_ivo_notification = "send_ivo_notification"
    send_imy_notification = "send_imy_notification"
    add_supplement = "add_supplement"
    record_authority_response = "record_authority_response"
    record_data_subject_communication = "record_data_subject_communication"
    follow_up = "follow_up"
    close = "close"
    reopen = "reopen"


C, P = CaseChange, Permission
# Who may take which step: the lifecycle step each change is (TRANSITIONS says when it is possible) and the
# permission it needs on one of the case's enheter (access.py ROLE_PERMISSIONS says which roles hold it).
STEPS: dict[CaseChange, tuple[Step, Permission]] = {
    C.assess: (A.assess, P.assess),
    C.start_investigation: (A.start_investigation, P.investigate),
    C.add_investigation_entry: (A.add_investigation_entry, P.investigate),
    C.decide_investigation: (A.decide_investigation, P.investigate),
    C.create_action: (A.manage_actions, P.manage_actions),
    C.mark_action_done: (A.manage_actions, P.manage_actions),
    C.evaluate_action: (A.manage_actions, P.manage_actions),
    C.draft_notification: (A.notify, P.draft_notification),
    C.edit_notification: (A.notify, P.draft_notification),
    C.send_ivo_notification: (A.notify, P.send_ivo_notification),
    C.send_imy_notification: (A.notify, P.send_imy_notification),
    C.add_supplement: (A.notify, P.draft_notification),
    C.record_authority_response: (A.record_authority_response, P.draft_notification),
    C.record_data_subject_communication: (A.notify, P.send_imy_notification),
    C.follow_up: (A.follow_up, P.follow_up),
    C.close: (A.close, P.close_case),
    C.reopen: (A.reopen, P.reopen_case),
}


class InvalidTransition(Conflict):
    def __init__(self, status: CaseStatus, step: Step) -> None:
        self.status, self.step = status, step
        self.allowed = allowed_steps(status)
        super().__init__(
            f"'{step}' is not possible while the case is {status}; possible now: "
            f"{', '.join(self.allowed) or 'nothing'}."
        )

    def extensions(self) -> dict[str, object]:
        return {"case_status": self.status.value, "allowed_steps": [step.value for step in self.allowed]}


def allowed_steps(status: CaseStatus) -> list[Step]:
    return [step for (from_status, step) in TRANSITIONS if from_status is status]


def apply(status: CaseStatus, step: Step) -> CaseStatus:
    """The status after `step`, or InvalidTransition. The only way a case's status changes."""
    try:
        return TRANSITIONS[(status, step)]
    except KeyError:
        raise InvalidTransition(status, step) from None
