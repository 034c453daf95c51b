"""Conversions between JSON values and field types, the way Autotask's REST layer does them.

Dates are UTC and Autotask accepts them with or without a ``Z`` (or an explicit ``+00:00``); the
emulator stores them without an offset, as Autotask returns business dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.schema import FieldDef


def parse_datetime(value: Any) -> datetime:
    """Parse an Autotask date-time (``2026-01-31``, ``2026-01-31T00:00:00``, with ``Z`` or offset)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a date-time: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def format_datetime(moment: datetime) -> str:
    """Autotask's business-date rendering: seconds precision, no offset."""
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds")
    return moment.isoformat(timespec="seconds")


def format_date(day: date) -> str:
    """A date as Autotask date-time (midnight)."""
    return f"{day.isoformat()}T00:00:00"


def now_stamp() -> str:
    """A system timestamp (create/modified dates), with ``Z`` as Autotask sends those."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamping the day (Jan 31 + 1 month = Feb 28/29)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    next_month = date(year + (month // 12), month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


def coerce(entity: str, fdef: FieldDef, value: Any) -> Any:
    """Convert a JSON body value to the stored form of ``fdef``; Autotask-shaped 500 on failure."""
    if value is None:
        return None
    kind = fdef.kind
    try:
        if kind in ("integer", "long"):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError
                return int(value)
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, int):
                return value
            raise ValueError
        if kind == "double":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, int | float):
                return float(value)
            if isinstance(value, str):
                return float(value.strip())
            raise ValueError
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise ValueError
        if kind == "datetime":
            return format_datetime(parse_datetime(value))
        if kind == "string":
            if isinstance(value, bool | dict | list):
                raise ValueError
            return str(value)
    except (ValueError, OverflowError):
        pass
    else:
        return value
    raise EmulatorError(
        500, [f"Unable to convert value '{value}' of field '{fdef.name}' on entity '{entity}' to {kind}."]
    )
