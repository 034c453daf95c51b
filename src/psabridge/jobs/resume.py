"""A sync paused by the hourly API budget is queued again for when the budget frees.

Why: a paused run leaves the rest of its plan unwritten; nobody should have to remember to run the sync
again an hour later. The next sync plans only what is still missing (the journal and the links know what
was written), so resuming is simply another sync of the connector, started by "resume" and due when the
budget lets the next call through: when our oldest call of the rolling hour leaves it (our own cap), or
a twelfth of the hour later when the tenant's threshold is what stopped it (others' calls are invisible).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.db import utcnow
from psabridge.jobs.models import Job

log = logging.getLogger(__name__)

#: never sooner: the budget frees a call at a time, and a resume that pauses at once wastes a plan's reads
MIN_DELAY_SECONDS = 30.0
#: never later: after the rolling hour every call of ours has left the window
MAX_DELAY_SECONDS = 3600.0
#: when the client cannot tell (Autotask itself refused): look again in a twelfth of the hour
UNKNOWN_DELAY_SECONDS = 300.0


def resume_delay(resume_at: datetime | None, now: datetime) -> float:
    """Seconds from ``now`` until the resume is due, within [MIN_DELAY_SECONDS, MAX_DELAY_SECONDS]."""
    wanted = UNKNOWN_DELAY_SECONDS if resume_at is None else (resume_at - now).total_seconds()
    return min(MAX_DELAY_SECONDS, max(MIN_DELAY_SECONDS, wanted))


def resume_at_of(client: Any) -> datetime | None:
    """When the client's hourly budget frees (None: it cannot tell, or it is free already)."""
    budget_resume_at = getattr(client, "budget_resume_at", None)
    if budget_resume_at is None:
        return None
    try:
        value = budget_resume_at()
    except Exception:  # Redis briefly unreachable: fall back to the default wait
        log.debug("budget resume time not known", exc_info=True)
        return None
    return value if isinstance(value, datetime) else None


def queue_resume(
    factory: sessionmaker[Session],
    settings: Settings,
    organization_id: int,
    paused_job_id: int,
    resume_at: datetime | None,
    options: dict[str, Any],
) -> int:
    """Queue the sync that resumes a paused one (one per organization: a waiting one is kept)."""
    from psabridge.jobs.service import enqueue  # service runs the kinds that call this

    with factory() as session:
        waiting = session.scalar(
            select(Job.id)
            .where(
                Job.organization_id == organization_id,
                Job.kind == "sync",
                Job.trigger == "resume",
                Job.state == "queued",
            )
            .limit(1)
        )
    if waiting is not None:
        return int(waiting)
    delay = resume_delay(resume_at, utcnow())
    job_id = enqueue(
        factory,
        settings,
        organization_id,
        "sync",
        trigger="resume",
        # a push's digest is not carried: the rest of the plan is planned afresh
        options={"retry_failed": bool(options.get("retry_failed")), "resumes": paused_job_id},
        delay=delay,
    )
    log.info(
        "job %s paused by the hourly API budget: job %s resumes it in %.0f s", paused_job_id, job_id, delay
    )
    return job_id
