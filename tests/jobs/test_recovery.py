"""Embedded mode (no broker): jobs a stopped process left queued or running are taken up when the app
starts — a queued one at its due time, a running one again at once, exactly once thanks to the journal."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select

from psabridge.config import Settings
from psabridge.jobs import service as jobs
from psabridge.jobs.models import Job
from psabridge.jobs.recovery import recover_jobs
from psabridge.sync.models import SyncRun
from tests.jobs.conftest import wait_for
from tests.jobs.support import jobs_of, small_customer_base
from tests.support.servers import serve_in_thread
from tests.sync.support import Hub, SyncEnv, build_fixture, count_calls, signature


@contextmanager
def started_app(settings: Settings) -> Iterator[str]:
    """The web app started as ``psabridge serve`` starts it (its start-up included)."""
    from psabridge.web.app import create_app

    app = create_app(settings, run_migrations=False)
    try:
        with serve_in_thread(app) as base:
            yield base
    finally:
        app.state.engine.dispose()


def _job(env: SyncEnv, job_id: int) -> Job:
    return next(j for j in jobs_of(env.factory) if j.id == job_id)


def _dead_process() -> str:
    """The ``host:pid`` of a process that has exited."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return f"{socket.gethostname()}:{proc.pid}"


def test_a_sync_whose_process_was_killed_runs_again_when_the_app_starts(
    env: SyncEnv, hub: Hub, spawn: Callable[..., Any]
) -> None:
    fx = build_fixture(hub)
    env.emu.control.set_latency(60)  # every request is in flight long enough to be cut
    start = count_calls(env.emu.control.calls(), writes_only=True)
    cli = spawn(env.app_settings, "sync", "--org", "acme")
    wait_for(
        lambda: count_calls(env.emu.control.calls(), writes_only=True) - start >= 4, timeout=60, poll=0.005
    )
    os.kill(cli.pid, signal.SIGKILL)
    cli.wait(10)
    (job,) = jobs_of(env.factory)
    assert job.state == "running" and job.worker.endswith(f":{cli.pid}")
    env.emu.control.set_latency(0)

    with started_app(env.app_settings):
        wait_for(lambda: _job(env, job.id).state in jobs.FINISHED, timeout=120)
    done = _job(env, job.id)
    assert done.state == "succeeded", done.error
    assert done.attempts == 2 and done.worker == jobs.worker_name()
    assert signature(env) == fx.expected(env.org_id)  # exactly once: nothing duplicated, nothing lost
    with env.factory() as s:
        runs = list(s.scalars(select(SyncRun.status).where(SyncRun.mode == "apply").order_by(SyncRun.id)))
    assert runs == ["interrupted", "succeeded"]


def test_a_queued_job_of_a_stopped_process_runs_at_its_due_time(env: SyncEnv, hub: Hub) -> None:
    small_customer_base(hub, "rq", customers=1)
    # a change-driven sync waiting out its quiet period in a process that then stopped
    lost = jobs.enqueue(
        env.factory, env.app_settings, env.org_id, "sync", trigger="change", delay=2.0, dispatch_now=False
    )
    # one held by a live process of this host (the test runner's parent), one of another machine
    alive = jobs.enqueue(
        env.factory, env.app_settings, env.org_id, "sync", trigger="change", delay=0.1, dispatch_now=False
    )
    remote = jobs.enqueue(
        env.factory, env.app_settings, env.org_id, "sync", trigger="change", delay=0.1, dispatch_now=False
    )
    with env.factory() as s:
        for job_id, worker in (
            (lost, _dead_process()),
            (alive, f"{socket.gethostname()}:{os.getppid()}"),
            (remote, "elsewhere.example:4242"),
        ):
            row = s.get(Job, job_id)
            assert row is not None
            row.worker = worker
        s.commit()
    due = _job(env, lost).due_at

    with started_app(env.app_settings):
        assert _job(env, lost).state == "queued"  # not before its due time
        wait_for(lambda: _job(env, lost).state in jobs.FINISHED, timeout=60)
    done = _job(env, lost)
    assert done.state == "succeeded", done.error
    assert due is not None and done.due_at == due
    assert done.started_at is not None and done.started_at >= due
    assert done.attempts == 1 and done.run_id is not None
    assert [_job(env, j).state for j in (alive, remote)] == ["queued", "queued"]  # left to their holders


def test_jobs_in_hand_and_jobs_of_a_broker_are_not_taken_up(env: SyncEnv) -> None:
    settings = env.app_settings
    waiting = jobs.enqueue(
        env.factory, settings, env.org_id, "reconcile", delay=30.0
    )  # on this process's timer
    assert _job(env, waiting).worker == jobs.worker_name()
    assert recover_jobs(env.factory, settings) == []  # a second start-up in this process takes nothing twice
    with env.factory() as s:
        row = s.get(Job, waiting)
        assert row is not None
        row.worker = _dead_process()
        s.commit()
    broker = settings.model_copy(update={"broker_url": "redis://127.0.0.1:6379/13"})
    assert recover_jobs(env.factory, broker) == []  # Dramatiq redelivers: nothing to do here
    assert recover_jobs(env.factory, settings) == [waiting]
    assert recover_jobs(env.factory, settings) == []
    assert _job(env, waiting).worker == jobs.worker_name()


def test_stopping_the_app_leaves_waiting_jobs_queued_for_the_next_start(env: SyncEnv) -> None:
    """A change-driven sync still in its quiet period when the web app stops is not run half-way
    through the shutdown (nor lost): it stays queued, and the next start takes it up at its due time."""
    from fastapi.testclient import TestClient

    from psabridge.web.app import create_app

    settings = env.app_settings
    app = create_app(settings)
    with TestClient(app):
        waiting = jobs.enqueue(env.factory, settings, env.org_id, "reconcile", delay=30.0)
        assert jobs.held_here(waiting)
    assert not jobs.held_here(waiting)  # the app stopped: its timer is gone
    assert _job(env, waiting).state == "queued"
    assert recover_jobs(env.factory, settings) == [waiting]  # the next start takes it up
    assert jobs.held_here(waiting)


def test_of_two_deliveries_of_one_job_only_one_runs_it(env: SyncEnv) -> None:
    """A redelivered message while the first delivery still runs, or a recovery racing a timer: both read
    the job as it was; the first to claim it runs it, the other leaves it alone (not run twice, its
    attempts counted once)."""
    settings = env.app_settings
    job_id = jobs.enqueue(env.factory, settings, env.org_id, "reconcile", dispatch_now=False)
    assert jobs.claim(env.factory, job_id, "queued", 0)
    assert not jobs.claim(env.factory, job_id, "queued", 0)  # the second delivery read the same row
    row = _job(env, job_id)
    assert (row.state, row.attempts, row.worker) == ("running", 1, jobs.worker_name())
    # a worker that died while running it: the next delivery takes it over, once
    assert jobs.claim(env.factory, job_id, "running", 1)
    assert not jobs.claim(env.factory, job_id, "running", 1)
    assert _job(env, job_id).attempts == 2


def test_the_scheduler_takes_up_jobs_a_stopped_process_left_when_it_starts(
    env: SyncEnv, spawn: Callable[..., Any]
) -> None:
    """Without a broker the scheduler runs the jobs it fires, so at its start it takes up, like the web
    app, a job a stopped process left queued (here due in ten minutes: claimed now, run then)."""
    settings = env.app_settings
    job_id = jobs.enqueue(env.factory, settings, env.org_id, "reconcile", delay=600.0, dispatch_now=False)
    with env.factory() as s:
        row = s.get(Job, job_id)
        assert row is not None
        row.worker = _dead_process()
        s.commit()
    scheduler = spawn(settings, "scheduler")
    taken = wait_for(lambda: (w := _job(env, job_id).worker).endswith(f":{scheduler.pid}") and w, timeout=60)
    assert taken == f"{socket.gethostname()}:{scheduler.pid}"
    assert _job(env, job_id).state == "queued"  # still waiting for its due time, now in the scheduler
