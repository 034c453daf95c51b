"""Jobs a stopped process left behind (embedded mode, no broker), taken up again when the app starts.

Why: without a broker a job lives in the process that queued it — on a timer until its due time, then
in a thread. Stop that process (a restart, a deploy, a crash) and the row stays ``queued`` or
``running`` with nobody to run it. With a broker nothing is needed: Dramatiq keeps the message in Redis
and hands an unfinished one to another worker.

A job is taken up when the process named on its row (``host:pid``) is gone: on this host, no such
process, or this very process (a restart that got the same pid) without the job in hand. A job held by
a process of another host is left alone: from here there is no telling whether it still runs. Taking a
job is one conditional update, so two processes starting at once do not both run it. A ``running`` job
is run again: the sync journal makes that exactly once (its writes in doubt are read back first).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from psabridge.config import Settings
from psabridge.db import utcnow
from psabridge.jobs.models import Job
from psabridge.jobs.rows import aware_time, set_job_if
from psabridge.jobs.service import dispatch, held_here, hold_job, let_go_job, worker_name

log = logging.getLogger(__name__)


def holder_alive(job_id: int, worker: str) -> bool:
    """Whether the process named ``worker`` (``host:pid``) may still hold the job."""
    if not worker:
        return False  # never handed to a process (or queued for a broker no longer configured)
    if worker == worker_name():
        return held_here(job_id)
    host, _, pid_text = worker.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's process: it may well be running
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user has that pid now: not ours, but cannot be sure
    return True


def recover_jobs(factory: sessionmaker[Session], settings: Settings) -> list[int]:
    """Take up the jobs stopped processes left ``queued`` or ``running`` (embedded mode only): a queued
    one is dispatched for its due time, a running one is run again now. Returns their ids."""
    if settings.broker_url:
        return []
    with factory() as session:
        rows = session.execute(
            select(Job.id, Job.state, Job.worker, Job.due_at)
            .where(Job.state.in_(("queued", "running")))
            .order_by(Job.id)
        ).all()
    taken: list[int] = []
    for job_id, state, worker, due_at in rows:
        if holder_alive(job_id, worker or ""):
            continue
        hold_job(job_id)  # in hand before the row names this process: a second look here skips it
        try:
            if not _claim(factory, job_id, state, worker or ""):
                continue
            _take_up(factory, settings, job_id, state, worker or "", due_at)
        finally:
            let_go_job(job_id)
        taken.append(job_id)
    if taken:
        log.warning("took up %s job(s) a stopped process left queued or running: %s", len(taken), taken)
    return taken


def _take_up(
    factory: sessionmaker[Session],
    settings: Settings,
    job_id: int,
    state: str,
    worker: str,
    due_at: datetime | None,
) -> None:
    due = aware_time(due_at)
    delay = max(0.0, (due - utcnow()).total_seconds()) if due is not None and state == "queued" else 0.0
    if state == "running":
        log.warning(
            "job %s: resuming it (the process %s stopped while running it)", job_id, worker or "unknown"
        )
    else:
        log.info(
            "job %s: re-queued in this process (due in %s; the process %s that held it stopped)",
            job_id,
            timedelta(seconds=round(delay)),
            worker or "none",
        )
    dispatch(factory, settings, job_id, delay=delay)


def _claim(factory: sessionmaker[Session], job_id: int, state: str, worker: str) -> bool:
    """Name this process on the job unless someone changed it since it was read (another process
    starting at the same time took it, or it moved on)."""
    return set_job_if(factory, job_id, {"state": state, "worker": worker}, worker=worker_name())
