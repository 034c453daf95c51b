"""A sync paused by the hourly API budget is queued again ("resume") for when the budget frees, shown
as a queued job with its due time; run then, it writes the rest exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from psabridge.autotask.limits import TENANT_USAGE
from psabridge.db import utcnow
from psabridge.jobs import service as jobs
from psabridge.jobs.models import Job
from psabridge.jobs.resume import MAX_DELAY_SECONDS, MIN_DELAY_SECONDS, UNKNOWN_DELAY_SECONDS, resume_delay
from tests.sync.support import Hub, SyncEnv, build_fixture, signature


@pytest.fixture()
def capped(env: SyncEnv) -> None:
    """PSABRIDGE_AUTOTASK_HOURLY_BUDGET_CAP=12: a sync of the fixture pauses after 12 calls."""
    TENANT_USAGE.clear()
    env.app_settings = env.app_settings.model_copy(update={"autotask_hourly_budget_cap": 12})


def _queued(viewer: httpx.Client) -> list[dict[str, object]]:
    items: list[dict[str, object]] = viewer.get("/jobs", params={"state": "queued"}).json()["items"]
    return items


def _an_hour_later(env: SyncEnv, job_id: int) -> str:
    """The budget has freed: run the resume job as its timer would (its due time reached)."""
    TENANT_USAGE.clear()
    with env.factory() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.due_at = utcnow() - timedelta(seconds=1)
        s.commit()
    free = env.app_settings.model_copy(update={"autotask_hourly_budget_cap": None})
    return jobs.execute(env.factory, free, job_id)


def test_a_sync_paused_at_the_cap_resumes_when_the_oldest_call_leaves_the_hour(
    env: SyncEnv, hub: Hub, capped: None, api: tuple[httpx.Client, httpx.Client]
) -> None:
    admin, viewer = api
    fx = build_fixture(hub)
    before = utcnow()
    ran = admin.post("/sync/runs", json={})
    assert ran.status_code == 201, ran.text
    assert ran.json()["status"] == "paused"
    (resume,) = _queued(viewer)
    assert (resume["kind"], resume["trigger"]) == ("sync", "resume")
    due = datetime.fromisoformat(str(resume["due_at"]))
    # our first call of the hour was made after `before`: the cap frees an hour after it
    assert before + timedelta(minutes=59) <= due <= utcnow() + timedelta(hours=1, seconds=5)

    again = admin.post("/sync/runs", json={})  # paused again at once: still one resume waiting
    assert again.status_code == 201 and again.json()["status"] == "paused"
    assert [j["id"] for j in _queued(viewer)] == [resume["id"]]

    assert _an_hour_later(env, int(str(resume["id"]))) == "succeeded"
    assert _queued(viewer) == []
    assert signature(env) == fx.expected(env.org_id)  # the rest written, nothing twice


def test_a_sync_stopped_by_the_tenants_hourly_limit_resumes_later(
    env: SyncEnv, hub: Hub, api: tuple[httpx.Client, httpx.Client]
) -> None:
    """Autotask itself refuses (the tenant's threshold, all integrations together): the client cannot
    tell when it frees, so the resume looks again in a twelfth of the hour."""
    admin, viewer = api
    fx = build_fixture(hub)
    env.emu.control.set_limits(hourly_limit=15, reset_counter=True)
    before = utcnow()
    ran = admin.post("/sync/runs", json={})
    assert ran.status_code == 201, ran.text
    assert ran.json()["status"] == "paused", ran.json().get("error")
    (resume,) = _queued(viewer)
    assert resume["trigger"] == "resume"
    due = datetime.fromisoformat(str(resume["due_at"]))
    wait = timedelta(seconds=UNKNOWN_DELAY_SECONDS)
    assert before + wait <= due <= utcnow() + wait + timedelta(seconds=5)

    env.emu.control.set_limits(hourly_limit=10_000, reset_counter=True)
    assert _an_hour_later(env, int(str(resume["id"]))) == "succeeded"
    assert signature(env) == fx.expected(env.org_id)


def test_the_resume_wait_is_bounded() -> None:
    now = utcnow()
    assert resume_delay(now - timedelta(minutes=5), now) == MIN_DELAY_SECONDS  # freed already: soon
    assert resume_delay(now + timedelta(hours=3), now) == MAX_DELAY_SECONDS
    assert resume_delay(now + timedelta(minutes=20), now) == pytest.approx(1200)
    assert resume_delay(None, now) == UNKNOWN_DELAY_SECONDS
