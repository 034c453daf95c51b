"""The organization's calendar: which date a moment falls on for the MSP.

Why: every date PSA Bridge pushes to Autotask (a seat change, a cancellation, the reversal of an archived
change) is a calendar date of the organization. Timestamps are stored in UTC, so a cancellation made at
23:30 in California (07:30 UTC the next day) must still be dated the day it was made there, not the UTC
date. Each organization has an IANA time zone; without one, the server's local time zone applies.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import select
from sqlalchemy.orm import Session

from psabridge import db as _db
from psabridge.hub.errors import InvalidRecord
from psabridge.hub.models import Organization


def validate_time_zone(name: str | None) -> str | None:
    """An IANA time zone name (``Europe/Berlin``), or None for the server's local zone."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if name not in available_timezones():
        raise InvalidRecord.on("time_zone", f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin)")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRecord.on("time_zone", f"{name!r} is not a known time zone") from None
    return name


def local_moment(moment: datetime, time_zone: str | None) -> datetime:
    """``moment`` (aware, or naive UTC as SQLite returns it) in the organization's time zone."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(time_zone)) if time_zone else aware.astimezone()


def calendar_date(moment: datetime, time_zone: str | None) -> date:
    """The organization's calendar date of ``moment``."""
    return local_moment(moment, time_zone).date()


def today(time_zone: str | None) -> date:
    """Today in the organization's time zone (the clock is ``psabridge.db.utcnow``, so tests can set it)."""
    return calendar_date(_db.utcnow(), time_zone)


def organization_time_zone(session: Session, organization_id: int) -> str | None:
    """The organization's time zone name (None: the server's local zone)."""
    return session.scalar(select(Organization.time_zone).where(Organization.id == organization_id))


def organization_today(session: Session, organization_id: int) -> date:
    """Today on the organization's calendar (the default effective date of a quantity change)."""
    return today(organization_time_zone(session, organization_id))


def describe(time_zone: str | None) -> str:
    """How the zone reads on screens and in the CLI."""
    if time_zone:
        return time_zone
    local = datetime.now().astimezone().tzname() or "local"
    return f"server local time ({local})"
