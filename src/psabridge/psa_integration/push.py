"""Preview, then Push exactly what was previewed.

The engine plans again when it applies (it must: Autotask or the hub may have changed). If that fresh
plan is not the one the person reviewed — someone edited a record, another admin pushed — nothing is
written and the person is shown the new plan instead. The comparison is a digest of the operations
(verb, target, body and cost) of each batch, carried in the Push form: the engine makes the whole plan
again (digests only) and compares before the first write, then checks each batch as it applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.sync import journal as jr
from psabridge.sync import service
from psabridge.sync.models import JournalEntry, SyncRun
from psabridge.sync.planner import Plan, digest_of

log = logging.getLogger(__name__)

PLAN_CHANGED = (
    "The plan changed since it was previewed; nothing was written. Review the new plan and push again."
)


#: The plan at push time differs from the previewed one (nothing was written).
PlanChanged = service.PlanChangedError


def plan_digest(plan: Plan) -> str:
    """The digest a Push compares: of the plan's batches (see :func:`psabridge.sync.planner.digest_of`)."""
    return digest_of(plan.batch_digests)


def cost_by_phase(plan: Plan) -> dict[str, dict[str, int]]:
    """Operations and write calls per phase, for the preview's header."""
    out: dict[str, dict[str, int]] = {}
    for op in plan.operations:
        row = out.setdefault(op.phase, {"operations": 0, "calls": 0})
        row["operations"] += 1
        row["calls"] += op.cost
    return out


def push(
    factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    expected_digest: str,
    client: Any = None,
    on_confirmed: Callable[[], None] | None = None,
    retry_failed: bool = False,
) -> SyncRun:
    """Apply the plan if it is still the previewed one; otherwise raise :class:`PlanChanged`."""
    started = jr.now()
    try:
        return service.run_sync(
            factory,
            organization_id,
            app_settings=app_settings,
            client=client,
            expected_digest=expected_digest,
            on_confirmed=on_confirmed,
            retry_failed=retry_failed,
        )
    except PlanChanged:
        _close_runs(factory, organization_id, started, PLAN_CHANGED)
        raise
    except Exception as exc:
        # Anything the engine did not record itself must not leave the run "running" forever.
        _close_runs(factory, organization_id, started, f"Push stopped: {exc}")
        raise


class PushBusy(Exception):
    """Another push of this organization is still running."""


#: A run still "running" after this long is taken as abandoned (its process died; the journal will
#: reconcile its writes) and does not block a new push.
RUNNING_GRACE = timedelta(minutes=15)


def running_push(session: Session, organization_id: int) -> SyncRun | None:
    """The organization's push in progress, if any."""
    for run in session.scalars(
        select(SyncRun)
        .where(
            SyncRun.organization_id == organization_id,
            SyncRun.mode == "apply",
            SyncRun.status == "running",
        )
        .order_by(SyncRun.id.desc())
    ):
        if _aware(run.started_at) >= jr.now() - RUNNING_GRACE:
            return run
    return None


def start_push(
    factory: sessionmaker[Session],
    organization_id: int,
    *,
    app_settings: Settings,
    expected_digest: str,
    retry_failed: bool = False,
    wait_seconds: float = 60.0,
) -> int:
    """Queue the push as a job (a worker runs it; without a broker, a thread of this process) and return
    the run's id once the job confirmed the plan is the previewed one, so the browser can follow the run
    instead of waiting on one long request. Raises :class:`PlanChanged` (nothing written) or
    :class:`PushBusy`."""
    from psabridge.jobs import service as jobs

    with factory() as session:
        busy = running_push(session, organization_id)
        if busy is not None:
            raise PushBusy(f"Run {busy.id} is still pushing; wait for it to finish.")
    job_id = jobs.enqueue(
        factory,
        app_settings,
        organization_id,
        "sync",
        trigger="push",
        options={"expected_digest": expected_digest, "retry_failed": retry_failed},
    )
    job = jobs.follow(
        factory,
        job_id,
        until=lambda j: j.confirmed or j.state in jobs.FINISHED,
        timeout=wait_seconds,
    )
    if job.state == "failed":
        if job.error_kind == "plan_changed":
            raise PlanChanged(job.error or PLAN_CHANGED)
        if job.error_kind == "busy":
            raise PushBusy(job.error or "A push of this organization is still running.")
        log.warning("push job %s of organization %s failed: %s", job_id, organization_id, job.error)
        raise service.SyncError(job.error or "The push failed")
    if job.run_id is None:
        raise service.SyncError(
            f"The push (job {job_id}) has not started within {wait_seconds:.0f} s: is a worker running"
            " (psabridge worker)? It stays queued; follow it under Jobs."
        )
    return job.run_id


def applied_operations(session: Session, run_id: int) -> int:
    """Writes of a run that have an outcome so far (the journal commits each one): its progress."""
    return int(
        session.scalar(
            select(func.count(JournalEntry.id)).where(
                JournalEntry.run_id == run_id, JournalEntry.outcome.is_not(None)
            )
        )
        or 0
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _close_runs(factory: sessionmaker[Session], organization_id: int, since: Any, reason: str) -> None:
    """The engine left the stopped run "running": record why it ended."""
    with factory() as session:
        runs = session.scalars(
            select(SyncRun).where(
                SyncRun.organization_id == organization_id,
                SyncRun.mode == "apply",
                SyncRun.status == "running",
            )
        )
        for run in runs:
            started = run.started_at
            if started is not None and started.tzinfo is None and since.tzinfo is not None:
                started = started.replace(tzinfo=since.tzinfo)
            if started is not None and started >= since:
                run.status = "failed"
                run.error = reason
                run.finished_at = jr.now()
        session.commit()
