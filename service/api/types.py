"""Field types shared by request bodies: strict, bounded, and free of bytes PostgreSQL refuses."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, StringConstraints


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def BoundedText(max_length: int, *, min_length: int = 0) -> type[str]:  # noqa: N802 - reads like a type
    """Free text up to max_length; when some text is required, whitespace alone does not count."""
    checks = [AfterValidator(_no_nul)] + ([AfterValidator(_not_blank)] if min_length > 0 else [])
    return Annotated[  # type: ignore[return-value]
        str, StringConstraints(min_length=min_length, max_length=max_length), *checks
    ]


def Name(max_length: int = 200) -> type[str]:  # noqa: N802
    return Annotated[  # type: ignore[return-value]
        str, StringConstraints(min_length=1, max_length=max_length, strip_whitespace=True),
        AfterValidator(_no_nul), AfterValidator(_not_blank),
    ]


def _iso_string(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string with a UTC offset")
    return value


# An ISO 8601 timestamp with an explicit offset: "when" in a case file must never be ambiguous,
# and a number, which lax parsing would read as seconds since 1970, is refused.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string)]


class Input(BaseModel):
    """Request bodies refuse fields they do not know, so a typo is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
