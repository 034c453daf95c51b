"""The boundary every billing-hub input crosses, and the bases of the input and output schemas.

Why a module of its own: the resources' schemas must all reject the same text (control and bidi
characters), the same dates (outside the hub's window) and the same sizes, and all show stored
timestamps as UTC; defining that once here means a new resource cannot forget it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from psabridge.hub.validation import FREE_TEXT_FIELDS, check_date_range, text_problem

Quantity = Annotated[int, Field(ge=0, le=10_000_000)]
ShortText = Annotated[str, Field(max_length=100)]
LongText = Annotated[str, Field(max_length=200)]
Reason = Annotated[str, Field(max_length=500)]


def _as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every timestamp we store is UTC, so say so in the output."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


def _boundary(value: Any, info: ValidationInfo) -> Any:
    """The one boundary every input field crosses (API bodies and import rows alike): text without
    control or bidi characters, dates within the hub's window. The error lands on the field itself."""
    if isinstance(value, str):
        problem = text_problem(value, multiline=info.field_name in FREE_TEXT_FIELDS)
        if problem:
            raise ValueError(problem)
    elif isinstance(value, date) and not isinstance(value, datetime):
        check_date_range(value)
    return value


class InputModel(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    _check_boundary = field_validator("*")(_boundary)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
