"""A job's row: updating it, failing it (and telling whoever listens), and describing it for the API.

Shared by :mod:`psabridge.jobs.service` (running and following jobs) and :mod:`psabridge.jobs.kinds`
(what each kind of job does), so neither imports the other's machinery.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.db import utcnow
from psabridge.jobs import notify
from psabridge.jobs.models import Job


def set_job(factory: sessionmaker[Session], job_id: int, **values: Any) -> None:
    with factory() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        for name, value in values.items():
            setattr(job, name, value)
        session.commit()


def set_job_if(factory: sessionmaker[Session], job_id: int, expected: dict[str, Any], **values: Any) -> bool:
    """Set ``values`` on the job only if its columns still hold ``expected`` (one conditional UPDATE):
    of two processes acting on one job from the same reading, only the first succeeds."""
    with factory() as session:
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, *(getattr(Job, name) == value for name, value in expected.items()))
            .values(**values)
        )
        session.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


def fail_job(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    error_kind: str,
    message: str,
    *,
    notify_failure: bool = True,
) -> None:
    set_job(
        factory, job_id, state="failed", error_kind=error_kind, error=message[:4000], finished_at=utcnow()
    )
    if notify_failure and error_kind != "plan_changed":
        send_failure_notice(factory, settings, job_id)


def send_failure_notice(factory: sessionmaker[Session], settings: Settings, job_id: int) -> None:
    with factory() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        data = job_to_dict(job)
    notify.notify(
        settings,
        f"{data['kind']}.failed",
        f"PSA Bridge: {data['kind']} of organization {data['organization_id']} failed",
        f"Job {data['id']} ({data['kind']}, started by {data['trigger']}) of organization"
        f" {data['organization_id']} failed: {data['error']}\nRun: {data['run_id'] or 'none'}",
        {"job": data},
    )


def aware_time(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def job_to_dict(job: Job) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        aware = aware_time(value)
        return aware.isoformat() if aware else None

    return {
        "id": job.id,
        "organization_id": job.organization_id,
        "connector_id": job.connector_id,
        "kind": job.kind,
        "trigger": job.trigger,
        "state": job.state,
        "due_at": iso(job.due_at),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "run_id": job.run_id,
        "attempts": job.attempts,
        "worker": job.worker,
        "error_kind": job.error_kind,
        "error": job.error,
    }
