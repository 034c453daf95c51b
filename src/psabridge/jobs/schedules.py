"""Schedules per connector: a sync or a reconciliation hourly (at a minute) or daily (at HH:MM in the
organization's time zone), fired by ``psabridge scheduler``.

Timing is APScheduler's: a :class:`~apscheduler.schedulers.blocking.BlockingScheduler` ticks every
``PSABRIDGE_SCHEDULER_TICK_SECONDS``, and each schedule's due times come from an APScheduler
:class:`~apscheduler.triggers.cron.CronTrigger` in the organization's zone (daylight saving included).
Several schedulers may run (one per node): each due time is claimed once, by a Redis ``SET NX`` key per
(schedule, due time) when a broker is configured, and always by a compare-and-set of the schedule's
``last_fired_at`` in the database, so a due time enqueues exactly one job. Due times missed while no
scheduler ran fire once (the latest), not once per missed period.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.db import utcnow
from psabridge.hub.errors import InvalidRecord
from psabridge.hub.models import Organization
from psabridge.jobs.locks import key, redis_client
from psabridge.jobs.models import KINDS, Schedule

log = logging.getLogger(__name__)

FREQUENCIES = ("hourly", "daily")
#: the Redis claim outlives any scheduler's view of that due time
CLAIM_TTL_SECONDS = 3 * 24 * 3600


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _zone(time_zone: str | None) -> Any:
    if time_zone:
        return ZoneInfo(time_zone)
    local = datetime.now().astimezone().tzinfo
    return local or UTC


def trigger_of(schedule: Schedule, time_zone: str | None) -> CronTrigger:
    if schedule.frequency == "hourly":
        return CronTrigger(minute=schedule.minute, timezone=_zone(time_zone))
    return CronTrigger(hour=schedule.hour, minute=schedule.minute, timezone=_zone(time_zone))


def due_time(schedule: Schedule, time_zone: str | None, now: datetime) -> datetime | None:
    """The latest due time after the schedule last fired (or was created) and not after ``now``."""
    trigger = trigger_of(schedule, time_zone)
    anchor = _aware(schedule.last_fired_at or schedule.created_at)
    due = trigger.get_next_fire_time(None, anchor + timedelta(seconds=1))
    if due is None or due > now:
        return None
    while True:
        after = trigger.get_next_fire_time(due, due + timedelta(seconds=1))
        if after is None or after > now:
            return _aware(due).astimezone(UTC)
        due = after


def claim(factory: sessionmaker[Session], settings: Settings, schedule_id: int, due: datetime) -> bool:
    """Claim the due time for this scheduler; True for exactly one of several schedulers."""
    if settings.broker_url:
        name = key(settings, "schedule", schedule_id, due.strftime("%Y%m%dT%H%M%SZ"))
        if not redis_client(settings.broker_url).set(name, "1", nx=True, ex=CLAIM_TTL_SECONDS):
            return False
    with factory() as session:
        result = session.execute(
            update(Schedule)
            .where(
                Schedule.id == schedule_id,
                or_(Schedule.last_fired_at.is_(None), Schedule.last_fired_at < due),
            )
            .values(last_fired_at=due)
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


def tick(factory: sessionmaker[Session], settings: Settings, now: datetime | None = None) -> list[int]:
    """Fire every schedule that is due: one job each (ids returned)."""
    from psabridge.jobs.service import enqueue

    now = now or utcnow()
    fired: list[int] = []
    with factory() as session:
        rows = session.execute(
            select(Schedule, Organization.time_zone)
            .join(Organization, Organization.id == Schedule.organization_id)
            .where(Schedule.enabled.is_(True))
        ).all()
        due_list = []
        for schedule, time_zone in rows:
            try:
                due = due_time(schedule, time_zone, now)
            except (ValueError, KeyError):
                log.warning("schedule %s: cannot compute its due time", schedule.id, exc_info=True)
                continue
            if due is not None:
                due_list.append((schedule.id, schedule.organization_id, schedule.kind, due))
    for schedule_id, organization_id, kind, due in due_list:
        if claim(factory, settings, schedule_id, due):
            job_id = enqueue(
                factory,
                settings,
                organization_id,
                kind,
                trigger="schedule",
                options={"schedule_id": schedule_id, "due": due.isoformat()},
            )
            log.info("schedule %s fired (%s due %s): job %s", schedule_id, kind, due.isoformat(), job_id)
            fired.append(job_id)
    return fired


def run_scheduler(factory: sessionmaker[Session], settings: Settings) -> None:
    """Tick until interrupted (APScheduler's BlockingScheduler; one tick at a time)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(
        tick,
        "interval",
        seconds=settings.scheduler_tick_seconds,
        args=(factory, settings),
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
        id="psabridge-schedules",
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


# -- managing schedules ------------------------------------------------------------------------------
def parse_when(frequency: str, at: str) -> tuple[int, int]:
    """``hourly`` at ``MM`` (or ``:MM``), ``daily`` at ``HH:MM`` -> (hour, minute)."""
    text = (at or "").strip()
    try:
        if frequency == "hourly":
            minute = int(text.lstrip(":") or "0")
            hour = 0
        elif frequency == "daily":
            hh, mm = text.split(":")
            hour, minute = int(hh), int(mm)
        else:
            raise InvalidRecord.on("frequency", f"must be one of {', '.join(FREQUENCIES)}")
    except ValueError:
        raise InvalidRecord.on("at", "hourly: a minute (0-59); daily: HH:MM") from None
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise InvalidRecord.on("at", "hourly: a minute (0-59); daily: HH:MM")
    return hour, minute


def add_schedule(session: Session, organization_id: int, *, kind: str, frequency: str, at: str) -> Schedule:
    from psabridge.connectors.service import get_autotask_connector

    if kind not in KINDS:
        raise InvalidRecord.on("kind", f"must be one of {', '.join(KINDS)}")
    hour, minute = parse_when(frequency, at)
    connector = get_autotask_connector(session, organization_id)
    if connector is None:
        raise InvalidRecord.on("kind", "this organization has no Autotask connector: set one up first")
    schedule = Schedule(
        organization_id=organization_id,
        connector_id=connector.id,
        kind=kind,
        frequency=frequency,
        hour=hour,
        minute=minute,
        enabled=True,
    )
    session.add(schedule)
    session.commit()
    return schedule


def list_schedules(session: Session, organization_id: int) -> list[Schedule]:
    return list(
        session.scalars(
            select(Schedule).where(Schedule.organization_id == organization_id).order_by(Schedule.id)
        )
    )


def remove_schedule(session: Session, organization_id: int, schedule_id: int) -> bool:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None or schedule.organization_id != organization_id:
        return False
    session.delete(schedule)
    session.commit()
    return True


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    when = (
        f"{schedule.minute:02d}"
        if schedule.frequency == "hourly"
        else f"{schedule.hour:02d}:{schedule.minute:02d}"
    )
    return {
        "id": schedule.id,
        "kind": schedule.kind,
        "frequency": schedule.frequency,
        "at": when,
        "enabled": schedule.enabled,
        "last_fired_at": _aware(schedule.last_fired_at).isoformat() if schedule.last_fired_at else None,
    }
