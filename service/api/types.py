"""Field types shared by request bodies: strict, bounded, and free of bytes PostgreSQL refuses."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StringConstraints,
    field_validator,
)
from pydantic_core import PydanticCustomError

from service.domain.time_range import OUT_OF_RANGE, day_in_range

# The id of a row, in a path, a query or a body: positive and within the id columns' type (PostgreSQL's
# 32-bit integer). A larger number names no row, and neither database can even take it as a parameter
# (it was a 500); the answer is a 422 naming the field.
RowId = Annotated[int, Ge(1), Le(2**31 - 1)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Free text of a bounded length, as type aliases a type checker reads as `str`. "Text" may be empty (and
# whitespace); "NonBlankText" must hold something besides whitespace. The number is the maximum length in
# characters (k = 1,000), so the limit stays visible where a field is declared.
def _text(max_length: int) -> StringConstraints:
    return StringConstraints(min_length=0, max_length=max_length)


def _non_blank_text(max_length: int) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=max_length)


Text40 = Annotated[str, _text(40)]
Text254 = Annotated[str, _text(254)]
Text500 = Annotated[str, _text(500)]
Text10k = Annotated[str, _text(10_000)]
Text20k = Annotated[str, _text(20_000)]
NonBlankText64 = Annotated[str, _non_blank_text(64), AfterValidator(_not_blank)]
NonBlankText100 = Annotated[str, _non_blank_text(100), AfterValidator(_not_blank)]
NonBlankText200 = Annotated[str, _non_blank_text(200), AfterValidator(_not_blank)]
NonBlankText10k = Annotated[str, _non_blank_text(10_000), AfterValidator(_not_blank)]
NonBlankText20k = Annotated[str, _non_blank_text(20_000), AfterValidator(_not_blank)]


def _name(max_length: int) -> StringConstraints:
    return StringConstraints(min_length=1, max_length=max_length, strip_whitespace=True)


# A name, title or short label: surrounding whitespace is stripped and something must remain.
Name = Annotated[str, _name(200), AfterValidator(_not_blank)]
LongName = Annotated[str, _name(500), AfterValidator(_not_blank)]


# A number, or a string holding only one, which lax parsing would read as seconds since 1970.
_NUMBER = re.compile(r"^\s*[-+]?[0-9]+(\.[0-9]*)?\s*$")


def _iso_string(value: object) -> object:
    if not isinstance(value, str) or _NUMBER.match(value):
        raise PydanticCustomError("iso_datetime", "must be an ISO 8601 string with a UTC offset")
    return value


def _iso_day_string(value: object) -> object:
    if not isinstance(value, (str, date)) or (isinstance(value, str) and _NUMBER.match(value)):
        raise PydanticCustomError("iso_date", "must be an ISO 8601 date (YYYY-MM-DD)")
    return value


def _in_range(value: date) -> date:
    """Every date and time a request gives is within service/domain/time_range.py's range (else 422)."""
    if not day_in_range(value):
        raise PydanticCustomError("date_out_of_range", OUT_OF_RANGE)
    return value


# An ISO 8601 timestamp with an explicit offset: "when" in a case file must never be ambiguous,
# and a number, which lax parsing would read as seconds since 1970, is refused. The same type serves
# bodies and query parameters, so a time without an offset is a 422 in both.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_in_range)]

# A calendar day, in a body or a query, within the accepted range.
Day = Annotated[date, BeforeValidator(_iso_day_string), AfterValidator(_in_range)]


class Input(BaseModel):
    """Request bodies refuse fields they do not know, so a typo is an error, not silently dropped; and text
    holding NUL characters, which PostgreSQL cannot store or compare, in any field (each names its own)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_anywhere(cls, value: Any) -> Any:
        texts = value if isinstance(value, (list, tuple)) else (value,)
        for text in texts:
            if isinstance(text, str):
                _no_nul(text)
        return value
