"""Jobs run by Dramatiq workers (separate ``psabridge worker`` processes) on real Redis: one sync per
connector across workers, Autotask's 3-per-endpoint limit held across 4 workers, and a worker killed
mid-sync whose job another worker finishes exactly once."""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from psabridge.config import Settings
from psabridge.jobs import service as jobs
from psabridge.sync.models import SyncRun
from tests.jobs.conftest import wait_for
from tests.jobs.support import jobs_of, small_customer_base
from tests.sync.support import Hub, SyncEnv, build_fixture, count_calls, make_env, signature


def _finished(env: SyncEnv, ids: list[int]) -> bool:
    return all(j.state in jobs.FINISHED for j in jobs_of(env.factory) if j.id in ids)


def _apply_runs(env: SyncEnv, org_id: int | None = None) -> list[SyncRun]:
    with env.factory() as s:
        query = select(SyncRun).where(SyncRun.mode == "apply").order_by(SyncRun.id)
        if org_id is not None:
            query = query.where(SyncRun.organization_id == org_id)
        rows = list(s.scalars(query))
        s.expunge_all()
        return rows


@pytest.mark.slow
def test_two_workers_never_run_one_connectors_sync_at_once(
    env: SyncEnv, hub: Hub, broker_settings: Settings, spawn: Callable[..., Any]
) -> None:
    fx = build_fixture(hub)
    env.emu.control.set_latency(30)
    for _ in range(2):
        spawn(broker_settings, "worker", "--threads", "2")
    # three syncs of one connector at once, as schedules would ask: a busy connector puts a job back
    ids = [
        jobs.enqueue(env.factory, broker_settings, env.org_id, "sync", trigger="schedule") for _ in range(3)
    ]
    wait_for(lambda: _finished(env, ids), timeout=120)
    done = [j for j in jobs_of(env.factory) if j.id in ids]
    assert [j.state for j in done] == ["succeeded"] * 3, [(j.state, j.error) for j in done]
    assert max(j.attempts for j in done) >= 2  # some found the connector busy and waited their turn
    runs = _apply_runs(env)
    assert len(runs) == 3
    spans = sorted((r.started_at, r.finished_at) for r in runs)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start >= end, "two syncs of one connector overlapped"
    assert signature(env) == fx.expected(env.org_id)  # no duplicate anywhere
    assert sum(r.planned_operations for r in runs[1:]) == 0


@pytest.mark.slow
def test_four_workers_keep_three_requests_in_flight_per_endpoint(
    env: SyncEnv, broker_settings: Settings, spawn: Callable[..., Any]
) -> None:
    """Four organizations on one Autotask tenant and integration code, synced by four workers at once:
    the emulator never sees a fourth concurrent request on an endpoint (nor refuses one)."""
    orgs = [env.org_id]
    small_customer_base(Hub(env.factory, env.org_id), "w0", customers=6)
    for n in range(1, 4):
        other = make_env(env.emu, env.factory, broker_settings, slug=f"org{n}")
        small_customer_base(Hub(env.factory, other.org_id), f"w{n}", customers=6)
        orgs.append(other.org_id)
    control = env.emu.control
    control.set_limits(reset_counter=True)
    control.set_latency(60)
    for _ in range(4):
        spawn(broker_settings, "worker", "--threads", "1")
    ids = [jobs.enqueue(env.factory, broker_settings, org, "sync") for org in orgs]
    wait_for(lambda: _finished(env, ids), timeout=180)
    done = [j for j in jobs_of(env.factory) if j.id in ids]
    assert [j.state for j in done] == ["succeeded"] * 4, [(j.state, j.error) for j in done]
    assert len({j.worker for j in done}) >= 2  # they really ran on several workers
    limits = control.set_limits()
    peaks = limits["peak_in_flight"]
    assert limits["refused"] == 0, peaks
    assert max(peaks.values()) <= 3, peaks
    assert max(peaks.values()) >= 2, peaks  # there was concurrency to hold back
    for run in _apply_runs(env):
        assert run.status == "succeeded", (run.status, run.error)


@pytest.mark.slow
def test_worker_killed_mid_sync_another_worker_finishes_it_exactly_once(
    env: SyncEnv, hub: Hub, broker_settings: Settings, spawn: Callable[..., Any]
) -> None:
    fx = build_fixture(hub)
    env.emu.control.set_latency(60)  # every request is in flight long enough to be cut
    first = spawn(broker_settings, "worker", "--threads", "1")
    job_id = jobs.enqueue(env.factory, broker_settings, env.org_id, "sync")
    start = count_calls(env.emu.control.calls(), writes_only=True)
    wait_for(
        lambda: count_calls(env.emu.control.calls(), writes_only=True) - start >= 4, timeout=60, poll=0.005
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    job = jobs_of(env.factory)[0]
    assert job.state == "running" and job.worker.endswith(f":{first.pid}")
    spawn(broker_settings, "worker", "--threads", "1")
    wait_for(lambda: jobs_of(env.factory)[0].state in jobs.FINISHED, timeout=120)
    job = jobs_of(env.factory)[0]
    assert job.id == job_id and job.state == "succeeded", job.error
    # 2, or 3 when the dead worker's lock lease had not run out yet (the job waited its turn once)
    assert job.attempts in (2, 3) and not job.worker.endswith(f":{first.pid}")
    assert signature(env) == fx.expected(env.org_id)  # exactly once: nothing duplicated, nothing lost
    runs = _apply_runs(env)
    assert [r.status for r in runs] == ["interrupted", "succeeded"]
    again = jobs.run_and_follow(
        env.factory, env.org_id, "sync", settings=broker_settings.model_copy(update={"broker_url": ""})
    )
    with env.factory() as s:
        rerun = s.get(SyncRun, again.run_id)
        assert rerun is not None and rerun.planned_operations == 0


@pytest.mark.slow
def test_the_screens_push_runs_on_a_worker(
    env: SyncEnv, hub: Hub, broker_settings: Settings, spawn: Callable[..., Any]
) -> None:
    from psabridge.psa_integration.push import PlanChanged, plan_digest, start_push
    from psabridge.sync import service

    fx = build_fixture(hub)
    spawn(broker_settings, "worker", "--threads", "1")
    previewed = service.make_plan(env.factory, env.org_id, app_settings=broker_settings)
    with pytest.raises(PlanChanged):
        start_push(env.factory, env.org_id, app_settings=broker_settings, expected_digest="0" * 64)
    run_id = start_push(
        env.factory, env.org_id, app_settings=broker_settings, expected_digest=plan_digest(previewed.plan)
    )
    wait_for(lambda: _finished(env, [j.id for j in jobs_of(env.factory)]), timeout=60)
    push_jobs = jobs_of(env.factory)
    assert [(j.trigger, j.state, j.error_kind) for j in push_jobs] == [
        ("push", "failed", "plan_changed"),
        ("push", "succeeded", None),
    ]
    assert push_jobs[1].run_id == run_id and push_jobs[1].worker != jobs.worker_name()
    assert signature(env) == fx.expected(env.org_id)


@pytest.mark.slow
def test_psabridge_sync_queues_a_job_and_follows_it(
    env: SyncEnv, hub: Hub, broker_settings: Settings, spawn: Callable[..., Any]
) -> None:
    import json
    import subprocess

    from tests.jobs.conftest import PSABRIDGE, process_env

    fx = build_fixture(hub)
    worker = spawn(broker_settings, "worker", "--threads", "1")
    done = subprocess.run(
        [PSABRIDGE, "sync", "--org", "acme", "--json"],
        env=process_env(broker_settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run = json.loads(done.stdout)
    job = jobs_of(env.factory)[0]
    assert run["status"] == "succeeded" and job.run_id == run["id"]
    assert job.trigger == "manual" and job.worker.endswith(f":{worker.pid}")
    assert signature(env) == fx.expected(env.org_id)
