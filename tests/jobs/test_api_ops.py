"""REST API of jobs and schedules, the Jobs page, /healthz, /readyz and /metrics; hostile input answers
4xx problem+json."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from psabridge.web.app import create_app
from tests.support.servers import serve_in_thread
from tests.support.web import signed_in_client
from tests.sync.support import Hub, SyncEnv, build_fixture

PROBLEM = "application/problem+json"


def test_sync_runs_are_jobs(env: SyncEnv, hub: Hub, api: tuple[httpx.Client, httpx.Client]) -> None:
    admin, viewer = api
    build_fixture(hub)
    ran = admin.post("/sync/runs", json={})
    assert ran.status_code == 201, ran.text
    run = ran.json()
    assert run["status"] == "succeeded" and run["job_id"]
    listed = viewer.get("/jobs").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == run["job_id"]
    job = viewer.get(f"/jobs/{run['job_id']}").json()
    assert job["state"] == "succeeded" and job["run_id"] == run["id"] and job["kind"] == "sync"
    queued = admin.post("/sync/runs", json={"wait": False})
    assert queued.status_code == 202 and queued.headers["location"].endswith(f"/jobs/{queued.json()['id']}")
    assert viewer.get("/jobs", params={"state": "succeeded", "kind": "sync"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/jobs/0", 422),
        ("/jobs/abc", 422),
        ("/jobs/99999999999", 422),
        ("/jobs/12345", 404),
        ("/jobs?state=exploded", 422),
        ("/jobs?limit=100000", 422),
        ("/jobs?offset=-1", 422),
        ("/jobs?kind=%00", 422),
    ],
)
def test_hostile_job_requests_are_4xx_problems(
    api: tuple[httpx.Client, httpx.Client], path: str, status: int
) -> None:
    admin, _ = api
    answer = admin.get(path)
    assert answer.status_code == status and answer.headers["content-type"].startswith(PROBLEM)


def test_schedules_api(env: SyncEnv, api: tuple[httpx.Client, httpx.Client]) -> None:
    admin, viewer = api
    made = admin.post("/schedules", json={"kind": "reconcile", "frequency": "daily", "at": "02:30"})
    assert made.status_code == 201, made.text
    assert viewer.get("/schedules").json() == [made.json()]
    assert viewer.post("/schedules", json={"kind": "sync", "frequency": "hourly"}).status_code == 403
    for body in (
        {"kind": "sync", "frequency": "daily", "at": "25:00"},
        {"kind": "sync", "frequency": "weekly"},
        {"kind": "sync", "frequency": "hourly", "at": "x" * 5000},
        {"kind": "sync", "frequency": "hourly", "extra": 1},
        [],
    ):
        answer = admin.post("/schedules", json=body)
        assert answer.status_code == 422 and answer.headers["content-type"].startswith(PROBLEM), body
    assert admin.delete(f"/schedules/{made.json()['id']}").status_code == 204
    assert admin.delete(f"/schedules/{made.json()['id']}").status_code == 404


def test_operations_endpoints(env: SyncEnv, hub: Hub, api: tuple[httpx.Client, Any]) -> None:
    admin, _ = api
    build_fixture(hub)
    assert admin.post("/sync/runs", json={}).status_code == 201
    base = str(admin.base_url).split("/api/v1")[0]
    with httpx.Client(base_url=base) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        ready = anonymous.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
        metrics = anonymous.get("/metrics").text
    assert 'psabridge_jobs{kind="sync",state="succeeded"} 1.0' in metrics
    assert "psabridge_runs_total" in metrics and "psabridge_run_duration_seconds_bucket" in metrics
    assert 'psabridge_autotask_calls_total{entity="Companies"' in metrics
    assert "psabridge_queue_depth" in metrics and "psabridge_operations_total" in metrics
    assert env.emu.credentials.secret not in metrics


def test_readyz_answers_503_when_the_broker_is_unreachable(env: SyncEnv) -> None:
    settings = env.app_settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    app = create_app(settings, run_migrations=False)
    with serve_in_thread(app) as base:
        answer = httpx.get(f"{base}/readyz", timeout=30)
    app.state.engine.dispose()
    assert answer.status_code == 503 and answer.headers["content-type"].startswith(PROBLEM)
    body = answer.json()
    assert body["checks"] == {"database": "ok", "broker": "unreachable"}
    assert "127.0.0.1:1" not in answer.text


def test_jobs_page_is_for_admins(live_app: str, make_org_user: Any) -> None:
    admin = make_org_user(role="admin")
    viewer = make_org_user(role="viewer")
    client, _ = signed_in_client(live_app, admin.email, admin.password)
    page = client.get("/jobs")
    assert page.status_code == 200 and 'data-testid="jobs-table"' in page.text
    assert client.get("/jobs?state=bogus").status_code == 422
    assert client.get("/jobs?offset=-5").status_code == 422
    client.close()
    client, _ = signed_in_client(live_app, viewer.email, viewer.password)
    assert client.get("/jobs").status_code == 403
    client.close()


@pytest.fixture()
def dead_broker(env: SyncEnv) -> None:
    env.app_settings = env.app_settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})


def test_a_sync_with_the_broker_down_is_503(
    env: SyncEnv, dead_broker: None, api: tuple[httpx.Client, httpx.Client]
) -> None:
    admin, _ = api
    for body in ({}, {"wait": False}):
        answer = admin.post("/sync/runs", json=body)
        assert answer.status_code == 503 and answer.headers["content-type"].startswith(PROBLEM), answer.text
        assert "127.0.0.1:1" not in answer.text
    states = [j["state"] for j in admin.get("/jobs").json()["items"]]
    assert states == ["failed", "failed"]
