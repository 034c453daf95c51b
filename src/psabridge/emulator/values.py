"""Conversions between JSON values and field types, the way Autotask's REST layer does them.

Date-times are stored and returned in UTC (Autotask's REST_API_Calls page), rendered in Autotask's current
form: ``2026-01-31T09:05:00Z``, fractional seconds only when non-zero (``…:00.52Z``). A submitted
date-time with an offset is converted to UTC; without one it is taken as UTC. Date-only fields (no time
in Autotask's UI: contract dates, adjustment effective dates, ...) keep the submitted calendar date and
get midnight: the time part and any offset are dropped, never converted.

Booleans are JSON ``true``/``false`` only (Autotask: other values, including strings and numbers, fail).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from psabridge.emulator.errors import EmulatorError
from psabridge.emulator.schema import FieldDef


def _parse_as_written(value: Any) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a date-time: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def parse_datetime(value: Any) -> datetime:
    """Parse an Autotask date-time (``2026-01-31``, ``2026-01-31T00:00:00``, with ``Z`` or offset) to
    naive UTC."""
    parsed = _parse_as_written(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def format_datetime(moment: datetime) -> str:
    """A UTC date-time as Autotask renders it: ``Z``, milliseconds only when non-zero, zeros trimmed."""
    text = moment.replace(tzinfo=None).isoformat(timespec="seconds")
    millis = moment.microsecond // 1000
    if millis:
        text += f".{millis:03d}".rstrip("0")
    return text + "Z"


def format_date(day: date) -> str:
    """A date-only value as Autotask renders it (midnight, ``Z``)."""
    return f"{day.isoformat()}T00:00:00Z"


def parse_date_only(value: Any) -> date:
    """The calendar date as submitted: ``2026-01-31T23:30:00-08:00`` is 2026-01-31 (no conversion)."""
    return _parse_as_written(value).date()


def now_stamp() -> str:
    """A system timestamp (create/modified dates)."""
    return format_datetime(datetime.now(UTC))


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
            raise ValueError
        if kind == "datetime":
            if fdef.date_only:
                return format_date(parse_date_only(value))
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
