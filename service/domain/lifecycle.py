"""The case lifecycle as a table: which action is allowed in which status, and where it leads.

rapport → bedömning → utredning → åtgärd → anmälan (IVO/IMY) → uppföljning → avslutad (docs/lifecycle.md).
Åtgärder, notifications and supplements run beside the main line, so those steps keep the status.
The closing rules that depend on the case's contents live in closing.py.
"""

from __future__ import annotations

from enum import StrEnum

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
