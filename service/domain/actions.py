"""The åtgärder (actions) of a case (docs/requirements.md Q2), without a database: immediate or planned,
done, evaluated."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from service.domain.errors import Conflict, InvalidInput


class ActionKind(StrEnum):
    immediate = "immediate"  # taken at once, often before the case was assessed
    planned = "planned"  # to prevent recurrence


def check_new_action(kind: ActionKind, due_date: date | None, done_date: date | None, today: date,
                     occurred_on: date) -> None:
    """An immediate action may be recorded as already done, on a day between the event and today;
    an action still open must not be due before today."""
    if done_date is not None:
        if kind is not ActionKind.immediate:
            raise InvalidInput("Only an immediate action can be recorded as done when it is created; "
                               "mark a planned action done when it is.", field="done_date")
        if done_date > today:
            raise InvalidInput("done_date is in the future.", field="done_date")
        if done_date < occurred_on:
            raise InvalidInput("done_date is before the event happened.", field="done_date")
    elif due_date is not None and due_date < today:
        raise InvalidInput("due_date is in the past.", field="due_date")


def check_done(done_date: date | None, new_done_date: date, created_on: date, today: date) -> None:
    if done_date is not None:
        raise Conflict(f"The action was already done on {done_date.isoformat()}.")
    if new_done_date > today:
        raise InvalidInput("done_date is in the future.", field="done_date")
    if new_done_date < created_on:
        raise InvalidInput(f"done_date is before the action was created ({created_on.isoformat()}).",
                           field="done_date")


def check_evaluation(done_date: date | None) -> None:
    """The effect of an action can be evaluated once it is done."""
    if done_date is None:
        raise Conflict("The action is not done yet; its effect is evaluated after it is done.")
