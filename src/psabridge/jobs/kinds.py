"""What each kind of job does: a sync of the organization's connector (under the connector's Redis
lock) or a reconciliation, and how the outcome lands on the job's row, the metrics and notifications.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.autotask.errors import AutotaskError
from psabridge.config import Settings
from psabridge.db import utcnow
from psabridge.jobs import notify
from psabridge.jobs.locks import connector_sync_lock
from psabridge.jobs.models import Job
from psabridge.jobs.resume import queue_resume, resume_at_of
from psabridge.jobs.rows import send_failure_notice, set_job
from psabridge.metrics import BUDGET_USED, OPERATIONS, RUNS
from psabridge.sync import service as sync_service
from psabridge.sync.runlock import AlreadyRunning

log = logging.getLogger(__name__)


class Busy(Exception):
    """Another sync of the connector holds its lock."""


def error_kind_of(exc: BaseException) -> str:
    from psabridge.reconcile.service import ReconcileError
    from psabridge.reconcile.settle import Busy as ReconcileBusy

    if isinstance(exc, ReconcileBusy):
        return "busy"
    if isinstance(exc, sync_service.PlanChangedError):
        return "plan_changed"
    if isinstance(exc, sync_service.SyncError):
        return "sync"
    if isinstance(exc, AutotaskError):
        return "autotask"
    if isinstance(exc, ReconcileError):
        return "reconcile"
    return "error"


def run_sync_job(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    organization_id: int,
    connector_id: int | None,
    options: dict[str, Any],
    *,
    progress: Callable[..., None] | None,
    on_plan: Callable[..., None] | None,
) -> str:
    from psabridge.sync.connector import client_of, connector_of
    from psabridge.sync.models import SyncRun

    def confirmed() -> None:
        with factory() as session:
            job = session.get(Job, job_id)
            if job is not None:
                job.confirmed = True
                job.run_id = session.scalar(
                    select(func.max(SyncRun.id)).where(
                        SyncRun.organization_id == organization_id,
                        SyncRun.mode == "apply",
                        SyncRun.status == "running",
                    )
                )
                session.commit()

    with factory() as session:
        connector, _ = connector_of(session, organization_id)
        connector_id = connector.id
        client = client_of(connector, settings)
    try:
        # AlreadyRunning can only come from taking the lock: run_sync turns its own into SyncError
        with connector_sync_lock(settings, connector_id):
            run = sync_service.run_sync(
                factory,
                organization_id,
                app_settings=settings,
                client=client,
                retry_failed=bool(options.get("retry_failed")),
                expected_digest=options.get("expected_digest"),
                on_confirmed=confirmed if options.get("expected_digest") else None,
                progress=progress,
                on_plan=on_plan,
            )
        budget_gauge(client, connector_id)
        resume_at = resume_at_of(client) if run.status == "paused" else None
    except AlreadyRunning:
        raise Busy from None
    except sync_service.SyncError as exc:
        if isinstance(exc.__context__, AlreadyRunning):  # the database guard: another process syncs
            raise Busy from None
        raise
    finally:
        close = getattr(client, "close", None)
        if close is not None:
            close()
    RUNS.labels(kind="sync", outcome=run.status).inc()
    OPERATIONS.inc(run.planned_operations or 0)
    state = _finished(factory, settings, job_id, run, "sync")
    if run.status == "paused":
        queue_resume(factory, settings, organization_id, job_id, resume_at, options)
    return state


def budget_gauge(client: Any, connector_id: int) -> None:
    usage = getattr(client, "budget_usage", None)
    if usage is None:
        return
    try:
        BUDGET_USED.labels(connector=str(connector_id)).set(float(usage()["fraction"]))
    except Exception:  # the gauge is best effort: Redis may be briefly unreachable
        log.debug("budget gauge not updated", exc_info=True)


def run_reconcile_job(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    organization_id: int,
    trigger: str,
    options: dict[str, Any],
) -> str:
    """Reconcile on ``options["on_date"]`` (default: the organization's today), recorded as started by
    ``options["started_by"]`` (the person on the Reconcile tab, the CLI's user) or by the job."""
    from psabridge.reconcile import service as reconcile

    on_date = options.get("on_date")
    run = reconcile.start(
        factory,
        organization_id,
        app_settings=settings,
        on_date=date.fromisoformat(on_date) if on_date else None,
        started_by=str(options.get("started_by") or f"job {job_id} ({trigger})"),
    )
    RUNS.labels(kind="reconcile", outcome=run.status).inc()
    if _finished(factory, settings, job_id, run, "reconcile") == "failed":
        return "failed"
    differences = sum(int(v) for v in (run.counts or {}).values() if isinstance(v, int))
    if differences:
        notify.notify(
            settings,
            "reconcile.differences",
            f"PSA Bridge: {differences} reconciliation difference(s) (organization {organization_id})",
            f"Reconciliation run {run.id} of organization {organization_id} found {differences}"
            f" difference(s) between the billing hub and Autotask: {run.counts}.\n"
            "Review them under PSA Integration > Reconcile.",
            {"organization_id": organization_id, "job_id": job_id, "run_id": run.id, "counts": run.counts},
        )
    return "succeeded"


def _finished(factory: sessionmaker[Session], settings: Settings, job_id: int, run: Any, kind: str) -> str:
    """Record a finished run on its job (a failed one with its error, and a notice sent); the job's state."""
    failed = run.status == "failed"
    set_job(
        factory,
        job_id,
        state="failed" if failed else "succeeded",
        run_id=run.id,
        finished_at=utcnow(),
        error=run.error if failed else None,
        error_kind=kind if failed else None,
    )
    if failed:
        send_failure_notice(factory, settings, job_id)
    return "failed" if failed else "succeeded"
