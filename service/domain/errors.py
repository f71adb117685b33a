"""Errors the domain raises. The API layer maps each class to one HTTP status (service/api/problems.py)."""

from __future__ import annotations


class DomainError(Exception):
    """Base class; `field` names the input field at fault, when there is one; `reason` is a short code for
    which rule it broke, for callers that word their own message (the web form's Swedish texts)."""

    def __init__(self, detail: str, *, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.reason = reason

    def extensions(self) -> dict[str, object]:
        """Extra members for the problem document, e.g. the steps possible now."""
        return {}


class NotFound(DomainError):
    """The thing does not exist, or the caller may not know that it does."""


class InvalidInput(DomainError):
    """Well-formed input that breaks a rule (unknown unit, time in the future...)."""


class Conflict(DomainError):
    """The request clashes with the current state (duplicate code, cycle, reused reference)."""


class Forbidden(DomainError):
    """The caller is known but lacks the permission for this function."""
