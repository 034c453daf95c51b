"""Jobs: every sync and reconciliation — from the CLI, the REST API, the PSA Integration screen's Push, a
hub change or a schedule — is a row of ``jobs`` run by :func:`execute`.

Where it runs: with ``PSABRIDGE_BROKER_URL`` set, a Dramatiq message carrying the job id goes to Redis
and a ``psabridge worker`` runs it (a worker killed mid-run: Dramatiq hands the unacknowledged message to
another worker, which runs the job again; the sync journal makes that exactly once). Without a broker
the job runs in the process that asked (a thread, or inline for the CLI), the embedded default.

The caller follows the job through its row (state, run id, error); the run's own record (sync run,
reconciliation run) keeps the details. One sync per connector: the Redis lock
(:mod:`psabridge.jobs.locks`) across workers, and the database guard inside ``run_sync``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.connectors.models import ConnectorStatus
from psabridge.db import utcnow
from psabridge.jobs.kinds import Busy, error_kind_of, run_reconcile_job, run_sync_job
from psabridge.jobs.models import Job
from psabridge.jobs.rows import aware_time as _aware
from psabridge.jobs.rows import fail_job, set_job, set_job_if
from psabridge.jobs.rows import job_to_dict as job_to_dict
from psabridge.metrics import RUN_DURATION, RUNS
from psabridge.sync import service as sync_service

log = logging.getLogger(__name__)

FINISHED = ("succeeded", "failed")
#: a busy connector (another sync holds its lock): a change or schedule job waits this long and tries again
BUSY_RETRY_SECONDS = 5.0
#: a burst of changes postpones its sync at most this many quiet periods (at least a minute)
MAX_COALESCE_PERIODS = 6


class JobError(sync_service.SyncError):
    """A followed job failed (``kind``: plan_changed, busy, sync, autotask, reconcile, error)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class JobNotFound(LookupError):
    """No such job in this organization."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Jobs this process holds without a broker: waiting on a timer or running. The row names the holding
# process (``worker``), but after a restart a new process may get the same pid (a container's pid 1),
# so only this count tells the jobs of this process from those its previous incarnation left behind.
_held_lock = threading.Lock()
_held: dict[int, int] = {}


def hold_job(job_id: int) -> None:
    """This process takes the job in hand (a timer, a run); :func:`let_go_job` when done."""
    with _held_lock:
        _held[job_id] = _held.get(job_id, 0) + 1


def let_go_job(job_id: int) -> None:
    with _held_lock:
        left = _held.get(job_id, 0) - 1
        if left > 0:
            _held[job_id] = left
        else:
            _held.pop(job_id, None)


def held_here(job_id: int) -> bool:
    """This process has the job on a timer or is running it (embedded mode)."""
    with _held_lock:
        return job_id in _held


# -- queueing ------------------------------------------------------------------------------------------
def enqueue(
    factory: sessionmaker[Session],
    settings: Settings,
    organization_id: int,
    kind: str,
    *,
    trigger: str = "manual",
    options: dict[str, Any] | None = None,
    delay: float = 0.0,
    dispatch_now: bool = True,
) -> int:
    """Record a queued job (and hand it to a worker or a thread unless ``dispatch_now=False``)."""
    from psabridge.connectors.service import get_autotask_connector

    with factory() as session:
        connector = get_autotask_connector(session, organization_id)
        job = Job(
            organization_id=organization_id,
            connector_id=connector.id if connector else None,
            kind=kind,
            trigger=trigger,
            state="queued",
            options=dict(options or {}),
            due_at=utcnow() + timedelta(seconds=delay) if delay else None,
        )
        session.add(job)
        session.commit()
        job_id = job.id
    if dispatch_now:
        dispatch(factory, settings, job_id, delay=delay)
    return job_id


def dispatch(factory: sessionmaker[Session], settings: Settings, job_id: int, *, delay: float = 0.0) -> None:
    """Hand the job to the broker (a worker runs it), or to a thread of this process (after ``delay``)."""
    if settings.broker_url:
        from psabridge.jobs.broker import send

        try:
            send(settings, job_id, delay=delay)
        except redis.RedisError as exc:
            message = "The job queue (Redis) is unreachable: check PSABRIDGE_BROKER_URL and that Redis runs"
            log.error("job %s not queued: %s", job_id, type(exc).__name__)
            set_job(factory, job_id, state="failed", error_kind="broker", error=message, finished_at=utcnow())
            raise JobError(message, "broker") from None
        return

    def work() -> None:
        with _timers_lock:
            _timers.pop(timer, None)
        try:
            execute(factory, settings, job_id)
        except Exception:  # execute records failures; anything else is a bug worth a trace
            log.exception("job %s failed", job_id)
        finally:
            let_go_job(job_id)

    # the row names the process holding the job, so a later start knows whether it was lost
    hold_job(job_id)
    set_job(factory, job_id, worker=worker_name())
    timer = threading.Timer(max(0.0, delay), work)
    timer.name = f"psabridge-job-{job_id}"
    timer.daemon = True
    with _timers_lock:
        _timers[timer] = job_id
    timer.start()


# Jobs of this process waiting on a timer (their due time not reached yet), so that stopping the app
# leaves them "queued" for the next start (:mod:`psabridge.jobs.recovery`) instead of running them
# half-way through a shutdown, or in a later test against a database that is gone.
_timers_lock = threading.Lock()
_timers: dict[threading.Timer, int] = {}


def stop_timers() -> list[int]:
    """Cancel the jobs waiting on this process's timers (not those already running); they stay queued
    in the database and are taken up by the next start. Returns their ids."""
    with _timers_lock:
        waiting = list(_timers.items())
        _timers.clear()
    for timer, job_id in waiting:
        timer.cancel()  # a timer whose job already started took itself out of ``_timers`` first
        let_go_job(job_id)
    return [job_id for _, job_id in waiting]


def note_change(factory: sessionmaker[Session], settings: Settings, organization_id: int) -> int | None:
    """A hub change of the organization: sync its connector after the quiet period. Changes during the
    quiet period postpone that sync (one job, coalescing the burst), at most ``MAX_COALESCE_PERIODS``
    periods after the first change. Returns the job id (None: nothing to sync)."""
    from psabridge.connectors.service import get_autotask_connector

    delay = settings.change_sync_delay_seconds
    if delay <= 0:
        return None
    with factory() as session:
        connector = get_autotask_connector(session, organization_id)
        if connector is None or connector.status != ConnectorStatus.SET_UP.value:
            return None
        due = utcnow() + timedelta(seconds=delay)
        waiting = session.scalar(
            select(Job)
            .where(
                Job.organization_id == organization_id,
                Job.kind == "sync",
                Job.trigger == "change",
                Job.state == "queued",
            )
            .order_by(Job.id)
            .limit(1)
        )
        if waiting is not None:
            created = _aware(waiting.created_at) or due
            latest = created + timedelta(seconds=max(60.0, delay * MAX_COALESCE_PERIODS))
            waiting.due_at = min(due, max(latest, _aware(waiting.due_at) or due))
            session.commit()
            return waiting.id
    return enqueue(factory, settings, organization_id, "sync", trigger="change", delay=delay)


# -- running -------------------------------------------------------------------------------------------
def execute(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    *,
    progress: Callable[..., None] | None = None,
    on_plan: Callable[..., None] | None = None,
    raise_errors: bool = False,
) -> str:
    """Run the job (a worker's actor, a thread, or the CLI inline) and record its outcome; returns its
    state. A finished job is not run again (a redelivered message); a job whose due time moved (more
    changes) is put back until then; a busy connector puts a change or schedule job back a little."""
    hold_job(job_id)
    try:
        return _execute(
            factory, settings, job_id, progress=progress, on_plan=on_plan, raise_errors=raise_errors
        )
    finally:
        let_go_job(job_id)


def claim(factory: sessionmaker[Session], job_id: int, state: str, attempts: int) -> bool:
    """Mark the job running here if it is still as it was read (``state``, ``attempts``): of two deliveries
    of one job (a redelivered message while the first still runs, a recovery racing a timer) only one
    runs it; the other sees the row moved on."""
    return set_job_if(
        factory,
        job_id,
        {"state": state, "attempts": attempts},
        state="running",
        started_at=utcnow(),
        worker=worker_name(),
        attempts=attempts + 1,
    )


def _execute(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    *,
    progress: Callable[..., None] | None,
    on_plan: Callable[..., None] | None,
    raise_errors: bool,
) -> str:
    with factory() as session:
        job = session.get(Job, job_id)
        if job is None or job.state in FINISHED:
            return job.state if job else "missing"
        due = _aware(job.due_at)
        now = utcnow()
        if due is not None and due > now + timedelta(milliseconds=50):
            dispatch(factory, settings, job_id, delay=(due - now).total_seconds())
            return "queued"
        redelivered = job.state == "running"
        kind, trigger, org_id, connector_id = job.kind, job.trigger, job.organization_id, job.connector_id
        options = dict(job.options or {})
        seen = (job.state, job.attempts)
    if not claim(factory, job_id, *seen):
        log.info("job %s: another delivery of it took it first", job_id)
        return "running"
    if redelivered:
        log.warning("job %s: running it again (its worker stopped before finishing)", job_id)
    started = time.monotonic()
    try:
        if kind == "sync":
            state = run_sync_job(
                factory, settings, job_id, org_id, connector_id, options, progress=progress, on_plan=on_plan
            )
        else:
            state = run_reconcile_job(factory, settings, job_id, org_id, trigger, options)
    except Busy:
        if trigger in ("change", "schedule", "resume") or redelivered:
            set_job(factory, job_id, state="queued", due_at=utcnow() + timedelta(seconds=BUSY_RETRY_SECONDS))
            dispatch(factory, settings, job_id, delay=BUSY_RETRY_SECONDS)
            return "queued"
        message = "A sync of this organization is already running"
        fail_job(factory, settings, job_id, "busy", message, notify_failure=False)
        if raise_errors:
            raise sync_service.SyncError(message) from None
        return "failed"
    except Exception as exc:
        error_kind = error_kind_of(exc)
        fail_job(
            factory,
            settings,
            job_id,
            error_kind,
            str(exc) or type(exc).__name__,
            notify_failure=error_kind != "busy",  # nothing went wrong: it was not its turn
        )
        RUNS.labels(kind=kind, outcome="failed").inc()
        RUN_DURATION.labels(kind=kind).observe(time.monotonic() - started)
        if raise_errors:
            raise
        if error_kind == "error":
            log.exception("job %s failed", job_id)
        else:
            log.warning("job %s failed: %s", job_id, exc)
        return "failed"
    RUN_DURATION.labels(kind=kind).observe(time.monotonic() - started)
    return state


# -- following and reading -----------------------------------------------------------------------------
def follow(
    factory: sessionmaker[Session],
    job_id: int,
    *,
    until: Callable[[Job], bool] = lambda job: job.state in FINISHED,
    timeout: float = 600.0,
    poll: float = 0.1,
) -> Job:
    """Wait until ``until(job)`` holds (default: finished) or ``timeout``; returns the job (detached)."""
    deadline = time.monotonic() + timeout
    while True:
        with factory() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise JobNotFound(f"No job {job_id}")
            if until(job) or time.monotonic() >= deadline:
                session.expunge(job)
                return job
        time.sleep(poll)


def raise_for(job: Job) -> None:
    """A followed job that failed, as the error its caller answers with."""
    if job.state != "failed":
        return
    kind = job.error_kind or "error"
    message = job.error or "The job failed"
    if kind == "plan_changed":
        raise sync_service.PlanChangedError(message)
    raise JobError(message, kind)


def run_and_follow(
    factory: sessionmaker[Session],
    organization_id: int,
    kind: str,
    *,
    settings: Settings,
    options: dict[str, Any] | None = None,
    progress: Callable[..., None] | None = None,
    on_plan: Callable[..., None] | None = None,
    timeout: float = 3600.0,
) -> Job:
    """Run a job now and wait for it (CLI, REST API, Reconcile tab): inline without a broker (errors
    raised as the engine raises them), else queued for a worker and followed (a failure raises
    :class:`JobError`). A reconciliation that ran and failed is returned like one that succeeded, as
    :func:`psabridge.reconcile.service.start` returns it: its run says why."""
    job_id = enqueue(factory, settings, organization_id, kind, options=options, dispatch_now=False)
    if not settings.broker_url:
        execute(factory, settings, job_id, progress=progress, on_plan=on_plan, raise_errors=True)
    else:
        dispatch(factory, settings, job_id)
    job = follow(factory, job_id, timeout=timeout)
    if not (job.kind == "reconcile" and job.error_kind == "reconcile" and job.run_id is not None):
        raise_for(job)
    return job


def get_job(session: Session, organization_id: int, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None or job.organization_id != organization_id:
        raise JobNotFound(f"No job {job_id}")
    return job


def list_jobs(
    session: Session,
    organization_id: int,
    *,
    state: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Job], int]:
    """The organization's jobs, newest first, and how many match in all."""
    query = select(Job).where(Job.organization_id == organization_id)
    if state:
        query = query.where(Job.state == state)
    if kind:
        query = query.where(Job.kind == kind)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = list(session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)))
    return rows, total
